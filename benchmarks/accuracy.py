"""Accuracy on the real data, through the recipes, next to the published numbers.

Every row is one recipe command, exactly as a user would type it
(`python -m recipes.imdb --data-dir ... --model gru --out ...`): the numbers are
what the recipes' defaults give. A run directory that already holds a complete
run (`metrics.json`) is read, not retrained (`--rerun` trains again), so an
interrupted benchmark continues where it stopped.

    python benchmarks/accuracy.py --quick                   # smoke: small IMDB subset, 1-3 epochs
    python benchmarks/accuracy.py                           # IMDB 11 models, FSDD, ETTh1 96..720
    python benchmarks/accuracy.py --suite imdb --models bilstm,hopfield
    python benchmarks/accuracy.py --suite ett --data-dir ../shared/data
    python benchmarks/accuracy.py --suite ett --models mingru,lru --horizons 96
    python benchmarks/accuracy.py --suite ett --models mingru --horizons 96 --set width=16 --set depth=1 --tag w16d1
    python benchmarks/accuracy.py --suite imdb --models bilstm --seeds 42,1,2   # seed spread
    python benchmarks/accuracy.py --suite speech --models deepspeech2,mingru   # mini_speech_commands

Suites: `imdb` (test accuracy, 25,000 reviews), `fsdd` (official split,
test accuracy), `speech` (mini_speech_commands, 8 words, its speaker-disjoint
lists, test accuracy; not in the default set), `ett` (ETTh1 multivariate, 336 -> 96/192/336/720, MSE/MAE on
the normalised scale, with the persistence baseline). Writes
`benchmarks/accuracy.json` (`--json`), one row per run with the command, the
test metrics, the best validation metric and the training time; rows of
earlier invocations for other runs are kept (merged by run label).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import DEFAULT_DATA, HERE, ROOT, command_line, locked, machine, now, write_json  # noqa: E402

IMDB_MODELS = ["rnn", "lstm", "gru", "bilstm", "deep_lstm", "attention_rnn", "cnn_lstm",
               "transformer", "bert", "gpt", "hopfield"]
ETT_HORIZONS = [96, 192, 336, 720]

ANCHORS = {
    "imdb": {"Keras BiLSTM example": 0.843, "Keras Transformer example": 0.875, "Maas et al. 2011": 0.889,
             "fastText bigram (Keras example)": 0.906, "NBSVM-bi (Wang & Manning 2012)": 0.912},
    "fsdd": {"CNN on MFCC (published range)": "0.97-0.99"},
    "speech": {"issue 17 target (the speech recipe's default model)": 0.95},
    "ett": {"DLinear (Zeng et al. 2023), H=96": {"mse": 0.375, "mae": 0.399},
            "PatchTST/64 (Nie et al. 2023), H=96": {"mse": 0.370, "mae": 0.400},
            "DLinear H=192/336/720 (MSE)": [0.405, 0.439, 0.472],
            "PatchTST/64 H=192/336/720 (MSE)": [0.413, 0.422, 0.447]},
}


DEFAULT_SEED = 42  # the recipes' --seed default: its runs carry no seed in their label


def seeded(runs_: list[tuple[str, str, list[str]]], seeds: list[int]) -> list[tuple[str, str, list[str]]]:
    """Each run once per seed; runs with another seed than the default get `-seed{N}` labels."""
    return [(label if seed == DEFAULT_SEED else f"{label}-seed{seed}", module,
             extra if seed == DEFAULT_SEED else [*extra, "--seed", str(seed)])
            for seed in seeds for label, module, extra in runs_]


def runs(suite: str, quick: bool, models: list[str] | None,
         horizons: list[int] | None = None) -> list[tuple[str, str, list[str]]]:
    """(label, recipe module, extra argv) for every run of `suite`."""
    if suite == "imdb":
        names = models or (["bilstm", "hopfield"] if quick else IMDB_MODELS)
        extra = ["--limit", "2000", "--epochs", "1"] if quick else []
        return [(f"imdb-{m}" + ("-quick" if quick else ""), "recipes.imdb", ["--model", m, *extra]) for m in names]
    if suite in ("fsdd", "speech"):
        names = models or ["deepspeech2"]
        extra = ["--epochs", "3"] if quick else []
        return [(f"{suite}-{m}" + ("-quick" if quick else ""), "recipes.speech_commands", ["--model", m, *extra])
                for m in names]
    if suite == "ett":
        names = models or ["gru"]
        horizons = horizons or ([96] if quick else ETT_HORIZONS)
        extra = ["--epochs", "1"] if quick else []
        return [(f"etth1-{m}-{h}" + ("-quick" if quick else ""), "recipes.ett",
                 ["--model", m, "--horizon", str(h), *extra]) for m in names for h in horizons]
    raise ValueError(suite)


DATA_SUBDIR = {"recipes.imdb": "imdb", "recipes.pretrain": "imdb", "recipes.speech_commands": "fsdd", "recipes.ett": "ett"}
SUITE_DATA = {"imdb": "imdb", "fsdd": "fsdd", "speech": "mini_speech_commands", "ett": "ett"}  # under --data-dir


def _history(path: str) -> dict[str, list[float]]:
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows if r.get(k) not in (None, "")] for k in (rows[0] if rows else {})}


def run_one(label: str, module: str, extra: list[str], args, data_subdir: str | None = None) -> dict:
    """Run (or read) one recipe command; `data_subdir` under `--data-dir` (default: the module's)."""
    out = os.path.join(args.runs_dir, label)
    data_dir = os.path.join(args.data_dir, data_subdir or DATA_SUBDIR[module])
    argv = ["python", "-m", module, "--data-dir", data_dir, *extra, "--out", out, "--quiet"]
    metrics_path = os.path.join(out, "metrics.json")
    wall = None
    if args.rerun or not os.path.isfile(metrics_path):
        run_argv = argv + (["--overwrite"] if os.path.isfile(metrics_path) else [])
        print(f"[{label}] {shlex.join(run_argv)}", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, *run_argv[1:]], cwd=ROOT, check=False)
        wall = round(time.perf_counter() - start, 1)
        if done.returncode != 0:
            print(f"[{label}] failed with exit code {done.returncode}", flush=True)
            return {"label": label, "command": shlex.join(argv), "error": done.returncode}
    with open(metrics_path) as f:
        metrics = json.load(f)
    history = _history(os.path.join(out, "history.csv"))
    row = {
        "label": label,
        "command": shlex.join(argv),
        "model": metrics["model"],
        "seed": metrics.get("seed"),
        "params": metrics["params"],
        "epochs_run": metrics["epochs_run"],
        "train_seconds": metrics["train_seconds"],
        "examples_per_second": metrics["examples_per_second"],
        "wall_seconds": wall,
    }
    for key in ("test_accuracy", "test_loss", "test_mse", "test_mae", "baseline_mse", "baseline_mae",
                "test_perplexity", "test_masked_accuracy"):
        if key in metrics:
            row[key] = round(float(metrics[key]), 4)
    for key in ("val_accuracy", "val_loss"):
        if history.get(key):
            values = history[key]
            row[f"best_{key}"] = round(max(values) if key.endswith("accuracy") else min(values), 4)
            row[f"last_{key}"] = round(values[-1], 4)
    shown = {k: row[k] for k in ("test_accuracy", "test_mse", "test_mae", "baseline_mse", "test_perplexity") if k in row}
    print(f"[{label}] {shown} train {row['train_seconds']:.0f} s, {row['params']:,d} params", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="IMDB on 2,000 reviews for 1 epoch, FSDD 3 epochs, ETTh1-96 1 epoch")
    parser.add_argument("--suite", default="imdb,fsdd,ett", help="comma-separated: imdb, fsdd, speech, ett (default: imdb,fsdd,ett)")
    parser.add_argument("--models", default=None, help="comma-separated models (default: the suite's list)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA, help="folder with imdb/, fsdd/, mini_speech_commands/, ett/ (default: %(default)s)")
    parser.add_argument("--runs-dir", default=os.path.join(ROOT, "runs", "benchmarks"),
                        help="where the run directories go (default: %(default)s)")
    parser.add_argument("--rerun", action="store_true", help="train again even where a complete run exists")
    parser.add_argument("--seeds", default=str(DEFAULT_SEED),
                        help="comma-separated --seed values, one run each (default: %(default)s)")
    parser.add_argument("--horizons", default=None,
                        help="comma-separated ETTh1 horizons (default: 96,192,336,720; 96 with --quick)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to every recipe command as --set KEY=VALUE (repeatable); give --tag too")
    parser.add_argument("--tag", default=None,
                        help="appended to every run label (-TAG): keeps runs with --set apart from the defaults")
    parser.add_argument("--json", default=os.path.join(HERE, "accuracy.json"))
    args = parser.parse_args(argv)
    suites = [s.strip() for s in args.suite.split(",") if s.strip()]
    bad = [s for s in suites if s not in ANCHORS]
    if bad:
        parser.error(f"unknown suite {', '.join(bad)}; choose from imdb, fsdd, speech, ett")
    models = args.models.split(",") if args.models else None
    try:
        seeds = [int(v) for v in args.seeds.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r}: expected comma-separated integers, e.g. 42,1,2")
    try:
        horizons = [int(v) for v in args.horizons.split(",") if v.strip()] if args.horizons else None
    except ValueError:
        parser.error(f"--horizons {args.horizons!r}: expected comma-separated integers, e.g. 96,192")
    if args.set and not args.tag:
        parser.error("--set changes the recipe's defaults: give --tag NAME so the runs get their own labels")
    overrides = [arg for value in args.set for arg in ("--set", value)]
    planned = [(f"{label}-{args.tag}" if args.tag else label, module, [*extra, *overrides], SUITE_DATA[suite])
               for suite in suites for label, module, extra in seeded(runs(suite, args.quick, models, horizons), seeds)]
    start = time.perf_counter()
    rows = [run_one(label, module, extra, args, subdir) for label, module, extra, subdir in planned]
    wall = round(time.perf_counter() - start, 1)
    return write_rows(args.json, rows, wall, benchmark="accuracy", anchors=ANCHORS)


def write_rows(path: str, rows: list[dict], wall: float, **header) -> int:
    """Merge `rows` into the JSON file at `path` by run label (earlier rows of other runs kept); exit code.

    Read, merge and write happen under a lock, with the (slow) machine facts gathered before it, so
    invocations that finish together keep every row."""
    header = {**header, "date": now(), "command": command_line(), "machine": machine(),
              "wall_seconds_last_invocation": wall}
    with locked(path):
        previous = {}
        if os.path.isfile(path):
            with open(path) as f:
                previous = {r["label"]: r for r in json.load(f).get("rows", [])}
        previous.update({r["label"]: r for r in rows})
        write_json(path, {**header, "rows": list(previous.values())})
    print(f"wall {wall:.0f} s", flush=True)
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
