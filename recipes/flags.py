"""argparse helpers of the recipes: `Parser` (one-line errors) and `type=` converters for number flags.

argparse turns the message into `--epochs: invalid ... value` style errors;
the runner's parser prints them on one line and exits with code 2, e.g.
`python -m recipes.imdb: error: argument --epochs: 0 must be >= 1 (see --help)`.

>>> positive_int("3"), fraction("0.1"), probability("1")
(3, 0.1, 1.0)
>>> positive_int("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: 0 must be >= 1
"""

from __future__ import annotations

import argparse
import math
from typing import Callable


def _number(kind: type, accepts: Callable[[float], bool], requirement: str) -> Callable[[str], float]:
    noun = "an integer" if kind is int else "a number"

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if math.isnan(value) or not accepts(value):
            raise argparse.ArgumentTypeError(f"{value} must be {requirement}")
        return value

    convert.__name__ = requirement.replace(" ", "_")  # argparse shows it on conversion errors
    return convert


positive_int = _number(int, lambda v: v >= 1, ">= 1")
non_negative_int = _number(int, lambda v: v >= 0, ">= 0")
positive_float = _number(float, lambda v: 0 < v < math.inf, "a positive number")
non_negative_float = _number(float, lambda v: 0 <= v < math.inf, "a number >= 0")
fraction = _number(float, lambda v: 0 < v < 1, "between 0 and 1 (exclusive)")
probability = _number(float, lambda v: 0 <= v <= 1, "between 0 and 1")
seed = _number(int, lambda v: 0 <= v < 2**32, "between 0 and 4294967295")  # what TF/NumPy accept


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `prog: error: message (see --help)`, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
