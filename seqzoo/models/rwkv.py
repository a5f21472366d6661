"""RWKV-4: a residual stack of time-mixing and channel-mixing blocks (Peng et al. 2023)."""

import keras

from seqzoo.layers import RWKVChannelMix, RWKVTimeMix
from seqzoo.models._attention import to_width
from seqzoo.models._prenorm import prenorm_residual, stack_params
from seqzoo.models._summary import summarize
from seqzoo.params import Int
from seqzoo.registry import register

_PARAMS = stack_params(
    "RWKV blocks",
    "units",
    ffn_expand=Int(4, low=1, high=8, search=(1, 4), help="channel-mixing hidden width = ffn_expand * width"),
)


# Tagged "gated": the receptance (a sigmoid gate) decides how much of the time-mixed state
# each channel lets through; the state itself decays at a learned per-channel rate.
@register(
    year=2023,
    authors="Peng, Alcaide, Anthony, Albalak, Arcadinho, Biderman, Cao, Cheng, Chung, Grella et al. 2023",
    paper="RWKV: Reinventing RNNs for the Transformer Era",
    family="recurrent",
    solved="An attention-like weighted average over the past with per-channel exponential decay "
    "(the WKV recurrence): trains in parallel like a Transformer, runs as an RNN with "
    "constant memory per token at inference.",
    params=_PARAMS,
    tags=("parallel_scan", "causal", "gated"),
)
def rwkv(x, *, units, depth, ffn_expand, dropout, pool):
    norm = keras.layers.LayerNormalization
    x = to_width(x, units)
    x = norm(epsilon=1e-5, name="input_norm")(x)  # RWKV's ln0
    for i in range(depth):
        name = f"time_mix_{i + 1}"
        x = prenorm_residual(x, RWKVTimeMix(block=i, depth=depth, name=name), norm=norm, dropout=dropout, name=name)
        name = f"channel_mix_{i + 1}"
        x = prenorm_residual(x, RWKVChannelMix(ffn_expand, block=i, depth=depth, name=name), norm=norm,
                             dropout=dropout, name=name)
    x = norm(epsilon=1e-5, name="final_norm")(x)
    return summarize(x, pool)
