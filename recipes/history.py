"""`python -m recipes.history`: the history of sequence models, measured.

Generates the classic diagnostic tasks (no data, no download) and measures, on
the registered architectures, six claims the history makes:

1. A simple RNN trained with BPTT loses the gradient over long lags; LSTM and GRU keep it.
2. Gated RNNs learn long-range dependencies a simple RNN cannot (adding problem,
   delayed recall, over a sweep of sequence lengths).
3. GRU matches LSTM at lower cost (parameters, step time, accuracy).
4. Bidirectional models use future context (read from the other end of the sequence).
5. Self-attention trains in parallel over time; recurrence is sequential.
6. Deep (stacked) RNNs gain capacity.

Each claim gets a verdict (confirmed / mixed / not confirmed) computed from
this run's numbers against the thresholds in `THRESHOLDS`; `report.md` states
them next to the numbers. Output (`--out`, default `runs/history-<timestamp>`):
`report.md`, `results.json`, `gradient_flow.png`, `success_vs_length.png`,
`step_time.png`, `depth.png`.

Usage:

    python -m recipes.history --quick                # about 3 minutes on 2 CPU cores
    python -m recipes.history                        # the full run
    python -m recipes.history --models rnn,lstm,gru --claims 1,2 --seed 1

Programmatic use (what the tests do):

>>> from recipes import history
>>> results = history.run(history.TINY, out="/tmp/history-tiny",
...                       models=["rnn", "lstm"], claims=[1, 2])  # doctest: +SKIP
>>> results["claims"]["2"]["verdict"] in history.VERDICTS        # doctest: +SKIP
True
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import os
import platform
import shlex
import sys
import time
import warnings
from typing import Any, Callable, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import seqzoo  # noqa: E402
from recipes import artifacts  # noqa: E402
from recipes.history_probes import (  # noqa: E402
    StepTimer,
    decay_per_step,
    far_near_ratio,
    input_gradient_profile,
    train_step_time,
)
from recipes.history_tasks import TASKS, TaskSpec  # noqa: E402
from seqzoo import distribute, registry  # noqa: E402
from seqzoo.heads import loss_and_metrics  # noqa: E402

CONFIRMED, MIXED, NOT_CONFIRMED, NOT_MEASURED = "confirmed", "mixed", "not confirmed", "not measured"
VERDICTS = (CONFIRMED, MIXED, NOT_CONFIRMED, NOT_MEASURED)
ALL_CLAIMS = (1, 2, 3, 4, 5, 6)
DEFAULT_MODELS = ("rnn", "lstm", "gru", "bilstm", "transformer", "deep_lstm")

# Roles the verdicts need. Claims 1-2 compare the simple RNN with the gated cells,
# claim 3 GRU with LSTM; claim 4 pairs each bidirectional model with its forward twin.
SIMPLE = ("rnn",)
GATED = ("lstm", "gru")
BIDIRECTIONAL = {"birnn": "rnn", "bilstm": "lstm", "bigru": "gru", "deep_bilstm": "deep_lstm"}

CLAIM_TITLES = {
    1: "A simple RNN trained with BPTT loses the gradient over long lags; LSTM and GRU keep it",
    2: "Gated RNNs learn long-range dependencies that a simple RNN cannot",
    3: "GRU matches LSTM at lower cost",
    4: "Bidirectional models use future context",
    5: "Self-attention trains in parallel over time; recurrence is sequential",
    6: "Deep (stacked) RNNs gain capacity",
}

# Every verdict is computed from these numbers (stated in report.md).
THRESHOLDS = {
    # a task is "solved" when the test skill reaches this (0 = trivial baseline, 1 = perfect)
    "success_skill": 0.8,
    # training stops early once the validation skill reaches this
    "stop_skill": 0.95,
    # gradient far/near ratio (mean |dL/dx| over the farthest 10% of steps / nearest 10%)
    "grad_keeps": 1e-1,
    "grad_loses": 1e-2,
    # "matches": GRU's mean skill may be at most this much below LSTM's
    "gru_skill_tolerance": 0.05,
    # "lower cost": GRU/LSTM step-time ratio (geometric mean over lengths) below this
    "gru_time_ratio": 1.0,
    # step time ~ T**b: "sequential" when a recurrent model's b reaches this ...
    "sequential_exponent": 0.8,
    # ... and "parallel over time" when attention's b is at least this much lower
    "parallel_exponent_gap": 0.3,
    # depth: each extra layer may lose at most `depth_tolerance` skill, and the deepest
    # must beat depth 1 by `depth_gain`
    "depth_gain": 0.1,
    "depth_tolerance": 0.02,
    # timing verdicts (claims 3, 5) are flagged when the load average exceeds this per core
    "busy_load_per_core": 2.0,
}


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and budgets of one history run (`QUICK`, `FULL`, `TINY`).

    Args:
        units: recurrent units per layer (per direction).
        width: attention model width (`ff_dim = 2 * width`, `heads` heads).
        heads: attention heads.
        batch_size: training batch.
        learning_rate: Adam learning rate (gradient norm clipped at `clipnorm`).
        clipnorm: gradient clipping norm.
        lengths: sequence lengths of the claim 2 sweep.
        max_steps: training steps per run (fewer when the task is solved early).
        eval_every: steps between validation checks (early stop, learning curve).
        val_size: validation examples (early stop).
        test_size: test examples (the reported skill).
        probe_len: sequence length of the gradient probe (claim 1).
        probe_size: examples of the gradient probe.
        bi_len: sequence length of the bidirectional task (claim 4).
        bi_steps: training steps of claim 4.
        timing_lengths: sequence lengths of the step-time sweep (claim 5).
        timing_batch: batch size of the step-time sweep.
        timing_steps: timed steps per point and round.
        timing_rounds: interleaved rounds over all points; each point keeps its fastest step.
        timing_warmup: untimed first steps (tracing), in the first round.
        depth_len: sequence length of the depth task (claim 6).
        depth_units: units per layer of the depth test.
        depth_examples: random-label sequences to memorise in claim 6.
        depth_steps: training steps of claim 6.
        depths: depths compared in claim 6.
    """

    units: int = 32
    width: int = 32
    heads: int = 2
    batch_size: int = 64
    learning_rate: float = 1e-2
    clipnorm: float = 1.0
    lengths: tuple[int, ...] = (10, 25, 50, 100, 200)
    max_steps: int = 2000
    eval_every: int = 100
    val_size: int = 512
    test_size: int = 1024
    probe_len: int = 100
    probe_size: int = 256
    bi_len: int = 200
    bi_steps: int = 1500
    timing_lengths: tuple[int, ...] = (64, 128, 256, 512, 1024)
    timing_batch: int = 16
    timing_steps: int = 3
    timing_rounds: int = 3
    timing_warmup: int = 2
    depth_len: int = 20
    depth_units: int = 8
    depth_examples: int = 1024
    depth_steps: int = 3000
    depths: tuple[int, ...] = (1, 2, 3)


