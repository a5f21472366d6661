"""Run-directory artifacts: atomic writes and the standard plots.

Every file a recipe writes into its run directory goes through one of the
`*_atomic` helpers: the content is written to a temporary file in the same
folder, then renamed over the target with `os.replace`, so a kill leaves
either the old file or the new one, never half of it.

Example:

>>> from recipes import artifacts
>>> artifacts.write_json_atomic("/tmp/metrics.json", {"test_mse": 0.41})
>>> artifacts.read_json("/tmp/metrics.json")
{'test_mse': 0.41}
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
from typing import Any, Iterator, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside `path` (same extension); rename it to `path` on success.

    On an exception the temporary file is removed and `path` is left untouched.

    Example:

    >>> with atomic_path("/tmp/model.keras") as tmp:
    ...     model.save(tmp)              # doctest: +SKIP
    """
    folder, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{base}")
    try:
        yield tmp
        if os.path.isfile(tmp):
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def to_jsonable(value: Any) -> Any:
    """`value` with numpy scalars/arrays made plain and non-finite floats made `None`."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_text_atomic(path: str, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)


def write_json_atomic(path: str, obj: Any) -> None:
    """Write `obj` as indented JSON atomically (numpy values converted, NaN -> null)."""
    write_text_atomic(path, json.dumps(to_jsonable(obj), indent=2) + "\n")


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save_model_atomic(model: Any, path: str) -> None:
    """`model.save(path)` through a temporary `.keras` file, then rename."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def save_figure_atomic(fig: Any, path: str, **kwargs: Any) -> None:
    """`fig.savefig(path)` atomically, then close the figure."""
    fmt = os.path.splitext(path)[1].lstrip(".") or "png"
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight", **kwargs)
    finally:
        plt.close(fig)


def read_history(path: str) -> dict[str, list[float]]:
    """The columns of a Keras `CSVLogger` file, one row per epoch (a repeated epoch keeps its last row).

    Returns `{}` when the file is missing or empty.
    """
    if not os.path.isfile(path):
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("epoch", "") != ""]
    by_epoch: dict[int, dict[str, str]] = {}
    for row in rows:
        by_epoch[int(float(row["epoch"]))] = row
    epochs = sorted(by_epoch)
    columns: dict[str, list[float]] = {}
    for epoch in epochs:
        for key, text in by_epoch[epoch].items():
            if key is None:
                continue
            try:
                number = float(text)
            except (TypeError, ValueError):
                number = float("nan")
            columns.setdefault(key, []).append(number)
    return columns


# Columns of history.csv that are not learning curves.
_NOT_CURVES = ("epoch", "epoch_seconds", "train_pass_seconds", "learning_rate", "lr")


def plot_curves(history: dict[str, list[float]], path: str, title: str = "") -> None:
    """One panel per metric (loss, accuracy, ...): training and validation against epoch."""
    names = [k for k in history if not k.startswith("val_") and k not in _NOT_CURVES]
    names = sorted(names, key=lambda k: (k != "loss", k)) or ["loss"]
    epochs = [int(e) + 1 for e in history.get("epoch", [])]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if history.get(key):
                ax.plot(epochs[: len(history[key])], history[key], marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title)
    save_figure_atomic(fig, path)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """`(num_classes, num_classes)` counts; rows are true classes, columns predictions."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def plot_confusion(matrix: np.ndarray, class_names: Sequence[str] | None, path: str, title: str = "") -> None:
    """The confusion matrix as a heat map with counts (rows: truth, columns: prediction)."""
    n = len(matrix)
    names = list(class_names) if class_names else [str(i) for i in range(n)]
    size = max(3.5, 0.45 * n + 2.0)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), names, rotation=90 if n > 6 else 0)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 30:
        peak = matrix.max() if matrix.size else 0
        for i in range(n):
            for j in range(n):
                color = "white" if peak and matrix[i, j] > peak / 2 else "black"
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=color, fontsize=8)
    ax.set_title(title or "confusion matrix")
    save_figure_atomic(fig, path)
