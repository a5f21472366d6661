"""Training one model on one diagnostic task: the measurement every experiment repeats."""

from __future__ import annotations

import time
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

import seqzoo
from recipes.history.config import Config
from recipes.history.probes import StepTimer, input_gradient_profile
from recipes.history.tasks import TASKS, TaskSpec
from recipes.history.verdicts import THRESHOLDS
from seqzoo import distribute, registry
from seqzoo.heads import loss_and_metrics


def _sizes(config: Config) -> dict[str, Any]:
    return {"units": config.units, "width": config.width, "ff_dim": 2 * config.width,
            "heads": config.heads, "dropout": 0.0}


def model_kwargs(name: str, config: Config, **overrides: Any) -> dict[str, Any]:
    """The size keywords of `config` that model `name` declares, plus `overrides`."""
    params = registry.get(name).params
    kwargs = {key: value for key, value in _sizes(config).items() if key in params}
    kwargs.update({key: value for key, value in overrides.items() if key in params})
    return kwargs


def build(name: str, task: TaskSpec, seq_len: int, config: Config, seed: int, **overrides: Any) -> keras.Model:
    """`seqzoo.build` for `task` at `seq_len`, seeded, compiled with the run's optimizer."""
    keras.utils.set_random_seed(seed)
    model = seqzoo.build(name, **task.build_kwargs(seq_len), **model_kwargs(name, config, **overrides))
    loss = _loss(task)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm), loss=loss)
    return model


def _loss(task: TaskSpec) -> str:
    """The loss `seqzoo.heads.loss_and_metrics` pairs with the task's head."""
    loss, _ = loss_and_metrics("forecast") if task.regression else loss_and_metrics("classification", task.classes)
    return loss


def head_targets(task: TaskSpec, y: np.ndarray) -> np.ndarray:
    """Targets shaped like the head's output (`(n, 1, 1)` for the one-value forecast)."""
    return y.reshape(-1, 1, 1) if task.regression else y


def predictor(model: keras.Model, batch_size: int = 512) -> Callable[[np.ndarray], np.ndarray]:
    """`x -> outputs` of `model` in inference mode, through one `tf.function` (traced once)."""
    call = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)

    def predict(x: np.ndarray) -> np.ndarray:
        parts = [keras.ops.convert_to_numpy(call(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts)

    return predict


def _data_rng(seed: int, task: TaskSpec, seq_len: int, split: int) -> np.random.Generator:
    """The same data stream for every model on one (task, length): a fair comparison."""
    return np.random.default_rng([seed, sorted(TASKS).index(task.name), seq_len, split])


class _EarlyStopOnSkill(keras.callbacks.Callback):
    """Validation skill after each chunk of steps; stops once it reaches `stop_skill`."""

    def __init__(self, task: TaskSpec, predict: Callable, x: np.ndarray, y: np.ndarray, stop_skill: float,
                 success: float, every: int):
        super().__init__()
        self.task, self.predict, self.x, self.y = task, predict, x, y
        self.stop_skill, self.success, self.every = stop_skill, success, every
        self.curve: list[tuple[int, float]] = []
        self.steps_to_success: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        skill = self.task.skill(self.y, self.predict(self.x))["skill"]
        steps = (epoch + 1) * self.every
        self.curve.append((steps, round(skill, 4)))
        if self.steps_to_success is None and skill >= self.success:
            self.steps_to_success = steps
        if skill >= self.stop_skill:
            self.model.stop_training = True


def train_and_score(
    name: str,
    task: TaskSpec,
    seq_len: int,
    config: Config,
    seed: int,
    steps: int | None = None,
    probe: bool = False,
    memorize: int | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Train model `name` on `task` at `seq_len`; return its test skill (and gradient probes).

    Trains through `seqzoo.distribute.fit` on fresh batches, checking the
    validation skill every `config.eval_every` steps (stopping early once it
    reaches `THRESHOLDS["stop_skill"]`), then scores a held-out test set.

    Args:
        name: registered model.
        task: the task (`recipes.history.tasks.TASKS`).
        seq_len: sequence length.
        config: sizes and budgets.
        seed: seeds the weights and the data (the data does not depend on the model).
        steps: training steps (default `config.max_steps`).
        probe: measure the input-gradient profile before and after training.
        memorize: train on a fixed set of this many examples and score the fit
            on that same set (a capacity test) instead of on fresh data.
        **overrides: model hyperparameters (e.g. `depth=2`, `pool="last"`).
    """
    steps = steps or config.max_steps
    chunks = max(1, steps // config.eval_every)
    model = build(name, task, seq_len, config, seed, **overrides)
    train_rng = _data_rng(seed, task, seq_len, 0)
    if memorize:
        x_val, y_val = x_test, y_test = task.make(memorize, seq_len, train_rng)
    else:
        x_val, y_val = task.make(config.val_size, seq_len, _data_rng(seed, task, seq_len, 1))
        x_test, y_test = task.make(config.test_size, seq_len, _data_rng(seed, task, seq_len, 2))
    record: dict[str, Any] = {"model": name, "task": task.name, "seq_len": seq_len,
                              "params": int(model.count_params()), "overrides": dict(overrides)}
    loss = _loss(task)
    if probe:
        x_probe, y_probe = task.make(config.probe_size, seq_len, _data_rng(seed, task, seq_len, 3))
        record["gradient_init"] = input_gradient_profile(model, x_probe, head_targets(task, y_probe), loss)

    x_shape = (config.batch_size, seq_len, task.features)
    y_example = head_targets(task, task.make(1, seq_len, np.random.default_rng(0))[1])

    def batches():
        for _ in range(config.eval_every):
            if memorize:
                pick = train_rng.choice(memorize, config.batch_size, replace=memorize < config.batch_size)
                x, y = x_test[pick], y_test[pick]
            else:
                x, y = task.make(config.batch_size, seq_len, train_rng)
            yield x, head_targets(task, y)

    data = tf.data.Dataset.from_generator(
        batches,
        output_signature=(
            tf.TensorSpec(x_shape, tf.float32),
            tf.TensorSpec((config.batch_size,) + y_example.shape[1:], tf.as_dtype(y_example.dtype)),
        ),
    ).apply(tf.data.experimental.assert_cardinality(config.eval_every)).prefetch(2)
    predict = predictor(model)
    stopper = _EarlyStopOnSkill(task, predict, x_val, y_val, THRESHOLDS["stop_skill"], THRESHOLDS["success_skill"],
                                config.eval_every)
    timer = StepTimer()
    start = time.perf_counter()
    distribute.fit(model, data, epochs=chunks, callbacks=[stopper, timer], verbose=0)
    record["train_seconds"] = time.perf_counter() - start
    # the fastest step (after the tracing ones) is the one least disturbed by other processes
    record["step_seconds"] = float(np.min(timer.times[2:] or timer.times))
    record["steps"] = len(stopper.curve) * config.eval_every
    record["steps_to_success"] = stopper.steps_to_success
    record["curve"] = stopper.curve
    record.update(task.skill(y_test, predict(x_test)))
    record["solved"] = bool(record["skill"] >= THRESHOLDS["success_skill"])
    if probe:
        record["gradient_trained"] = input_gradient_profile(model, x_probe, head_targets(task, y_probe), loss)
    return record
