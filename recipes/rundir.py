"""The run directory: its files, its lock, its state machine and its resumable training state.

One module decides what a command does with its `--out` (plain runs and
`--tune` searches alike); it reads only, until the caller holds the lock.

States (`inspect_run`; `inspect_search` for a search):

    new        --out is missing or empty: train from scratch
    resume     config.json, no model.keras + train_state.json: continue training
               from backup/ (or from scratch when backup/ is empty)
    evaluate   model.keras and train_state.json, no metrics.json: evaluate the
               saved model only (interrupted after training)
    complete   metrics.json: refused (exit 2) unless --overwrite
    overwrite  --overwrite on a run directory: remove the run's own files, then new

The end of a run writes, in this order: the last epoch's backup (weights,
optimizer, epoch, callback and RNG state), `backup/final.weights.h5` with
`seqzoo_state.json` saying `finished` (after the callbacks' `on_train_end`, e.g.
early stopping restoring its best weights), `model.keras`, `train_state.json`,
then backup/ is removed, the recipe's evaluation files, `metrics.json` last.
A kill at any moment leaves a state above whose rerun ends with the same
files and metrics as an uninterrupted run (tests/test_faults.py kills a
subprocess at each of these moments).

The lock: a run holds an exclusive `fcntl.flock` on the `--out` directory
itself for its whole life (nothing is written for it). A second process on
the same `--out` is refused at once with exit 2 and touches nothing; the
kernel releases the lock when the holder exits or is killed, so a killed run
never leaves a stale lock. (Without `fcntl`, e.g. on Windows, runs are not
locked.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import shutil
import zipfile
from typing import Any, Iterable

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows: no lock)
    fcntl = None

from recipes import artifacts

__all__ = [
    "FILES", "RESUME_FREE_FLAGS", "ResumeState", "RunLock", "RunPaths", "UsageError",
    "changed_flags", "check_out", "clear", "flags_for_config", "inspect_run", "inspect_search",
    "training_state",
]


class UsageError(Exception):
    """A bad flag, hyperparameter or run directory; the runner exits 2 with this one line."""


FILES = {
    "config": "config.json",
    "metrics": "metrics.json",
    "model": "model.keras",
    "history": "history.csv",
    "train_state": "train_state.json",
    "curves": "curves.png",
    "confusion": "confusion.png",
    "tb": "tb",
    "backup": "backup",
}

SEARCH_DIR = "tuning"

# Flags that may differ when an interrupted run or search is continued.
RESUME_FREE_FLAGS = ("quiet", "overwrite", "strategy", "out", "tuner_id", "oracle_ip", "oracle_port")


@dataclasses.dataclass(frozen=True)
class RunPaths:
    """The files of a run directory: `RunPaths("runs/x").metrics == "runs/x/metrics.json"`."""

    root: str

    def __getattr__(self, name: str) -> str:
        if name in FILES:
            return os.path.join(self.root, FILES[name])
        raise AttributeError(name)


def has_content(path: str) -> bool:
    return os.path.isdir(path) and bool(os.listdir(path))


def default_out(recipe_name: str, model: str) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{recipe_name}-{model}-{stamp}")


def flags_for_config(config: Any) -> dict[str, Any]:
    """config.json's `"flags"`: a `recipes.config.RunConfig`'s flag fields (those not marked
    `metadata={"flag": False}`), or an argparse Namespace's public attributes; sorted by name.
    A value `recipes.budget` chose from the data (`config.adapted`) reads as its default, so a
    rerun, which has not read the data yet, matches it."""
    if dataclasses.is_dataclass(config):
        names = [f.name for f in dataclasses.fields(config) if f.metadata.get("flag", True)]
        adapted = getattr(config, "adapted", None) or {}
        return {name: adapted[name]["default"] if name in adapted else getattr(config, name)
                for name in sorted(names)}
    return {k: v for k, v in sorted(vars(config).items()) if not k.startswith("_")}


def changed_flags(now: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """The flags (as `--name`) whose values differ, except `RESUME_FREE_FLAGS`."""
    now = artifacts.to_jsonable(now)
    return [
        f"--{k.replace('_', '-')}" for k in sorted(set(now) | set(before))
        if k not in RESUME_FREE_FLAGS and now.get(k) != before.get(k)
    ]


# ----------------------------------------------------------------------------- checks


def check_out(out: str) -> None:
    """Raise `UsageError` when `out` can never be a run directory; creates nothing that stays.

    A file in its place or among its parents, or a parent where no folder can
    be created (read-only, /proc), is refused before any data is read.
    """
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise UsageError(f"--out {out!r} is a file; give a directory")
        if not os.access(out, os.W_OK | os.X_OK):
            raise UsageError(f"--out {out!r} is not writable; choose another --out")
        return
    parent = os.path.dirname(os.path.abspath(out))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UsageError(f"--out {out!r}: {parent!r} is a file, not a folder; choose another --out")
    probe = os.path.join(parent, f".seqzoo-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as error:
        raise UsageError(f"--out {out!r}: cannot create folders in {parent!r} ({error.strerror}); "
                         "choose another --out") from None


def _read_object(path: str, what: str, fix: str) -> dict[str, Any]:
    try:
        value = artifacts.read_json(path)
    except (OSError, ValueError) as error:
        raise UsageError(f"{what}: unreadable {os.path.basename(path)} ({error}); {fix}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what}: {os.path.basename(path)} is not a seqzoo file (a JSON "
                         f"{type(value).__name__}, not an object); {fix}")
    return value


def _check_model_file(paths: RunPaths, out: str) -> None:
    if not zipfile.is_zipfile(paths.model):
        raise UsageError(f"--out {out!r}: model.keras is damaged (not a .keras archive); "
                         "pass --overwrite to train again")


def training_state(paths: RunPaths) -> str:
    """`"evaluate"` (model.keras and train_state.json), `"resume"` (config.json) or `"new"`."""
    if os.path.isfile(paths.model) and os.path.isfile(paths.train_state):
        return "evaluate"
    return "resume" if os.path.isfile(paths.config) else "new"


def inspect_run(out: str, recipe_name: str, flags: dict[str, Any], hparams: dict[str, Any],
                overwrite: bool) -> str:
    """`"new"`, `"resume"`, `"evaluate"` or `"overwrite"` for a plain run; `UsageError` for a
    directory that cannot be used (foreign, complete, other settings, damaged). Reads only."""
    check_out(out)
    paths = RunPaths(out)
    if not has_content(out):
        return "new"
    if not os.path.isfile(paths.config):
        raise UsageError(f"--out {out!r} exists and is not a seqzoo run directory (no config.json); "
                         "choose a new --out")
    if overwrite:
        return "overwrite"
    if os.path.isfile(paths.metrics):
        raise UsageError(f"--out {out!r} holds a complete run (metrics.json); "
                         "pass --overwrite to train again there, or choose another --out")
    previous = _read_object(paths.config, f"--out {out!r}", "choose a new --out or pass --overwrite")
    now = artifacts.to_jsonable({"flags": flags, "hyperparameters": hparams})
    changed = changed_flags(flags, previous.get("flags") or {})
    if previous.get("recipe") != recipe_name:
        changed.insert(0, "recipe")
    if not changed and previous.get("hyperparameters") != now["hyperparameters"]:
        changed.append("hyperparameters (recipe defaults changed)")
    if changed:
        raise UsageError(
            f"--out {out!r} holds an unfinished run started with different settings "
            f"({', '.join(changed)}); rerun its command (config.json) or choose another --out"
        )
    state = training_state(paths)
    if state == "evaluate":
        _check_model_file(paths, out)
    return state


def inspect_search(out: str, recipe_name: str, flags: dict[str, Any], overwrite: bool) -> str:
    """`"new"`, `"resume"` or `"overwrite"` for a `--tune` search; `UsageError` otherwise. Reads only."""
    check_out(out)
    if not has_content(out):
        return "new"
    paths = RunPaths(out)
    settings = os.path.join(out, SEARCH_DIR, "settings.json")
    is_search = os.path.isfile(settings)
    if not is_search and not os.path.isfile(paths.config):
        raise UsageError(f"--out {out!r} exists and is not a seqzoo run directory; choose a new --out")
    if overwrite:
        return "overwrite"
    if not is_search:
        raise UsageError(
            f"--out {out!r} holds a run without --tune; pass --overwrite to search there, or choose another --out"
        )
    if os.path.isfile(paths.metrics):
        raise UsageError(f"--out {out!r} holds a complete search and run (metrics.json); "
                         "pass --overwrite to search again, or choose another --out")
    previous = _read_object(settings, f"--out {out!r}", "pass --overwrite")
    changed = changed_flags(flags, previous.get("flags") or {})
    if previous.get("recipe") != recipe_name:
        changed.insert(0, "recipe")
    if changed:
        raise UsageError(
            f"--out {out!r} holds a search started with different settings ({', '.join(changed)}); "
            "rerun its command (tuning/settings.json), pass --overwrite, or choose another --out"
        )
    if training_state(paths) == "evaluate":
        _check_model_file(paths, out)
    return "resume"


# ----------------------------------------------------------------------------- writing


def remove_leftovers(root: str) -> None:
    """Remove the `.tmp-<pid>-*` files of killed writers (call while holding the lock)."""
    for folder in (root, os.path.join(root, FILES["backup"])):
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if name.startswith(".tmp-"):
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(folder, name))


def clear(paths: RunPaths, extra: Iterable[str] = ()) -> None:
    """Remove the runner's files, `extra` (the recipe's artifacts, `tuning`) and leftovers, nothing else."""
    remove_leftovers(paths.root)
    for name in [*FILES.values(), *extra]:
        path = os.path.join(paths.root, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


class RunLock:
    """An exclusive lock on a run directory for the life of this object (see the module docstring).

    `acquire()` locks `--out` if it exists (else returns False: call it again
    once the directory is created); a directory held by another process raises
    `UsageError`. `release()` (or process exit) frees it.
    """

    def __init__(self, out: str):
        self.out = out
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is not None or fcntl is None:
            return True
        if not os.path.isdir(self.out):
            return False
        fd = os.open(self.out, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UsageError(f"--out {self.out!r} is in use by another running process; "
                             "wait for it to end or choose another --out") from None
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# ----------------------------------------------------------------------------- resumable training state


def _callback_state(callback: Any) -> dict[str, Any] | None:
    """The state a resume must restore: `get_state()` when a callback defines it, else the
    counters of Keras's EarlyStopping / ReduceLROnPlateau."""
    import keras

    if hasattr(callback, "get_state"):
        return callback.get_state()
    if isinstance(callback, keras.callbacks.EarlyStopping):
        return {k: getattr(callback, k) for k in ("wait", "best", "best_epoch", "stopped_epoch")}
    if isinstance(callback, keras.callbacks.ReduceLROnPlateau):
        return {k: getattr(callback, k) for k in ("wait", "best", "cooldown_counter")}
    return None


