"""BERT-style bidirectional encoder with a [CLS] summary."""

import keras

from seqzoo.layers import ClassToken, DropFirstTimestep, FirstTimestep, PositionEmbedding, TransformerBlock
from seqzoo.models._attention import HEADS_DIVIDE_WIDTH, attention_params, to_width
from seqzoo.models._summary import returning_sequences
from seqzoo.params import Int
from seqzoo.registry import register

_PARAMS = attention_params(width=128, depth=2, heads=4, ff_dim=512, dropout=0.1)
_PARAMS["max_len"] = Int(1024, low=2, high=65536, help="longest input (learned positions), [CLS] included")


@register(
    year=2018,
    authors="Devlin, Chang, Lee & Toutanova 2018",
    paper="BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
    family="attention",
    solved="One deep bidirectional encoder for every task: a [CLS] summary, learned "
    "positions and GELU, pre-trained then fine-tuned (recipes.pretrain, then --init).",
    params=_PARAMS,
    constraints=HEADS_DIVIDE_WIDTH,
    tags=("bidirectional",),
)
def bert(x, *, width, depth, heads, ff_dim, dropout, max_len):
    x = to_width(x, width)
    x = ClassToken(name="cls_token")(x)
    x = PositionEmbedding(max_len, name="position_embedding")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-12, name="embedding_norm")(x)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(depth):
        x = TransformerBlock(heads, ff_dim, dropout=dropout, activation="gelu", epsilon=1e-12,
                             name=f"block_{i + 1}")(x)
    if returning_sequences():  # per-step outputs aligned with the tokens: drop [CLS]
        return DropFirstTimestep(name="token_outputs")(x)
    first = FirstTimestep(name="cls_output")(x)
    return keras.layers.Dense(width, activation="tanh", name="pooler")(first)
