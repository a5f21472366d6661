"""The claims of the history run and the run itself.

`CLAIMS` is the table the whole recipe reads: each claim names the experiment
whose records it judges (`recipes.history.experiments.EXPERIMENTS`), its
verdict (`recipes.history.verdicts`) and its report section
(`recipes.history.report`). `run` performs the experiments the selected claims
need, in `EXPERIMENTS` order, judges each claim as soon as its experiment is
done, and writes `results.json`, the figures and `report.md`.

Adding a claim: an experiment (or reuse one), a verdict, a report section, a
role in `recipes.history.roles` if it needs a new kind of model, and one
`Claim(...)` entry below; the command line, `--help`, the report and
`results.json` pick it up from this table.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from typing import Any, Callable, Sequence

import keras
import tensorflow as tf

import seqzoo
from recipes import artifacts
from recipes.history import report, roles, verdicts
from recipes.history.config import Config
from recipes.history.experiments import EXPERIMENTS, Context
from seqzoo import registry

DEFAULT_MODELS = ("rnn", "lstm", "gru", "bilstm", "transformer", "deep_lstm", "mingru")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of the history.

    Args:
        number: its number (`--claims`, the key in `results["claims"]`).
        title: the claim, one sentence.
        experiment: the name of the `Experiment` whose records it judges.
        verdict: `fn(records, config) -> {"verdict", "reason", **numbers}`.
        section: `fn(claim_result, raw, config) -> [markdown lines]` for `report.md`.
        uses: which models it uses, for `--help`.
        timed: a timing verdict: its reason says so when other processes crowded the CPU.
        also_reads: another experiment whose records the verdict also reads (run before it);
            the verdict is then `fn(records, config, other_records)`.
    """

    number: int
    title: str
    experiment: str
    verdict: Callable[[Any, Config], dict[str, Any]]
    section: Callable[[dict, dict, Config], list[str]]
    uses: str
    timed: bool = False
    also_reads: str | None = None


# ----------------------------------------------------------------------------- from records to verdicts


def _gradient(records: list[dict], config: Config) -> dict[str, Any]:
    claim = verdicts.verdict_gradient({r["model"]: r for r in _classic(records, config, probe=True)
                                       if "gradient_init" in r})
    claim["probe_len"] = config.probe_len
    return claim


def _classic(records: list[dict], config: Config, probe: bool = False) -> list[dict]:
    """Claims 1-3 read the cells of 1990-2014 only (claim 7 adds the parallel scans to the same sweep)."""
    subjects = set(roles.long_range_subjects(r["model"] for r in records))
    return [r for r in records if r["model"] in subjects and (probe or r["seq_len"] in config.lengths)]


def _long_range(records: list[dict], config: Config) -> dict[str, Any]:
    return verdicts.verdict_long_range(_classic(records, config), ("adding", "recall"))


def _gated_cost(records: list[dict], config: Config) -> dict[str, Any]:
    return verdicts.verdict_gated_cost(_classic(records, config))


def _parallel_scan(timings: dict[str, dict[str, float]], config: Config, records: list[dict]) -> dict[str, Any]:
    return verdicts.verdict_parallel_scan([r for r in records if r["seq_len"] in config.lengths],
                                          {m: {int(L): t for L, t in v.items()} for m, v in timings.items()})


def _bidirectional(pairs: list[dict], config: Config) -> dict[str, Any]:
    claim = verdicts.verdict_bidirectional(pairs)
    claim["seq_len"] = config.bi_len
    return claim


def _parallel(timings: dict[str, dict[str, float]], config: Config) -> dict[str, Any]:
    families = {m: registry.get(m).family for m in timings}
    claim = verdicts.verdict_parallel({m: {int(L): t for L, t in v.items()} for m, v in timings.items()}, families)
    claim["families"] = families
    return claim


def _depth(results: dict[str, dict[str, dict]], config: Config) -> dict[str, Any]:
    claim = verdicts.verdict_depth({m: {int(d): r for d, r in v.items()} for m, v in results.items()})
    claim["seq_len"] = config.depth_len
    return claim