FULL = Config()
QUICK = Config(
    lengths=(10, 40), max_steps=600, eval_every=50, val_size=256, test_size=512,
    probe_len=40, probe_size=128, bi_len=60, bi_steps=400,
    timing_lengths=(64, 256, 1024), timing_batch=8, timing_steps=2, timing_rounds=2, timing_warmup=1,
    depth_len=10, depth_units=4, depth_examples=512, depth_steps=600,
)
TINY = Config(
    units=8, width=8, batch_size=16, lengths=(8,), max_steps=4, eval_every=2, val_size=32,
    test_size=32, probe_len=8, probe_size=8, bi_len=6, bi_steps=4, timing_lengths=(8, 16),
    timing_batch=4, timing_steps=1, timing_rounds=1, timing_warmup=1, depth_len=6, depth_units=4,
    depth_examples=32, depth_steps=4,
    depths=(1, 2),
)


class UsageError(Exception):
    """A bad flag or output folder; `main` exits 2 with this one line."""


# ----------------------------------------------------------------------------- models


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


def _targets(task: TaskSpec, y: np.ndarray) -> np.ndarray:
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
        task: the task (`recipes.history_tasks.TASKS`).
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
        record["gradient_init"] = input_gradient_profile(model, x_probe, _targets(task, y_probe), loss)

    x_shape = (config.batch_size, seq_len, task.features)
    y_example = _targets(task, task.make(1, seq_len, np.random.default_rng(0))[1])

    def batches():
        for _ in range(config.eval_every):
            if memorize:
                pick = train_rng.choice(memorize, config.batch_size, replace=memorize < config.batch_size)
                x, y = x_test[pick], y_test[pick]
            else:
                x, y = task.make(config.batch_size, seq_len, train_rng)
            yield x, _targets(task, y)

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
        record["gradient_trained"] = input_gradient_profile(model, x_probe, _targets(task, y_probe), loss)
    return record


# ----------------------------------------------------------------------------- claims


def _verdict(verdict: str, reason: str, **data: Any) -> dict[str, Any]:
    return {"verdict": verdict, "reason": reason, **data}


def _missing_roles(models: Sequence[str], *groups: Sequence[str]) -> str | None:
    for group in groups:
        if not any(m in models for m in group):
            return f"needs one of {', '.join(group)} in --models"
    return None


def gradient_summary(profile: np.ndarray) -> dict[str, float]:
    """Far/near ratio and per-step decay of one gradient profile."""
    return {"far_near_ratio": far_near_ratio(profile), "decay_per_step": decay_per_step(profile)}


def verdict_gradient(records: dict[str, dict]) -> dict[str, Any]:
    """Claim 1 from the probes: `records[model]` holds `gradient_init` and `gradient_trained`."""
    rows = {}
    for name, rec in records.items():
        rows[name] = {phase: gradient_summary(rec[f"gradient_{phase}"]) for phase in ("init", "trained")}
    missing = _missing_roles(list(rows), SIMPLE, GATED)
    if missing:
        return _verdict(NOT_MEASURED, missing, rows=rows)
    keeps, loses = THRESHOLDS["grad_keeps"], THRESHOLDS["grad_loses"]
    simple = [m for m in SIMPLE if m in rows]
    gated = [m for m in GATED if m in rows]
    ratio = {m: {p: rows[m][p]["far_near_ratio"] for p in ("init", "trained")} for m in rows}
    simple_loses = all(ratio[m]["trained"] < loses for m in simple)
    gated_keep = all(ratio[m]["trained"] >= keeps for m in gated)
    text = ", ".join(f"{m} {ratio[m]['trained']:.2g}" for m in simple + gated)
    if simple_loses and gated_keep:
        return _verdict(CONFIRMED, f"after training, far/near gradient ratio {text}: simple < {loses:g}, "
                        f"gated >= {keeps:g}", rows=rows)
    ordered = any(ratio[g][p] >= 10 * max(ratio[s][p], 1e-300)
                  for g in gated for s in simple for p in ("init", "trained"))
    if ordered:
        return _verdict(MIXED, f"after training, far/near ratio {text}: the gated cells keep at least 10x "
                        f"more gradient in some phase, but not simple < {loses:g} and all gated >= {keeps:g}",
                        rows=rows)
    return _verdict(NOT_CONFIRMED, f"after training, far/near ratio {text}: no gated cell keeps 10x more "
                    "gradient than the simple RNN", rows=rows)


def longest_solved(records: list[dict], model: str, task: str) -> int:
    """The longest sequence length at which `model` solved `task` (0 if none)."""
    return max([r["seq_len"] for r in records if r["model"] == model and r["task"] == task and r["solved"]],
               default=0)


def verdict_long_range(records: list[dict], tasks: Sequence[str]) -> dict[str, Any]:
    """Claim 2: each gated cell solves a longer length than the simple RNN on each task."""
    models = sorted({r["model"] for r in records})
    longest = {t: {m: longest_solved(records, m, t) for m in models} for t in tasks}
    missing = _missing_roles(models, SIMPLE, GATED)
    if missing:
        return _verdict(NOT_MEASURED, missing, longest_solved=longest)
    lengths = sorted({r["seq_len"] for r in records})
    checks = {}
    for t in tasks:
        simple = max(longest[t][m] for m in SIMPLE if m in models)
        for g in (m for m in GATED if m in models):
            checks[f"{g} > rnn on {t}"] = longest[t][g] > simple
    text = "; ".join(f"{t}: " + ", ".join(f"{m} {longest[t][m] or '-'}" for m in models) for t in tasks)
    if not any(longest[t][m] for t in tasks for m in models):
        return _verdict(NOT_CONFIRMED, f"no model solved any length (lengths {lengths}): the training budget "
                        "is too small to tell", longest_solved=longest, checks=checks)
    if all(checks.values()):
        return _verdict(CONFIRMED, f"longest length solved: {text}", longest_solved=longest, checks=checks)
    if any(checks.values()):
        failed = ", ".join(k for k, ok in checks.items() if not ok)
        return _verdict(MIXED, f"longest length solved: {text}; does not hold for {failed}",
                        longest_solved=longest, checks=checks)
    return _verdict(NOT_CONFIRMED, f"longest length solved: {text}; no gated cell goes further than the "
                    "simple RNN", longest_solved=longest, checks=checks)


