"""S5: a diagonal complex state-space layer with zero-order-hold discretisation."""

from seqzoo.layers import DiagonalStateSpace
from seqzoo.models._linear_recurrent import ssm_stack, stack_params, state_size_param
from seqzoo.params import Float
from seqzoo.registry import register


@register(
    year=2023,
    authors="Smith, Warrington & Linderman 2023",
    paper="Simplified State Space Layers for Sequence Modeling",
    family="state space",
    solved="S4's long-range memory without its convolution kernels and many single-input "
    "systems: one diagonal multi-input multi-output state space, HiPPO-initialised, "
    "discretised with a learned step and run as a parallel scan.",
    params={
        **stack_params(width=128, depth=2),
        "state_size": state_size_param(64),
        "step_min": Float(0.001, low=0.0, low_inclusive=False, search=(0.0001, 0.01), sampling="log",
                          help="smallest initial discretisation step (must not exceed step_max)"),
        "step_max": Float(0.1, low=0.0, low_inclusive=False,
                          help="largest initial discretisation step"),
    },
    # not "gated": the discretised decay depends on learned constants, not on the input.
    tags=("parallel_scan", "causal"),
)
def s5(x, *, width, depth, state_size, step_min, step_max, dropout, pool):
    return ssm_stack(x, layer=lambda name: DiagonalStateSpace(state_size, step_min=step_min,
                                                              step_max=step_max, name=name),
                     width=width, depth=depth, dropout=dropout, pool=pool)
