"""LRU: the Linear Recurrent Unit, a complex diagonal linear recurrence."""

import math

from seqzoo.layers import LinearRecurrentUnit
from seqzoo.models._linear_recurrent import ssm_stack, stack_params, state_size_param
from seqzoo.params import Float
from seqzoo.registry import register


@register(
    year=2023,
    authors="Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu & De 2023",
    paper="Resurrecting Recurrent Neural Networks for Long Sequences",
    family="recurrent",
    solved="Deep state-space models' long-range results without their continuous-time theory: "
    "a linear, diagonal, complex recurrence with stable exponential parametrisation, "
    "normalisation and ring initialisation.",
    params={
        **stack_params(width=128, depth=2),
        "state_size": state_size_param(64),
        "r_min": Float(0.4, low=0.0, high=1.0, high_inclusive=False, search=(0.0, 0.9),
                       help="smallest initial |lambda| (must be below r_max)"),
        "r_max": Float(0.99, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False,
                       help="largest initial |lambda|: memory length ~ 1 / (1 - r_max) steps"),
        "max_phase": Float(math.pi, low=0.0, high=2 * math.pi, low_inclusive=False,
                           help="largest initial phase of lambda (radians)"),
    },
    # not "gated": the decay lambda is a learned constant, the same at every step.
    tags=("parallel_scan", "causal"),
)
def lru(x, *, width, depth, state_size, r_min, r_max, max_phase, dropout, pool):
    return ssm_stack(x, layer=lambda name: LinearRecurrentUnit(state_size, r_min=r_min, r_max=r_max,
                                                               max_phase=max_phase, name=name),
                     width=width, depth=depth, dropout=dropout, pool=pool)
