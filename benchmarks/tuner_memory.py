"""Resident memory across a KerasTuner search: does it stay flat from trial to trial?

KerasTuner's memory grows across trials (keras-team/keras-tuner#395, #873):
on Keras 3 + TensorFlow every trial's training graph stays alive, held by
the `tf.custom_gradient` the optimizer step registers in TensorFlow's global
gradient registry. seqzoo's tuners end every trial with
`seqzoo.tuning.clear_session(since=...)` (Keras session cleared with the dtype
policy kept, that trial's custom gradients dropped, garbage collected, freed
heap returned to the OS). This script runs a search of small models on generated
data and records the process's resident set size (RSS) after every trial.

    python benchmarks/tuner_memory.py                    # 20 trials, seqzoo's cleanup
    python benchmarks/tuner_memory.py --no-cleanup       # plain KerasTuner, for comparison
    python benchmarks/tuner_memory.py --trials 20 --json runs/tuner_memory.json --max-growth 15

Prints one line per trial and a summary; `--json` writes
`{"rss_mb": [...], "growth_pct": ..., ...}`. The figure of merit is the
growth from trial 2 (after TensorFlow's one-off start-up allocations) to the
last trial: `100 * (rss[last] - rss[2]) / rss[2]`. With `--max-growth P` the
exit code is 1 when the growth exceeds P percent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials in the search (default: %(default)s)")
    parser.add_argument("--model", default="gru", help="registered seqzoo model (default: %(default)s)")
    parser.add_argument("--tuner", default="random", choices=("random", "bayesian", "hyperband"))
    parser.add_argument("--examples", type=int, default=256, help="training examples (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per trial (default: %(default)s)")
    parser.add_argument("--space", action="append", default=None, metavar="KEY=LO:HI",
                        help="search space (default: units=8:64, depth=1:3 and the model's other dimensions)")
    parser.add_argument("--no-cleanup", action="store_true",
                        help="skip seqzoo's per-trial cleanup (plain KerasTuner behaviour)")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the measurements here")
    parser.add_argument("--max-growth", type=float, default=None, metavar="PCT",
                        help="exit 1 when RSS grows more than PCT percent from trial 2 to the last")
    args = parser.parse_args(argv)
    if args.trials < 3:
        parser.error("--trials must be >= 3")

    import logging

    import numpy as np
    import psutil
    import tensorflow as tf

    from seqzoo import tuning

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if args.no_cleanup:
        tuning.clear_session = lambda since=None: None  # the tuners call it after every trial

    process = psutil.Process()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.examples, 32, 4)).astype("float32")
    y = (x[:, :, 0].mean(axis=1) > 0).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).cache()
    val = tf.data.Dataset.from_tensor_slices((x[:64], y[:64])).batch(32).cache()
    task = {"inputs": "frames", "features": 4, "seq_len": 32, "num_classes": 2}

    from recipes.tuning import parse_space  # --space KEY=LO:HI syntax

    space = parse_space(args.space or ["units=8:64", "depth=1:3"])
    hypermodel = tuning.SeqzooHyperModel(args.model, task, space=space, seed=0)
    rss: list[float] = []
    seconds: list[float] = []
    start = [time.perf_counter()]

    def record(tuner, trial) -> None:
        rss.append(process.memory_info().rss / 2**20)
        seconds.append(time.perf_counter() - start[0])
        start[0] = time.perf_counter()
        print(f"trial {len(rss):>3} {trial.status:<9} rss {rss[-1]:8.1f} MiB  {seconds[-1]:5.1f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="seqzoo-tuner-memory-") as folder:
        tuner = tuning.make_tuner(
            args.tuner, hypermodel, objective="val_loss", max_trials=args.trials,
            max_epochs=max(args.epochs, 3), directory=folder, seed=0,
        )
        tuner.on_trial_recorded = record
        tuner.search(train, validation_data=val, epochs=args.epochs, verbose=0)

    growth = 100.0 * (rss[-1] - rss[1]) / rss[1]
    result = {
        "command": " ".join(["python", "benchmarks/tuner_memory.py", *(argv if argv is not None else sys.argv[1:])]),
        "model": args.model,
        "tuner": args.tuner,
        "trials": len(rss),
        "cleanup": not args.no_cleanup,
        "rss_mb": [round(v, 1) for v in rss],
        "seconds": [round(v, 2) for v in seconds],
        "growth_pct": round(growth, 2),
        "growth_mb": round(rss[-1] - rss[1], 1),
        "peak_mb": round(max(rss), 1),
        "versions": {"tensorflow": tf.__version__},
    }
    print(f"RSS trial 2 -> {len(rss)}: {rss[1]:.1f} -> {rss[-1]:.1f} MiB, growth {growth:+.1f} % "
          f"({'seqzoo cleanup' if not args.no_cleanup else 'no cleanup'})")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    else:
        print(json.dumps(result))
    if args.max_growth is not None and growth > args.max_growth:
        print(f"growth {growth:.1f} % exceeds --max-growth {args.max_growth} %", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
