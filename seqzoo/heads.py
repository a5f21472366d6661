"""Output heads: `(summary, stem, task) -> output tensor`, always float32.

- classification: `num_classes == 2` gives one sigmoid probability `(batch, 1)`;
  more gives softmax probabilities `(batch, num_classes)`.
- forecast: `(batch, horizon, targets)`; on series inputs, plus a linear
  autoregressive skip and undone instance normalisation (see `seqzoo.task`).
- language_model (tokens only; the backbone built inside `sequence_outputs()`):
  float32 logits over the vocabulary, scored with the input embedding matrix
  (tied weights, `seqzoo.layers.ReversibleEmbedding`). `objective="clm"`: one
  prediction per step, `(batch, time, vocab_size)`, step t predicting token
  t + 1. `objective="mlm"`: a second input `positions` `(batch, k)` names the
  masked steps, and only those are scored, `(batch, k, vocab_size)`.
"""

from __future__ import annotations

from typing import Any, Callable

import keras

from seqzoo.inputs import Stem
from seqzoo.layers import AutoregressiveSkip, GatherPositions, InstanceDenormalization
from seqzoo.task import Task


def classification(summary: Any, stem: Stem, task: Task) -> Any:
    if task.num_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="probability")(summary)
    return keras.layers.Dense(
        task.num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(summary)


def forecast(summary: Any, stem: Stem, task: Task) -> Any:
    y = keras.layers.Dense(task.horizon * task.targets, dtype="float32", name="forecast_dense")(summary)
    y = keras.layers.Reshape((task.horizon, task.targets), dtype="float32", name="forecast")(y)
    return finish_forecast(y, stem, task)


def finish_forecast(y: Any, stem: Stem, task: Task) -> Any:
    """A forecast `(batch, horizon, targets)` plus, on series inputs, the linear skip and the undone
    instance normalisation (for heads of the model's own, see `seqzoo.register(heads=...)`)."""
    if task.inputs != "series":
        return y
    if task.linear_skip:
        skip = AutoregressiveSkip(task.horizon, task.targets, dtype="float32", name="ar_skip")(stem.x)
        y = keras.layers.Add(dtype="float32", name="forecast_plus_skip")([y, skip])
    if task.normalize:
        y = InstanceDenormalization(task.targets, dtype="float32", name="instance_denorm")([y, stem.inputs])
    return y


def language_model(sequence: Any, stem: Stem, task: Task) -> Any:
    """Logits over the vocabulary from per-step outputs (see the module docstring).

    The per-step outputs go through `lm_transform` (Dense to `embed_dim`, GELU)
    and `lm_norm`, then the embedding's reverse projection. For `"mlm"` this
    head adds the model input `positions` to `stem.inputs` (which becomes
    `{"tokens", "positions"}`) and gathers those steps first, so the softmax
    runs on the masked steps only. Layer names start with `lm_`: fine-tuning
    keeps everything else and drops these.
    """
    h = sequence
    if task.objective == "mlm":
        positions = keras.Input(shape=(None,), dtype="int32", name="positions")
        stem.inputs = {"tokens": stem.inputs, "positions": positions}
        h = GatherPositions(name="lm_positions")([h, positions])
    h = keras.layers.Dense(task.embed_dim, activation="gelu", name="lm_transform")(h)
    h = keras.layers.LayerNormalization(name="lm_norm")(h)
    return stem.embedding(h, reverse=True)


HEADS: dict[str, Callable[[Any, Stem, Task], Any]] = {
    "classification": classification,
    "forecast": forecast,
    "language_model": language_model,
}


def loss_and_metrics(head: str = "classification", num_classes: int = 2) -> tuple[Any, list[Any]]:
    """The loss and metrics that match a head's output, for `model.compile`.

    Example:

    >>> loss, metrics = loss_and_metrics("classification", num_classes=10)
    >>> loss
    'sparse_categorical_crossentropy'
    """
    if head == "forecast":
        return "mse", ["mae"]
    if head == "language_model":
        # Target id 0 (padding, and the unused slots of `positions`) is ignored by the
        # loss; give those targets sample weight 0 so that the accuracy ignores them too.
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
        return loss, [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if num_classes == 2:
        return "binary_crossentropy", ["accuracy"]
    return "sparse_categorical_crossentropy", ["accuracy"]
