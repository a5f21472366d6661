"""Hyperparameters and helpers shared by the self-attention builders (private)."""

from __future__ import annotations

import keras

from seqzoo.params import Divides, Float, Int


def attention_params(width=128, depth=2, heads=4, ff_dim=256, dropout=0.1) -> dict:
    return {
        "width": Int(width, low=1, high=8192, search=(64, 512), sampling="log",
                     help="model width (d_model)"),
        "depth": Int(depth, low=1, high=48, search=(1, 6), help="stacked Transformer blocks"),
        "heads": Int(heads, low=1, high=128, search=(1, 8), sampling="log",
                     help="attention heads; must divide width"),
        "ff_dim": Int(ff_dim, low=1, high=32768, search=(64, 1024), sampling="log",
                      help="feed-forward hidden width"),
        "dropout": Float(dropout, low=0.0, high=1.0, high_inclusive=False, search=(0.0, 0.3),
                         help="dropout on attention and sub-layer outputs"),
    }


HEADS_DIVIDE_WIDTH = (Divides("heads", "width"),)


def to_width(x, width: int, name: str = "projection"):
    """Project `x` to `width` channels unless it already has them (keeps the mask)."""
    if x.shape[-1] == width:
        return x
    return keras.layers.Dense(width, name=name)(x)
