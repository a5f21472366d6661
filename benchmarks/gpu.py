"""GPU: every model trains on the card; step times of the recurrent, attention and scan models vs length.

For a machine with a GPU and JAX (or PyTorch) but no TensorFlow; Keras'
backend is `--backend` (default: `KERAS_BACKEND` if it is jax or torch, else
jax). Two parts:

1. *zoo*: every registered model (token input, vocabulary 1,000, length 128,
   batch 32) trains 3 steps with `fit` on the default device; reported: ok or
   the error, and ms/step after a warm-up epoch.
2. *lengths*: `rnn`, `lstm`, `gru`, `transformer` and every model tagged
   `parallel_scan` in the registry, on float frames (64 features, no mask),
   batch 16, at T = 128, 256, 512, 1,024, 2,048 and 4,096: one warm-up epoch
   (compilation), then `--reps` timed epochs of `--steps` steps; ms/step is
   the median. A configuration that runs out of device memory is recorded as
   such and the model's longer lengths are skipped.

For the recurrent layers it records which kernel Keras ran, by wrapping the
backend's entry points while the model trains: `fused` (the backend's
`lstm`/`gru` returned: cuDNN through `jax.experimental.rnn` or `torch`, or on
JAX the GRU's XLA scan) or `generic` (it declined, Keras ran its step loop),
and `cudnn_calls`, the calls into the cuDNN functions themselves. The README
promises cuDNN for LSTM/GRU with seqzoo's defaults; the *kernels* part checks
that on `lstm`/`gru` frames (unmasked) and token inputs (masked).

    python benchmarks/gpu.py                    # full: writes gpu.json + a RESULTS.md section
    python benchmarks/gpu.py --backend torch
    python benchmarks/gpu.py --quick            # CPU smoke run: 4 models, T = 16, 32; gpu-quick.json

The full run writes `benchmarks/gpu.json` and replaces the section between the
`gpu.py` markers of `benchmarks/RESULTS.md`; `--quick` writes
`benchmarks/gpu-quick.json` and no RESULTS.md section unless `--results` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BEGIN, END = "<!-- gpu.py:begin -->", "<!-- gpu.py:end -->"
FULL = dict(lengths=[128, 256, 512, 1024, 2048, 4096], steps=10, reps=3, batch=16, zoo_len=128, zoo_batch=32)
QUICK = dict(lengths=[16, 32], steps=2, reps=1, batch=4, zoo_len=16, zoo_batch=4)
TIMED = ["rnn", "lstm", "gru", "transformer"]  # plus every model tagged parallel_scan
FEATURES = 64


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get("KERAS_BACKEND")
    parser.add_argument("--backend", choices=["jax", "torch"], default=env if env in ("jax", "torch") else "jax")
    parser.add_argument("--quick", action="store_true", help="tiny lengths and 4 models (a CPU smoke run)")
    parser.add_argument("--models", help="comma-separated models for both parts (default: see above)")
    parser.add_argument("--lengths", help="comma-separated sequence lengths, e.g. 128,1024")
    parser.add_argument("--out", help="JSON path (default benchmarks/gpu.json, --quick: gpu-quick.json)")
    parser.add_argument("--results", help="the RESULTS.md to update (default: benchmarks/RESULTS.md in full mode)")
    args = parser.parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    if args.lengths:
        try:
            settings["lengths"] = [int(v) for v in args.lengths.split(",")]
        except ValueError:
            parser.error(f"--lengths takes comma-separated integers, got {args.lengths!r}")
    args.settings = settings
    args.out = args.out or os.path.join(HERE, "gpu-quick.json" if args.quick else "gpu.json")
    if args.results is None and not args.quick:
        args.results = os.path.join(HERE, "RESULTS.md")
    return args


# -- which kernel ran -------------------------------------------------------------


class KernelSpy:
    """Counts, while active, which recurrent kernels Keras' backend ran (see the module doc)."""

    ENTRY_POINTS = ("lstm", "gru", "bidirectional_lstm", "bidirectional_gru")

    def __init__(self, backend: str):
        import keras.src.backend as backend_module

        self.backend_module = backend_module
        self.counts = {"fused": 0, "generic": 0, "cudnn_calls": 0}
        self.cudnn_targets = []  # (module, attribute): the cuDNN calls themselves
        if backend == "torch":
            import keras.src.backend.torch.rnn as torch_rnn

            self.cudnn_targets = [(torch_rnn, n) for n in ("_cudnn_lstm", "_cudnn_gru") if hasattr(torch_rnn, n)]
        elif backend == "jax":
            with contextlib.suppress(ImportError):
                import jax.experimental.rnn as jax_rnn

                self.cudnn_targets = [(jax_rnn, "lstm")]

    def reset(self):
        self.counts = {key: 0 for key in self.counts}

    def _wrap_entry(self, fn):
        def wrapper(*args, **kwargs):
            try:
                out = fn(*args, **kwargs)
            except NotImplementedError:
                self.counts["generic"] += 1
                raise
            self.counts["fused"] += 1
            return out

        return wrapper

    def _wrap_cudnn(self, fn):
        def wrapper(*args, **kwargs):
            self.counts["cudnn_calls"] += 1
            return fn(*args, **kwargs)

        return wrapper

    @contextlib.contextmanager
    def active(self):
        saved = []
        for name in self.ENTRY_POINTS:
            if hasattr(self.backend_module, name):
                saved.append((self.backend_module, name, getattr(self.backend_module, name)))
                setattr(self.backend_module, name, self._wrap_entry(saved[-1][2]))
        for module, name in self.cudnn_targets:
            saved.append((module, name, getattr(module, name)))
            setattr(module, name, self._wrap_cudnn(saved[-1][2]))
        try:
            yield self
        finally:
            for module, name, fn in saved:
                setattr(module, name, fn)


