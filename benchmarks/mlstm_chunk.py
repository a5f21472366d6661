"""Chunkwise against quadratic mLSTM: training step time of one `MLSTMMixer` layer.

`Input(T, 64) -> MLSTMMixer(heads=4) -> Dense(1)` (inner width 128, head_dim 32),
TensorFlow backend, Adam, MSE on every step, batch 16, random data; for every T
the quadratic form (`chunk_size=None`) and each chunk size, in one process.
Each configuration: 2 warm-up `train_on_batch` steps, then the median of
`--steps` timed ones (wall ms) and the process CPU ms of the same steps.

    python benchmarks/mlstm_chunk.py --lengths 256,1024 --chunks none,32,64,128
    python benchmarks/mlstm_chunk.py --lengths 1024 --chunks 32,64 --unroll   # the loop over chunks unrolled
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def measure(seq_len: int, chunk_size, steps: int, batch: int = 16, features: int = 64, unroll: bool = False) -> dict:
    import keras

    from seqzoo.layers import MLSTMMixer

    keras.utils.set_random_seed(0)
    inputs = keras.Input((seq_len, features))
    model = keras.Model(inputs, keras.layers.Dense(1)(MLSTMMixer(heads=4, chunk_size=chunk_size, unroll=unroll)(inputs)))
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, seq_len, features)).astype("float32")
    y = rng.normal(size=(batch, seq_len, 1)).astype("float32")
    for _ in range(2):
        model.train_on_batch(x, y)
    wall, cpu = [], []
    for _ in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        model.train_on_batch(x, y)
        wall.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (time.process_time() - start_cpu))
    return {"T": seq_len, "chunk_size": chunk_size, "step_ms": statistics.median(wall),
            "cpu_ms": statistics.median(cpu), "load": os.getloadavg()[0]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="256,1024", help="comma-separated sequence lengths")
    parser.add_argument("--chunks", default="none,32,64,128", help="comma-separated chunk sizes ('none': quadratic)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration (default: %(default)s)")
    parser.add_argument("--unroll", action="store_true", help="unroll the loop over chunks (as LiteRT export does)")
    args = parser.parse_args(argv)
    chunks = [None if c.strip().lower() == "none" else int(c) for c in args.chunks.split(",")]
    print("| T | chunk_size | step ms (median) | CPU ms (median) | load |\n|---|---|---|---|---|")
    for seq_len in (int(t) for t in args.lengths.split(",")):
        for chunk in chunks:
            r = measure(seq_len, chunk, args.steps, unroll=args.unroll)
            print(f"| {r['T']} | {r['chunk_size'] or 'quadratic'} | {r['step_ms']:.1f} | {r['cpu_ms']:.1f} "
                  f"| {r['load']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
