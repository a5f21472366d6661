"""The experiments of the history run: each trains or times models and returns its raw records.

An experiment is a function `run(context) -> records` (plain dicts and lists,
stored in `results.json` under `raw[name]`); one experiment can serve several
claims (claims 1-3 all read `long_range`). Which models it uses comes from
`recipes.history.roles`, never from names. `EXPERIMENTS` lists them in the
order a run performs them.

Example:

>>> [e.name for e in EXPERIMENTS]
['long_range', 'bidirectional', 'step_time', 'scan_step_time', 'depth']
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from recipes.history import plots, roles
from recipes.history.config import Config
from recipes.history.probes import train_step_time
from recipes.history.tasks import TASKS
from recipes.history.training import build, head_targets, train_and_score
from seqzoo import registry


@dataclasses.dataclass(frozen=True)
class Context:
    """What every experiment reads.

    Args:
        config: sizes and budgets.
        seed: seeds the data and the weights.
        models: the selected registered models (`--models`), in order.
        claims: the selected claim numbers (`--claims`).
        log: progress messages.
    """

    config: Config
    seed: int
    models: tuple[str, ...]
    claims: frozenset[int]
    log: Callable[[str], None] = lambda message: None


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment of the run.

    Args:
        name: its key in `results["raw"]`.
        phase: its key in `results["seconds"]` and `results["load_average"]`.
        run: `fn(context) -> records` (JSON-able).
        plot: `fn(records, out, config) -> [file names]`, the figures it draws (may be none).
    """

    name: str
    phase: str
    run: Callable[[Context], Any]
    plot: Callable[[Any, str, Config], list[str]] | None = None


# ----------------------------------------------------------------------------- claims 1-3


def long_range_subjects(context: Context) -> tuple[str, ...]:
    """Claims 1-3's models: the single-stack, unidirectional recurrent ones (claim 3 alone: its pair)."""
    subjects = roles.long_range_subjects(context.models)
    if 3 in context.claims and 2 not in context.claims:  # claim 3 reads claim 2's runs of its pair only
        pair = roles.gated_pair(subjects) or ()
        subjects = tuple(m for m in subjects if m in pair)
    if 7 in context.claims:  # claim 7: the parallel scans against the gated cells on the same sweep
        extra = roles.parallel_scan(context.models) + roles.scan_baselines(roles.long_range_subjects(context.models))
        subjects = tuple(dict.fromkeys(subjects + extra))
    return subjects


def long_range(context: Context) -> list[dict[str, Any]]:
    """The adding problem and delayed recall over the length sweep (claims 2-3), with the gradient
    probe at `probe_len` (claim 1)."""
    config, claims = context.config, context.claims
    subjects = long_range_subjects(context)
    jobs = []
    if {2, 3, 7} & claims:
        jobs += [(m, t, L) for t in ("adding", "recall") for L in config.lengths for m in subjects]
    if 1 in claims:
        jobs += [(m, "adding", config.probe_len) for m in subjects]
    jobs = list(dict.fromkeys(jobs))  # unique, in order
    records = []
    for i, (m, t, L) in enumerate(jobs, 1):
        probe = 1 in claims and t == "adding" and L == config.probe_len
        rec = train_and_score(m, TASKS[t], L, config, context.seed, probe=probe)
        records.append(rec)
        context.log(f"[{i}/{len(jobs)}] {m} {t} T={L}: skill {rec['skill']:.3f} after {rec['steps']} steps "
                    f"({rec['train_seconds']:.1f}s)")
    return records


# ----------------------------------------------------------------------------- claim 4


def bidirectional(context: Context) -> list[dict[str, dict]]:
    """Each bidirectional model against its forward twin on the first-token task (claim 4)."""
    config = context.config
    task = TASKS["first_token"]
    pairs = []
    for forward, bi in roles.bidirectional_pairs(context.models):
        depth = registry.get(bi).params.get("depth")
        same = {"pool": "last", "depth": depth.default if depth else 1}
        pair = {}
        for role, m in (("forward", forward), ("bidirectional", bi)):
            pair[role] = train_and_score(m, task, config.bi_len, config, context.seed, steps=config.bi_steps,
                                         **same)
            context.log(f"first_token T={config.bi_len} {m}: skill {pair[role]['skill']:.3f}")
        pairs.append(pair)
    return pairs


# ----------------------------------------------------------------------------- claim 5


def step_time(context: Context) -> dict[str, dict[str, float]]:
    """Training step time of every selected model against sequence length (claim 5): `{model: {"T": s}}`.

    Every (model, length) point is timed in each of `timing_rounds` interleaved
    rounds and keeps its fastest step, so a burst of load from other processes
    cannot spoil one point.
    """
    return _time_steps(context, roles.before_scans(context.models), context.config.timing_lengths)


def scan_step_time(context: Context) -> dict[str, dict[str, float]]:
    """Training step time of the parallel scans and the gated cells at `config.scan_timing_lengths`
    (claim 7; no attention model, whose T^2 cost would dominate at the long end)."""
    scans = roles.parallel_scan(context.models)
    if not scans:
        return {}  # nothing to judge: the verdict says which role is missing
    subjects = scans + roles.scan_baselines(roles.long_range_subjects(context.models))
    return _time_steps(context, subjects, context.config.scan_timing_lengths)


def _time_steps(context: Context, models, lengths) -> dict[str, dict[str, float]]:
    config, seed = context.config, context.seed
    task = TASKS["adding"]
    points = {}
    for m in models:
        for L in lengths:
            x, y = task.make(config.timing_batch, L, np.random.default_rng([seed, L]))
            points[(m, L)] = (build(m, task, L, config, seed), x, head_targets(task, y))
    samples: dict[tuple[str, int], list[float]] = {key: [] for key in points}
    for round_ in range(config.timing_rounds):
        for key, (model, x, y) in points.items():
            samples[key].append(train_step_time(model, x, y, steps=config.timing_steps,
                                                warmup=config.timing_warmup if round_ == 0 else 0))
    timings: dict[str, dict[str, float]] = {}
    for (m, L), times in samples.items():
        timings.setdefault(m, {})[str(L)] = min(times)
        context.log(f"step time {m} T={L}: {min(times) * 1000:.1f} ms")
    return timings


# ----------------------------------------------------------------------------- claim 6


def depth(context: Context) -> dict[str, dict[str, dict]]:
    """Each stacked recurrent model at every depth of `config.depths`, memorising random labels (claim 6):
    `{model: {"depth": record}}`."""
    config = context.config
    task = TASKS["random_labels"]
    deep_config = dataclasses.replace(config, units=config.depth_units)
    results: dict[str, dict[str, dict]] = {}
    for m in roles.stacked(context.models):
        results[m] = {}
        for d in config.depths:
            rec = train_and_score(m, task, config.depth_len, deep_config, context.seed, steps=config.depth_steps,
                                  memorize=config.depth_examples, depth=d, pool="last")
            results[m][str(d)] = rec
            context.log(f"random_labels T={config.depth_len} {m} depth {d}: fit skill {rec['skill']:.3f}")
    return results


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("long_range", "long_range_training", long_range, plots.long_range),
    Experiment("bidirectional", "bidirectional", bidirectional),
    Experiment("step_time", "step_time", step_time, plots.step_time),
    Experiment("scan_step_time", "scan_step_time", scan_step_time, plots.scan_step_time),
    Experiment("depth", "depth", depth, plots.depth),
)
