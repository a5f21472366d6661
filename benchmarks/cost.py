"""Cost: parameters, peak memory and training step time against sequence length, per family.

Every (model, length) runs in its own Python process (so peak memory is not
hidden by what an earlier configuration left allocated): the seqzoo model
with its default hyperparameters on token inputs (vocabulary 10,000,
embedding 64, fixed `seq_len`, no padding), compiled as the recipes compile
it (Adam, binary cross-entropy), trained on `--steps` random batches: one
warm-up epoch (tracing), then `--reps` timed epochs. Reported:

- `params`: `model.count_params()`;
- `step_ms`: median epoch time / steps; per model, the exponent k of
  step time ~ length^k between the shortest and longest length;
- `train_mib`: peak resident memory while training minus the resident memory
  after the model was built (activations, gradients, optimizer slots, graph),
  sampled every 2 ms; `peak_rss_mib`: the process's absolute peak.

    python benchmarks/cost.py --quick     # 6 models, lengths 64 and 256
    python benchmarks/cost.py             # 10 models, lengths 64, 256, 1024, 2048

Writes `benchmarks/cost.json`, keeping the rows of an earlier run with the same
settings for the (model, length) pairs this run did not measure. Models with learned
positions get `max_len = length + 1` where the length exceeds their default.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import HERE, PeakRss, command_line, fit_seconds, machine, median, now, rss_bytes, write_json  # noqa: E402

FAMILIES = {
    "rnn": "recurrent", "lstm": "recurrent", "gru": "recurrent", "bilstm": "recurrent",
    "cnn_lstm": "hybrid", "attention_rnn": "attention (recurrent)",
    "transformer": "attention", "bert": "attention", "gpt": "attention", "hopfield": "memory",
}
QUICK_MODELS = ["lstm", "bilstm", "cnn_lstm", "transformer", "gpt", "hopfield"]
MIB = 2**20


def worker(model_name: str, seq_len: int, args) -> dict:
    """One configuration, in this process: returns its row."""
    import keras
    import numpy as np
    import tensorflow as tf

    import seqzoo

    keras.utils.set_random_seed(0)
    extra = {}
    default_max_len = getattr(seqzoo.registry.get(model_name).params.get("max_len"), "default", None)
    if default_max_len is not None and seq_len + 1 > default_max_len:  # learned positions ([CLS] included)
        extra["max_len"] = seq_len + 1
    model = seqzoo.build(model_name, inputs="tokens", seq_len=seq_len, vocab_size=10000, embed_dim=64, **extra)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    n = args.steps * args.batch_size
    ids = rng.integers(1, 10000, (n, seq_len)).astype("int32")
    labels = rng.integers(0, 2, n).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((ids, labels)).batch(args.batch_size).cache()
    for _ in data:  # fill the cache before measuring
        pass
    built = rss_bytes()
    with PeakRss() as peak:
        model.fit(data, epochs=1, verbose=0)  # warm-up: tracing
        seconds = [fit_seconds(model, data) for _ in range(args.reps)]
    return {
        "model": model_name,
        "family": FAMILIES.get(model_name, "?"),
        "seq_len": seq_len,
        **extra,
        "params": int(model.count_params()),
        "step_ms": round(1000 * median(seconds) / args.steps, 2),
        "train_mib": round((peak.peak - built) / MIB, 1),
        "peak_rss_mib": round(peak.peak / MIB, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK_MODELS)} at lengths 64 and 256")
    parser.add_argument("--models", default=None, help="comma-separated (default: one list per mode)")
    parser.add_argument("--lengths", default=None, help="comma-separated sequence lengths")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4, help="batches per timed epoch (default: %(default)s)")
    parser.add_argument("--reps", type=int, default=3, help="timed epochs (default: %(default)s)")
    parser.add_argument("--json", default=os.path.join(HERE, "cost.json"))
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "LEN"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print("ROW " + json.dumps(worker(args.worker[0], int(args.worker[1]), args)), flush=True)
        return 0
    models = args.models.split(",") if args.models else (QUICK_MODELS if args.quick else list(FAMILIES))
    lengths = [int(v) for v in args.lengths.split(",")] if args.lengths else ([64, 256] if args.quick else [64, 256, 1024, 2048])
    start = time.perf_counter()
    rows = []
    for model in models:
        for seq_len in lengths:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", model, str(seq_len),
                   "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--reps", str(args.reps)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            found = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
            if done.returncode or not found:
                tail = (done.stderr.strip().splitlines() or ["?"])[-1]
                print(f"{model:14s} {seq_len:5d}  failed: {tail}", flush=True)
                rows.append({"model": model, "family": FAMILIES.get(model, "?"), "seq_len": seq_len, "error": tail})
                continue
            row = json.loads(found[0])
            rows.append(row)
            print(f"{model:14s} {seq_len:5d}  params {row['params']:>9,d}  step {row['step_ms']:9.1f} ms"
                  f"  train {row['train_mib']:8.1f} MiB  peak {row['peak_rss_mib']:8.1f} MiB", flush=True)
    wall = time.perf_counter() - start
    settings = {"batch_size": args.batch_size, "steps": args.steps, "reps": args.reps,
                "vocab_size": 10000, "embed_dim": 64}
    previous = _previous_rows(args.json, settings)
    done_keys = {(r["model"], r["seq_len"]) for r in rows}
    rows = [r for r in previous if (r["model"], r["seq_len"]) not in done_keys] + rows
    models = list(dict.fromkeys(r["model"] for r in rows))
    lengths = sorted({r["seq_len"] for r in rows})
    scaling = {}
    for model in models:  # step time ~ length^k: k from the shortest to the longest length measured
        ok = sorted((r["seq_len"], r["step_ms"]) for r in rows if r["model"] == model and "error" not in r)
        if len(ok) >= 2 and ok[0][1] > 0:
            scaling[model] = round(math.log(ok[-1][1] / ok[0][1]) / math.log(ok[-1][0] / ok[0][0]), 2)
    print(f"step-time exponent k (step ~ length^k): {scaling}", flush=True)
    print(f"wall {wall:.0f} s", flush=True)
    write_json(args.json, {
        "benchmark": "cost", "date": now(), "command": command_line(), "machine": machine(),
        "settings": {**settings, "lengths": lengths},
        "wall_seconds": round(wall, 1), "step_time_exponent": scaling, "rows": rows,
    })
    return 0


def _previous_rows(path: str, settings: dict) -> list[dict]:
    """The successful rows of an earlier run with the same settings (merged by model and length)."""
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        earlier = json.load(f)
    same = all(earlier.get("settings", {}).get(k) == v for k, v in settings.items())
    return [r for r in earlier.get("rows", []) if "error" not in r] if same else []


if __name__ == "__main__":
    sys.exit(main())