def verdict_gru_vs_lstm(records: list[dict]) -> dict[str, Any]:
    """Claim 3: GRU's mean skill within tolerance of LSTM's, with fewer parameters and less time.

    `records` are claim 2's runs; the step-time ratio is the geometric mean of
    GRU/LSTM fastest training-step times over the (task, length) runs both made.
    """
    by_key = {(r["model"], r["task"], r["seq_len"]): r for r in records}
    keys = sorted({(t, L) for (m, t, L) in by_key if m == "lstm"} & {(t, L) for (m, t, L) in by_key if m == "gru"})
    if not keys:
        return _verdict(NOT_MEASURED, "needs lstm and gru in --models")
    skill = {m: float(np.mean([by_key[(m, *k)]["skill"] for k in keys])) for m in ("lstm", "gru")}
    params = {m: by_key[(m, *keys[0])]["params"] for m in ("lstm", "gru")}
    time_ratio = float(np.exp(np.mean([np.log(by_key[("gru", *k)]["step_seconds"]
                                              / by_key[("lstm", *k)]["step_seconds"]) for k in keys])))
    matches = skill["gru"] >= skill["lstm"] - THRESHOLDS["gru_skill_tolerance"]
    fewer = params["gru"] < params["lstm"]
    faster = time_ratio < THRESHOLDS["gru_time_ratio"]
    data = dict(mean_skill=skill, params=params, time_ratio=time_ratio, matches=matches,
                fewer_params=fewer, faster=faster, runs=[f"{t} T={L}" for t, L in keys])
    text = (f"mean skill gru {skill['gru']:.3f} vs lstm {skill['lstm']:.3f}; params {params['gru']} vs "
            f"{params['lstm']}; step time ratio gru/lstm {time_ratio:.2f}")
    if matches and fewer and faster:
        return _verdict(CONFIRMED, text, **data)
    if not matches:
        return _verdict(NOT_CONFIRMED, text + "; GRU does not match LSTM's skill", **data)
    return _verdict(MIXED, text + "; matches, but " + ("not faster" if fewer else "not fewer parameters"),
                    **data)


def verdict_bidirectional(pairs: list[dict]) -> dict[str, Any]:
    """Claim 4: each bidirectional model solves the task its forward twin does not."""
    if not pairs:
        return _verdict(NOT_MEASURED, f"needs a bidirectional model ({', '.join(BIDIRECTIONAL)}) in --models")
    wins = {f"{p['bidirectional']['model']} vs {p['forward']['model']}":
            p["bidirectional"]["solved"] and not p["forward"]["solved"] for p in pairs}
    text = "; ".join(f"{p['bidirectional']['model']} skill {p['bidirectional']['skill']:.2f} vs "
                     f"{p['forward']['model']} {p['forward']['skill']:.2f}" for p in pairs)
    if all(wins.values()):
        return _verdict(CONFIRMED, text, wins=wins)
    if any(wins.values()):
        return _verdict(MIXED, text + "; not for every pair", wins=wins)
    return _verdict(NOT_CONFIRMED, text + "; no bidirectional model solves what its forward twin cannot",
                    wins=wins)


def scaling_exponent(timings: dict[int, float], min_len: int = 0) -> float:
    """`b` in step time ~ T**b (least squares on log-log), over the lengths >= `min_len`."""
    lengths = sorted(L for L in timings if L >= min_len)
    if len(lengths) < 2:
        return float("nan")
    return float(np.polyfit(np.log(lengths), np.log([timings[L] for L in lengths]), 1)[0])


