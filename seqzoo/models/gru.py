"""Gated recurrent unit and its deep stack."""

from seqzoo.models._recurrent import recurrent_params, recurrent_stack
from seqzoo.registry import register


@register(
    year=2014,
    authors="Cho, van Merrienboer, Gulcehre, Bahdanau, Bougares, Schwenk & Bengio 2014",
    paper="Learning Phrase Representations using RNN Encoder-Decoder for Statistical "
    "Machine Translation",
    family="recurrent",
    solved="A lighter gated cell: update and reset gates keep the LSTM's long memory "
    "with fewer parameters and no separate cell state.",
    params=recurrent_params(units=128),
    tags=("gated", "causal"),
)
def gru(x, **kwargs):
    return recurrent_stack(x, cell="gru", **kwargs)


@register(
    year=2013,
    authors="Graves, Mohamed & Hinton 2013 (stacking); Cho et al. 2014 (GRU)",
    paper="Speech Recognition with Deep Recurrent Neural Networks",
    family="recurrent",
    solved="Stacked GRUs: depth for capacity with the cheaper gated cell.",
    params=recurrent_params(units=128, depth=3),
    tags=("gated", "causal", "deep"),
    variant_of="gru",
)
def deep_gru(x, **kwargs):
    return recurrent_stack(x, cell="gru", **kwargs)