CLAIMS: dict[int, Claim] = {c.number: c for c in (
    Claim(1, "A simple RNN trained with BPTT loses the gradient over long lags; LSTM and GRU keep it",
          "long_range", _gradient, report.gradient_section,
          "the single-stack, unidirectional recurrent models: tag 'simple' (rnn) vs tag 'gated' (lstm, gru)"),
    Claim(2, "Gated RNNs learn long-range dependencies that a simple RNN cannot",
          "long_range", _long_range, report.long_range_section, "the same models as claim 1"),
    Claim(3, "GRU matches LSTM at lower cost",
          "long_range", _gated_cost, report.gated_cost_section,
          "the newest vs the oldest gated base cell (no variant_of) by registry year: gru (2014) vs lstm (1997)",
          timed=True),
    Claim(4, "Bidirectional models use future context",
          "bidirectional", _bidirectional, report.bidirectional_section,
          "each model tagged 'bidirectional' (birnn, bilstm, bigru, deep_bilstm) against its variant_of twin"),
    Claim(5, "Self-attention trains in parallel over time; recurrence is sequential",
          "step_time", _parallel, report.parallel_section,
          "every selected model but the parallel scans (claim 7's): families recurrent vs attention",
          timed=True),
    Claim(6, "Deep (stacked) RNNs gain capacity",
          "depth", _depth, report.depth_section,
          "each recurrent model tagged 'deep' (deep_rnn, deep_lstm, deep_gru, deep_bilstm) at every depth"),
    Claim(7, "Linear recurrences trained with a parallel scan train in parallel over time at linear cost "
             "and keep long-range memory",
          "scan_step_time", _parallel_scan, report.parallel_scan_section,
          "each model tagged 'parallel_scan' (mingru, lru, mamba, ...) against the gated base cells "
          "(lstm, gru): step time at scan_timing_lengths and claim 2's length sweep", timed=True,
          also_reads="long_range"),
)}
ALL_CLAIMS = tuple(CLAIMS)
CLAIM_TITLES = {number: claim.title for number, claim in CLAIMS.items()}


# ----------------------------------------------------------------------------- the run


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
        claims: which claims (keys of `CLAIMS`) to measure.
        seed: seeds the data and the weights.
        command: the command line, recorded in the report.
        log: progress messages (e.g. `print`).

    Returns:
        The content of `results.json`.
    """
    wall0, cpu0 = time.perf_counter(), time.process_time()
    selected = tuple(sorted(set(claims)))
    unknown = [c for c in selected if c not in CLAIMS]
    if unknown:
        raise ValueError(f"claims={unknown}: unknown claim; choose from {list(CLAIMS)}")
    context = Context(config, seed, tuple(models), frozenset(selected), log)
    os.makedirs(out, exist_ok=True)
    results: dict[str, Any] = {
        "command": command,
        "seed": seed,
        "models": list(models),
        "claims_run": list(selected),
        "config": dataclasses.asdict(config),
        "thresholds": verdicts.THRESHOLDS,
        "environment": _environment(),
        "claims": {},
        "seconds": {},
        "load_average": {},  # 1-minute load average before and after each phase
    }
    raw: dict[str, Any] = {}
    results["raw"] = raw

    def save() -> None:
        artifacts.write_json_atomic(os.path.join(out, "results.json"), results)

    plots: list[str] = []
    needed = {CLAIMS[c].experiment for c in selected} | {CLAIMS[c].also_reads for c in selected}
    for experiment in EXPERIMENTS:
        judged = [CLAIMS[c] for c in selected if CLAIMS[c].experiment == experiment.name]
        if experiment.name not in needed:
            continue
        load = [_load_average()]
        start = time.perf_counter()
        raw[experiment.name] = experiment.run(context)
        results["seconds"][experiment.phase] = round(time.perf_counter() - start, 2)
        results["load_average"][experiment.phase] = load + [_load_average()]
        for claim in judged:
            extra = (raw[claim.also_reads],) if claim.also_reads else ()
            result = claim.verdict(raw[experiment.name], config, *extra)
            if claim.timed:
                _flag_load(result, results["load_average"][experiment.phase])
            results["claims"][str(claim.number)] = result
        if experiment.plot is not None:
            plots += experiment.plot(raw[experiment.name], out, config)
        save()

    for key, claim in results["claims"].items():
        claim["title"] = CLAIMS[int(key)].title
    results["seconds"]["wall"] = round(time.perf_counter() - wall0, 2)
    results["seconds"]["cpu"] = round(time.process_time() - cpu0, 2)
    results["plots"] = plots
    save()
    artifacts.write_text_atomic(os.path.join(out, "report.md"), report.render_report(results, config, CLAIMS))
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
    if worst is not None and worst > verdicts.THRESHOLDS["busy_load_per_core"] * cores:
        claim["reason"] += (f" (timed while the 1-minute load average reached {worst:.1f} on {cores} cores: "
                            "other processes competed for the CPU, so these times are unreliable)")


def _environment() -> dict[str, Any]:
    from seqzoo._quiet import silenced_stderr

    with silenced_stderr():  # the first device query prints CUDA probing errors on machines without a GPU
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
