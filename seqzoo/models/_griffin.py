"""The residual blocks Hawk and Griffin share (De et al. 2024), as functional graph pieces (private).

Each residual block is RMSNorm -> temporal mixing -> residual, RMSNorm -> gated
MLP -> residual. Every layer here is pointwise or has a step form
(`CausalDepthwiseConv1D`, `RGLRU`, `LocalAttention`), so the models stream.
"""

from __future__ import annotations

import keras

from seqzoo.layers import RGLRU, CausalDepthwiseConv1D, MaskedRMSNormalization
from seqzoo.params import Float, Int, ParamError


def block_params(units=128, depth=2) -> dict:
    return {
        # multiples of 32: every searched width has an even head size for griffin's heads 1..8
        "units": Int(units, low=1, high=8192, search=(64, 256), step=32, help="model width (d_model)"),
        "depth": Int(depth, low=1, high=48, search=(1, 4), help="residual blocks"),
        "rnn_expansion": Float(1.0, low=0.25, high=8.0, search=(1.0, 2.0),
                               help="RG-LRU width / units (the paper's Hawk: 4/3; RecurrentGemma: 1)"),
        "gate_blocks": Int(1, low=1, high=256, help="block-diagonal RG-LRU gate weights (1 = dense); "
                           "must divide the RG-LRU width"),
        "conv_width": Int(4, low=1, high=16, help="causal depthwise convolution before the RG-LRU"),
        "mlp_expansion": Int(3, low=1, high=8, search=(2, 4), help="gated MLP width / units (the paper's 3)"),
        "dropout": Float(0.0, low=0.0, high=1.0, high_inclusive=False, search=(0.0, 0.3),
                         help="dropout on each block's output before the residual"),
    }


def rnn_width(width: int, rnn_expansion: float, gate_blocks: int) -> int:
    units = max(1, round(width * rnn_expansion))
    if units % gate_blocks:
        raise ParamError(
            f"gate_blocks={gate_blocks} must divide the RG-LRU width {units} "
            f"(= round(units * rnn_expansion)); choose units, rnn_expansion or gate_blocks to fit"
        )
    return units


def recurrent_mixer(x, *, units: int, width: int, conv_width: int, gate_blocks: int, name: str):
    """Griffin's recurrent block: GeLU(linear) gate x (linear -> causal conv -> RG-LRU) -> linear."""
    gate = keras.layers.Dense(units, activation="gelu", name=f"{name}_gate")(x)
    y = keras.layers.Dense(units, name=f"{name}_in")(x)
    y = CausalDepthwiseConv1D(conv_width, name=f"{name}_conv")(y)
    y = RGLRU(gate_blocks, name=f"{name}_rg_lru")(y)
    y = keras.layers.Multiply(name=f"{name}_gated")([y, gate])
    return keras.layers.Dense(width, name=f"{name}_out")(y)


def residual_block(x, mixer, *, width: int, mlp_expansion: int, dropout: float, name: str):
    """x + mixer(RMSNorm(x)), then + gated MLP(RMSNorm(.)). `mixer(y, name)` builds the temporal block."""
    y = MaskedRMSNormalization(epsilon=1e-6, name=f"{name}_mix_norm")(x)
    y = mixer(y, f"{name}_mix")
    y = keras.layers.Dropout(dropout, name=f"{name}_mix_dropout")(y)
    x = keras.layers.Add(name=f"{name}_mix_residual")([x, y])
    y = MaskedRMSNormalization(epsilon=1e-6, name=f"{name}_mlp_norm")(x)
    gate = keras.layers.Dense(mlp_expansion * width, activation="gelu", name=f"{name}_mlp_gate")(y)
    y = keras.layers.Dense(mlp_expansion * width, name=f"{name}_mlp_in")(y)
    y = keras.layers.Multiply(name=f"{name}_mlp_gated")([y, gate])
    y = keras.layers.Dense(width, name=f"{name}_mlp_out")(y)
    y = keras.layers.Dropout(dropout, name=f"{name}_mlp_dropout")(y)
    return keras.layers.Add(name=f"{name}_mlp_residual")([x, y])
