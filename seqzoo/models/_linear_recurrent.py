"""Residual stacks shared by the parallel-scan recurrences (private).

Two block shapes, both made of layers that stream (pointwise layers and step
layers), so `seqzoo.streaming.Streamer` runs the whole model step by step:

- `gated_stack` (minGRU, minLSTM; Feng et al. 2024 stack their cells like a
  Transformer's sub-layers): `x + cell(LayerNorm(x))`, then, with `expansion > 0`,
  `x + MLP(LayerNorm(x))` (LayerNormalization, not RMSNormalization: Keras'
  RMSNormalization drops the padding mask);
- `ssm_stack` (LRU, S5; Orvieto et al. 2023, Smith et al. 2023): `x +
  Dropout(GLU(GELU(layer(LayerNorm(x)))))`, GLU(y) = `W1 y * sigmoid(W2 y)`.

Both start with a Dense projection to `width` (when the input has another
width), end with a normalisation and `summarize(x, pool)`.
"""

from __future__ import annotations

from typing import Callable

import keras

from seqzoo.models._attention import to_width
from seqzoo.models._summary import pool_param, summarize
from seqzoo.params import Float, Int


def stack_params(width: int = 128, depth: int = 2, dropout: float = 0.0) -> dict:
    """The hyperparameters every parallel-scan stack shares."""
    return {
        "width": Int(width, low=1, high=8192, search=(32, 512), sampling="log",
                     help="model width: the residual stream and each recurrence's output"),
        "depth": Int(depth, low=1, high=48, search=(1, 4), help="stacked residual blocks"),
        "dropout": Float(dropout, low=0.0, high=1.0, high_inclusive=False, search=(0.0, 0.3),
                         help="dropout on each block's output"),
        "pool": pool_param("last"),
    }


def expansion_param(default: int = 2) -> Int:
    return Int(default, low=0, high=16, search=(0, 4),
               help="hidden width of each block's MLP, in multiples of width (0: no MLP)")


def state_size_param(default: int = 64) -> Int:
    return Int(default, low=1, high=4096, search=(16, 256), sampling="log",
               help="complex state dimensions of each recurrence")


def gated_stack(x, *, cell: Callable[[int, str], keras.layers.Layer], width: int, depth: int,
                expansion: int, dropout: float, pool: str):
    """`depth` blocks `x + cell(norm(x))` [+ `x + MLP(norm(x))`] on `x` projected to `width`."""
    x = to_width(x, width)
    for i in range(1, depth + 1):
        y = keras.layers.LayerNormalization(name=f"norm_{i}")(x)
        y = cell(width, f"recurrence_{i}")(y)
        x = _residual(x, y, dropout, f"{i}")
        if expansion:
            y = keras.layers.LayerNormalization(name=f"mlp_norm_{i}")(x)
            y = keras.layers.Dense(expansion * width, activation="gelu", name=f"mlp_in_{i}")(y)
            y = keras.layers.Dense(width, name=f"mlp_out_{i}")(y)
            x = _residual(x, y, dropout, f"mlp_{i}")
    x = keras.layers.LayerNormalization(name="final_norm")(x)
    return summarize(x, pool)


def ssm_stack(x, *, layer: Callable[[str], keras.layers.Layer], width: int, depth: int, dropout: float,
              pool: str):
    """`depth` blocks `x + Dropout(GLU(GELU(layer(LayerNorm(x)))))` on `x` projected to `width`."""
    x = to_width(x, width)
    for i in range(1, depth + 1):
        y = keras.layers.LayerNormalization(name=f"norm_{i}")(x)
        y = layer(f"recurrence_{i}")(y)
        y = keras.layers.Activation("gelu", name=f"gelu_{i}")(y)
        gate = keras.layers.Dense(width, activation="sigmoid", name=f"glu_gate_{i}")(y)
        y = keras.layers.Multiply(name=f"glu_{i}")([keras.layers.Dense(width, name=f"glu_value_{i}")(y), gate])
        x = _residual(x, y, dropout, f"{i}")
    x = keras.layers.LayerNormalization(name="final_norm")(x)
    return summarize(x, pool)


def _residual(x, y, dropout, suffix):
    if dropout:
        y = keras.layers.Dropout(dropout, name=f"dropout_{suffix}")(y)
    return keras.layers.Add(name=f"residual_{suffix}")([x, y])