# -- the device -------------------------------------------------------------------


def device_info(backend: str) -> dict:
    import keras

    info = {"backend": backend, "keras": keras.__version__, "python": platform.python_version()}
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        info.update(jax=jax.__version__, platform=device.platform, device=getattr(device, "device_kind", str(device)))
    else:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info.update(platform="gpu", device=torch.cuda.get_device_name(0), cudnn=torch.backends.cudnn.version())
        else:
            info.update(platform="cpu", device="cpu")
    if info["platform"] == "cpu":
        info["device"] = _cpu_name()
    info["tensorflow_imported"] = sys.modules.get("tensorflow") is not None
    return info


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"CPU: {line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    return f"CPU: {platform.processor() or 'unknown'} ({os.cpu_count()} cores)"


# -- measuring --------------------------------------------------------------------


def _epoch_seconds(model, x, y, batch):
    import keras

    marks = {}

    class Marks(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            marks["begin"] = time.perf_counter()

        def on_train_end(self, logs=None):
            marks["end"] = time.perf_counter()

    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False, callbacks=[Marks()])
    return marks["end"] - marks["begin"]


def _data(kind, length, n, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    if kind == "tokens":
        x = rng.integers(1, 1000, size=(n, length)).astype("int32")
        x[: n // 2, length // 2 :] = 0  # half the rows right-padded: a real mask
    else:
        x = rng.normal(size=(n, length, FEATURES)).astype("float32")
    return x, rng.integers(0, 2, size=(n, 1)).astype("float32")


def _build(name, kind, length):
    import seqzoo

    task = dict(inputs=kind, seq_len=length)
    task.update(dict(vocab_size=1000, embed_dim=64) if kind == "tokens" else dict(features=FEATURES))
    extra = {}
    max_len = seqzoo.registry.get(name).params.get("max_len")
    if max_len is not None and max_len.default < length + 1:
        extra["max_len"] = length + 1  # learned positions ([CLS] included) must cover the length
    model = seqzoo.build(name, **task, **extra)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _is_oom(error) -> bool:
    text = f"{type(error).__name__} {error}".lower()
    return any(mark in text for mark in ("resource_exhausted", "out of memory", "outofmemory", "oom"))


def measure(spy, name, kind, length, batch, steps, reps):
    """ms/step (median of `reps` epochs after a warm-up one) and the kernels that ran."""
    import keras

    keras.backend.clear_session()
    spy.reset()
    row = {"model": name, "inputs": kind, "length": length, "batch": batch, "steps": steps}
    try:
        with spy.active():
            model = _build(name, kind, length)
            x, y = _data(kind, length, batch * steps)
            row["warmup_s"] = round(_epoch_seconds(model, x, y, batch), 3)
            times = [_epoch_seconds(model, x, y, batch) for _ in range(reps)]
        row["ms_per_step"] = round(1000 * statistics.median(times) / steps, 3)
        row["params"] = model.count_params()
    except Exception as error:  # noqa: BLE001  (recorded per configuration)
        row["error"] = "out of memory" if _is_oom(error) else f"{type(error).__name__}: {str(error)[:300]}"
        if not _is_oom(error):
            row["traceback"] = traceback.format_exc(limit=3)[-1500:]
    row["kernels"] = dict(spy.counts)
    return row


# -- the run ----------------------------------------------------------------------


def run(args) -> dict:
    import seqzoo

    s = args.settings
    scans = seqzoo.list_models(tags=["parallel_scan"])
    if args.models:
        zoo = timed = [m.strip() for m in args.models.split(",") if m.strip()]
        for name in zoo:
            seqzoo.registry.get(name)  # unknown names fail here, with the registry's suggestion
    elif args.quick:
        zoo = timed = TIMED + scans[:1]
    else:
        zoo, timed = seqzoo.list_models(), TIMED + scans
    spy = KernelSpy(args.backend)
    started = time.perf_counter()
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "quick": args.quick,
        "settings": s,
        "parallel_scan_models": scans,
        "zoo": [],
        "lengths": [],
        "kernels": [],
    }
    for name in zoo:
        row = measure(spy, name, "tokens", s["zoo_len"], s["zoo_batch"], 3, 1)
        report["zoo"].append(row)
        print(f"zoo      {name:16s} {row.get('ms_per_step', row.get('error'))}", flush=True)
    for name in [m for m in ("lstm", "gru") if m in timed]:
        for kind in ("frames", "tokens"):
            row = measure(spy, name, kind, s["lengths"][0], s["batch"], 2, 1)
            report["kernels"].append(row)
            print(f"kernels  {name:16s} {kind:7s} {row['kernels']}", flush=True)
    for name in timed:
        for length in s["lengths"]:
            row = measure(spy, name, "frames", length, s["batch"], s["steps"], s["reps"])
            report["lengths"].append(row)
            print(f"lengths  {name:16s} T={length:<5d} {row.get('ms_per_step', row.get('error'))}", flush=True)
            if row.get("error") == "out of memory":
                break  # longer ones will not fit either
    report["wall_s"] = round(time.perf_counter() - started, 1)
    report["device"] = device_info(args.backend)  # after the run: tensorflow_imported covers it
    return report


# -- the report -------------------------------------------------------------------


def _cell(row):
    return f"{row['ms_per_step']:.1f}" if "ms_per_step" in row else row.get("error", "-").split(":")[0]


def _kernel_verdict(row, backend):
    counts = row["kernels"]
    if counts["cudnn_calls"]:
        return "cuDNN"
    if counts["fused"]:
        return "fused XLA scan (no cuDNN)" if backend == "jax" else "fused (no cuDNN)"
    return "Keras step loop (no cuDNN)" if counts["generic"] else "-"


def markdown(report) -> str:
    d = report["device"]
    lengths = report["settings"]["lengths"]
    lines = [
        BEGIN,
        f"## 5. GPU: {d['device']} ({d['backend']} backend)",
        "",
        f"`{report['command']}` on {report['date']}: Keras {d['keras']}, "
        + (f"JAX {d['jax']}" if d["backend"] == "jax" else f"PyTorch {d['torch']}")
        + f", device platform `{d['platform']}`, TensorFlow imported: {d['tensorflow_imported']}; "
        f"wall {report['wall_s']:.0f} s. Source: `{os.path.basename(report.get('out', 'gpu.json'))}`.",
        "",
        f"**Every model trains** (token input, T = {report['settings']['zoo_len']}, "
        f"batch {report['settings']['zoo_batch']}, 3 steps): "
        + ", ".join(f"{r['model']} {_cell(r)}" for r in report["zoo"])
        + " (ms/step, or the error).",
        "",
        "**Recurrent kernels** (which kernel Keras ran while the model trained):",
        "",
        "| model | inputs | kernel |",
        "|---|---|---|",
    ]
    lines += [f"| {r['model']} | {r['inputs']} | {_kernel_verdict(r, d['backend'])} |" for r in report["kernels"]]
    lines += [
        "",
        f"**ms per training step vs length** (frames of {FEATURES} features, batch "
        f"{report['settings']['batch']}, median of {report['settings']['reps']} epochs of "
        f"{report['settings']['steps']} steps after a warm-up epoch):",
        "",
        "| model | " + " | ".join(f"T={t}" for t in lengths) + " |",
        "|---|" + "---|" * len(lengths),
    ]
    for name in dict.fromkeys(r["model"] for r in report["lengths"]):
        rows = {r["length"]: r for r in report["lengths"] if r["model"] == name}
        lines.append(f"| {name} | " + " | ".join(_cell(rows[t]) if t in rows else "-" for t in lengths) + " |")
    if not report["parallel_scan_models"]:
        lines += ["", "No model is tagged `parallel_scan` in this registry yet."]
    lines.append(END)
    return "\n".join(lines)


def update_results(path: str, section: str) -> None:
    """Replace the text between the gpu.py markers of `path` (append it if absent)."""
    text = open(path).read() if os.path.exists(path) else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != args.backend:
        print(f"gpu.py: keras is already imported with another backend; run it as its own process", file=sys.stderr)
        return 2
    sys.path.insert(0, ROOT)
    report = run(args)
    report["out"] = args.out
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    section = markdown(report)
    print(section)
    if args.results:
        update_results(args.results, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
