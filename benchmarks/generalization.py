"""Generalization: each recipe's DEFAULT command on data its defaults were not tuned on.

The recipes' defaults were chosen on IMDB (22,500 training reviews), FSDD (official,
speaker-dependent split) and ETTh1. This benchmark runs the default command a user
would type, with no per-row tuning, on other data, and puts the model's test score
beside the two sanity baselines the run itself fits on the same training split
(`recipes.baselines`, recorded in the run's `metrics.json`):

    python benchmarks/generalization.py                    # every row, ../shared/data
    python benchmarks/generalization.py --rows etth2,forecast-etth2 --timeout 1800
    python benchmarks/generalization.py --quick            # tiny generated data, 1 epoch: a smoke run

Rows (`--rows`, comma-separated; cheapest first):

- `etth2`: `recipes.ett --dataset ETTh2` (multivariate 336 -> 96, the ETTh1 benchmark's protocol);
- `forecast-etth2`: the generic `recipes.forecast --csv ETTh2.csv --target OT` with its own
  defaults (MS, 96 -> 24, 70/10/20 split by time). Its model defaults (gru, 16 units) were
  chosen on ETTh1, so ETTh1 through `recipes.forecast` would not be unseen data; ETTh2 is;
- `fsdd-lso`, `fsdd-lso2`, `fsdd-lso3`: FSDD with whole speakers held out, three folds
  (`FSDD_FOLDS`): a folder of symlinks to the FSDD label folders with its own lists
  (validation: every clip of one speaker, test: every clip of another, training: the other
  four), built beside the run folder (`<row>-data`); the shared data is never written;
- `imdb-1k`, `imdb-2k`, `imdb-5k`: `recipes.imdb --limit N` (N training, N validation and N test
  reviews: `--limit` caps every split);
- `mini-speech`: `recipes.speech_commands` on `mini_speech_commands` (8 words, its own
  speaker-disjoint lists).

Each row: the test score, the trivial baseline (majority class / persistence), the cheap
strong baseline (TF-IDF + logistic regression, logistic regression on pooled log-mels, a
linear map from window to horizon), the gap to the cheap baseline, whether the issue-18 target
holds (accuracy within 1 point of the cheap baseline or better; MSE at or below it: the same
rule as `recipes.baselines.sanity_check`), whether the run's own warnings say so, and the
training time (`train_seconds` of metrics.json: the sum of the epoch times, validation included).

Run folders: `--runs` (default `runs/generalization/<row>`). A row whose `metrics.json` exists is
read, not run again; an interrupted row resumes (the recipes resume a run folder). Every row
runs in its own process with `--timeout` seconds (killed after, the row marked `timeout`).
Writes `--out` (default `benchmarks/generalization.json`) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import DEFAULT_DATA, HERE, ROOT, command_line, machine, now, write_json  # noqa: E402

from recipes import baselines  # noqa: E402

# FSDD's six speakers in three folds (validation speaker, test speaker), fixed by name before any run:
# every speaker is held out once.
FSDD_FOLDS = {"fsdd-lso": ("theo", "yweweler"), "fsdd-lso2": ("george", "jackson"), "fsdd-lso3": ("lucas", "nicolas")}
LIST_FILES = ("validation_list.txt", "testing_list.txt")

# name -> (data folder or file under --data-root, recipe module, argv builder(data path))
ROWS: dict[str, tuple[str, str, Callable[[str], list[str]]]] = {
    "etth2": ("ett", "recipes.ett", lambda d: ["--data-dir", d, "--dataset", "ETTh2"]),
    "forecast-etth2": ("ett/ETTh2.csv", "recipes.forecast", lambda d: ["--csv", d, "--target", "OT"]),
    **{fold: ("fsdd", "recipes.speech_commands", lambda d: ["--data-dir", d]) for fold in FSDD_FOLDS},
    "imdb-1k": ("imdb", "recipes.imdb", lambda d: ["--data-dir", d, "--limit", "1000"]),
    "imdb-2k": ("imdb", "recipes.imdb", lambda d: ["--data-dir", d, "--limit", "2000"]),
    "imdb-5k": ("imdb", "recipes.imdb", lambda d: ["--data-dir", d, "--limit", "5000"]),
    "mini-speech": ("mini_speech_commands", "recipes.speech_commands", lambda d: ["--data-dir", d]),
}
# --quick: one epoch on at most this many examples per split
QUICK_ARGS = ["--epochs", "1", "--limit", "64"]

TRIVIAL = ("majority_accuracy", "persistence_mse")
CHEAP = ("tfidf_logistic_accuracy", "pooled_logistic_accuracy", "linear_mse")


class BenchError(Exception):
    """Bad input: one line, exit code 2."""


# ----------------------------------------------------------------------------- FSDD leave-speakers-out


def speaker_of(path: str) -> str:
    """`7/theo_nohash_3.wav` -> `theo` (the Speech Commands layout: `<speaker>_nohash_<take>.wav`)."""
    return os.path.basename(path).split("_nohash_")[0]


def leave_speakers_out(source: str, dest: str, *, val: list[str], test: list[str]) -> dict[str, Any]:
    """Make `dest` a Speech Commands folder over `source` with whole speakers held out.

    `dest/<label>` are symlinks to `source/<label>` (nothing under `source` is written);
    `dest/validation_list.txt` holds every clip of the `val` speakers, `dest/testing_list.txt`
    every clip of the `test` speakers; the other speakers' clips are training data.

    Returns:
        `{"speakers": {"train": [...], "val": [...], "test": [...]}, "clips": {...}}`.

    Raises:
        BenchError: `source` is not a label-folder layout, or a held-out speaker has no clip.
    """
    if set(val) & set(test):
        raise BenchError(f"a speaker cannot be in both validation and test: {sorted(set(val) & set(test))}")
    source = os.path.abspath(source)
    labels = sorted(d for d in os.listdir(source)
                    if os.path.isdir(os.path.join(source, d)) and not d.startswith(("_", ".")))
    if not labels:
        raise BenchError(f"{source}: no label folders (expected <label>/<speaker>_nohash_<take>.wav)")
    clips = [f"{label}/{name}" for label in labels for name in sorted(os.listdir(os.path.join(source, label)))
             if name.lower().endswith(".wav")]
    speakers = sorted({speaker_of(c) for c in clips})
    missing = sorted(set(val + test) - set(speakers))
    if missing:
        raise BenchError(f"{source}: no clips of speaker(s) {', '.join(missing)}; speakers: {', '.join(speakers)}")
    os.makedirs(dest, exist_ok=True)
    for label in labels:
        link = os.path.join(dest, label)
        if os.path.islink(link) and os.readlink(link) == os.path.join(source, label):
            continue
        if os.path.lexists(link):
            raise BenchError(f"{link} exists and is not a link to {os.path.join(source, label)}; remove {dest}")
        os.symlink(os.path.join(source, label), link)
    split = {"val": [c for c in clips if speaker_of(c) in val], "test": [c for c in clips if speaker_of(c) in test]}
    for name, items in zip(LIST_FILES, (split["val"], split["test"])):
        tmp = os.path.join(dest, f".{name}.tmp")
        with open(tmp, "w") as f:
            f.write("".join(f"{c}\n" for c in items))
        os.replace(tmp, os.path.join(dest, name))
    train_speakers = [s for s in speakers if s not in val and s not in test]
    return {"speakers": {"train": train_speakers, "val": sorted(val), "test": sorted(test)},
            "clips": {"train": len(clips) - len(split["val"]) - len(split["test"]),
                      "val": len(split["val"]), "test": len(split["test"])}}


# ----------------------------------------------------------------------------- rows


def summarize(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """One table row from a run's metrics.json: score, baselines, gap, target, warnings, time."""
    found = metrics.get("baselines") or {}
    metric = "accuracy" if "test_accuracy" in metrics else "mse"
    score = metrics.get(f"test_{metric}")
    trivial = next(((k, found[k]) for k in TRIVIAL if found.get(k) is not None), (None, None))
    cheap = next(((k, found[k]) for k in CHEAP if found.get(k) is not None), (None, None))
    gap = None if score is None or cheap[1] is None else score - cheap[1]
    met = None
    if score is not None and cheap[1] is not None:
        met = not baselines.sanity_check({f"test_{metric}": score}, {cheap[0]: cheap[1]})
    cheap_name = cheap[0].rpartition("_")[0] if cheap[0] else None
    warned = any(f"the {cheap_name} baseline" in w for w in metrics.get("warnings", [])) if cheap_name else None
    return {
        "row": name, "status": "done", "model": metrics.get("model"), "metric": metric, "test": score,
        "trivial": trivial[0], "trivial_value": trivial[1], "cheap": cheap[0], "cheap_value": cheap[1],
        "gap": gap, "target_met": met, "run_warns": warned, "warnings": metrics.get("warnings", []),
        "epochs_run": metrics.get("epochs_run"), "train_seconds": metrics.get("train_seconds"),
        "sizes": metrics.get("sizes"), "adapted": (metrics.get("data") or {}).get("adapted"),
    }


