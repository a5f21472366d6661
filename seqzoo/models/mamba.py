"""Mamba: residual stack of selective state-space blocks (Gu & Dao 2023)."""

from seqzoo.layers import MambaMixer, MaskedRMSNormalization
from seqzoo.models._attention import to_width
from seqzoo.models._prenorm import prenorm_residual, stack_params
from seqzoo.models._summary import summarize
from seqzoo.params import Int
from seqzoo.registry import register

_PARAMS = stack_params(
    "Mamba blocks",
    state_size=Int(16, low=1, high=256, search=(4, 32), sampling="log",
                   help="N: state per inner channel (memory grows with width * expand * N * time)"),
    expand=Int(2, low=1, high=8, search=(1, 4), help="inner width = expand * width"),
    conv_width=Int(4, low=1, high=32, help="steps the causal depthwise convolution reads"),
    dt_rank=Int(None, low=1, high=1024, allow_none=True,
                help="rank of the step-size projection; None: ceil(width / 16)"),
)


# Tagged "gated": the input-dependent step size decides per step how much of the state
# is kept (delta -> 0 keeps it, large delta resets it to the input), and silu(z) gates the output.
@register(
    year=2023,
    authors="Gu & Dao 2023",
    paper="Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
    family="state space",
    solved="Selection: a state-space model whose step size and input/output maps depend on "
    "the input, so it can keep or forget content like a gated RNN, still trained with a "
    "parallel scan in linear time and run step by step at inference.",
    params=_PARAMS,
    tags=("parallel_scan", "causal", "gated"),
)
def mamba(x, *, width, depth, state_size, expand, conv_width, dt_rank, dropout, pool):
    x = to_width(x, width)
    for i in range(depth):
        name = f"mamba_{i + 1}"
        mixer = MambaMixer(state_size=state_size, expand=expand, conv_width=conv_width, dt_rank=dt_rank, name=name)
        x = prenorm_residual(x, mixer, norm=MaskedRMSNormalization, dropout=dropout, name=name)
    x = MaskedRMSNormalization(epsilon=1e-5, name="final_norm")(x)
    return summarize(x, pool)
