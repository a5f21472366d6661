"""Defaults that adapt to the data: the training budget, early stopping and the text front end.

A recipe's defaults were chosen on its benchmark set; a user's data is smaller
or larger, with shorter or longer texts. Where the user leaves a flag at its
default, the recipe may replace the default by a value chosen from the data:

- epochs: at least `TrainingBudget.min_steps` optimizer steps (two epochs of
  2,000 reviews are ~60-120 steps, not enough to learn), at most
  `TrainingBudget.max_epochs` epochs, never fewer than the default;
  per-step and per-epoch learning-rate schedules span the chosen epochs;
- patience: when the budget added epochs and the validation split is large
  enough to trust (`MIN_VAL_EXAMPLES`), early stopping on the validation loss
  with the best weights restored (`TrainingBudget.patience`);
- text: the vocabulary keeps the n-grams seen at least `MIN_COUNT` times in the
  training split, the sequence length is the `LENGTH_PERCENTILE`-th percentile
  of the training lengths, both capped by the recipe's default.

A flag given on the command line always wins. The decision functions below
are pure (numbers in, numbers out); `adapt` and `choose` apply them to a run's
flags and record every choice, with its reason, in `data.info["adapted"]`
(config.json and metrics.json) and a printed line.

Example:

>>> budget_epochs(2, steps_per_epoch=32, min_steps=700, max_epochs=30)
22
>>> budget_epochs(2, steps_per_epoch=704, min_steps=700, max_epochs=30)
2
>>> vocabulary_size([5, 3, 2, 1, 1], cap=10000)
5
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from recipes.config import RunConfig

__all__ = [
    "LENGTH_PERCENTILE",
    "MIN_COUNT",
    "MIN_VAL_EXAMPLES",
    "TrainingBudget",
    "adapt",
    "budget_epochs",
    "choose",
    "epoch_stretch",
    "describe",
    "early_stopping_patience",
    "is_default",
    "ngram_lengths",
    "schedule_stretch",
    "sequence_length",
    "trustworthy_validation",
    "vocabulary_size",
]

# Early stopping needs a validation split at least this large: below it one example
# moves the accuracy by more than half a point and the chosen epoch is noise.
MIN_VAL_EXAMPLES = 200
# A vocabulary entry seen once in training gets an embedding trained on one example.
MIN_COUNT = 2
# seq_len: the longest 1% of the training texts are truncated (to the recipe's default at most).
LENGTH_PERCENTILE = 99.0


@dataclasses.dataclass(frozen=True)
class TrainingBudget:
    """A recipe's training budget (class attribute `training_budget` of a `runner.Recipe`).

    Args:
        min_steps: optimizer steps a run with the default epochs takes at least
            (the default epochs of the benchmark set already give about this many).
        max_epochs: the most epochs the budget may choose.
        patience: early stopping's patience (epochs without a lower validation loss)
            when the budget added epochs and validation is trustworthy.

    Example:

    >>> TrainingBudget(min_steps=700, max_epochs=30).patience
    2
    """

    min_steps: int
    max_epochs: int
    patience: int = 2

    def __post_init__(self) -> None:
        if self.min_steps < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError(f"TrainingBudget needs min_steps, max_epochs and patience >= 1, got {self}")


# ----------------------------------------------------------------------------- decisions


def budget_epochs(default_epochs: int, steps_per_epoch: int, *, min_steps: int, max_epochs: int) -> int:
    """Epochs that give at least `min_steps` optimizer steps: `ceil(min_steps / steps_per_epoch)`,
    at most `max_epochs`, never fewer than `default_epochs`."""
    needed = math.ceil(min_steps / max(1, steps_per_epoch))
    return max(default_epochs, min(needed, max_epochs))


def trustworthy_validation(val_examples: int | None, minimum: int = MIN_VAL_EXAMPLES) -> bool:
    """Whether a validation split of `val_examples` examples can choose an epoch."""
    return bool(val_examples) and val_examples >= minimum


def early_stopping_patience(default_patience: int, *, extended: bool, val_examples: int | None,
                            patience: int) -> int:
    """`patience` when the budget added epochs (`extended`) and validation is trustworthy
    and the default does not already stop early; else `default_patience`."""
    if extended and not default_patience and trustworthy_validation(val_examples):
        return patience
    return default_patience


def schedule_stretch(default_epochs: int, epochs: int) -> float:
    """How much longer than the default a per-epoch schedule runs (1.0: as chosen on the
    benchmark). A schedule shaped for the default epochs reads epoch `e` as `e / stretch`."""
    return max(1.0, epochs / max(1, default_epochs))


def vocabulary_size(counts: Sequence[int] | np.ndarray, *, cap: int, min_count: int = MIN_COUNT,
                    reserved: int = 2) -> int:
    """`reserved` ids (padding, out-of-vocabulary) plus the entries seen at least `min_count`
    times (`counts`: one count per distinct word or n-gram), at most `cap`, at least `reserved + 1`."""
    kept = int(np.count_nonzero(np.asarray(counts) >= min_count))
    return max(reserved + 1, min(cap, reserved + kept))


def sequence_length(lengths: Sequence[int] | np.ndarray, *, cap: int,
                    percentile: float = LENGTH_PERCENTILE) -> int:
    """The `percentile`-th percentile of the training lengths (rounded up), at most `cap`, at least 1."""
    lengths = np.asarray(lengths)
    if not lengths.size:
        return cap
    return max(1, min(cap, int(math.ceil(float(np.percentile(lengths, percentile))))))


def ngram_lengths(word_lengths: Sequence[int] | np.ndarray, ngrams: int) -> np.ndarray:
    """Ids per text when a text of `w` words becomes its words, then its bigrams, ... `ngrams`-grams."""
    words = np.asarray(word_lengths, dtype=np.int64)
    return sum(np.maximum(0, words - n + 1) for n in range(1, ngrams + 1))


# ----------------------------------------------------------------------------- applying them


def is_default(config: RunConfig, key: str) -> bool:
    """Whether setting `key` holds the recipe's default (`RunConfig.is_default`: the command
    line, or `config.resolve`'s caller, did not give it); a config built directly counts
    every setting as given (nothing adapts)."""
    return config.is_default(key)


def epoch_stretch(config: RunConfig) -> float:
    """`schedule_stretch` of this run: 1.0 unless `adapt` chose the epochs."""
    choice = config.adapted.get("epochs")
    return schedule_stretch(choice["default"], choice["chosen"]) if choice else 1.0


def choose(config: RunConfig, key: str, value: Any, reason: str) -> None:
    """Set setting `key` of `config` to `value` (chosen from the data) and record the choice.

    The choice goes to `config.adapted` (copied to `data.info["adapted"]` by `adapt`); the
    default stays recorded as the flag's value in config.json (`rundir.flags_for_config`
    reads `config.adapted`), so a rerun, which sees the default before reading the data,
    matches it.
    """
    current = getattr(config, key)
    if value == current:
        return
    default = config.adapted[key]["default"] if key in config.adapted else current
    # a new dict, not an update: configs derived by dataclasses.replace share the old one
    config.adapted = {**config.adapted, key: {"default": default, "chosen": value, "reason": reason}}
    setattr(config, key, value)


def adapt(recipe: Any, args: RunConfig, data: Any, steps_per_epoch: int) -> dict[str, Any]:
    """Apply the recipe's `training_budget` to `args` (epochs, patience) after the data is loaded.

    Records every choice of this run (including those a recipe's `load` made with `choose`)
    in `data.info["adapted"]` and returns it.
    """
    budget: TrainingBudget | None = getattr(recipe, "training_budget", None)
    if budget is not None and is_default(args, "epochs"):
        default = args.epochs
        epochs = budget_epochs(default, steps_per_epoch, min_steps=budget.min_steps, max_epochs=budget.max_epochs)
        choose(args, "epochs", epochs,
               f"at least {budget.min_steps} optimizer steps ({steps_per_epoch} per epoch), "
               f"at most {budget.max_epochs} epochs")
        if hasattr(args, "patience") and is_default(args, "patience"):
            val = (getattr(data, "sizes", None) or {}).get("val")
            patience = early_stopping_patience(args.patience, extended=epochs > default, val_examples=val,
                                               patience=budget.patience)
            choose(args, "patience", patience,
                   f"early stopping on validation loss, best weights kept ({val} validation examples "
                   f">= {MIN_VAL_EXAMPLES})")
    adapted = dict(args.adapted)
    if adapted:
        data.info["adapted"] = adapted
    return adapted


def describe(adapted: dict[str, Any]) -> str:
    """`epochs 2 -> 22 (reason); seq_len 800 -> 412 (reason)`: the printed summary of `adapt`."""
    return "; ".join(f"{key} {c['default']} -> {c['chosen']} ({c['reason']})" for key, c in adapted.items())