def _restore_callback(callback: Any, state: dict[str, Any]) -> None:
    if hasattr(callback, "set_state"):
        callback.set_state(state)
    else:
        for key, value in state.items():
            setattr(callback, key, value)


def _seed_variables(model: Any) -> list[Any]:
    """The model's variables that its weights leave out: the layers' random-seed states."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


class ResumeState:
    """What a resumed run needs besides Keras's `BackupAndRestore` (weights, optimizer, epoch):
    the callbacks' state (early stopping's wait, best value and best weights), the layers'
    random-seed states (dropout), the training data's shuffle position, and whether
    training already finished. Kept in `backup/` next to Keras's files.

    `callback()` returns the Keras callback to put LAST in `fit`'s list.
    """

    NAME = "seqzoo_state.json"

    def __init__(self, backup_dir: str, callbacks: list[Any]):
        self.dir = backup_dir
        self.callbacks = list(callbacks)
        self.path = os.path.join(backup_dir, self.NAME)
        self.final_weights = os.path.join(backup_dir, "final.weights.h5")
        self.state = self._load()

    def _load(self) -> dict[str, Any]:
        """The saved state, made consistent with Keras's backup; {} means start from scratch."""
        try:
            state = artifacts.read_json(self.path)
        except (OSError, ValueError):
            state = None
        if not isinstance(state, dict):
            if os.path.isdir(self.dir):  # a backup without our state (killed in epoch 1's end)
                shutil.rmtree(self.dir)
            return {}
        keras_meta = os.path.join(self.dir, "training_metadata.json")
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            if json.load(open(keras_meta))["epoch"] == state["epoch"] + 1:
                # killed between Keras's backup and ours: step Keras back to its previous epoch
                for name in ("latest.weights.h5", "training_metadata.json"):
                    shutil.copy(os.path.join(self.dir, name + ".bkp"), os.path.join(self.dir, name))
        return state

    @property
    def epoch(self) -> int:
        return int(self.state.get("epoch", 0))

    @property
    def finished(self) -> bool:
        return bool(self.state.get("finished")) and os.path.isfile(self.final_weights)

    def _write(self, model: Any, **fields: Any) -> None:
        import numpy as np

        os.makedirs(self.dir, exist_ok=True)
        best = [getattr(c, "best_weights", None) for c in self.callbacks]
        arrays = {f"best{i}_{j}": w for i, ws in enumerate(best) if ws is not None for j, w in enumerate(ws)}
        seeds = _seed_variables(model)
        arrays.update({f"seed_{i}": np.asarray(v.numpy()) for i, v in enumerate(seeds)})
        with artifacts.atomic_path(os.path.join(self.dir, "state.npz")) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        self.state = {
            **self.state, **fields,
            "callbacks": [artifacts.to_jsonable(_callback_state(c)) for c in self.callbacks],
            "best_weights": [None if ws is None else len(ws) for ws in best],
            "seed_variables": [list(v.shape) for v in seeds],
        }
        artifacts.write_json_atomic(self.path, self.state)

    def _restore(self, model: Any) -> None:
        import numpy as np

        if not self.state:
            return
        with np.load(os.path.join(self.dir, "state.npz")) as arrays:
            for i, (callback, saved) in enumerate(zip(self.callbacks, self.state.get("callbacks", []))):
                if saved is not None:
                    _restore_callback(callback, saved)
                count = self.state["best_weights"][i]
                if count is not None:
                    callback.best_weights = [arrays[f"best{i}_{j}"] for j in range(count)]
            seeds = _seed_variables(model)
            if [list(v.shape) for v in seeds] == self.state.get("seed_variables"):
                for i, variable in enumerate(seeds):
                    variable.assign(arrays[f"seed_{i}"])

    def callback(self) -> Any:
        import keras

        owner = self

        class _Save(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):  # after every other callback's reset
                owner._restore(self.model)

            def on_epoch_end(self, epoch, logs=None):
                owner._write(self.model, epoch=epoch + 1, stopped=bool(self.model.stop_training))

            def on_train_end(self, logs=None):  # after early stopping restored its best weights
                with artifacts.atomic_path(owner.final_weights) as tmp:
                    self.model.save_weights(tmp)
                owner.state = {**owner.state, "finished": True}
                artifacts.write_json_atomic(owner.path, owner.state)

        return _Save()
