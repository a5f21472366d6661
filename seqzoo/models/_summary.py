"""How a backbone ends: a pooled summary, or (while pre-training) every step's output.

Builders end with `summarize(x, pool)`: normally the summary `(batch, width)`
the heads read; inside `sequence_outputs()` the per-step sequence
`(batch, time, width)` itself, for heads that predict at every step (language
modelling). Streaming (`seqzoo.streaming`) steps each pooling layer here.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

import keras

from seqzoo.layers import LastTimestep, MaskedMaxPooling1D
from seqzoo.params import Choice

_SEQUENCE_OUTPUTS = contextvars.ContextVar("seqzoo_sequence_outputs", default=False)

POOLS = {
    "last": LastTimestep,  # the last valid step (causal models: it has seen the whole input)
    "mean": keras.layers.GlobalAveragePooling1D,  # masked mean
    "max": MaskedMaxPooling1D,  # masked max
}


def pool_param(default: str = "last") -> Choice:
    return Choice(default, tuple(POOLS), search=tuple(POOLS),
                  help="summary: last valid step, masked mean or masked max over time")


def returning_sequences() -> bool:
    """Whether the builder being called must return per-step outputs instead of a summary."""
    return _SEQUENCE_OUTPUTS.get()


@contextlib.contextmanager
def sequence_outputs() -> Iterator[None]:
    """Within this block, `summarize` returns the sequence unpooled."""
    token = _SEQUENCE_OUTPUTS.set(True)
    try:
        yield
    finally:
        _SEQUENCE_OUTPUTS.reset(token)


def summarize(x, pool: str, name: str | None = None):
    """`x` pooled over time by `pool` (see `POOLS`), or `x` itself inside `sequence_outputs()`."""
    if returning_sequences():
        return x
    return POOLS[pool](name=name or f"{pool}_pool")(x)
