"""Distribution strategies chosen by name, and the training entry point the recipes use.

PRELIMINARY VERSION: `auto`, `default`, `one_device` and `mirrored` only, and
`fit` is `model.fit` with BackupAndRestore. The distribution issue extends this
module (multi_worker with its own training path, tpu, mixed precision); the
signatures below are the contract the recipes rely on.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


class StrategyError(ValueError):
    """A strategy cannot be used here; the message says how to fix it."""


def get_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """The `tf.distribute.Strategy` called `name`.

    `auto` picks mirrored with several GPUs, else the default strategy.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    raise StrategyError(f"unknown strategy {name!r}; choose auto, default, one_device or mirrored")


def fit(
    model: keras.Model,
    train: tf.data.Dataset,
    *,
    validation_data: tf.data.Dataset | None = None,
    epochs: int = 1,
    callbacks: list[keras.callbacks.Callback] | None = None,
    backup_dir: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
    verbose: Any = "auto",
) -> keras.callbacks.History:
    """Train `model` (built and compiled in `strategy.scope()`), resuming from `backup_dir`.

    `train` and `validation_data` are batched with the *global* batch size.
    Returns the Keras `History` (its `.history` holds one list per metric).
    """
    callbacks = list(callbacks or [])
    if backup_dir:
        callbacks.insert(0, keras.callbacks.BackupAndRestore(backup_dir))
    return model.fit(
        train, validation_data=validation_data, epochs=epochs, callbacks=callbacks, verbose=verbose
    )
