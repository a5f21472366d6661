"""`report.md`: per claim, what was measured, a table, the thresholds and the verdict.

Each claim has a section function `fn(claim, raw, config) -> [markdown lines]`
(`Claim.section`); `render_report` puts the header, the verdict table and the
sections together.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from recipes.history import roles
from recipes.history.config import Config
from recipes.history.verdicts import NOT_MEASURED, THRESHOLDS


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def render_report(results: dict[str, Any], config: Config, claims_table: Mapping[int, Any]) -> str:
    """`report.md`: per claim, what was measured, a table, the thresholds and the verdict.

    Args:
        results: the content of `results.json`.
        config: the run's sizes and budgets.
        claims_table: `{number: Claim}` (`recipes.history.claims.CLAIMS`): each claim's `section`
            renders its part, and its `timed` flag names it in the load warning.
    """
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
        _load_line(results, env, [n for n, c in claims_table.items() if c.timed]),
        "",
        "Every verdict below is computed from this run's numbers against the thresholds stated with it "
        "(`THRESHOLDS` in `recipes/history/verdicts.py`); one seed, small models (recurrent "
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
    for key in sorted(claims):
        claim = claims[key]
        lines += [f"## {key}. {claim['title']}", ""]
        lines += claims_table[int(key)].section(claim, raw, config)
        lines += ["", f"**Verdict: {claim['verdict']}.** {claim['reason']}.", ""]
    return "\n".join(lines) + "\n"


def _load_line(results: dict[str, Any], env: dict[str, Any], timed: Sequence[int]) -> str:
    loads = [x for pair in results.get("load_average", {}).values() for x in pair if x is not None]
    if not loads:
        return ""
    busy = max(loads) > THRESHOLDS["busy_load_per_core"] * (env["cpus"] or 1)
    return (f"1-minute load average during the run: {min(loads):.1f} to {max(loads):.1f} on {env['cpus']} cores"
            + (" -- other processes competed for the CPU: wall times (and the timing verdicts of claims "
               f"{' and '.join(map(str, timed))}) are unreliable; rerun on an idle machine." if busy else "."))


def gradient_section(claim, raw, config):
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


def long_range_section(claim, raw, config):
    recs = [r for r in raw.get("long_range", []) if r["seq_len"] in config.lengths]
    out = [
        "The adding problem (two marked values, one in each half; target their sum; predicting 1.0 gives "
        "MSE ~0.167) and delayed recall (copy-memory style: one symbol, 1 of 8, at a uniformly random step "
        "among blanks, to be named at the end; chance 0.125; skill ~ the fraction of lags the memory spans), "
        f"at T = {list(config.lengths)}, at most "
        f"{config.max_steps} steps each. Plot: `success_vs_length.png`.",
        "",
    ]
    models = list(dict.fromkeys(r["model"] for r in recs))
    for task, metric in (("adding", "mse"), ("recall", "accuracy")):
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
               f"every gated cell ({', '.join(roles.by_year(roles.gated(models))) or 'registry tag gated'}) "
               "solves a longer length than the simple RNN; mixed: for some "
               "task/cell pairs; not confirmed: for none.")
    return out


def gated_cost_section(claim, raw, config):
    if claim["verdict"] == NOT_MEASURED:
        return [f"{claim['reason'][0].upper()}{claim['reason'][1:]}."]
    old, new = claim["pair"]
    recs = [r for r in raw.get("long_range", []) if r["seq_len"] in config.lengths]
    rows = []
    for m in (old, new):
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
        f"{new.upper()}/{old.upper()} step-time ratio (geometric mean over the runs): {claim['time_ratio']:.2f}.",
        "",
        f"The two gated cells are the oldest and the newest selected gated base cell by registry year "
        f"({old}, {new}). Thresholds: *matches* = {new.upper()} mean skill >= {old.upper()}'s - "
        f"{THRESHOLDS['gru_skill_tolerance']}; *lower cost* "
        f"= fewer parameters and step-time ratio < {THRESHOLDS['gru_time_ratio']}. Confirmed: matches and "
        "both costs lower; mixed: matches, one cost lower; not confirmed: does not match.",
    ]


def bidirectional_section(claim, raw, config):
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


def parallel_section(claim, raw, config):
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


def parallel_scan_section(claim, raw, config):
    times = raw.get("scan_step_time", {})
    lengths = sorted({int(L) for v in times.values() for L in v})
    scans = claim.get("scans", [])
    rows = [[m, "parallel scan" if m in scans else "gated cell"]
            + [_fmt(times[m].get(str(L), float("nan")) * 1000, ".1f") for L in lengths]
            + [_fmt(claim.get("exponents_long_end", {}).get(m), ".2f"),
               _fmt(claim.get("speedup", {}).get(m), ".2f") if m in scans else "-"]
            for m in times]
    longest = claim.get("longest_solved", {})
    solved = [[m] + [str(longest.get(t, {}).get(m) or "-") for t in longest] for m in scans + claim.get("gated", [])]
    return [
        "Training step time (forward + backward + Adam) of the parallel-scan recurrences and the gated cells, "
        f"batch {config.timing_batch}, timed like claim 5 (fastest of interleaved rounds); b = slope of "
        "log(time) against log(T) over the long end; speedup = the fastest gated cell's step time over the "
        f"scan's, at the longest length. Plot: `scan_step_time.png`.",
        "",
        _table(["model", "kind"] + [f"T={L} (ms)" for L in lengths] + ["b (long end)", "speedup"], rows),
        "",
        "Longest length solved (claim 2's sweep, the same budget for every model):",
        "",
        _table(["model"] + list(longest), solved) if solved else "(no long-range runs)",
        "",
        f"Thresholds: *linear cost* = b <= {THRESHOLDS['scan_linear_exponent']}; *trains faster* = speedup >= "
        f"{THRESHOLDS['scan_speedup']}; *keeps long-range memory* = on every task a longest solved length at "
        "least the shortest of the gated cells'. Confirmed: all three for every scan; mixed: some. On 2 CPU "
        "cores a scan cannot win by parallelism, only by dropping the recurrent matrix product and the "
        "per-step overhead; on a GPU the gap grows with T.",
    ]


def depth_section(claim, raw, config):
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