def long_end(lengths: Sequence[int]) -> int:
    """The shortest length of the upper half of a sweep (where fixed per-step costs are amortised)."""
    lengths = sorted(lengths)
    return lengths[(len(lengths) - 1) // 2] if len(lengths) > 2 else lengths[0]


def verdict_parallel(timings: dict[str, dict[int, float]], families: dict[str, str]) -> dict[str, Any]:
    """Claim 5: recurrent step time grows ~linearly with T at the long end; attention's markedly slower.

    The exponent is fitted over the upper half of the lengths, where a model's
    fixed per-step costs (optimizer update, call overhead) no longer hide how
    its time grows with T.
    """
    lengths = sorted({L for t in timings.values() for L in t})
    start = long_end(lengths) if lengths else 0
    exponents = {m: scaling_exponent(t) for m, t in timings.items()}
    upper = {m: scaling_exponent(t, start) for m, t in timings.items()}
    recurrent = {m: b for m, b in upper.items() if families[m] == "recurrent"}
    attention = {m: b for m, b in upper.items() if families[m] == "attention"}
    data = dict(exponents=exponents, exponents_long_end=upper, long_end_from=start)
    if not recurrent or not attention:
        return _verdict(NOT_MEASURED, "needs a recurrent and an attention model in --models", **data)
    sequential = all(b >= THRESHOLDS["sequential_exponent"] for b in recurrent.values())
    gap = min(recurrent.values()) - max(attention.values())
    parallel = gap >= THRESHOLDS["parallel_exponent_gap"]
    data.update(sequential=sequential, parallel=parallel, gap=gap)
    text = (f"step time ~ T^b for T >= {start}: " + ", ".join(f"{m} b={b:.2f}" for m, b in upper.items())
            + f"; smallest recurrent b minus largest attention b = {gap:.2f}")
    if sequential and parallel:
        return _verdict(CONFIRMED, text, **data)
    if sequential:
        return _verdict(MIXED, text + "; recurrence is sequential (b ~ 1), but attention's time grows as fast "
                        "or faster on this hardware (no idle parallel units to absorb longer sequences, and "
                        "its T^2 attention work)", **data)
    return _verdict(NOT_CONFIRMED, text + "; a recurrent model's step time grows clearly slower than T", **data)


def verdict_depth(results: dict[str, dict[int, dict]]) -> dict[str, Any]:
    """Claim 6: skill does not fall with depth and the deepest beats depth 1 by `depth_gain`."""
    if not results:
        return _verdict(NOT_MEASURED, "needs a stacked recurrent model (e.g. deep_lstm) in --models")
    tol, gain = THRESHOLDS["depth_tolerance"], THRESHOLDS["depth_gain"]
    status = {}
    for name, by_depth in results.items():
        depths = sorted(by_depth)
        skills = [by_depth[d]["skill"] for d in depths]
        monotone = all(b >= a - tol for a, b in zip(skills, skills[1:]))
        gains = skills[-1] - skills[0] >= gain
        beats = max(skills[1:], default=skills[0]) - skills[0] >= gain
        status[name] = CONFIRMED if (monotone and gains) else MIXED if beats else NOT_CONFIRMED
    text = "; ".join(f"{n}: " + ", ".join(f"depth {d} skill {r[d]['skill']:.2f}" for d in sorted(r))
                     for n, r in results.items())
    verdicts = set(status.values())
    verdict = verdicts.pop() if len(verdicts) == 1 else MIXED
    return _verdict(verdict, text, per_model=status)


# ----------------------------------------------------------------------------- the run


@dataclasses.dataclass
class Plan:
    """Which models each claim uses, from `--models` and `--claims`."""

    claims: tuple[int, ...]
    models: tuple[str, ...]
    long_range: tuple[str, ...]  # claims 1-3: recurrent, unidirectional, single-stack subjects
    pairs: tuple[tuple[str, str], ...]  # claim 4: (forward twin, bidirectional)
    deep: tuple[str, ...]  # claim 6: stacked recurrent models
    timed: tuple[str, ...]  # claim 5


def _is_deep(name: str) -> bool:
    entry = registry.get(name)
    depth = entry.params.get("depth")
    return entry.family == "recurrent" and depth is not None and (depth.default or 1) > 1


def make_plan(models: Sequence[str], claims: Sequence[int]) -> Plan:
    """Split the selected models into the roles each claim needs."""
    long_range = tuple(m for m in models if registry.get(m).family == "recurrent"
                       and m not in BIDIRECTIONAL and not _is_deep(m))
    if 3 in claims and 2 not in claims:  # claim 3 reads claim 2's skills for LSTM and GRU
        long_range = tuple(m for m in long_range if m in ("lstm", "gru"))
    pairs = tuple((BIDIRECTIONAL[m], m) for m in models if m in BIDIRECTIONAL)
    deep = tuple(m for m in models if _is_deep(m))
    timed = tuple(models) if 5 in claims else ()
    return Plan(tuple(sorted(set(claims))), tuple(models), long_range, pairs, deep, timed)


def run(
    config: Config,
    out: str,
    models: Sequence[str] = DEFAULT_MODELS,
    claims: Sequence[int] = ALL_CLAIMS,
    seed: int = 0,
    command: str = "",
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Run the claims on `models`, write the run directory `out`, return the results.

    Args:
        config: sizes and budgets (`FULL`, `QUICK`, `TINY`, or your own `Config`).
        out: the run directory (created if needed; the files are written atomically).
        models: registered model names.
        claims: which of the claims 1-6 to measure.
        seed: seeds the data and the weights.
        command: the command line, recorded in the report.
        log: progress messages (e.g. `print`).

    Returns:
        The content of `results.json`.
    """
    wall0, cpu0 = time.perf_counter(), time.process_time()
    plan = make_plan(models, claims)
    os.makedirs(out, exist_ok=True)
    results: dict[str, Any] = {
        "command": command,
        "seed": seed,
        "models": list(models),
        "claims_run": list(plan.claims),
        "config": dataclasses.asdict(config),
        "thresholds": THRESHOLDS,
        "environment": _environment(),
        "claims": {},
        "seconds": {},
        "load_average": {},  # 1-minute load average before and after each phase
    }
    raw: dict[str, Any] = {}
    results["raw"] = raw

    def save() -> None:
        artifacts.write_json_atomic(os.path.join(out, "results.json"), results)

    def timed(key: str, fn: Callable[[], Any]) -> Any:
        load = [_load_average()]
        start = time.perf_counter()
        value = fn()
        results["seconds"][key] = round(time.perf_counter() - start, 2)
        results["load_average"][key] = load + [_load_average()]
        return value

    # Claims 1-3: the adding problem and delayed recall over the length sweep.
    long_range: list[dict] = []
    if {1, 2, 3} & set(plan.claims):
        jobs = []
        if {2, 3} & set(plan.claims):
            jobs += [(m, t, L) for t in ("adding", "recall") for L in config.lengths for m in plan.long_range]
        if 1 in plan.claims:
            jobs += [(m, "adding", config.probe_len) for m in plan.long_range]
        jobs = list(dict.fromkeys(jobs))  # unique, in order

        def sweep():
            for i, (m, t, L) in enumerate(jobs, 1):
                probe = 1 in plan.claims and t == "adding" and L == config.probe_len
                rec = train_and_score(m, TASKS[t], L, config, seed, probe=probe)
                long_range.append(rec)
                log(f"[{i}/{len(jobs)}] {m} {t} T={L}: skill {rec['skill']:.3f} after {rec['steps']} steps "
                    f"({rec['train_seconds']:.1f}s)")
        timed("long_range_training", sweep)
        raw["long_range"] = long_range
        save()
    if 1 in plan.claims:
        probes = {r["model"]: r for r in long_range if "gradient_init" in r}
        results["claims"]["1"] = verdict_gradient(probes)
        results["claims"]["1"]["probe_len"] = config.probe_len
    if 2 in plan.claims:
        sweep_records = [r for r in long_range if r["seq_len"] in config.lengths]
        results["claims"]["2"] = verdict_long_range(sweep_records, ("adding", "recall"))

    if 3 in plan.claims:
        results["claims"]["3"] = verdict_gru_vs_lstm([r for r in long_range if r["seq_len"] in config.lengths])
        _flag_load(results["claims"]["3"], results["load_average"].get("long_range_training"))

    # Claim 4: bidirectional vs forward twin on the first-token task.
    if 4 in plan.claims:
        pairs: list[dict] = []

        def bidirectional():
            task = TASKS["first_token"]
            for forward, bi in plan.pairs:
                depth = registry.get(bi).params.get("depth")
                same = {"pool": "last", "depth": depth.default if depth else 1}
                pair = {}
                for role, m in (("forward", forward), ("bidirectional", bi)):
                    pair[role] = train_and_score(m, task, config.bi_len, config, seed, steps=config.bi_steps,
                                                 **same)
                    log(f"first_token T={config.bi_len} {m}: skill {pair[role]['skill']:.3f}")
                pairs.append(pair)
        timed("bidirectional", bidirectional)
        raw["bidirectional"] = pairs
        results["claims"]["4"] = verdict_bidirectional(pairs)
        results["claims"]["4"]["seq_len"] = config.bi_len
        save()

    # Claim 5: training step time against sequence length.
    if 5 in plan.claims:
        timings: dict[str, dict[int, float]] = {}

        def time_all():
            # Every (model, length) point is timed in each of `timing_rounds` interleaved rounds and
            # keeps its fastest step, so a burst of load from other processes cannot spoil one point.
            task = TASKS["adding"]
            points = {}
            for m in plan.timed:
                for L in config.timing_lengths:
                    x, y = task.make(config.timing_batch, L, np.random.default_rng([seed, L]))
                    points[(m, L)] = (build(m, task, L, config, seed), x, _targets(task, y))
            samples: dict[tuple[str, int], list[float]] = {key: [] for key in points}
            for round_ in range(config.timing_rounds):
                for key, (model, x, y) in points.items():
                    samples[key].append(train_step_time(model, x, y, steps=config.timing_steps,
                                                        warmup=config.timing_warmup if round_ == 0 else 0))
            for (m, L), times in samples.items():
                timings.setdefault(m, {})[L] = min(times)
                log(f"step time {m} T={L}: {min(times) * 1000:.1f} ms")
        timed("step_time", time_all)
        raw["step_time"] = {m: {str(L): t for L, t in v.items()} for m, v in timings.items()}
        families = {m: registry.get(m).family for m in timings}
        results["claims"]["5"] = verdict_parallel(timings, families)
        results["claims"]["5"]["families"] = families
        _flag_load(results["claims"]["5"], results["load_average"].get("step_time"))
        save()

    # Claim 6: depth 1 vs 2 vs 3, memorising random labels (capacity).
    if 6 in plan.claims:
        depth_results: dict[str, dict[int, dict]] = {}

        def depth_sweep():
            task = TASKS["random_labels"]
            deep_config = dataclasses.replace(config, units=config.depth_units)
            for m in plan.deep:
                depth_results[m] = {}
                for d in config.depths:
                    rec = train_and_score(m, task, config.depth_len, deep_config, seed, steps=config.depth_steps,
                                          memorize=config.depth_examples, depth=d, pool="last")
                    depth_results[m][d] = rec
                    log(f"random_labels T={config.depth_len} {m} depth {d}: fit skill {rec['skill']:.3f}")
        timed("depth", depth_sweep)
        raw["depth"] = {m: {str(d): r for d, r in v.items()} for m, v in depth_results.items()}
        results["claims"]["6"] = verdict_depth(depth_results)
        results["claims"]["6"]["seq_len"] = config.depth_len

    for key, claim in results["claims"].items():
        claim["title"] = CLAIM_TITLES[int(key)]
    results["seconds"]["wall"] = round(time.perf_counter() - wall0, 2)
    results["seconds"]["cpu"] = round(time.process_time() - cpu0, 2)
    plots = write_plots(results, out, config)
    results["plots"] = plots
    save()
    artifacts.write_text_atomic(os.path.join(out, "report.md"), render_report(results, config))
    return results


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not on every platform
        return None


def _flag_load(claim: dict[str, Any], load: Sequence[float | None] | None) -> None:
    """Say so in a timing verdict's reason when other processes crowded the CPU while it was measured."""
    cores = os.cpu_count() or 1
    worst = max((x for x in load or () if x is not None), default=None)
    claim["load_average"] = worst
    if worst is not None and worst > THRESHOLDS["busy_load_per_core"] * cores:
        claim["reason"] += (f" (timed while the 1-minute load average reached {worst:.1f} on {cores} cores: "
                            "other processes competed for the CPU, so these times are unreliable)")


def _environment() -> dict[str, Any]:
    try:  # the first device query prints CUDA probing errors on machines without a GPU
        from seqzoo._quiet import silenced_stderr
    except ImportError:  # pragma: no cover - older seqzoo
        import contextlib

        silenced_stderr = contextlib.nullcontext
    with silenced_stderr():
        gpus = len(tf.config.list_logical_devices("GPU"))
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "seqzoo": seqzoo.__version__,
        "cpus": os.cpu_count(),
        "gpus": gpus,
        "machine": platform.machine(),
    }


# ----------------------------------------------------------------------------- plots


def _length_axis(ax, lengths: Sequence[int]) -> None:
    """A log x axis labelled at the measured lengths."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_xticks(list(lengths))
    ax.set_xticklabels([str(L) for L in lengths])
    ax.xaxis.set_minor_formatter(NullFormatter())


def write_plots(results: dict[str, Any], out: str, config: Config) -> list[str]:
    """The PNG figures of the claims that ran; returns their file names."""
    import matplotlib.pyplot as plt

    raw = results["raw"]
    written = []

    probes = [r for r in raw.get("long_range", []) if "gradient_init" in r]
    if probes:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, phase in zip(axes, ("init", "trained")):
            for r in probes:
                g = np.maximum(np.asarray(r[f"gradient_{phase}"], "float64"), 1e-30)
                ax.semilogy(np.arange(len(g)), g, label=r["model"])
            when = "at initialisation" if phase == "init" else "after training"
            ax.set_title(f"adding problem, T={config.probe_len}: {when}")
            ax.set_xlabel("distance from the output (steps)")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("mean |d loss / d x_t|")
        axes[1].legend()
        artifacts.save_figure_atomic(fig, os.path.join(out, "gradient_flow.png"), dpi=110)
        written.append("gradient_flow.png")

    sweep = [r for r in raw.get("long_range", []) if r["seq_len"] in config.lengths]
    if sweep:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, task in zip(axes, ("adding", "recall")):
            for m in dict.fromkeys(r["model"] for r in sweep):
                pts = sorted((r["seq_len"], r["skill"]) for r in sweep if r["model"] == m and r["task"] == task)
                if pts:
                    ax.plot(*zip(*pts), marker="o", label=m)
            ax.axhline(THRESHOLDS["success_skill"], color="k", ls="--", lw=0.8, label="solved")
            ax.axhline(0.0, color="gray", ls=":", lw=0.8, label="trivial baseline")
            _length_axis(ax, config.lengths)
            ax.set_title(f"{task}: skill vs sequence length")
            ax.set_xlabel("sequence length T")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("skill (0 = baseline, 1 = perfect)")
        axes[1].legend()
        artifacts.save_figure_atomic(fig, os.path.join(out, "success_vs_length.png"), dpi=110)
        written.append("success_vs_length.png")

    if raw.get("step_time"):
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for m, pts in raw["step_time"].items():
            lengths = sorted(int(L) for L in pts)
            family = registry.get(m).family
            ax.loglog(lengths, [pts[str(L)] * 1000 for L in lengths], marker="o",
                      ls="-" if family == "recurrent" else "--", label=f"{m} ({family})")
        lengths = sorted({int(L) for pts in raw["step_time"].values() for L in pts})
        first = min(pts[str(lengths[0])] for pts in raw["step_time"].values()) * 1000
        ax.loglog(lengths, [first * L / lengths[0] for L in lengths], color="gray", ls=":", lw=1,
                  label="~ T (sequential)")
        _length_axis(ax, lengths)
        ax.set_xlabel("sequence length T")
        ax.set_ylabel("training step time (ms)")
        ax.set_title(f"training step time, batch {config.timing_batch}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        artifacts.save_figure_atomic(fig, os.path.join(out, "step_time.png"), dpi=110)
        written.append("step_time.png")

    if raw.get("depth"):
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for m, by_depth in raw["depth"].items():
            depths = sorted(int(d) for d in by_depth)
            ax.plot(depths, [by_depth[str(d)]["skill"] for d in depths], marker="o", label=m)
        ax.axhline(THRESHOLDS["success_skill"], color="k", ls="--", lw=0.8)
        ax.set_xticks(list(config.depths))
        ax.set_xlabel("stacked layers")
        ax.set_ylabel("fit skill, random labels")
        ax.set_title(f"depth, T={config.depth_len}, {config.depth_units} units/layer")
        ax.grid(alpha=0.3)
        ax.legend()
        artifacts.save_figure_atomic(fig, os.path.join(out, "depth.png"), dpi=110)
        written.append("depth.png")
    return written


# ----------------------------------------------------------------------------- report


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def render_report(results: dict[str, Any], config: Config) -> str:
    """`report.md`: per claim, what was measured, a table, the thresholds and the verdict."""
    raw, claims = results["raw"], results["claims"]
    env = results["environment"]
    secs = results["seconds"]
    lines = [
        "# The history of sequence models, measured",
        "",
        f"Command: `{results['command'] or 'recipes.history.run(...)'}`  ",
        f"Seed {results['seed']}; models {', '.join(results['models'])}; claims {results['claims_run']}.  ",
        f"Wall time {secs['wall']:.0f} s, process CPU time {secs['cpu']:.0f} s on {env['cpus']} CPU cores"
        f"{', ' + str(env['gpus']) + ' GPU' if env['gpus'] else ''} (TensorFlow {env['tensorflow']}, "
        f"Keras {env['keras']}).  ",
        _load_line(results, env),
        "",
        "Every verdict below is computed from this run's numbers against the thresholds stated with it "
        "(`THRESHOLDS` in `recipes/history.py`); one seed, small models (recurrent "
        f"{config.units} units, attention width {config.width}), Adam {config.learning_rate:g} with "
        f"gradient clipping {config.clipnorm:g}, batch {config.batch_size}, fresh synthetic data every step.",
        "*Skill* puts every task on one scale: 0 = the trivial baseline, 1 = perfect "
        "(`1 - MSE/baseline_MSE`, `(accuracy - chance)/(1 - chance)`). A task is *solved* at skill >= "
        f"{THRESHOLDS['success_skill']}; training stops early at validation skill >= {THRESHOLDS['stop_skill']}.",
        "",
        "## Verdicts",
        "",
        _table(["#", "claim", "verdict"],
               [(k, claims[k]["title"], f"**{claims[k]['verdict']}**") for k in sorted(claims)]),
        "",
    ]
    section = {"1": _report_gradient, "2": _report_long_range, "3": _report_gru, "4": _report_bidirectional,
               "5": _report_parallel, "6": _report_depth}
    for key in sorted(claims):
        claim = claims[key]
        lines += [f"## {key}. {claim['title']}", ""]
        lines += section[key](claim, raw, config)
        lines += ["", f"**Verdict: {claim['verdict']}.** {claim['reason']}.", ""]
    return "\n".join(lines) + "\n"


def _load_line(results: dict[str, Any], env: dict[str, Any]) -> str:
    loads = [x for pair in results.get("load_average", {}).values() for x in pair if x is not None]
    if not loads:
        return ""
    busy = max(loads) > THRESHOLDS["busy_load_per_core"] * (env["cpus"] or 1)
    return (f"1-minute load average during the run: {min(loads):.1f} to {max(loads):.1f} on {env['cpus']} cores"
            + (" -- other processes competed for the CPU: wall times (and the timing verdicts of claims 3 and 5) "
               "are unreliable; rerun on an idle machine." if busy else "."))


def _report_gradient(claim, raw, config):
    rows = claim.get("rows", {})
    table = [(m, _fmt(r["init"]["far_near_ratio"], ".2e"), _fmt(r["init"]["decay_per_step"], ".4f"),
              _fmt(r["trained"]["far_near_ratio"], ".2e"), _fmt(r["trained"]["decay_per_step"], ".4f"))
             for m, r in rows.items()]
    return [
        f"Gradient of the loss with respect to the input at each step, `||dL/dx_t||` averaged over "
        f"{config.probe_size} adding-problem sequences of length {config.probe_len}, measured with "
        "`tf.GradientTape` on the same weights at initialisation and after training (claim 2's run at "
        f"T={config.probe_len}). *far/near* = mean gradient over the farthest 10% of steps divided by that "
        "over the nearest 10%; *decay/step* = r in a least-squares fit g_k ~ c r^k (r = 1 keeps the "
        "gradient). Plot: `gradient_flow.png`.",
        "",
        _table(["model", "far/near at init", "decay/step at init", "far/near trained", "decay/step trained"],
               table),
        "",
        f"Thresholds: the simple RNN *loses* the gradient when far/near < {THRESHOLDS['grad_loses']:g} after "
        f"training; a gated cell *keeps* it when far/near >= {THRESHOLDS['grad_keeps']:g}. Confirmed: both; "
        "mixed: a gated cell keeps at least 10x more than the simple RNN (at init or after training) "
        "without both thresholds being met; not confirmed: otherwise.",
    ]


def _report_long_range(claim, raw, config):
    recs = [r for r in raw.get("long_range", []) if r["seq_len"] in config.lengths]
    out = [
        "The adding problem (two marked values, one in each half; target their sum; predicting 1.0 gives "
        "MSE ~0.167) and delayed recall (copy-memory style: one symbol, 1 of 8, at a uniformly random step "
        "among blanks, to be named at the end; chance 0.125; skill ~ the fraction of lags the memory spans), "
        f"at T = {list(config.lengths)}, at most "
        f"{config.max_steps} steps each. Plot: `success_vs_length.png`.",
        "",
    ]
    for task, metric in (("adding", "mse"), ("recall", "accuracy")):
        models = list(dict.fromkeys(r["model"] for r in recs))
        rows = []
        for m in models:
            cells = []
            for L in config.lengths:
                r = next((r for r in recs if r["model"] == m and r["task"] == task and r["seq_len"] == L), None)
                if r is None:
                    cells.append("-")
                    continue
                steps = f", {r['steps_to_success']} st" if r["steps_to_success"] else ""
                cells.append(f"{r['skill']:.2f} ({metric} {r[metric]:.3f}{steps})")
            rows.append([m] + cells + [claim.get("longest_solved", {}).get(task, {}).get(m, 0) or "-"])
        out += [f"**{task}**: skill ({metric}, steps to reach skill {THRESHOLDS['success_skill']})", "",
                _table(["model"] + [f"T={L}" for L in config.lengths] + ["longest solved"], rows), ""]
    out.append(f"Thresholds: solved = test skill >= {THRESHOLDS['success_skill']}. Confirmed: on both tasks "
               "every gated cell (lstm, gru) solves a longer length than the simple RNN; mixed: for some "
               "task/cell pairs; not confirmed: for none.")
    return out


def _report_gru(claim, raw, config):
    if claim["verdict"] == NOT_MEASURED:
        return ["Needs lstm and gru."]
    recs = [r for r in raw.get("long_range", []) if r["seq_len"] in config.lengths]
    rows = []
    for m in ("lstm", "gru"):
        mine = [r for r in recs if r["model"] == m]
        rows.append((m, claim["params"][m], f"{claim['mean_skill'][m]:.3f}",
                     ", ".join(f"{r['step_seconds'] * 1000:.0f}" for r in mine)))
    return [
        f"Same units ({config.units}), same data, same budget: claim 2's runs ({', '.join(claim['runs'])}). "
        f"Mean test skill over those runs; training-step time (ms, batch {config.batch_size}, the fastest "
        "step of the run, the one least disturbed by other processes) of each run, in the same order.",
        "",
        _table(["model", "parameters", "mean skill", "step time per run (ms)"], rows),
        "",
        f"GRU/LSTM step-time ratio (geometric mean over the runs): {claim['time_ratio']:.2f}.",
        "",
        f"Thresholds: *matches* = GRU mean skill >= LSTM's - {THRESHOLDS['gru_skill_tolerance']}; *lower cost* "
        f"= fewer parameters and step-time ratio < {THRESHOLDS['gru_time_ratio']}. Confirmed: matches and "
        "both costs lower; mixed: matches, one cost lower; not confirmed: does not match.",
    ]


def _report_bidirectional(claim, raw, config):
    rows = []
    for pair in raw.get("bidirectional", []):
        for role in ("forward", "bidirectional"):
            r = pair[role]
            rows.append((r["model"], role, r["params"], f"{r['skill']:.3f}", f"{r['accuracy']:.3f}",
                         r["steps_to_success"] or "-", r["steps"]))
    return [
        f"Task `first_token`: T = {config.bi_len} random symbols (1 of 4); the label is the FIRST symbol "
        "(chance 0.25). Both models summarise with their final state (`pool='last'`, so the default max "
        "pooling of the bidirectional builders cannot reach step 0 directly), same cell, same units per "
        f"direction, at most {config.bi_steps} steps. Why this design: a model that reads left to right and "
        f"answers at the end must carry the label across {config.bi_len - 1} steps of noise; the backward half "
        "of a bidirectional model reads the sequence from the other end, so for it the label is its most "
        "recent input, i.e. the backward pass brings each position the context that lies after it in reading "
        "order (its future). The bidirectional model wins only if it uses that context.",
        "",
        _table(["model", "direction", "parameters", "skill", "accuracy", "steps to solve", "steps run"], rows),
        "",
        f"Thresholds: a pair confirms the claim when the bidirectional model solves the task (skill >= "
        f"{THRESHOLDS['success_skill']}) and its forward twin does not. Confirmed: every pair; mixed: some; "
        "not confirmed: none.",
    ]


def _report_parallel(claim, raw, config):
    times = raw.get("step_time", {})
    lengths = sorted({int(L) for v in times.values() for L in v})
    rows = [[m, claim.get("families", {}).get(m, "?")]
            + [_fmt(times[m].get(str(L), float("nan")) * 1000, ".1f") for L in lengths]
            + [_fmt(claim["exponents"].get(m), ".2f"), _fmt(claim["exponents_long_end"].get(m), ".2f")]
            for m in times]
    start = claim.get("long_end_from")
    return [
        "Wall time of one training step (forward + backward + Adam), batch "
        f"{config.timing_batch}, adding-problem frames: the fastest of {config.timing_rounds} x "
        f"{config.timing_steps} steps, timed in {config.timing_rounds} interleaved rounds over all points "
        "(after untimed tracing steps), so that load from other processes spoils no single point. b = slope "
        f"of log(time) against log(T), over all lengths and over T >= {start} (the long end, where fixed "
        "per-step costs no longer hide the growth). Plot: `step_time.png`.",
        "",
        _table(["model", "family"] + [f"T={L} (ms)" for L in lengths] + ["b (all)", f"b (T >= {start})"], rows),
        "",
        f"Thresholds, on b at the long end: *sequential* = every recurrent model has b >= "
        f"{THRESHOLDS['sequential_exponent']} (T dependent steps: time ~ T); *parallel over time* = every "
        f"attention model's b is at least {THRESHOLDS['parallel_exponent_gap']} below every recurrent b. "
        "Confirmed: both; mixed: sequential only; not confirmed: recurrence not sequential. Hardware matters "
        "here: on a few CPU cores an attention model has no idle units to spread a longer sequence over and "
        "its T^2 attention work grows, so its b can approach or pass 1; on a GPU it stays far below 1 over "
        "this range.",
    ]


def _report_depth(claim, raw, config):
    rows = []
    for m, by_depth in raw.get("depth", {}).items():
        for d in sorted(by_depth, key=int):
            r = by_depth[d]
            rows.append((m, d, r["params"], f"{r['skill']:.3f}", f"{r['accuracy']:.3f}",
                         r["steps_to_success"] or "-", r["steps"]))
    return [
        f"Task `random_labels`: memorise random labels (1 of 4, chance 0.25) of a fixed set of "
        f"{config.depth_examples} N(0, 1) sequences of length {config.depth_len}. The labels have no structure "
        "to exploit, so the fit (training-set skill) measures raw capacity, the hardest task for a fixed "
        "budget of weights (Collins, Sohl-Dickstein & Sussillo 2017 measure RNN capacity this way). "
        f"{config.depth_units} units per layer, depth {list(config.depths)}, final-state summary, at most "
        f"{config.depth_steps} steps of batch {config.batch_size}. Plot: `depth.png`.",
        "",
        _table(["model", "depth", "parameters", "fit skill", "training accuracy", "steps to skill 0.8",
                "steps run"], rows),
        "",
        f"Thresholds: confirmed when the fit never falls by more than {THRESHOLDS['depth_tolerance']} from one "
        f"depth to the next and the deepest beats depth 1 by >= {THRESHOLDS['depth_gain']}; mixed when some "
        f"deeper stack beats depth 1 by >= {THRESHOLDS['depth_gain']} without that trend; not confirmed "
        "otherwise.",
    ]


# ----------------------------------------------------------------------------- CLI


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    claims = "\n".join(f"  {k}. {title}" for k, title in CLAIM_TITLES.items())
    parser = _Parser(
        prog="python -m recipes.history",
        description="Generate the classic diagnostic tasks and measure the history's claims on the "
        "registered architectures (no data, no download).",
        epilog=f"claims:\n{claims}\n\n"
        "which models each claim uses (from --models):\n"
        "  1-3  the single-stack, unidirectional recurrent models (rnn vs lstm/gru; 3: lstm vs gru)\n"
        "  4    each bidirectional model (birnn, bilstm, bigru, deep_bilstm) against its forward twin\n"
        "  5    every selected model (families recurrent vs attention)\n"
        "  6    each stacked recurrent model (deep_rnn, deep_lstm, deep_gru, deep_bilstm) at depth 1, 2, 3\n"
        "A claim whose models are missing is reported as 'not measured'.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short lengths and budgets (~3 min on 2 cores)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help=f"comma-separated registered models (default: {','.join(DEFAULT_MODELS)})")
    parser.add_argument("--claims", default=",".join(map(str, ALL_CLAIMS)),
                        help="comma-separated claim numbers 1-6 (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")
    parser.add_argument("--out", default=None, help="run directory (default runs/history-<timestamp>)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def _parse_list(text: str, flag: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise UsageError(f"{flag} is empty; give a comma-separated list")
    return list(dict.fromkeys(items))


def check_args(args: argparse.Namespace) -> tuple[list[str], list[int], str]:
    """Validate the flags; raise `UsageError` (one line) on bad input."""
    models = _parse_list(args.models, "--models")
    for m in models:
        try:
            registry.get(m)
        except registry.UnknownModelError as error:
            raise UsageError(f"--models: {error}") from None
    claims = []
    for c in _parse_list(args.claims, "--claims"):
        if not c.isdigit() or int(c) not in ALL_CLAIMS:
            raise UsageError(f"--claims {c!r} is not a claim number; choose from 1-6, e.g. --claims 1,2")
        claims.append(int(c))
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed} must be >= 0")
    out = args.out or os.path.join("runs", "history-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} is a file; choose a directory")
    if os.path.isdir(out) and os.listdir(out):
        raise UsageError(f"--out {out} is not empty; choose a new directory (nothing is overwritten)")
    return models, claims, out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        models, claims, out = check_args(args)
    except UsageError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    config = QUICK if args.quick else FULL
    # Dozens of small models are built and traced on purpose: hide TF's retracing notes
    # and Keras' "shuffle ignored for a tf.data.Dataset" warning (the data is fresh anyway).
    tf.get_logger().setLevel("ERROR")
    warnings.filterwarnings("ignore", message=".*shuffle=True.*")
    argv = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join(["python", "-m", "recipes.history", *argv])
    log = (lambda message: None) if args.quiet else (lambda message: print(message, flush=True))
    log(f"history: {'quick' if args.quick else 'full'} run of claims {claims} on {', '.join(models)} -> {out}")
    results = run(config, out, models=models, claims=claims, seed=args.seed, command=command, log=log)
    for key in sorted(results["claims"]):
        claim = results["claims"][key]
        log(f"claim {key}: {claim['verdict']:13s} {claim['title']}")
    log(f"wall {results['seconds']['wall']:.0f} s, CPU {results['seconds']['cpu']:.0f} s; report: "
        f"{os.path.join(out, 'report.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
