"""Hyperparameter declarations: default, valid range and search space in one place.

Every registered builder declares its hyperparameters with these classes. The
registry uses them to validate keyword arguments (errors name the parameter and
its valid range), `seqzoo.info` shows them, and `seqzoo.tuning` turns the
`search` part into a KerasTuner search space.

Example:

>>> from seqzoo.params import Int
>>> units = Int(128, low=1, high=4096, search=(32, 512), sampling="log")
>>> units.validate("units", 64)
64
>>> units.describe()
'int, default 128, valid [1, 4096], search 32..512 (log)'
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence


class ParamError(ValueError):
    """A keyword argument has an invalid value; the message names the parameter."""


@dataclasses.dataclass(frozen=True)
class Int:
    """An integer hyperparameter.

    Args:
        default: the value used when the caller gives none.
        low: smallest valid value (inclusive).
        high: largest valid value (inclusive); `None` for no upper bound.
        search: `(lo, hi)` range searched by the tuner; `None` to leave it fixed.
        sampling: `"linear"` or `"log"` sampling of the search range.
        step: step of the search range (linear sampling only).
        help: one line shown by `seqzoo info`.
        allow_none: whether `None` is valid (e.g. "variable length").
    """

    default: int | None
    low: int = 1
    high: int | None = None
    search: tuple[int, int] | None = None
    sampling: str = "linear"
    step: int = 1
    help: str = ""
    allow_none: bool = False

    kind = "int"

    def validate(self, name: str, value: Any) -> int | None:
        if value is None and self.allow_none:
            return None
        if isinstance(value, bool) or not (isinstance(value, int) or _is_integral(value)):
            raise ParamError(f"{name}={value!r} must be an integer in {self.range_text()}")
        value = int(value)
        if value < self.low or (self.high is not None and value > self.high):
            raise ParamError(f"{name}={value} is out of range: valid {self.range_text()}")
        return value

    def range_text(self) -> str:
        text = f"[{self.low}, {self.high if self.high is not None else 'inf'}]"
        return text + " or None" if self.allow_none else text

    def describe(self) -> str:
        text = f"int, default {self.default}, valid {self.range_text()}"
        if self.search:
            text += f", search {self.search[0]}..{self.search[1]}"
            text += f" ({self.sampling})" if self.sampling != "linear" else ""
        return text


@dataclasses.dataclass(frozen=True)
class Float:
    """A float hyperparameter.

    Args:
        default: the value used when the caller gives none.
        low: smallest valid value.
        high: largest valid value; `None` for no upper bound.
        low_inclusive: whether `low` itself is valid.
        high_inclusive: whether `high` itself is valid (`False` for dropout rates).
        search: `(lo, hi)` range searched by the tuner; `None` to leave it fixed.
        sampling: `"linear"` or `"log"`.
        help: one line shown by `seqzoo info`.
        allow_none: whether `None` is valid.
    """

    default: float | None
    low: float = 0.0
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    search: tuple[float, float] | None = None
    sampling: str = "linear"
    help: str = ""
    allow_none: bool = False

    kind = "float"

    def validate(self, name: str, value: Any) -> float | None:
        if value is None and self.allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ParamError(f"{name}={value!r} must be a number in {self.range_text()}")
        value = float(value)
        below = value < self.low or (value == self.low and not self.low_inclusive)
        above = self.high is not None and (
            value > self.high or (value == self.high and not self.high_inclusive)
        )
        if below or above:
            raise ParamError(f"{name}={value} is out of range: valid {self.range_text()}")
        return value

    def range_text(self) -> str:
        left = "[" if self.low_inclusive else "("
        right = "]" if self.high_inclusive else ")"
        high = self.high if self.high is not None else "inf"
        text = f"{left}{self.low}, {high}{right}"
        return text + " or None" if self.allow_none else text

    def describe(self) -> str:
        text = f"float, default {self.default}, valid {self.range_text()}"
        if self.search:
            text += f", search {self.search[0]}..{self.search[1]}"
            text += f" ({self.sampling})" if self.sampling != "linear" else ""
        return text


@dataclasses.dataclass(frozen=True)
class Choice:
    """A hyperparameter taking one of a fixed set of values.

    Args:
        default: the value used when the caller gives none.
        values: every valid value.
        search: the values searched by the tuner; `None` to leave it fixed.
        help: one line shown by `seqzoo info`.
    """

    default: Any
    values: Sequence[Any] = ()
    search: Sequence[Any] | None = None
    help: str = ""

    kind = "choice"

    def validate(self, name: str, value: Any) -> Any:
        for valid in self.values:
            if value == valid and type(value) is type(valid):
                return value
        raise ParamError(f"{name}={value!r} is not valid: choose one of {self.range_text()}")

    def range_text(self) -> str:
        return "{" + ", ".join(repr(v) for v in self.values) + "}"

    def describe(self) -> str:
        text = f"one of {self.range_text()}, default {self.default!r}"
        if self.search:
            text += ", search {" + ", ".join(repr(v) for v in self.search) + "}"
        return text


def Bool(default: bool, help: str = "", search: bool = False) -> Choice:  # noqa: N802
    """A boolean hyperparameter (a `Choice` of `False` and `True`)."""
    return Choice(default, (False, True), search=(False, True) if search else None, help=help)


Param = Int | Float | Choice


def _is_integral(value: Any) -> bool:
    try:
        import numpy as np

        return isinstance(value, np.integer)
    except ImportError:  # pragma: no cover
        return False


@dataclasses.dataclass(frozen=True)
class Divides:
    """A rule between two hyperparameters: `divisor` divides `factor * dividend`.

    Declared with the model (`register(..., constraints=[Divides("heads", "width")])`):
    `seqzoo.build` checks it and the tuner samples only combinations that keep it.

    Args:
        divisor: e.g. `"heads"` (the tuner samples it first).
        dividend: e.g. `"width"` (the tuner samples it among valid multiples).
        factor: the dividend's multiplier in the model (2 for a bidirectional
            layer of `units` per direction feeding attention).

    Example:

    >>> Divides("heads", "width").check({"heads": 3, "width": 128})
    Traceback (most recent call last):
    ...
    seqzoo.params.ParamError: heads=3 must divide width=128
    """

    divisor: str
    dividend: str
    factor: int = 1

    def multiple(self, divisor_value: int) -> int:
        """The dividend must be a multiple of this for `divisor_value`."""
        return divisor_value // math.gcd(divisor_value, self.factor)

    def holds(self, values: dict[str, Any]) -> bool:
        return (self.factor * int(values[self.dividend])) % int(values[self.divisor]) == 0

    def describe(self) -> str:
        times = f"{self.factor} * " if self.factor != 1 else ""
        return f"{self.divisor} must divide {times}{self.dividend}"

    def check(self, values: dict[str, Any]) -> None:
        if not self.holds(values):
            times = f"{self.factor} * " if self.factor != 1 else ""
            raise ParamError(
                f"{self.divisor}={values[self.divisor]} must divide "
                f"{times}{self.dividend}={values[self.dividend]}"
            )


def validate_all(specs: dict[str, Param], values: dict[str, Any], *, where: str) -> dict[str, Any]:
    """Fill defaults and validate `values` against `specs`.

    Unknown keys raise a `TypeError` that names them and lists the valid ones.
    """
    unknown = sorted(set(values) - set(specs))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise TypeError(
            f"{where}: unknown keyword argument{plural} {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(specs))}"
        )
    resolved = {}
    for name, spec in specs.items():
        resolved[name] = spec.validate(name, values[name]) if name in values else spec.default
    return resolved


def parse_value(text: str) -> Any:
    """A hyperparameter value typed on a command line: int, float, true/false, none/null, else the text.

    >>> [parse_value(t) for t in ["64", "0.5", "1e-3", "true", "None", "max"]]
    [64, 0.5, 0.001, True, None, 'max']
    """
    words = {"true": True, "false": False, "none": None, "null": None}
    if text.strip().lower() in words:
        return words[text.strip().lower()]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()
