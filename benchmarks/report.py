"""Print the markdown tables of RESULTS.md from the benchmarks' JSON files.

    python benchmarks/report.py                 # every JSON in benchmarks/
    python benchmarks/report.py --dir /tmp/quick

Numbers are copied, never recomputed: each table names the JSON, its date and
the command that wrote it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(directory: str, name: str) -> dict | None:
    path = os.path.join(directory, f"{name}.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _source(payload: dict, name: str) -> str:
    wall = payload.get("wall_seconds", payload.get("wall_seconds_last_invocation"))
    return f"`{name}.json`, {payload['date']}, `{payload['command']}`" + (f", wall {wall:.0f} s" if wall else "")


def overhead(p: dict) -> str:
    rows = [[r["model"], f"{r['params_seqzoo']:,}", "yes" if r["params_match"] else "NO",
             r["seqzoo_examples_per_s"], r["direct_examples_per_s"], f"**{r['ratio']:.3f}**",
             f"{r['ratio_fastest_rounds']:.3f}"] for r in p["rows"] + p.get("controls", [])]
    ratios = [r["ratio"] for r in p["rows"]]
    controls = [r["ratio"] for r in p.get("controls", [])]
    return (_table(["model", "params", "same params", "seqzoo ex/s", "direct Keras ex/s",
                    "ratio (median of rounds)", "ratio (fastest rounds)"], rows)
            + f"\n\nMedian of the model ratios {statistics.median(ratios):.3f}, lowest {min(ratios):.3f}"
              f" (target >= 0.98); A/A controls (seqzoo against itself): {controls}.")


def pipeline(p: dict) -> str:
    rows = [[r["recipe"], r["model"], r["steps_per_epoch"], r["batch_size"], r["pipeline_step_ms"], r["memory_step_ms"],
             f"**{r['ratio']:.3f}**", r.get("pipeline_alone_ms_per_batch")] for r in p["rows"]]
    return _table(["recipe", "model", "steps/epoch", "batch", "pipeline ms/step", "in-memory ms/step", "ratio",
                   "pipeline alone ms/batch"], rows)


def accuracy(p: dict) -> str:
    out = []
    quick = [r for r in p["rows"] if r["label"].endswith("-quick") and "error" not in r]
    p = {**p, "rows": [r for r in p["rows"] if not r["label"].endswith("-quick")]}
    every_seed = [r for r in p["rows"] if r["label"].startswith("imdb") and "error" not in r]
    imdb = [r for r in every_seed if "-seed" not in r["label"]]
    if imdb:
        out.append(_table(["model", "test accuracy", "best val accuracy", "epochs", "train s", "params", "label"],
                          [[r["model"], f"**{r['test_accuracy']:.4f}**", r.get("best_val_accuracy"), r["epochs_run"],
                            round(r["train_seconds"]), f"{r['params']:,}", r["label"]]
                           for r in sorted(imdb, key=lambda r: -r["test_accuracy"])]))
    spread = []
    for base in sorted({r["label"] for r in imdb}):
        runs = [r for r in every_seed if r["label"] == base or r["label"].startswith(base + "-seed")]
        if len(runs) > 1:
            acc = [r["test_accuracy"] for r in runs]
            spread.append([runs[0]["model"], ", ".join(str(r.get("seed") or 42) for r in runs),
                           ", ".join(f"{a:.4f}" for a in acc), f"**{sum(acc) / len(acc):.4f}**",
                           f"{max(acc) - min(acc):.4f}"])
    if spread:
        out.append(_table(["model", "seeds", "test accuracy per seed", "mean", "max - min"], spread))
    fsdd = [r for r in p["rows"] if r["label"].startswith("fsdd") and "error" not in r]
    if fsdd:
        out.append(_table(["model", "test accuracy", "epochs", "train s", "params", "label"],
                          [[r["model"], f"**{r['test_accuracy']:.4f}**", r["epochs_run"], round(r["train_seconds"]),
                            f"{r['params']:,}", r["label"]] for r in fsdd]))
    ett = [r for r in p["rows"] if r["label"].startswith("etth1") and "error" not in r]
    if ett:
        out.append(_table(["model", "horizon", "test MSE", "test MAE", "persistence MSE", "persistence MAE", "epochs",
                           "train s", "label"],
                          [[r["model"], r["label"].split("-")[2], f"**{r['test_mse']:.4f}**", f"{r['test_mae']:.4f}",
                            r.get("baseline_mse"), r.get("baseline_mae"), r["epochs_run"], round(r["train_seconds"]),
                            r["label"]] for r in ett]))
    if quick:
        out.append("`--quick` (smoke runs, not results: IMDB on 2,000 reviews for 1 epoch, FSDD 3 epochs, "
                   "ETTh1-96 1 epoch): " + ", ".join(
                       f"{r['label']} {r.get('test_accuracy', r.get('test_mse'))}" for r in quick))
    failed = [r["label"] for r in p["rows"] if "error" in r]
    if failed:
        out.append("Failed runs: " + ", ".join(failed))
    return "\n\n".join(out)


def cost(p: dict) -> str:
    lengths = p["settings"]["lengths"]
    models = list(dict.fromkeys(r["model"] for r in p["rows"]))
    by = {(r["model"], r["seq_len"]): r for r in p["rows"]}

    def cell(m, n, key):
        r = by.get((m, n))
        return "failed" if r is None or "error" in r else r[key]

    rows = [[m, by.get((m, lengths[0]), {}).get("family"), f"{by.get((m, lengths[0]), {}).get('params', 0):,}",
             *[cell(m, n, "step_ms") for n in lengths], *[cell(m, n, "train_mib") for n in lengths],
             p.get("step_time_exponent", {}).get(m)] for m in models]
    return _table(["model", "family", "params", *[f"ms/step @{n}" for n in lengths],
                   *[f"train MiB @{n}" for n in lengths], "k (step ~ len^k)"], rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=HERE, help="folder with the JSON files (default: %(default)s)")
    args = parser.parse_args(argv)
    for name, render in (("overhead", overhead), ("pipeline", pipeline), ("accuracy", accuracy), ("cost", cost)):
        payload = _load(args.dir, name)
        if payload is None:
            continue
        print(f"### {name}\n\nSource: {_source(payload, name)}\n\n{render(payload)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
