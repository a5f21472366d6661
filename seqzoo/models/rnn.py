"""Elman's simple recurrent network, trained with backpropagation through time."""

from seqzoo.models._recurrent import recurrent_params, recurrent_stack
from seqzoo.registry import register

_HISTORY = dict(
    year=1990,
    authors="Elman 1990; Rumelhart, Hinton & Williams 1986 (BPTT)",
    paper="Finding Structure in Time",
    family="recurrent",
)


@register(
    **_HISTORY,
    solved="Gave a network memory: a hidden state fed back at every step, trained by "
    "backpropagation through time, lets one set of weights model sequences of any length.",
    params=recurrent_params(units=128),
    tags=("simple", "causal"),
)
def rnn(x, **kwargs):
    return recurrent_stack(x, cell="rnn", **kwargs)


@register(
    **{**_HISTORY, "year": 2013, "authors": "Graves, Mohamed & Hinton 2013",
       "paper": "Speech Recognition with Deep Recurrent Neural Networks"},
    solved="Stacking recurrent layers builds representations at several time scales, "
    "as depth did for feed-forward nets.",
    params=recurrent_params(units=128, depth=3),
    tags=("simple", "causal", "deep"),
    variant_of="rnn",
)
def deep_rnn(x, **kwargs):
    return recurrent_stack(x, cell="rnn", **kwargs)
