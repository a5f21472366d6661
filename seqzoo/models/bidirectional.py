"""Bidirectional recurrent networks: one layer reads forward, one backward."""

from seqzoo.models._recurrent import recurrent_params, recurrent_stack
from seqzoo.registry import register

_HISTORY = dict(
    year=1997,
    authors="Schuster & Paliwal 1997",
    paper="Bidirectional Recurrent Neural Networks",
    family="recurrent",
)
_SOLVED = (
    "Used future context as well as past: a backward layer gives every step the "
    "rest of the sequence, for tasks where the whole input is known in advance."
)


@register(**_HISTORY, solved=_SOLVED, params=recurrent_params(units=64),
          tags=("simple", "bidirectional"), variant_of="rnn")
def birnn(x, **kwargs):
    return recurrent_stack(x, cell="rnn", bidirectional=True, **kwargs)


@register(**_HISTORY, solved=_SOLVED + " (with LSTM cells: Graves & Schmidhuber 2005)",
          params=recurrent_params(units=64, pool="max"), tags=("gated", "bidirectional"), variant_of="lstm")
def bilstm(x, **kwargs):
    return recurrent_stack(x, cell="lstm", bidirectional=True, **kwargs)


@register(**_HISTORY, solved=_SOLVED + " (with GRU cells)", params=recurrent_params(units=64, pool="max"),
          tags=("gated", "bidirectional"), variant_of="gru")
def bigru(x, **kwargs):
    return recurrent_stack(x, cell="gru", bidirectional=True, **kwargs)


@register(
    year=2013,
    authors="Graves, Mohamed & Hinton 2013",
    paper="Speech Recognition with Deep Recurrent Neural Networks",
    family="recurrent",
    solved="Deep bidirectional LSTM: stacking bidirectional layers gave the best "
    "TIMIT phoneme error of its time (17.7%).",
    params=recurrent_params(units=64, depth=2, pool="max"),
    tags=("gated", "bidirectional", "deep"),
    variant_of="deep_lstm",
)
def deep_bilstm(x, **kwargs):
    return recurrent_stack(x, cell="lstm", bidirectional=True, **kwargs)
