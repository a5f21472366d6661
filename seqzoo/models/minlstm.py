"""minLSTM: the LSTM with input-only, normalised gates, trained with a parallel scan."""

from seqzoo.layers import MinLSTM
from seqzoo.models._linear_recurrent import expansion_param, gated_stack, stack_params
from seqzoo.registry import register


@register(
    year=2024,
    authors="Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024",
    paper="Were RNNs All We Needed?",
    family="recurrent",
    solved="An LSTM that trains in parallel over time: input-only forget and input gates, "
    "normalised to sum to one, make the cell a linear recurrence without a cell state.",
    params={**stack_params(width=128, depth=2), "expansion": expansion_param(2)},
    # gated: the normalised forget/input gates decide what the state keeps.
    tags=("parallel_scan", "causal", "gated"),
)
def minlstm(x, *, width, depth, expansion, dropout, pool):
    return gated_stack(x, cell=lambda units, name: MinLSTM(units, name=name), width=width, depth=depth,
                       expansion=expansion, dropout=dropout, pool=pool)
