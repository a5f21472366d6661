"""Long short-term memory (with the forget gate) and its deep stack."""

from seqzoo.models._recurrent import recurrent_params, recurrent_stack
from seqzoo.registry import register


@register(
    year=1997,
    authors="Hochreiter & Schmidhuber 1997; forget gate: Gers, Schmidhuber & Cummins 2000",
    paper="Long Short-Term Memory",
    family="recurrent",
    solved="Vanishing gradients: a gated, additive cell state carries error over "
    "hundreds of steps, so long-range dependencies become learnable.",
    params=recurrent_params(units=128),
    tags=("gated", "causal"),
)
def lstm(x, **kwargs):
    return recurrent_stack(x, cell="lstm", **kwargs)


@register(
    year=2013,
    authors="Graves, Mohamed & Hinton 2013",
    paper="Speech Recognition with Deep Recurrent Neural Networks",
    family="recurrent",
    solved="Deep (stacked) LSTMs: depth in space as well as time set the TIMIT "
    "phoneme record.",
    params=recurrent_params(units=128, depth=3),
    tags=("gated", "causal", "deep"),
    variant_of="lstm",
)
def deep_lstm(x, **kwargs):
    return recurrent_stack(x, cell="lstm", **kwargs)
