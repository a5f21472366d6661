"""Helpers shared by the benchmark scripts (private): machine facts, timing, JSON."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: no lock; run one benchmark at a time there
    fcntl = None

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "benchmarks")
DEFAULT_DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, library versions: what RESULTS.md states for every number."""
    model = platform.processor() or "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version()}
    try:
        with open("/proc/meminfo") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        import keras
        import tensorflow as tf

        info.update(tensorflow=tf.__version__, keras=keras.__version__, gpus=len(tf.config.list_physical_devices("GPU")))
    except ImportError:
        pass
    return info


def now() -> str:
    return datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def write_json(path: str, payload: dict[str, Any]) -> None:
    """Write `payload` atomically (a temp file of this process + rename: `recipes.artifacts.atomic_path`)."""
    from recipes.artifacts import atomic_path

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=1, sort_keys=False)
            f.write("\n")


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` + ".lock" (blocking): benchmark runs that merge rows into
    one JSON file at the same time take turns instead of dropping each other's rows."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(f"{path}.lock", "a") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when the file closes
        yield


def command_line() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def rss_bytes() -> int:
    """Current resident set size of this process (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples the process RSS every `interval` seconds in a thread; `.peak` is the largest seen."""

    def __init__(self, interval: float = 0.002):
        import threading

        self.interval = interval
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def fit_seconds(model, data) -> float:
    """Seconds of one `model.fit(data, epochs=1)`, from `on_train_begin` to `on_train_end`.

    Leaves out what `fit` does after training: on this machine tearing down the
    `tf.data` iterator sometimes waits in doubling sleeps (the wall time of a
    `fit` call then snaps to 10 ms x (2^k - 1): 1.27, 2.55, 5.11, 10.23 s...),
    which would swamp the differences these benchmarks look for.
    """
    import keras

    marks: dict[str, float] = {}

    class _Marks(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            marks["begin"] = time.perf_counter()

        def on_train_end(self, logs=None):
            marks["end"] = time.perf_counter()

    model.fit(data, epochs=1, verbose=0, callbacks=[_Marks()])
    return marks["end"] - marks["begin"]


def interleaved(runs: dict[str, Callable[[], float]], reps: int) -> dict[str, list[float]]:
    """`reps` rounds of each of `runs` (each returns the seconds it measured) after one
    untimed warm-up call each (tracing, caches); the order flips every round so drift
    hits both alike."""
    for run in runs.values():
        run()
    seconds: dict[str, list[float]] = {key: [] for key in runs}
    for rep in range(reps):
        for key in (list(runs) if rep % 2 == 0 else list(runs)[::-1]):
            seconds[key].append(runs[key]())
    return seconds
