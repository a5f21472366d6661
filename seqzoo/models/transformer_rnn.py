"""Recurrent / self-attention hybrid: a recurrent layer for order, attention for reach."""

import keras

from seqzoo.layers import TransformerBlock
from seqzoo.models._recurrent import CELLS
from seqzoo.models._summary import summarize
from seqzoo.params import Choice, Divides, Float, Int
from seqzoo.registry import register

_PARAMS = {
    "units": Int(64, low=1, high=4096, search=(32, 256), sampling="log",
                 help="recurrent units per direction (width = 2 * units)"),
    "cell": Choice("gru", ("lstm", "gru"), search=("lstm", "gru"), help="recurrent cell"),
    "depth": Int(1, low=1, high=16, search=(1, 4), help="Transformer blocks after the recurrent layer"),
    "heads": Int(4, low=1, high=64, search=(1, 8), sampling="log", help="attention heads; must divide 2 * units"),
    "ff_dim": Int(256, low=1, high=16384, search=(64, 1024), sampling="log", help="feed-forward width"),
    "dropout": Float(0.1, low=0.0, high=1.0, high_inclusive=False, search=(0.0, 0.3), help="dropout"),
}


@register(
    year=2019,
    authors="e.g. Wang et al. 2019 (R-Transformer); Chen et al. 2018 (RNMT+ hybrids)",
    paper="R-Transformer: Recurrent Neural Network Enhanced Transformer",
    family="hybrid",
    solved="Combines the two: a recurrent layer supplies order and local context "
    "without position codes, self-attention supplies global reach in parallel.",
    params=_PARAMS,
    constraints=(Divides("heads", "units", factor=2),),
    tags=("gated", "bidirectional"),
)
def transformer_rnn(x, *, units, cell, depth, heads, ff_dim, dropout):
    x = keras.layers.Bidirectional(CELLS[cell](units, return_sequences=True, name=cell), name=f"bi{cell}")(x)
    for i in range(depth):
        x = TransformerBlock(heads, ff_dim, dropout=dropout, name=f"block_{i + 1}")(x)
    return summarize(x, "mean", name="mean_pool")
