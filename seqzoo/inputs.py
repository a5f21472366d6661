"""Input front ends: one per input kind, each `task -> (keras.Input, sequence tensor)`.

The sequence tensor is `(batch, time, channels)`; token inputs carry a mask
(id 0 = padding) that every later layer respects.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import keras

from seqzoo.layers import InstanceNormalization, ReversibleEmbedding
from seqzoo.task import Task


@dataclasses.dataclass
class Stem:
    """What a front end hands on: the model input and the sequence built on it."""

    inputs: Any  # the keras.Input
    x: Any  # (batch, time, channels), masked for tokens
    embedding: Any = None  # the token embedding layer (tokens), which a language model's output reuses


def tokens(task: Task) -> Stem:
    ids = keras.Input(shape=(task.seq_len,), dtype="int32", name="tokens")
    # A language model scores tokens with the embedding matrix itself (tied weights); the
    # weight keeps the plain Embedding's name and shape, so a classifier loads it.
    kind = ReversibleEmbedding if task.head == "language_model" else keras.layers.Embedding
    embedding = kind(task.vocab_size, task.embed_dim, mask_zero=True, name="embedding")
    x = embedding(ids)
    if task.token_dropout:
        # One draw per token, shared by its channels: a dropped word is gone, not
        # thinned. The mask passes through (a dropped token reads as a zero vector).
        x = keras.layers.Dropout(task.token_dropout, noise_shape=(None, None, 1), name="token_dropout")(x)
    return Stem(ids, x, embedding)


def frames(task: Task) -> Stem:
    inputs = keras.Input(shape=(task.seq_len, task.features), name="frames")
    return Stem(inputs, inputs)


def series(task: Task) -> Stem:
    inputs = keras.Input(shape=(task.seq_len, task.features), name="series")
    x = InstanceNormalization(name="instance_norm")(inputs) if task.normalize else inputs
    return Stem(inputs, x)


FRONT_ENDS: dict[str, Callable[[Task], Stem]] = {
    "tokens": tokens,
    "frames": frames,
    "series": series,
}
