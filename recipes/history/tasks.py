"""Synthetic diagnostic tasks for `python -m recipes.history` (no data, no download).

Each generator takes the number of examples, the sequence length and a
`numpy.random.Generator`, and returns `(x, y)` as float32 frames
`(n, seq_len, features)` and targets. Every task also declares its trivial
baseline, so a score can say how much better than "knowing nothing" a model is:

| task | input channels | target | trivial baseline |
|---|---|---|---|
| `adding` | value ~ U(0, 1), marker (two 1s) | sum of the two marked values | always predict 1.0: MSE = Var = 1/6 ~ 0.167 |
| `recall` | one-hot symbol (K) or blank | the one non-blank symbol | chance accuracy 1/K |
| `first_token` | one-hot symbol (K) | the symbol at step 0 | chance accuracy 1/K |
| `random_labels` | N(0, 1) noise | a random label, to memorise | chance accuracy 1/C |

`skill` puts every task on one scale: 0 = the trivial baseline, 1 = perfect
(`1 - mse / baseline_mse` for regression, `(acc - chance) / (1 - chance)` for
classification; negative = worse than the baseline).

Example:

>>> import numpy as np
>>> x, y = adding_problem(4, 20, np.random.default_rng(0))
>>> x.shape, y.shape
((4, 20, 2), (4, 1))
>>> bool(np.allclose(y[:, 0], (x[..., 0] * x[..., 1]).sum(axis=1)))
True
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np


def _one_hot(ids: np.ndarray, depth: int) -> np.ndarray:
    return np.eye(depth, dtype="float32")[ids]


def adding_problem(n: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber 1997; variant of Le et al. 2015).

    Channel 0 holds values drawn from U(0, 1); channel 1 marks two steps, one in
    the first half and one in the second half. The target is the sum of the two
    marked values, so the first mark is at least `seq_len / 2` steps from the end.

    Args:
        n: number of sequences.
        seq_len: steps per sequence (>= 2).
        rng: the random generator.

    Returns:
        `x` `(n, seq_len, 2)` and `y` `(n, 1)`, float32.
    """
    _check_len(seq_len, 2)
    values = rng.uniform(0.0, 1.0, (n, seq_len)).astype("float32")
    half = seq_len // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, seq_len, n)
    marks = np.zeros((n, seq_len), "float32")
    rows = np.arange(n)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return np.stack([values, marks], axis=-1), y[:, None].astype("float32")