def row_command(name: str, data_root: str, run_dir: str, quick: bool) -> tuple[list[str], dict[str, Any]]:
    """The recipe command of row `name` (and notes on its data). Raises BenchError for missing data."""
    sub, module, build = ROWS[name]
    path = os.path.join(data_root, sub)
    if not os.path.exists(path):
        raise BenchError(f"row {name}: {path} not found; pass --data-root DIR holding {sub} "
                         f"(or leave the row out with --rows)")
    notes: dict[str, Any] = {}
    if name in FSDD_FOLDS:
        lso = run_dir + "-data"
        val, test = FSDD_FOLDS[name]
        notes = leave_speakers_out(path, lso, val=[val], test=[test])
        path = lso
    argv = build(path)
    if quick:
        if "--limit" in argv:
            argv[argv.index("--limit") + 1] = str(min(int(argv[argv.index("--limit") + 1]), 64))
            argv += QUICK_ARGS[:2]
        else:
            argv += QUICK_ARGS
    return [sys.executable, "-m", module, *argv, "--out", run_dir, "--quiet"], notes


def run_row(command: list[str], timeout: float, log_path: str) -> tuple[int | None, float]:
    """Run one recipe command in its own process group; kill the group after `timeout` s.
    Returns (exit code or None on timeout, wall seconds)."""
    start = time.time()
    with open(log_path, "a") as log:
        log.write(f"$ {shlex.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
    return code, time.time() - start


# ----------------------------------------------------------------------------- table


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of `rows` (dicts of `summarize`, or `{"row", "status"}` for rows not done)."""
    lines = ["| row | model | metric | test | trivial baseline | cheap baseline | gap | target met | run warns | epochs | train s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("status") != "done":
            lines.append(f"| {r['row']} | {r.get('status', 'not run')} | | | | | | | | | |")
            continue
        sign = "+" if (r["gap"] or 0) >= 0 else ""
        gap = "-" if r["gap"] is None else f"{sign}{r['gap']:.4f}"
        trivial = f"{_fmt(r['trivial_value'])} ({r['trivial'].rpartition('_')[0]})" if r["trivial"] else "-"
        cheap = f"{_fmt(r['cheap_value'])} ({r['cheap'].rpartition('_')[0]})" if r["cheap"] else "-"
        met = {True: "yes", False: "**no**", None: "-"}[r["target_met"]]
        warns = {True: "yes", False: "no", None: "-"}[r["run_warns"]]
        seconds = "-" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"
        lines.append(f"| {r['row']} | {r['model']} | {r['metric']} | **{_fmt(r['test'])}** | {trivial} | {cheap} | "
                     f"{gap} | {met} | {warns} | {r['epochs_run']} | {seconds} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- quick data


def make_quick_data(root: str, seed: int = 0) -> None:
    """Tiny data in the layouts of `ROWS` under `root`: ett/ETTh2.csv, imdb/{train,test}.csv,
    fsdd/ (3 digits x 4 speakers x 3 takes, 8 kHz), mini_speech_commands/ (3 words, 16 kHz)."""
    import numpy as np

    from recipes.data.audio import write_wav  # imports TensorFlow: only --quick needs it

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "ett"), exist_ok=True)
    hours = 14400 + 200  # the ETTh 12/4/4-month split needs 14,400 rows
    t = np.arange(hours)
    with open(os.path.join(root, "ett", "ETTh2.csv"), "w") as f:
        f.write("date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT\n")
        for i in range(hours):
            values = [math.sin(2 * math.pi * (i / 24 + k / 7)) + 0.1 * rng.standard_normal() for k in range(7)]
            stamp = np.datetime64("2016-07-01T00") + np.timedelta64(int(t[i]), "h")
            f.write(str(stamp).replace("T", " ") + ":00:00," + ",".join(f"{v:.4f}" for v in values) + "\n")
    os.makedirs(os.path.join(root, "imdb"), exist_ok=True)
    words = {0: ["bad", "awful", "boring", "dull"], 1: ["good", "great", "fine", "superb"]}
    for split, n in (("train", 300), ("test", 100)):
        with open(os.path.join(root, "imdb", f"{split}.csv"), "w") as f:
            f.write("text,label\n")
            for i in range(n):
                label = i % 2
                text = " ".join(rng.choice(words[label] + ["movie", "the", "a", "plot"], size=12))
                f.write(f"\"{text}\",{label}\n")
    for folder, rate, labels, speakers in (("fsdd", 8000, ["0", "1", "2"], sorted({s for fold in FSDD_FOLDS.values() for s in fold})),
                                           ("mini_speech_commands", 16000, ["go", "no", "up"], ["s1", "s2", "s3"])):
        for j, label in enumerate(labels):
            os.makedirs(os.path.join(root, folder, label), exist_ok=True)
            for speaker in speakers:
                for take in range(3):
                    freq = 300.0 * (j + 1) * (1 + 0.05 * take)
                    samples = [0.3 * math.sin(2 * math.pi * freq * s / rate) for s in range(rate // 4)]
                    write_wav(os.path.join(root, folder, label, f"{speaker}_nohash_{take}.wav"), samples, rate)
    mini = os.path.join(root, "mini_speech_commands")
    with open(os.path.join(mini, "validation_list.txt"), "w") as f:
        f.write("".join(f"{label}/s2_nohash_{k}.wav\n" for label in ("go", "no", "up") for k in range(3)))
    with open(os.path.join(mini, "testing_list.txt"), "w") as f:
        f.write("".join(f"{label}/s3_nohash_{k}.wav\n" for label in ("go", "no", "up") for k in range(3)))


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"comma-separated rows, run in this order (default: all: {','.join(ROWS)})")
    parser.add_argument("--data-root", default=DEFAULT_DATA, help="the shared data folder (default: %(default)s)")
    parser.add_argument("--runs", default=None,
                        help="folder of the run folders (default: runs/generalization, --quick: a temp folder)")
    parser.add_argument("--out", default=None,
                        help="the JSON written (default: benchmarks/generalization.json; --quick: none unless given)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per row (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny generated data (ignores --data-root), 1 epoch, at most 64 examples per split")
    args = parser.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown or not rows:
        parser.error(f"--rows: unknown row(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(ROWS)}")
    args.rows = rows
    if args.timeout <= 0:
        parser.error("--timeout: give a positive number of seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = tempfile.TemporaryDirectory(prefix="seqzoo-generalization-") if args.quick else None
    try:
        if scratch is not None:
            args.data_root = os.path.join(scratch.name, "data")
            make_quick_data(args.data_root)
        runs = args.runs or (os.path.join(scratch.name, "runs") if scratch else os.path.join(ROOT, "runs", "generalization"))
        out = args.out if args.out or args.quick else os.path.join(HERE, "generalization.json")
        previous: dict[str, Any] = {}
        if out and os.path.exists(out):
            with open(out) as f:
                previous = {r["row"]: r for r in json.load(f).get("rows", [])}
        os.makedirs(runs, exist_ok=True)
        results: list[dict[str, Any]] = []
        for name in args.rows:
            run_dir = os.path.join(runs, name)
            try:
                command, notes = row_command(name, args.data_root, run_dir, args.quick)
            except BenchError as error:
                print(f"generalization.py: error: {error}", file=sys.stderr)
                return 2
            metrics_path = os.path.join(run_dir, "metrics.json")
            wall = (previous.get(name) or {}).get("wall_seconds")
            if not os.path.exists(metrics_path):
                print(f"[{now()}] {name}: {shlex.join(command[1:])}", flush=True)
                code, wall = run_row(command, args.timeout, run_dir + ".log")
                if code != 0 or not os.path.exists(metrics_path):
                    status = "timeout" if code is None else f"failed (exit {code}, see {run_dir}.log)"
                    print(f"{name}: {status}", flush=True)
                    results.append({"row": name, "status": status, "command": shlex.join(command[1:])})
                    continue
            with open(metrics_path) as f:
                row = summarize(name, json.load(f))
            finished = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(metrics_path)))
            row.update(command=shlex.join(["python", *command[1:]]).replace(ROOT + os.sep, ""), finished=finished,
                       wall_seconds=None if wall is None else round(wall, 1), **notes)
            results.append(row)
            print(f"{name}: test {row['metric']} {_fmt(row['test'])}, cheap {_fmt(row['cheap_value'])}, "
                  f"target {'met' if row['target_met'] else 'MISSED'}", flush=True)
        print(table(results))
        if out:
            merged = {**previous, **{r["row"]: r for r in results}}
            write_json(out, {"command": command_line(), "date": now(), "machine": machine(),
                             "quick": args.quick, "rows": [merged[k] for k in ROWS if k in merged]})
        return 0
    finally:
        if scratch is not None:
            scratch.cleanup()


if __name__ == "__main__":
    sys.exit(main())
