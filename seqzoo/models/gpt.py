"""GPT-style causal Transformer decoder."""

import keras

from seqzoo.layers import PositionEmbedding, TransformerBlock
from seqzoo.models._attention import HEADS_DIVIDE_WIDTH, attention_params, to_width
from seqzoo.models._summary import summarize
from seqzoo.params import Int
from seqzoo.registry import register

_PARAMS = attention_params(width=128, depth=2, heads=4, ff_dim=512, dropout=0.1)
_PARAMS["max_len"] = Int(1024, low=1, high=65536, help="longest input (learned positions)")


@register(
    year=2018,
    authors="Radford, Narasimhan, Salimans & Sutskever 2018",
    paper="Improving Language Understanding by Generative Pre-Training",
    family="attention",
    solved="A causal (left-to-right) Transformer decoder that predicts from the last "
    "position, so one generative model serves classification too.",
    params=_PARAMS,
    constraints=HEADS_DIVIDE_WIDTH,
    tags=("causal",),
)
def gpt(x, *, width, depth, heads, ff_dim, dropout, max_len):
    x = to_width(x, width)
    x = PositionEmbedding(max_len, name="position_embedding")(x)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(depth):
        x = TransformerBlock(heads, ff_dim, dropout=dropout, activation="gelu", norm_first=True,
                             causal=True, name=f"block_{i + 1}")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    return summarize(x, "last", name="last_position")
