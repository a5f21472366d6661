"""Measurements for `python -m recipes.history`: gradient flow and step time.

Example:

>>> import numpy as np, keras
>>> cell = keras.layers.SimpleRNN(1, activation=None, use_bias=False)
>>> model = keras.Sequential([keras.Input((5, 1)), cell])
>>> cell.set_weights([np.ones((1, 1)), np.full((1, 1), 0.5)])
>>> profile = input_gradient_profile(model, np.ones((1, 5, 1), "float32"),
...                                  np.zeros((1, 1), "float32"), loss=lambda y, p: p)
>>> [round(float(g), 4) for g in profile]   # d h_T / d x_(T-k) = 0.5 ** k
[1.0, 0.5, 0.25, 0.125, 0.0625]
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import keras
import tensorflow as tf


def input_gradient_profile(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    loss: Callable[[Any, Any], Any] | str,
    batch_size: int = 256,
) -> np.ndarray:
    """Norm of d(loss)/d(input at step t), indexed by distance from the output.

    For each example the gradient of its loss with respect to the input frame
    `x[:, t, :]` is taken with `tf.GradientTape`; its L2 norm over the channels
    is averaged over the examples. Entry `k` of the result is the step `k`
    steps before the last one (`k = 0` is the last step), so a vanishing
    gradient shows as a profile that falls with `k`.

    Args:
        model: a model on float inputs `(batch, time, features)`.
        x: inputs `(n, time, features)`.
        y: targets, as the loss expects them.
        loss: a Keras loss name or `fn(y_true, y_pred)`; per-example values
            are summed, so each example's gradient is its own.
        batch_size: examples per gradient computation.

    Returns:
        float64 array `(time,)`: mean gradient norm at distance `k` from the output.
    """
    loss_fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    x = np.asarray(x, "float32")
    total = np.zeros(x.shape[1], "float64")
    for start in range(0, len(x), batch_size):
        xb = tf.constant(x[start : start + batch_size])
        yb = tf.constant(np.asarray(y)[start : start + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(xb)
            values = loss_fn(yb, model(xb, training=False))
            value = tf.reduce_sum(tf.cast(values, "float32"))
        grad = tape.gradient(value, xb)
        if grad is None:  # the output does not depend on the input
            continue
        total += tf.reduce_sum(tf.norm(grad, axis=-1), axis=0).numpy()
    return (total / len(x))[::-1]


def decay_per_step(profile: np.ndarray, floor: float = 1e-30) -> float:
    """The geometric rate `r` of a profile `g_k ~ c r**k` (least squares on log g_k).

    `r = 1` keeps the gradient at every distance; `r = 0.9` loses a factor 10 in
    about 22 steps. Values below `floor` are clipped before taking the log.
    """
    profile = np.maximum(np.asarray(profile, "float64"), floor)
    k = np.arange(len(profile))
    slope = np.polyfit(k, np.log(profile), 1)[0]
    return float(np.exp(slope))


def far_near_ratio(profile: np.ndarray, fraction: float = 0.1, floor: float = 1e-30) -> float:
    """Mean gradient over the farthest `fraction` of steps over that of the nearest."""
    profile = np.asarray(profile, "float64")
    width = max(1, int(round(len(profile) * fraction)))
    near = max(float(profile[:width].mean()), floor)
    return float(profile[-width:].mean()) / near


class StepTimer(keras.callbacks.Callback):
    """Records the wall time of every training batch in `times` (seconds).

    The batch's loss is read before the clock stops, so the step has finished.
    """

    def __init__(self):
        super().__init__()
        self.times: list[float] = []
        self._start = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            float(logs["loss"])
        self.times.append(time.perf_counter() - self._start)


def train_step_time(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    steps: int = 5,
    warmup: int = 2,
    fit: Callable[..., Any] | None = None,
) -> float:
    """Wall time (seconds) of one training step on the batch `(x, y)`: the fastest of `steps`.

    The model must be compiled. The batch is repeated `warmup + steps` times
    through `fit` (default `seqzoo.distribute.fit`); the first `warmup` steps
    (tracing) are dropped, and the fastest of the rest is the one least
    disturbed by other processes (as `timeit` does).
    """
    if fit is None:
        from seqzoo import distribute

        fit = distribute.fit
    timer = StepTimer()
    data = tf.data.Dataset.from_tensors((x, y)).repeat(warmup + steps)
    fit(model, data, epochs=1, callbacks=[timer], verbose=0)
    return float(np.min(timer.times[warmup:]))
