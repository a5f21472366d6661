"""The Transformer encoder."""

import keras

from seqzoo.layers import SinusoidalPositionEncoding, TransformerBlock
from seqzoo.models._attention import HEADS_DIVIDE_WIDTH, attention_params, to_width
from seqzoo.models._summary import summarize
from seqzoo.registry import register


@register(
    year=2017,
    authors="Vaswani, Shazeer, Parmar, Uszkoreit, Jones, Gomez, Kaiser & Polosukhin 2017",
    paper="Attention Is All You Need",
    family="attention",
    solved="Recurrence is sequential: self-attention relates all positions in one "
    "parallel step, with constant path length between any two of them.",
    params=attention_params(width=128, depth=2, heads=4, ff_dim=256, dropout=0.1),
    constraints=HEADS_DIVIDE_WIDTH,
    tags=("bidirectional",),
)
def transformer(x, *, width, depth, heads, ff_dim, dropout):
    x = to_width(x, width)
    x = SinusoidalPositionEncoding(name="position_encoding")(x)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(depth):
        x = TransformerBlock(heads, ff_dim, dropout=dropout, name=f"block_{i + 1}")(x)
    return summarize(x, "mean", name="mean_pool")