def delayed_recall(
    n: int, seq_len: int, rng: np.random.Generator, symbols: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Delayed recall (copy-memory style): name the one symbol shown, at the end.

    One symbol out of `symbols` appears at a uniformly random step; every other
    step shows a blank (its own one-hot channel). The target is the symbol. The
    lag from the symbol to the end is uniform in `[0, seq_len)`, so a model whose
    memory spans the last `S` steps scores a skill of about `S / seq_len`.

    Args:
        n: number of sequences.
        seq_len: steps per sequence.
        rng: the random generator.
        symbols: alphabet size K (chance accuracy 1/K).

    Returns:
        `x` `(n, seq_len, symbols + 1)` float32 (the last channel is the blank)
        and `y` `(n,)` int32 class ids.
    """
    _check_len(seq_len, 1)
    ids = rng.integers(0, symbols, n)
    where = rng.integers(0, seq_len, n)
    tokens = np.full((n, seq_len), symbols)
    tokens[np.arange(n), where] = ids
    return _one_hot(tokens, symbols + 1), ids.astype("int32")


def first_token(
    n: int, seq_len: int, rng: np.random.Generator, symbols: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Name the FIRST symbol of a sequence of random symbols (the bidirectional test).

    Read left to right and answered at the end, the label lies `seq_len - 1`
    noisy steps in the past; the backward half of a bidirectional model reads
    step 0 as its last input.

    Args:
        n: number of sequences.
        seq_len: steps per sequence.
        rng: the random generator.
        symbols: alphabet size K (chance accuracy 1/K).

    Returns:
        `x` `(n, seq_len, symbols)` float32 and `y` `(n,)` int32 class ids.
    """
    _check_len(seq_len, 1)
    ids = rng.integers(0, symbols, (n, seq_len))
    return _one_hot(ids, symbols), ids[:, 0].astype("int32")


def random_labels(
    n: int, seq_len: int, rng: np.random.Generator, features: int = 8, classes: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Random N(0, 1) sequences with random labels: nothing to learn but the examples themselves.

    Trained on a fixed set of them, a model's fit measures its raw capacity
    (how many bits of arbitrary labels it can store; Collins, Sohl-Dickstein &
    Sussillo 2017), the depth test of `recipes.history`.

    Args:
        n: number of sequences.
        seq_len: steps per sequence.
        rng: the random generator.
        features: channels per step.
        classes: number of labels (chance accuracy 1/classes).

    Returns:
        `x` `(n, seq_len, features)` float32 and `y` `(n,)` int32, independent of `x`.
    """
    _check_len(seq_len, 1)
    x = rng.standard_normal((n, seq_len, features)).astype("float32")
    return x, rng.integers(0, classes, n).astype("int32")


def _check_len(seq_len: int, minimum: int) -> None:
    if int(seq_len) < minimum:
        raise ValueError(f"seq_len={seq_len} is too short: use seq_len >= {minimum}")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A generator with what training and scoring it needs.

    Args:
        name: task name.
        make: `(n, seq_len, rng) -> (x, y)`.
        features: channels per step.
        classes: number of classes; `None` for regression (one value).
        description: one line for the report.
        baseline: one line naming the trivial baseline.
    """

    name: str
    make: Callable[[int, int, np.random.Generator], tuple[np.ndarray, np.ndarray]]
    features: int
    classes: int | None
    description: str
    baseline: str

    @property
    def regression(self) -> bool:
        return self.classes is None

    def build_kwargs(self, seq_len: int) -> dict:
        """Task keywords for `seqzoo.build` (frames in; one value or K classes out)."""
        kwargs = dict(inputs="frames", seq_len=seq_len, features=self.features)
        if self.regression:
            return dict(kwargs, head="forecast", horizon=1, targets=1)
        return dict(kwargs, head="classification", num_classes=self.classes)

    def baseline_error(self, y: np.ndarray) -> float:
        """The trivial baseline on targets `y`: MSE of predicting 1.0, or 1 - chance."""
        if self.regression:
            return float(np.mean((np.asarray(y, "float64").ravel() - 1.0) ** 2))
        return 1.0 - 1.0 / self.classes

    def skill(self, y: np.ndarray, prediction: np.ndarray) -> dict:
        """Score `prediction` against `y`: the raw metric, the baseline and the skill."""
        if self.regression:
            mse = float(np.mean((np.asarray(prediction, "float64").ravel()
                                 - np.asarray(y, "float64").ravel()) ** 2))
            base = self.baseline_error(y)
            return {"mse": mse, "baseline_mse": base, "skill": 1.0 - mse / base}
        prediction = np.asarray(prediction)
        labels = prediction.argmax(-1) if prediction.shape[-1] > 1 else (prediction[..., 0] > 0.5)
        accuracy = float(np.mean(labels.astype("int64").ravel() == np.asarray(y).ravel()))
        chance = 1.0 / self.classes
        return {"accuracy": accuracy, "chance": chance, "skill": (accuracy - chance) / (1.0 - chance)}


TASKS: dict[str, TaskSpec] = {
    "adding": TaskSpec(
        "adding", adding_problem, 2, None,
        "sum of two marked U(0,1) values, one mark in each half (Hochreiter & Schmidhuber 1997)",
        "predict 1.0 always: MSE = 1/6 ~ 0.167",
    ),
    "recall": TaskSpec(
        "recall", delayed_recall, 9, 8,
        "name the one symbol (1 of 8) shown at a random step among blanks",
        "chance accuracy 1/8 = 0.125",
    ),
    "first_token": TaskSpec(
        "first_token", first_token, 4, 4,
        "name the first symbol (1 of 4) of a random symbol sequence",
        "chance accuracy 1/4 = 0.25",
    ),
    "random_labels": TaskSpec(
        "random_labels", random_labels, 8, 4,
        "memorise random labels (1 of 4) of a fixed set of N(0, 1) sequences",
        "chance accuracy 1/4 = 0.25",
    ),
}
