"""minGRU: the GRU with input-only gates, trained with a parallel scan."""

from seqzoo.layers import MinGRU
from seqzoo.models._linear_recurrent import expansion_param, gated_stack, stack_params
from seqzoo.registry import register


@register(
    year=2024,
    authors="Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024",
    paper="Were RNNs All We Needed?",
    family="recurrent",
    solved="Recurrent training is sequential: with gates and candidate read from the "
    "input only, a GRU becomes a linear recurrence that trains with a parallel scan "
    "and still runs step by step.",
    params={**stack_params(width=128, depth=2), "expansion": expansion_param(2)},
    # gated: the update gate z_t decides, per channel and step, what the state keeps.
    tags=("parallel_scan", "causal", "gated"),
)
def mingru(x, *, width, depth, expansion, dropout, pool):
    return gated_stack(x, cell=lambda units, name: MinGRU(units, name=name), width=width, depth=depth,
                       expansion=expansion, dropout=dropout, pool=pool)
