"""Parallel-scan recurrences: training step time and memory against sequence length.

Two measurements, TensorFlow backend, Adam, `model.fit` (compiled train step),
batch 16, 64 input features (frames), random data:

1. **target** (issue 15): one recurrent layer at T = 1024, `Input(T, 64) ->
   layer -> last step -> Dense(1)`: `MinGRU(units)` beside its projection-only
   floor (the same model with the layer replaced by its input projection,
   `Dense(2 * units)`) and beside Keras' `GRU(units)`, for units 128 and 256,
   timed interleaved in one process. Target: minGRU <= 2x its floor. Beside it
   the scan kernels alone (forward + backward at T = 1024, 128 units, wall and
   CPU time): the projection, + `linear_scan` of the sigmoid gates, +
   `gated_scan` (the gates fused into the scan).
2. **lengths**: every registered `parallel_scan` model (picked by tag,
   bidirectional variants left out) with its defaults beside rnn, lstm, gru and
   transformer, at T = 128 ... 4096 (attention models up to 1024: their
   T x T scores would take gigabytes of this shared machine's memory). Each
   model runs in its own process, lengths ascending; `train_mib` is the peak
   resident memory while training at that length minus the resident memory
   before the first model was built (it includes buffers cached from shorter
   lengths, so it is an upper bound that grows with T). Each parallel-scan model
   also runs beside its own floor: the same model with every time-mixing (step)
   layer replaced by a Dense layer of the same output width, i.e. the model
   without its recurrences; `floor_ratio` = step / floor step.

    python benchmarks/revival.py --quick   # target at 128 units; the scan models at T = 256, one process
    python benchmarks/revival.py           # everything

`--quick` used about 1 minute of CPU (4 minutes wall at load average 16 on the
shared 2-core VM, 2026-12-05); the full sweep did not fit in a session at that load
(lru alone took 11 minutes), see benchmarks/RESULTS.md.

Writes `benchmarks/revival.json` (`revival-quick.json` with `--quick`), with the
load average before and after: the machine is shared, so numbers move with it.
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
from _common import HERE, PeakRss, command_line, fit_seconds, interleaved, machine, median, now, rss_bytes, write_json  # noqa: E402,E501

BASELINES = ["rnn", "lstm", "gru", "transformer"]
LENGTHS = [128, 256, 512, 1024, 2048, 4096]
QUICK_LENGTHS = [256]
MAX_ATTENTION_LEN = 1024
FEATURES = 64
MIB = 2**20


def _data(seq_len, args):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    n = args.steps * args.batch_size
    x = rng.normal(size=(n, seq_len, FEATURES)).astype("float32")
    y = rng.integers(0, 2, n).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size).cache()
    for _ in data:  # fill the cache before measuring
        pass
    return data


def _compiled(model):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return model


def scan_layers(model) -> list:
    """The model's time-mixing step layers (the streaming protocol: `step` and `initial_state`)."""
    return [layer for layer in model.layers if hasattr(layer, "step") and hasattr(layer, "initial_state")]


def floor_of(model):
    """`model` with every step layer replaced by a Dense layer of the same output width."""
    import keras

    class Floor(keras.layers.Dense):  # takes (and ignores) the mask the step layer was called with
        def call(self, inputs, mask=None):
            return super().call(inputs)

    mixing = {id(layer) for layer in scan_layers(model)}

    def clone(layer):
        if id(layer) in mixing:
            return Floor(int(layer.output.shape[-1]), name=f"{layer.name}_floor")
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)


