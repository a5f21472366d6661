"""Output heads: `(summary, stem, task) -> output tensor`, always float32.

- classification: `num_classes == 2` gives one sigmoid probability `(batch, 1)`;
  more gives softmax probabilities `(batch, num_classes)`.
- forecast: `(batch, horizon, targets)`; on series inputs, plus a linear
  autoregressive skip and undone instance normalisation (see `seqzoo.task`).
"""

from __future__ import annotations

from typing import Any, Callable

import keras

from seqzoo.inputs import Stem
from seqzoo.layers import AutoregressiveSkip, InstanceDenormalization
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
    if task.inputs != "series":
        return y
    if task.linear_skip:
        skip = AutoregressiveSkip(task.horizon, task.targets, dtype="float32", name="ar_skip")(stem.x)
        y = keras.layers.Add(dtype="float32", name="forecast_plus_skip")([y, skip])
    if task.normalize:
        y = InstanceDenormalization(task.targets, dtype="float32", name="instance_denorm")([y, stem.inputs])
    return y


HEADS: dict[str, Callable[[Any, Stem, Task], Any]] = {
    "classification": classification,
    "forecast": forecast,
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
    if num_classes == 2:
        return "binary_crossentropy", ["accuracy"]
    return "sparse_categorical_crossentropy", ["accuracy"]
