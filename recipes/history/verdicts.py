"""The verdict of each claim, computed from a run's numbers against `THRESHOLDS`.

A verdict function takes the experiment's records (plain dicts, as stored in
`results.json` under `raw`) and returns `{"verdict": ..., "reason": ..., **numbers}`;
it decides nothing from model names: the roles come from `recipes.history.roles`.

Example:

>>> verdict_depth({"deep_lstm": {1: {"skill": 0.5}, 2: {"skill": 0.7}}})["verdict"]
'confirmed'
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from recipes.history import roles
from recipes.history.probes import decay_per_step, far_near_ratio

CONFIRMED, MIXED, NOT_CONFIRMED, NOT_MEASURED = "confirmed", "mixed", "not confirmed", "not measured"
VERDICTS = (CONFIRMED, MIXED, NOT_CONFIRMED, NOT_MEASURED)

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
    # claim 7: a parallel scan has "linear cost" when its step time grows as T^b with b at most this
    # at the long end ...
    "scan_linear_exponent": 1.2,
    # ... "trains faster" when its step is at least this many times faster than the fastest gated cell's
    # at the longest length timed ...
    "scan_speedup": 1.0,
    # ... and "keeps long-range memory" when it solves, on every task, a length at least as long as
    # the shortest longest-solved of the gated cells
    # timing verdicts (claims 3, 5, 7) are flagged when the load average exceeds this per core
    "busy_load_per_core": 2.0,
}


def _verdict(verdict: str, reason: str, **data: Any) -> dict[str, Any]:
    return {"verdict": verdict, "reason": reason, **data}


def _missing_roles(models: Sequence[str], *roles_: Any) -> str | None:
    """Why a claim cannot be measured: the first role (a `recipes.history.roles` function) none of `models` plays."""
    for role in roles_:
        if not role(models):
            return f"needs one of {', '.join(roles.registered(role))} in --models"
    return None


def gradient_summary(profile: np.ndarray) -> dict[str, float]:
    """Far/near ratio and per-step decay of one gradient profile."""
    return {"far_near_ratio": far_near_ratio(profile), "decay_per_step": decay_per_step(profile)}


def verdict_gradient(records: dict[str, dict]) -> dict[str, Any]:
    """Claim 1 from the probes: `records[model]` holds `gradient_init` and `gradient_trained`."""
    rows = {}
    for name, rec in records.items():
        rows[name] = {phase: gradient_summary(rec[f"gradient_{phase}"]) for phase in ("init", "trained")}
    missing = _missing_roles(list(rows), roles.simple, roles.gated)
    if missing:
        return _verdict(NOT_MEASURED, missing, rows=rows)
    keeps, loses = THRESHOLDS["grad_keeps"], THRESHOLDS["grad_loses"]
    simple = list(roles.by_year(roles.simple(rows)))
    gated = list(roles.by_year(roles.gated(rows)))
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
    missing = _missing_roles(models, roles.simple, roles.gated)
    if missing:
        return _verdict(NOT_MEASURED, missing, longest_solved=longest)
    lengths = sorted({r["seq_len"] for r in records})
    simple_models = roles.by_year(roles.simple(models))
    checks = {}
    for t in tasks:
        simple = max(longest[t][m] for m in simple_models)
        for g in roles.by_year(roles.gated(models)):
            checks[f"{g} > {'/'.join(simple_models)} on {t}"] = longest[t][g] > simple
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


def verdict_gated_cost(records: list[dict]) -> dict[str, Any]:
    """Claim 3 ("GRU matches LSTM at lower cost"): the newer gated cell's mean skill within tolerance of
    the older one's, with fewer parameters and less time.

    The two cells are `roles.gated_pair` of the models in `records`: the
    oldest and the newest gated base cell by registry year (lstm 1997, gru
    2014). `records` are claim 2's runs; the step-time ratio is the geometric
    mean of newer/older fastest training-step times over the (task, length)
    runs both made.
    """
    pair = roles.gated_pair(dict.fromkeys(r["model"] for r in records))
    by_key = {(r["model"], r["task"], r["seq_len"]): r for r in records}
    keys = sorted({(t, L) for (m, t, L) in by_key if m == pair[0]}
                  & {(t, L) for (m, t, L) in by_key if m == pair[1]}) if pair else []
    if not keys:
        return _verdict(NOT_MEASURED, f"needs two gated cells of {', '.join(roles.registered(roles.gated))} "
                        "in --models")
    old, new = pair
    skill = {m: float(np.mean([by_key[(m, *k)]["skill"] for k in keys])) for m in pair}
    params = {m: by_key[(m, *keys[0])]["params"] for m in pair}
    time_ratio = float(np.exp(np.mean([np.log(by_key[(new, *k)]["step_seconds"]
                                              / by_key[(old, *k)]["step_seconds"]) for k in keys])))
    matches = skill[new] >= skill[old] - THRESHOLDS["gru_skill_tolerance"]
    fewer = params[new] < params[old]
    faster = time_ratio < THRESHOLDS["gru_time_ratio"]
    data = dict(mean_skill=skill, params=params, time_ratio=time_ratio, matches=matches,
                fewer_params=fewer, faster=faster, runs=[f"{t} T={L}" for t, L in keys], pair=list(pair))
    text = (f"mean skill {new} {skill[new]:.3f} vs {old} {skill[old]:.3f}; params {params[new]} vs "
            f"{params[old]}; step time ratio {new}/{old} {time_ratio:.2f}")
    if matches and fewer and faster:
        return _verdict(CONFIRMED, text, **data)
    if not matches:
        return _verdict(NOT_CONFIRMED, text + f"; {new.upper()} does not match {old.upper()}'s skill", **data)
    return _verdict(MIXED, text + "; matches, but " + ("not faster" if fewer else "not fewer parameters"),
                    **data)


def verdict_bidirectional(pairs: list[dict]) -> dict[str, Any]:
    """Claim 4: each bidirectional model solves the task its forward twin does not."""
    if not pairs:
        return _verdict(NOT_MEASURED, f"needs a bidirectional model "
                        f"({', '.join(roles.registered(roles.bidirectional_pairs))}) in --models")
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


def verdict_parallel_scan(records: list[dict], timings: dict[str, dict[int, float]],
                          tasks: Sequence[str] = ("adding", "recall")) -> dict[str, Any]:
    """Claim 7: each parallel scan grows ~linearly in T, steps faster than the gated cells at the
    longest length, and solves as long a length as they do on every task."""
    models = sorted(set(timings) | {r["model"] for r in records})
    missing = _missing_roles(models, roles.parallel_scan, roles.scan_baselines)
    if missing:
        return _verdict(NOT_MEASURED, missing)
    scans = roles.by_year(roles.parallel_scan(models))
    gated = roles.by_year(roles.scan_baselines(models))
    lengths = sorted({L for t in timings.values() for L in t})
    start = long_end(lengths) if lengths else 0
    longest_t = lengths[-1] if lengths else None
    exponents = {m: scaling_exponent(timings[m], start) for m in timings}
    fastest_gated = min((timings[g][longest_t] for g in gated if longest_t in timings.get(g, {})), default=None)
    speedup = {m: (fastest_gated / timings[m][longest_t]) if fastest_gated and longest_t in timings.get(m, {})
               else float("nan") for m in scans}
    longest = {t: {m: longest_solved(records, m, t) for m in scans + gated} for t in tasks}
    need = {t: min(longest[t][g] for g in gated) for t in tasks}
    checks = {}
    for m in scans:
        checks[f"{m} linear (b <= {THRESHOLDS['scan_linear_exponent']})"] = (
            exponents.get(m, float("nan")) <= THRESHOLDS["scan_linear_exponent"])
        checks[f"{m} faster than {'/'.join(gated)} at T={longest_t}"] = speedup[m] >= THRESHOLDS["scan_speedup"]
        for t in tasks:
            checks[f"{m} solves {t} as long as {'/'.join(gated)}"] = longest[t][m] >= need[t] and (
                need[t] > 0 or longest[t][m] > 0 or not records)
    text = (f"step time ~ T^b for T >= {start}: " + ", ".join(f"{m} b={exponents.get(m, float('nan')):.2f}"
                                                             for m in scans + gated)
            + f"; speedup over the fastest of {'/'.join(gated)} at T={longest_t}: "
            + ", ".join(f"{m} {speedup[m]:.2f}x" for m in scans)
            + "; longest length solved: " + "; ".join(
                f"{t}: " + ", ".join(f"{m} {longest[t][m] or '-'}" for m in scans + gated) for t in tasks))
    data = dict(exponents_long_end=exponents, long_end_from=start, speedup=speedup, longest_solved=longest,
                checks=checks, scans=list(scans), gated=list(gated))
    if all(checks.values()):
        return _verdict(CONFIRMED, text, **data)
    if any(checks.values()):
        failed = ", ".join(k for k, ok in checks.items() if not ok)
        return _verdict(MIXED, f"{text}; does not hold: {failed}", **data)
    return _verdict(NOT_CONFIRMED, text, **data)


def verdict_depth(results: dict[str, dict[int, dict]]) -> dict[str, Any]:
    """Claim 6: skill does not fall with depth and the deepest beats depth 1 by `depth_gain`."""
    if not results:
        return _verdict(NOT_MEASURED, f"needs a stacked recurrent model "
                        f"({', '.join(roles.registered(roles.stacked))}) in --models")
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