def target(args) -> list[dict]:
    """minGRU layer vs its Dense(2 * units) floor vs GRU at T = 1024."""
    import keras

    from seqzoo.layers import LastTimestep, MinGRU

    rows = []
    for units in args.units:
        data = _data(args.target_len, args)

        def single(layer, units=units):
            inputs = keras.Input((args.target_len, FEATURES))
            y = LastTimestep()(layer(inputs))
            return _compiled(keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(y)))

        models = {"mingru": single(MinGRU(units)), "floor": single(keras.layers.Dense(2 * units)),
                  "gru": single(keras.layers.GRU(units, return_sequences=True))}
        seconds = interleaved({k: (lambda m=m: fit_seconds(m, data)) for k, m in models.items()}, args.reps)
        ms = {k: 1000 * median(v) / args.steps for k, v in seconds.items()}
        row = {"units": units, "seq_len": args.target_len, **{f"{k}_ms": round(v, 1) for k, v in ms.items()},
               "floor_ratio": round(ms["mingru"] / ms["floor"], 2), "speedup_over_gru": round(ms["gru"] / ms["mingru"], 2),
               "load_average": [round(v, 2) for v in os.getloadavg()]}
        print(f"target  units {units}: mingru {ms['mingru']:.1f} ms  floor {ms['floor']:.1f} ms  "
              f"ratio {row['floor_ratio']:.2f} (target <= 2)  gru {ms['gru']:.1f} ms  "
              f"speedup {row['speedup_over_gru']:.1f}x  load {row['load_average'][0]}", flush=True)
        rows.append(row)
    return rows


def kernels(args) -> dict:
    """Forward + backward of a minGRU layer's core at T = 1024, 128 units (no optimizer, no head):
    the projection alone; + `linear_scan` of the sigmoid gates; + `gated_scan` (fused gates).
    Wall and CPU (process) milliseconds; CPU time moves less with the machine's load."""
    import numpy as np
    import tensorflow as tf

    from seqzoo.scan import gated_scan, linear_scan

    units = 128
    x = tf.constant(np.random.default_rng(0).normal(size=(args.batch_size, args.target_len, FEATURES)), "float32")
    kernel = tf.Variable(np.random.default_rng(1).normal(size=(FEATURES, 2 * units)).astype("float32") * 0.1)

    def timed(core):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                gate, candidate = tf.matmul(x, kernel[:, :units]), tf.matmul(x, kernel[:, units:])
                loss = tf.reduce_sum(core(gate, candidate)[:, -1])
            return tape.gradient(loss, kernel)

        def run():
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            return time.perf_counter() - wall, time.process_time() - cpu
        return run

    runs = {"projection": timed(lambda k, v: k + v),
            "linear_scan": timed(lambda k, v: linear_scan(tf.sigmoid(-k), tf.sigmoid(k) * v)),
            "gated_scan": timed(gated_scan)}
    for run in runs.values():
        run()
    samples = {key: [] for key in runs}
    for rep in range(3 * args.reps):
        for key in (list(runs) if rep % 2 == 0 else list(runs)[::-1]):
            samples[key].append(runs[key]())
    out = {key: {"wall_ms": round(1000 * median([s[0] for s in v]), 1), "cpu_ms": round(1000 * median([s[1] for s in v]), 1)}
           for key, v in samples.items()}
    out["load_average"] = round(os.getloadavg()[0], 2)
    print(f"kernels (forward + backward, T {args.target_len}, 128 units): {out}", flush=True)
    return out


def worker(name: str, lengths: list[int], args) -> list[dict]:
    """One model at every length, in this process, lengths ascending."""
    import keras

    import seqzoo

    start_rss = rss_bytes()
    entry = seqzoo.registry.get(name)
    rows = []
    for seq_len in lengths:
        keras.utils.set_random_seed(0)
        model = _compiled(seqzoo.build(name, inputs="frames", features=FEATURES))
        data = _data(seq_len, args)
        runs = {"model": lambda: fit_seconds(model, data)}
        if "parallel_scan" in entry.tags:
            floor = _compiled(floor_of(model))
            runs["floor"] = lambda: fit_seconds(floor, data)
        with PeakRss() as peak:
            seconds = interleaved(runs, args.reps)
        row = {"model": name, "family": entry.family, "seq_len": seq_len, "params": int(model.count_params()),
               "step_ms": round(1000 * median(seconds["model"]) / args.steps, 2),
               "train_mib": round((peak.peak - start_rss) / MIB, 1),
               "load_average": round(os.getloadavg()[0], 2)}
        if "floor" in seconds:
            row["floor_ms"] = round(1000 * median(seconds["floor"]) / args.steps, 2)
            row["floor_ratio"] = round(row["step_ms"] / row["floor_ms"], 2)
        rows.append(row)
        print("ROW " + json.dumps(row) if args.worker else f"{name:12s} {seq_len:5d}  step {row['step_ms']:8.1f} ms"
              f"  floor ratio {row.get('floor_ratio')}", flush=True)
        keras.backend.clear_session()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="under 2 minutes: a subset (see the module docstring)")
    parser.add_argument("--models", default=None, help="comma-separated (default: the parallel_scan tag + baselines)")
    parser.add_argument("--lengths", default=None, help="comma-separated sequence lengths")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="batches per timed epoch (default: %(default)s)")
    parser.add_argument("--reps", type=int, default=3, help="timed epochs per measurement (default: %(default)s)")
    parser.add_argument("--skip-target", action="store_true", help="leave out the single-layer target measurement")
    parser.add_argument("--json", default=None, help="output (default: benchmarks/revival[-quick].json)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    lengths = [int(v) for v in args.lengths.split(",")] if args.lengths else (QUICK_LENGTHS if args.quick else LENGTHS)
    if args.worker:
        worker(args.worker, lengths, args)
        return 0
    import seqzoo

    scan_models = sorted(set(seqzoo.list_models(tags=["parallel_scan"])) - set(seqzoo.list_models(tags=["bidirectional"])))
    models = args.models.split(",") if args.models else scan_models + ([] if args.quick else BASELINES)
    args.units = [128] if args.quick else [128, 256]
    args.target_len = 1024
    if args.quick:
        args.reps, args.steps = min(args.reps, 2), min(args.steps, 2)
    path = args.json or os.path.join(HERE, "revival-quick.json" if args.quick else "revival.json")
    load_before = [round(v, 2) for v in os.getloadavg()]
    start = time.perf_counter()
    target_rows = [] if args.skip_target else target(args)
    kernel_times = {} if args.skip_target else kernels(args)
    rows = []
    for name in models if args.quick else ():  # one process: no per-model memory, but fast
        rows.extend(worker(name, lengths, args))
    for name in () if args.quick else models:
        own = [t for t in lengths if seqzoo.registry.get(name).family != "attention" or t <= MAX_ATTENTION_LEN]
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--lengths", ",".join(map(str, own)),
               "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--reps", str(args.reps)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        found = [json.loads(line[4:]) for line in done.stdout.splitlines() if line.startswith("ROW ")]
        for row in found:
            extra = f"  floor {row['floor_ms']:8.1f} ms  ratio {row['floor_ratio']:5.2f}" if "floor_ms" in row else ""
            print(f"{name:12s} {row['seq_len']:5d}  step {row['step_ms']:8.1f} ms  train {row['train_mib']:7.1f} MiB"
                  f"{extra}  load {row['load_average']}", flush=True)
        if done.returncode:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{name:12s} failed after {len(found)} lengths: {tail}", flush=True)
            found.append({"model": name, "error": tail})
        rows.extend(found)
    wall = time.perf_counter() - start
    scaling = {}
    for name in models:  # step time ~ length^k between the shortest and the longest length measured
        ok = sorted((r["seq_len"], r["step_ms"]) for r in rows if r.get("model") == name and "step_ms" in r)
        if len(ok) >= 2:
            scaling[name] = round(math.log(ok[-1][1] / ok[0][1]) / math.log(ok[-1][0] / ok[0][0]), 2)
    print(f"step-time exponent k (step ~ length^k): {scaling}", flush=True)
    print(f"wall {wall:.0f} s; load average before {load_before}, after {[round(v, 2) for v in os.getloadavg()]}")
    write_json(path, {
        "benchmark": "revival", "date": now(), "command": command_line(), "machine": machine(),
        "settings": {"batch_size": args.batch_size, "steps": args.steps, "reps": args.reps, "features": FEATURES,
                     "lengths": lengths, "target_units": args.units, "target_len": args.target_len},
        "load_average_before": load_before, "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "wall_seconds": round(wall, 1), "target": target_rows, "kernels": kernel_times, "step_time_exponent": scaling, "rows": rows,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
