"""Hyperparameter search with KerasTuner over any registered model.

Every registered builder declares its search space next to its defaults
(`seqzoo.params.Int(..., search=(lo, hi), sampling="log")`; `seqzoo.info(name)`
shows it). This module turns that declaration into a `keras_tuner.HyperModel`
for a task, and adds what a long search needs:

- **valid combinations only.** Dependent dimensions are sampled together: when
  `heads` must divide `width`, the tuner first samples `heads`, then `width`
  among the multiples of it (a KerasTuner conditional scope per `heads`
  value), so no trial fails on an invalid pair. The rules are declared with
  each model (`register(..., constraints=[Divides("heads", "width")])`).
- **narrowing and widening.** `space={"units": (16, 64), "pool": ["max", "mean"]}`
  (or as text: `{"units": "16:64:log", "pool": "max,mean"}`) replaces or adds a
  dimension's search range; values are checked against the hyperparameter's
  valid range. Errors name the Python arguments (`space['units']`,
  `fixed={...}`, `objective=...`); the recipes translate them into their flags.
- **flat memory.** KerasTuner's memory grows by every trial's whole training
  graph (keras-team/keras-tuner#395, #873). The cause on Keras 3 + TensorFlow:
  the optimizer step traced into `train_function` uses `tf.custom_gradient`,
  which registers a gradient function under a fresh name in TensorFlow's
  global gradient registry and never removes it; its closure holds the trial's
  tensors, hence its graphs and functions. `clear_session(since=...)`, called
  after every trial, clears the Keras session (KerasTuner also does so before
  each build), drops the custom gradients registered during the trial (only
  needed while that trial's functions were traced), collects garbage and
  returns freed heap pages to the OS. Clearing the Keras session also resets
  the global dtype policy: `clear_session` restores it, and seqzoo's
  hypermodel restores it again in `build`, so mixed precision survives.
- **trial records.** Each trial writes `seqzoo_trial.json` (tuner id, epochs,
  seconds) into its KerasTuner trial folder; `trial_rows(tuner)` gives one row
  per trial for a table.
- **distributed search**: KerasTuner's own chief/worker engine, selected by its
  `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`
  environment variables (set them before `make_tuner`). The chief serves the
  oracle; workers run the trials and record none. Every process must see the
  same `directory`.

Example:

>>> import numpy as np, tensorflow as tf
>>> from seqzoo import tuning
>>> x = np.random.rand(64, 8, 2).astype("float32"); y = x[:, -2:, -1:]
>>> data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
>>> hypermodel = tuning.SeqzooHyperModel(
...     "gru", {"inputs": "series", "seq_len": 8, "features": 2,
...             "head": "forecast", "horizon": 2, "targets": 1},
...     space={"units": (4, 16), "depth": (1, 2)}, fixed={"pool": "last", "dropout": 0.0})
>>> tuner = tuning.make_tuner("random", hypermodel, objective="val_mae", max_trials=2,
...                           directory="/tmp/seqzoo-tune-demo", overwrite=True)
>>> tuner.search(data, validation_data=data, epochs=1, verbose=0)
>>> sorted(tuner.get_best_hyperparameters()[0].values)
['depth', 'units']
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import json
import math
import os
import time
from typing import Any, Callable, Mapping, Sequence

import keras
import keras_tuner

from seqzoo import _compat, registry
from seqzoo.heads import loss_and_metrics
from seqzoo.params import Choice, Divides, Float, Int, Param, ParamError, parse_value
from seqzoo.task import TASK_PARAMS

__all__ = [
    "SeqzooHyperModel",
    "SpaceError",
    "TRAINING_PARAMS",
    "TUNERS",
    "clear_session",
    "make_objective",
    "make_tuner",
    "relative_time_limit",
    "search_space",
    "shape_dimension",
    "trial_rows",
]


class SpaceError(ValueError):
    """A search space, objective or tuner setting is unusable; the one-line message says how to fix it."""


# Training settings the tuner may also vary (never searched unless asked for).
TRAINING_PARAMS: dict[str, Param] = {
    "learning_rate": Float(1e-3, low=0.0, low_inclusive=False, high=10.0, sampling="log",
                           help="optimizer learning rate (search it with e.g. 1e-4:1e-2)"),
}

TRIAL_FILE = "seqzoo_trial.json"

# Whether a larger value of a metric is better; used for the tuner objective.
DIRECTIONS = {
    "loss": "min", "mae": "min", "mse": "min", "rmse": "min", "mape": "min",
    "mean_absolute_error": "min", "mean_squared_error": "min", "root_mean_squared_error": "min",
    "accuracy": "max", "auc": "max", "precision": "max", "recall": "max",
    "sparse_categorical_accuracy": "max", "categorical_accuracy": "max", "binary_accuracy": "max",
}


# ----------------------------------------------------------------------------- constraints


# Rules between hyperparameters (e.g. heads divide width) are declared with each
# model (`register(..., constraints=[seqzoo.params.Divides(...)])`); the
# hypermodel samples the divisor first, then the dividend among its multiples.


# ----------------------------------------------------------------------------- search space


def _range_spec(name: str, spec: Param, text: str, where: str) -> Param:
    parts = [p.strip() for p in text.split(":")]
    sampling = spec.sampling
    if len(parts) == 3 and parts[2] in ("linear", "log"):
        sampling = parts.pop()
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise SpaceError(f"{where}: empty range; give 'LO:HI' (e.g. space[{name!r}]='1:4') or values 'A,B,C'")
    numbers = [parse_value(p) for p in parts]
    integral = isinstance(spec, Int)
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, (int, float)) or (
            integral and not isinstance(number, int)
        ):
            raise SpaceError(f"{where}: LO and HI must be {'integers' if integral else 'numbers'}")
    low, high = numbers
    if low > high:
        raise SpaceError(f"{where}: inverted range ({low} > {high}); give LO:HI with LO < HI")
    if low == high:
        raise SpaceError(f"{where}: empty range ({low}:{high}); to fix the value use fixed={{{name!r}: {low!r}}}")
    try:
        low, high = spec.validate(name, low), spec.validate(name, high)
    except ParamError as error:
        raise SpaceError(f"{where}: {error}") from None
    if sampling == "log" and low <= 0:
        raise SpaceError(f"{where}: log sampling needs LO > 0; use space[{name!r}]='{low}:{high}:linear'")
    return dataclasses.replace(spec, search=(low, high), sampling=sampling)


def _values_spec(name: str, spec: Param, values: Sequence[Any], where: str) -> Param:
    checked = []
    for value in values:
        try:
            checked.append(spec.validate(name, value))
        except ParamError as error:
            raise SpaceError(f"{where}: {error}") from None
    if len(set(map(repr, checked))) != len(checked):
        raise SpaceError(f"{where}: a value is repeated; give each value once")
    if not checked:
        raise SpaceError(f"{where}: no value; give 'LO:HI' or values 'A,B,C'")
    if len(checked) < 2:
        raise SpaceError(f"{where}: one value is not a search; to fix it use fixed={{{name!r}: {checked[0]!r}}}")
    if len({type(v) for v in checked}) > 1:
        raise SpaceError(f"{where}: values must all have one type (all numbers or all text)")
    default = spec.default if any(spec.default == v and type(spec.default) is type(v) for v in checked) else checked[0]
    return Choice(default, tuple(checked), search=tuple(checked), help=spec.help)


def _override(name: str, spec: Param, value: Any) -> Param:
    """One dimension of `space=`: text (`"16:64"`, `"a,b"`), a `(lo, hi)` tuple, a list, or a Param."""
    where = f"space[{name!r}]={value!r}"
    if isinstance(value, (Int, Float, Choice)):
        if not value.search:
            raise SpaceError(f"{where}: the Param needs search=...")
        return value
    if isinstance(value, str):
        if not value.strip():
            raise SpaceError(f"{where}: empty; give LO:HI or A,B,C")
        if ":" in value:
            if isinstance(spec, Choice):
                raise SpaceError(f"{where}: {name} is a choice; give values, e.g. "
                                 f"space[{name!r}]={','.join(map(str, spec.values))!r}")
            return _range_spec(name, spec, value, where)
        return _values_spec(name, spec, [parse_value(v) for v in value.split(",") if v.strip()], where)
    if isinstance(value, tuple) and len(value) == 2 and not isinstance(spec, Choice):
        return _range_spec(name, spec, f"{value[0]}:{value[1]}", where)
    if isinstance(value, (list, tuple)):
        return _values_spec(name, spec, list(value), where)
    raise SpaceError(f"{where}: give (lo, hi), a list of values or a text like '16:64'")


def _span(span: float | Mapping[str, float] | None, name: str) -> float | None:
    if isinstance(span, Mapping):
        span = span.get(name, span.get("*"))
    if span is not None and not span >= 1:
        raise SpaceError(f"span={span!r} for {name}: a centred range reaches value/span..value*span; give span >= 1")
    return span


def _clip(spec: Int | Float, value: float, inner: float) -> float:
    """`value` moved to the nearest valid value on its side of `inner` (a valid value)."""
    if _valid(spec, value):
        return value
    bound = spec.low if value < inner else spec.high
    if bound is not None and _valid(spec, bound):
        return bound
    end = spec.search[0] if value < inner else spec.search[1]  # an exclusive bound: the declared end
    return end if (end - inner) * (value - inner) > 0 and _valid(spec, end) else inner


def _holds(spec: Param, value: Any) -> bool:
    """Whether `value` lies in `spec`'s search range (or among its searched values)."""
    if value is None or not spec.search:
        return False
    if isinstance(spec, Choice):
        return any(value == v and type(value) is type(v) for v in spec.search)
    return not isinstance(value, bool) and isinstance(value, (int, float)) and \
        spec.search[0] <= value <= spec.search[1] and _valid(spec, value)


def _valid(spec: Param, value: Any) -> bool:
    try:
        spec.validate("x", value)
    except ParamError:
        return False
    return True


def shape_dimension(name: str, spec: Param, value: Any, span: float | None = None) -> Param | None:
    """`spec`'s search range reshaped to contain `value` (e.g. a recipe's default); `None`: nothing left to search.

    A log-sampled numeric range is centred on `value`: `value / span ..
    value * span`, clipped to the valid range; `span` defaults to the square
    root of the declared range's ratio (the declared width, centred). A
    linear range, a log range around a value <= 0, or a choice is widened to
    include `value`. A value outside the valid range, or `None`, leaves the
    dimension as declared.

    Example:

    >>> from seqzoo import registry
    >>> shape_dimension("units", registry.get("gru").params["units"], 16).describe()
    'int, default 16, valid [1, 8192], search 4..64 (log)'
    >>> shape_dimension("depth", registry.get("gru").params["depth"], 6).search
    (1, 6)
    """
    if value is None or not spec.search or not _valid(spec, value):
        return spec
    if isinstance(spec, Choice):
        values = tuple(spec.search)
        if not any(value == v and type(value) is type(v) for v in values):
            values = (*values, value)
        return dataclasses.replace(spec, default=value, search=values)
    low, high = spec.search
    if spec.sampling == "log" and value > 0:
        reach = span if span is not None else math.sqrt(high / low)
        low, high = value / reach, value * reach
        if isinstance(spec, Int):
            low, high = math.floor(low + 0.5), math.floor(high + 0.5)
        low, high = _clip(spec, low, value), _clip(spec, high, value)
    else:
        low, high = min(low, value), max(high, value)
    if low == high:
        return None
    sampling = spec.sampling if low > 0 else "linear"
    return dataclasses.replace(spec, default=value, search=(low, high), sampling=sampling)


def search_space(
    model: str,
    space: Mapping[str, Any] | None = None,
    *,
    fixed: Sequence[str] = (),
    around: Mapping[str, Any] | None = None,
    span: float | Mapping[str, float] | None = None,
) -> dict[str, Param]:
    """The dimensions a search of `model` varies, each a Param with `.search` set.

    The model's declared search space, without the names in `fixed`, with
    `space` replacing or adding dimensions (any of the model's hyperparameters
    or `learning_rate`). With `around` (e.g. a recipe's defaults), every
    declared dimension not in `space` is shaped to contain its value there
    (`shape_dimension`: log ranges centred on it, others widened to it), so
    the search can find it; `space` is taken as given.

    Args:
        model: a registered model name.
        space: `{name: "LO:HI" | "LO:HI:log" | "A,B,C" | (lo, hi) | [a, b, c] | Param}`.
        fixed: names the caller fixes (not searched); naming one in `space` too is an error.
        around: `{name: value}`: the values the declared dimensions must contain.
        span: how far a centred log range reaches each side of its value
            (`value / span .. value * span`): a number, or `{name: number, "*": number}`;
            default: the square root of the declared range's ratio.

    Raises:
        SpaceError: unknown name, empty/inverted/out-of-range range, nothing to search.

    Example:

    >>> sorted(search_space("gru", {"units": "16:64"}, fixed=["pool"]))
    ['depth', 'dropout', 'units']
    >>> search_space("gru", around={"units": 16}, span=2)["units"].search
    (8, 32)
    """
    entry = registry.get(model)
    space = dict(space or {})
    known = {**entry.params, **TRAINING_PARAMS}
    unknown = sorted(set(space) - set(known))
    if unknown:
        task = [k for k in unknown if k in TASK_PARAMS]
        hint = f" ({', '.join(task)}: a task keyword, fixed by the task)" if task else ""
        raise SpaceError(
            f"space: {model} has no hyperparameter {', '.join(map(repr, unknown))}{hint}; "
            f"searchable: {', '.join(known)}"
        )
    both = sorted(set(space) & set(fixed))
    if both:
        raise SpaceError(f"space[{both[0]!r}] and fixed[{both[0]!r}] both given; search it or fix it, not both")
    result: dict[str, Param] = {}
    for name, spec in known.items():
        if name in space:
            result[name] = _override(name, spec, space[name])
            if around is not None and _holds(result[name], around.get(name)):
                result[name] = dataclasses.replace(result[name], default=around[name])  # as given, from the default
        elif spec.search and name not in fixed and name in entry.params:
            if around is not None and name in around:
                spec = shape_dimension(name, spec, around[name], _span(span, name))
                if spec is None:
                    continue
            result[name] = spec
    if not result:
        raise SpaceError(f"nothing to search: {model} declares no search space here; "
                         "add a dimension, e.g. space={KEY: 'LO:HI'}")
    return result


def _candidates(spec: Param) -> list[Any]:
    """Every value a dimension can take (divisor dimensions must be finite)."""
    if isinstance(spec, Choice):
        return list(spec.search)
    if isinstance(spec, Int):
        low, high = spec.search
        step = spec.step if spec.sampling == "linear" else 1
        return list(range(low, high + 1, step))
    raise SpaceError(f"a divisor hyperparameter must be an integer, not {spec.describe()}")


def _multiples(spec: Param, multiple: int) -> list[int]:
    if isinstance(spec, Choice):
        return [v for v in spec.search if isinstance(v, int) and v % multiple == 0]
    low, high = spec.search
    first = -(-low // multiple) * multiple
    return list(range(first, high + 1, multiple))


def _log_grid(values: list[int]) -> list[int]:
    """About four values per octave, each the nearest allowed value (log-uniform over a Choice)."""
    if len(values) <= 2:
        return values
    low, high = values[0], values[-1]
    count = 1 + math.ceil(4 * math.log2(high / low))
    grid = set()
    for i in range(count):
        target = low * (high / low) ** (i / (count - 1))
        grid.add(min(values, key=lambda v: abs(math.log(v / target))))
    return sorted(grid)


# ----------------------------------------------------------------------------- hypermodel


def _declare(hp: Any, name: str, spec: Param) -> Any:
    """Declare one dimension on a KerasTuner `HyperParameters`; returns its value (None if inactive)."""
    default = spec.default
    if isinstance(spec, Choice):
        values = list(spec.search)
        return hp.Choice(name, values, default=default if default in values else values[0])
    low, high = spec.search
    inside = default is not None and low <= default <= high
    if isinstance(spec, Int):
        step = spec.step if spec.sampling == "linear" else None
        return hp.Int(name, low, high, step=step, sampling=spec.sampling, default=default if inside else None)
    return hp.Float(name, float(low), float(high), sampling=spec.sampling,
                    default=float(default) if inside else None)


class SeqzooHyperModel(keras_tuner.HyperModel):
    """A `keras_tuner.HyperModel` for a registered seqzoo model on one task.

    Args:
        model: a registered model name (`seqzoo.list_models()`).
        task: seqzoo task keywords (`inputs`, `seq_len`, `head`, ...; see
            `seqzoo.task`), the same for every trial.
        space: narrows, widens or adds dimensions (see `search_space`).
        fixed: hyperparameters kept fixed in every trial: they leave the search
            (naming one in `space` too is an error).
        defaults: values of the hyperparameters that are not searched (e.g. a
            recipe's defaults); unlike `fixed`, they do not stop a search.
        centre: shape the declared dimensions around `defaults` (`search_space(around=)`):
            every searched range contains its default, which is then the
            dimension's KerasTuner default (the first trial of `make_tuner`'s tuners).
        span: how far a centred log range reaches (`search_space(span=)`).
        learning_rate: Adam's learning rate unless `learning_rate` is searched.
        optimizer: `fn(learning_rate) -> keras optimizer`; default Adam.
        loss, metrics: for `compile`; default `seqzoo.heads.loss_and_metrics`
            for the task's head.
        fit: `fn(model, *args, **kwargs) -> History` that trains a trial
            (e.g. `seqzoo.distribute.fit`); default `model.fit`.
        seed: reseeds Keras before every build, so a configuration always
            starts from the same weights; `None` leaves the seed alone.
        dtype_policy: the Keras dtype policy restored before every build
            (clearing the Keras session resets it); default: the global policy now.

    Example:

    >>> hm = SeqzooHyperModel("transformer", {"inputs": "tokens", "vocab_size": 50},
    ...                       space={"width": "8:32", "heads": "1:4", "depth": "1:2"})
    >>> hp = keras_tuner.HyperParameters()
    >>> model = hm.build(hp)
    >>> hm.values(hp)["width"] % hm.values(hp)["heads"]
    0
    """

    def __init__(
        self,
        model: str,
        task: Mapping[str, Any] | None = None,
        *,
        space: Mapping[str, Any] | None = None,
        fixed: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        learning_rate: float = 1e-3,
        optimizer: Callable[[float], Any] | None = None,
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        fit: Callable[..., Any] | None = None,
        seed: int | None = None,
        dtype_policy: str | None = None,
        name: str | None = None,
        centre: bool = False,
        span: float | Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(name=name or f"seqzoo_{model}")
        self.model_name = model
        self.entry = registry.get(model)
        self.task = dict(task or {})
        base = {**dict(defaults or {}), **dict(fixed or {})}
        unknown = sorted(set(base) - set(self.entry.params) - set(TASK_PARAMS) - set(TRAINING_PARAMS))
        if unknown:
            raise SpaceError(f"{model} has no hyperparameter {', '.join(map(repr, unknown))}; "
                             f"valid: {', '.join(self.entry.params)}")
        try:
            for key, value in base.items():
                if key in self.entry.params:
                    self.entry.params[key].validate(key, value)
        except ParamError as error:
            raise SpaceError(str(error)) from None
        self.learning_rate = float(base.pop("learning_rate", learning_rate))
        around = {**base, "learning_rate": self.learning_rate} if centre else None
        self.space = search_space(model, space, fixed=list(fixed or {}), around=around, span=span)
        # Keyword arguments of every build besides the searched ones.
        self.fixed = {k: v for k, v in base.items() if k not in self.space}
        self.constraints = registry.get(model).constraints
        self._check_constraints()
        self._optimizer = optimizer or (lambda lr: keras.optimizers.Adam(lr))
        default_loss, default_metrics = loss_and_metrics(
            self.task.get("head", "classification"), self.task.get("num_classes", 2)
        )
        self.loss = loss if loss is not None else default_loss
        self.metrics = list(metrics) if metrics is not None else default_metrics
        self._fit = fit
        self.seed = seed
        self.dtype_policy = dtype_policy or keras.mixed_precision.global_policy().name

    # -- space

    def _check_constraints(self) -> None:
        for rule in self.constraints:
            divisor, dividend = self.space.get(rule.divisor), self.space.get(rule.dividend)
            if divisor is None and dividend is None:
                values = {name: self._fixed_value(name) for name in (rule.divisor, rule.dividend)}
                if not rule.holds(values):
                    raise SpaceError(
                        f"{self.model_name}: {rule.describe()} ({rule.divisor}={values[rule.divisor]}, "
                        f"{rule.dividend}={values[rule.dividend]}); fix one of them"
                    )
                continue
            for value in _candidates(divisor) if divisor is not None else [self._fixed_value(rule.divisor)]:
                options = (
                    _multiples(dividend, rule.multiple(value)) if dividend is not None
                    else [self._fixed_value(rule.dividend)] if rule.holds(
                        {rule.divisor: value, rule.dividend: self._fixed_value(rule.dividend)}) else []
                )
                if not options and divisor is not None and dividend is None:
                    continue  # this divisor value is dropped (it does not divide the fixed dividend)
                if not options:
                    raise SpaceError(
                        f"space: no {rule.dividend} in the searched range fits {rule.divisor}={value} "
                        f"({rule.describe()}); widen {rule.dividend} or narrow {rule.divisor}"
                    )
            if divisor is not None and dividend is None and not self._divisors(rule):
                raise SpaceError(
                    f"space[{rule.divisor!r}]: no value divides {rule.factor * self._fixed_value(rule.dividend)} "
                    f"({rule.describe()}); change the range or {rule.dividend}"
                )

    def _fixed_value(self, name: str) -> Any:
        return self.fixed.get(name, self.entry.params[name].default)

    def _divisors(self, rule: Divides) -> list[int]:
        target = rule.factor * int(self._fixed_value(rule.dividend))
        return [v for v in _candidates(self.space[rule.divisor]) if target % v == 0]

    def declare_hyperparameters(self, hp: Any) -> dict[str, Any]:
        """Declare the whole search space on `hp`; returns the active values.

        A dividend (e.g. `width`) is declared once per divisor value, in a
        conditional scope and over the valid multiples only, under the name
        `width|heads=4` (KerasTuner drops the value of a name shared by
        conditional hyperparameters); `decode` maps the names back.
        """
        dividends = {rule.dividend: rule for rule in self.constraints}
        divisors = {rule.divisor: rule for rule in self.constraints}
        values: dict[str, Any] = {}
        order = sorted(self.space, key=lambda n: n in dividends and dividends[n].divisor in self.space)
        for name in order:
            spec = self.space[name]
            rule = dividends.get(name)
            if rule is not None and rule.divisor in self.space:
                for value in _candidates(self.space[rule.divisor]):
                    options = _multiples(spec, rule.multiple(value))
                    with hp.conditional_scope(rule.divisor, [value]):
                        sampled = _declare(hp, f"{name}|{rule.divisor}={value}", self._restricted(spec, options))
                    if sampled is not None:
                        values[name] = sampled
            elif rule is not None:  # divisor fixed: multiples of it only
                options = _multiples(spec, rule.multiple(int(self._fixed_value(rule.divisor))))
                values[name] = _declare(hp, name, self._restricted(spec, options))
            elif name in divisors and divisors[name].dividend not in self.space:
                options = self._divisors(divisors[name])
                values[name] = _declare(hp, name, Choice(options[0], tuple(options), search=tuple(options)))
            else:
                values[name] = _declare(hp, name, spec)
        return values

    @staticmethod
    def _restricted(spec: Param, options: list[int]) -> Param:
        """`spec` limited to `options` (the valid multiples), keeping its sampling."""
        if len(options) == 1:
            return Choice(options[0], tuple(options), search=tuple(options))
        if isinstance(spec, Int) and spec.sampling == "linear":
            step = options[1] - options[0]
            default = spec.default if spec.default in options else None
            return dataclasses.replace(spec, search=(options[0], options[-1]), step=step, default=default)
        if isinstance(spec, Int):
            grid = _log_grid(options)
            options = sorted({*grid, spec.default}) if spec.default in options else grid  # the default stays
        default = spec.default if spec.default in options else options[0]
        return Choice(default, tuple(options), search=tuple(options))

    def values(self, hp: Any) -> dict[str, Any]:
        """The searched values of a trial (`hp`): model hyperparameters and `learning_rate`."""
        return {k: v for k, v in self.declare_hyperparameters(hp).items() if v is not None}

    def default_values(self) -> dict[str, Any]:
        """The configuration of the first trial (`make_tuner(defaults_first=True)`): every dimension's default.

        Example:

        >>> SeqzooHyperModel("gru", defaults={"units": 16}, centre=True).default_values()["units"]
        16
        """
        return self.values(keras_tuner.HyperParameters())

    def decode(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """KerasTuner's active values (e.g. `trial.hyperparameters.values`) by hyperparameter name.

        Example:

        >>> SeqzooHyperModel("transformer").decode({"heads": 2, "width|heads=2": 96, "tuner/epochs": 3})
        {'width': 96, 'heads': 2}
        """
        decoded = {}
        for key, value in values.items():
            name = key.split("|", 1)[0]
            if name in self.space:
                decoded[name] = value
        return {name: decoded[name] for name in self.space if name in decoded}

    # -- build and fit

    def build(self, hp: Any) -> keras.Model:
        """Build and compile one configuration (inside the tuner's strategy scope)."""
        values = self.values(hp)
        keras.mixed_precision.set_global_policy(self.dtype_policy)  # clear_session reset it
        if self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        learning_rate = values.pop("learning_rate", self.learning_rate)
        model = _build(self.model_name, {**self.task, **self.fixed, **values})
        model.compile(optimizer=self._optimizer(learning_rate), loss=self.loss, metrics=self.metrics)
        return model

    def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        if self._fit is not None:
            return self._fit(model, *args, **kwargs)
        return model.fit(*args, **kwargs)

    def metric_names(self) -> list[str]:
        """Names of the compiled metrics (`loss` first), as they appear in the History."""
        names = ["loss"]
        for metric in self.metrics:
            names.append(metric if isinstance(metric, str) else getattr(metric, "name", str(metric)))
        return names


def _build(name: str, kwargs: dict[str, Any]) -> keras.Model:
    from seqzoo.factory import build

    return build(name, **kwargs)


# ----------------------------------------------------------------------------- objective


def make_objective(name: str, metric_names: Sequence[str]) -> keras_tuner.Objective:
    """A validation objective (`val_<metric>`) with its direction.

    Tuning selects on validation data only: a test metric, a training metric
    or a metric the model does not compute raises `SpaceError`.

    Example:

    >>> make_objective("val_accuracy", ["loss", "accuracy"]).direction
    'max'
    """
    valid = [f"val_{m}" for m in metric_names]
    if name.startswith("test"):
        raise SpaceError(
            f"objective={name!r}: a test metric would select on the test set; use one of {', '.join(valid)}"
        )
    if not name.startswith("val_"):
        raise SpaceError(f"objective={name!r}: not a validation metric; use one of {', '.join(valid)}")
    if name not in valid:
        raise SpaceError(f"objective={name!r}: the model does not compute it; use one of {', '.join(valid)}")
    metric = name[len("val_"):]
    direction = DIRECTIONS.get(metric)
    if direction is None:
        raise SpaceError(f"objective={name!r}: unknown direction; pass keras_tuner.Objective({name!r}, 'min' or 'max')")
    return keras_tuner.Objective(name, direction)


# ----------------------------------------------------------------------------- memory


def _malloc_trim() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def custom_gradients() -> frozenset[str]:
    """Names of the `tf.custom_gradient` functions registered so far (pass to `clear_session(since=)`)."""
    names = _compat.gradient_registry() or {}
    return frozenset(k for k in names if isinstance(k, str) and k.startswith("CustomGradient-"))


def clear_session(since: frozenset[str] | None = None) -> None:
    """Free the last trial: Keras session (dtype policy kept), custom gradients, garbage, heap.

    Args:
        since: `custom_gradients()` taken when the trial started; the custom
            gradients registered after it are dropped (TensorFlow only reads
            them while tracing, and they hold the trial's graphs). `None`
            keeps them all.

    Example:

    >>> keras.mixed_precision.set_global_policy("mixed_bfloat16")
    >>> clear_session(); keras.mixed_precision.global_policy().name
    'mixed_bfloat16'
    >>> keras.mixed_precision.set_global_policy("float32")
    """
    policy = keras.mixed_precision.global_policy().name
    keras.backend.clear_session(free_memory=False)
    keras.mixed_precision.set_global_policy(policy)
    registry_ = _compat.gradient_registry()
    if since is not None and registry_ is not None:
        for name in custom_gradients() - since:
            registry_.pop(name, None)
    gc.collect()
    _malloc_trim()


# ----------------------------------------------------------------------------- tuners


def _write_json(path: str, obj: Any) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as handle:
        json.dump(obj, handle, indent=2)
    os.replace(tmp, path)


class _TimeLimit(keras.callbacks.Callback):
    """Stops training once `deadline` (`time.perf_counter()`) has passed, after the current batch;
    Keras still validates the cut epoch, so the trial keeps its best score so far."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline
        self.stopped = False

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if time.perf_counter() > self.deadline:
            self.model.stop_training = True
            self.stopped = True

    def __deepcopy__(self, memo: Any) -> "_TimeLimit":
        return self  # KerasTuner copies a trial's callbacks per execution; the deadline is the trial's


class _DefaultsFirst(_compat.FirstDrawHook):
    """Mixed into KerasTuner's oracles: the first configuration drawn is every dimension's default
    (`SeqzooHyperModel(centre=True)`: the run's own defaults); then the oracle's own draws."""

    defaults_first = True

    def first_values(self) -> dict[str, Any] | None:
        if not self.defaults_first:
            return None
        hps = keras_tuner.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):
                hps.values[hp.name] = hp.default
        return hps.values


class _RandomSearchOracle(_DefaultsFirst, keras_tuner.oracles.RandomSearchOracle):
    pass


class _BayesianOptimizationOracle(_DefaultsFirst, keras_tuner.oracles.BayesianOptimizationOracle):
    pass


class _HyperbandOracle(_DefaultsFirst, keras_tuner.oracles.HyperbandOracle):
    pass


class _SeqzooTuner(_compat.TunerSpaceHook):
    """Mixed into KerasTuner's tuners: the defaults as first trial, cheap space set-up, a per-trial
    time limit, trial records, per-trial cleanup."""

    oracle_class: type = _RandomSearchOracle
    on_trial_recorded: Callable[[Any, Any], None] | None = None
    trial_seconds: float | Callable[[Any, Any, int | None], float | None] | None = None
    _gradients_before: frozenset[str] | None = None

    def __init__(self, hypermodel: Any = None, *, defaults_first: bool = True,
                 trial_seconds: float | Callable[[Any, Any, int | None], float | None] | None = None,
                 **kwargs: Any) -> None:
        # KerasTuner's RandomSearch/BayesianOptimization/Hyperband __init__ only builds its oracle
        # and passes the rest to Tuner: build ours (the same oracle, defaults first) instead.
        accepted = inspect.signature(self.oracle_class.__init__).parameters
        oracle = self.oracle_class(**{k: kwargs.pop(k) for k in list(kwargs) if k in accepted and k != "self"})
        oracle.defaults_first = defaults_first
        self.trial_seconds = trial_seconds
        keras_tuner.Tuner.__init__(self, oracle, hypermodel, **kwargs)

    def populate_space(self) -> bool:
        if not isinstance(self.hypermodel, SeqzooHyperModel):
            return False
        # The hypermodel declares every conditional scope itself: no trial builds needed.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)
        return True

    def on_trial_begin(self, trial: Any) -> None:
        super().on_trial_begin(trial)
        self._gradients_before = custom_gradients()

    def time_limit(self, trial: Any, epochs: int | None = None) -> float | None:
        """This trial's training time limit in seconds (`trial_seconds`; None: no limit);
        `epochs`: the epochs it may train."""
        limit = self.trial_seconds(self, trial, epochs) if callable(self.trial_seconds) else self.trial_seconds
        return float(limit) if limit else None

    def first_trial_record(self) -> dict[str, Any] | None:
        """The record (`seqzoo_trial.json`: seconds, epochs, ...) of the search's first trial, once it ran."""
        ids = []
        for entry in os.listdir(self.project_dir) if os.path.isdir(self.project_dir) else []:
            if entry.startswith("trial_") and entry[len("trial_"):].isdigit():
                ids.append(entry[len("trial_"):])
        if not ids:
            return None
        path = os.path.join(self.project_dir, f"trial_{min(ids, key=int)}", TRIAL_FILE)
        try:
            with open(path) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        record = {"trial_id": trial.trial_id, "tuner_id": self.tuner_id, "epochs": None}
        values = trial.hyperparameters.values
        epochs = (values["tuner/epochs"] - values.get("tuner/initial_epoch", 0) if "tuner/epochs" in values
                  else kwargs.get("epochs"))
        limit = self.time_limit(trial, epochs)
        stopper = None
        if limit is not None:
            stopper = _TimeLimit(start + limit)
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), stopper]
            record["time_limit"] = round(limit, 3)
        try:
            results = super().run_trial(trial, *args, **kwargs)
            epochs = [len(getattr(r, "epoch", []) or []) for r in results] if isinstance(results, list) else []
            record["epochs"] = max(epochs) if epochs else None
            record["executions"] = len(epochs)
            return results
        finally:
            record["seconds"] = round(time.perf_counter() - start, 3)
            record["stopped"] = "time" if stopper is not None and stopper.stopped else None
            _write_json(os.path.join(self.get_trial_dir(trial.trial_id), TRIAL_FILE), record)

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)
        clear_session(since=self._gradients_before)  # frees this trial's model, graphs and functions
        if self.on_trial_recorded is not None and not _compat.tuner_is_worker(self):
            self.on_trial_recorded(self, trial)


def relative_time_limit(factor: float = 2.0) -> Callable[[Any, Any, int | None], float | None]:
    """A `trial_seconds` policy for `make_tuner`: `factor` times the first trial's seconds per epoch
    (with `defaults_first`: the default configuration), times the epochs a trial may train.

    The first trial itself, and every trial while the first has no usable record
    (still running, failed, cut), runs without a limit.

    Example:

    >>> policy = relative_time_limit(2.0)
    >>> class Done:  # a tuner whose first trial trained 4 epochs in 100 s
    ...     def first_trial_record(self): return {"trial_id": "0", "seconds": 100.0, "epochs": 4}
    >>> policy(Done(), None, 6)
    300.0
    """
    if not factor > 0:
        raise SpaceError(f"relative_time_limit(factor={factor!r}): give a factor > 0")

    def limit(tuner: Any, trial: Any, epochs: int | None) -> float | None:
        record = tuner.first_trial_record()
        if not record or (trial is not None and record.get("trial_id") == trial.trial_id):
            return None
        seconds, done = record.get("seconds"), record.get("epochs")
        if not seconds or not done or record.get("stopped"):
            return None
        return factor * seconds / done * (epochs or done)

    return limit


class RandomSearch(_SeqzooTuner, keras_tuner.RandomSearch):
    """`keras_tuner.RandomSearch` with seqzoo's defaults-first trial, time limit, records and cleanup."""

    oracle_class = _RandomSearchOracle


class BayesianOptimization(_SeqzooTuner, keras_tuner.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` (needs scikit-learn) with seqzoo's defaults first, limit, records."""

    oracle_class = _BayesianOptimizationOracle


class Hyperband(_SeqzooTuner, keras_tuner.Hyperband):
    """`keras_tuner.Hyperband` with seqzoo's defaults-first trial, time limit, records and cleanup."""

    oracle_class = _HyperbandOracle


TUNERS: dict[str, type] = {
    "random": RandomSearch,
    "bayesian": BayesianOptimization,
    "hyperband": Hyperband,
}


def make_tuner(
    kind: str,
    hypermodel: keras_tuner.HyperModel,
    *,
    objective: str | keras_tuner.Objective = "val_loss",
    max_trials: int | None = 10,
    max_epochs: int | None = None,
    executions_per_trial: int = 1,
    directory: str = "tuning",
    project_name: str = "keras_tuner",
    overwrite: bool = False,
    distribution_strategy: Any = None,
    seed: int | None = None,
    defaults_first: bool = True,
    trial_seconds: float | Callable[[Any], float | None] | None = None,
    **kwargs: Any,
) -> keras_tuner.Tuner:
    """A KerasTuner tuner of `kind` (`"random"`, `"bayesian"` or `"hyperband"`).

    Args:
        kind: a key of `TUNERS`.
        hypermodel: usually a `SeqzooHyperModel`.
        objective: a validation metric name (checked against the hypermodel's
            metrics) or a `keras_tuner.Objective`.
        max_trials: trials in all (every tuner; caps Hyperband's brackets too).
        max_epochs: Hyperband's largest epoch budget per trial (required there,
            ignored otherwise).
        executions_per_trial: trainings per configuration (their scores are averaged).
        directory, project_name: where KerasTuner keeps its state; an existing
            project is reloaded (finished trials are never rerun) unless `overwrite`.
        distribution_strategy: every trial is built and trained under it.
        seed: the oracle's sampling seed.
        defaults_first: the first trial is every dimension's default (with
            `SeqzooHyperModel(centre=True)`, the caller's defaults), then the
            oracle's own draws (random; Bayesian initial points; a Hyperband bracket).
        trial_seconds: a trial's training stops after this many seconds (after the
            batch running then; the cut epoch is still validated, so the trial keeps
            its best score so far): a number, or `fn(tuner, trial, epochs) -> seconds | None`
            asked as each trial starts (e.g. `relative_time_limit(2)`); `None`: no limit. Recorded in trial_rows
            (`time_limit`, `stopped`).
        **kwargs: passed to the tuner (e.g. `num_initial_points`, `factor`).

    Raises:
        SpaceError: unknown kind, bad counts, an objective the model does not
            compute, or Bayesian search without scikit-learn.
    """
    if kind not in TUNERS:
        raise SpaceError(f"unknown tuner {kind!r}; choose one of {', '.join(TUNERS)}")
    if max_trials is not None and max_trials < 1:
        raise SpaceError(f"max_trials={max_trials} must be >= 1")
    if executions_per_trial < 1:
        raise SpaceError(f"executions_per_trial={executions_per_trial} must be >= 1")
    if isinstance(objective, str) and isinstance(hypermodel, SeqzooHyperModel):
        objective = make_objective(objective, hypermodel.metric_names())
    options: dict[str, Any] = dict(
        hypermodel=hypermodel, objective=objective, executions_per_trial=executions_per_trial,
        directory=directory, project_name=project_name, overwrite=overwrite,
        distribution_strategy=distribution_strategy, seed=seed, defaults_first=defaults_first,
        trial_seconds=trial_seconds, **kwargs,
    )
    if kind == "hyperband":
        if not max_epochs or max_epochs < 1:
            raise SpaceError("hyperband needs max_epochs >= 1 (the largest epoch budget of a trial)")
        options["max_epochs"] = max_epochs
    else:
        options["max_trials"] = max_trials
    if kind == "bayesian":
        try:
            import scipy  # noqa: F401
            import sklearn  # noqa: F401
        except ImportError:
            raise SpaceError("kind='bayesian' needs scikit-learn: pip install scikit-learn") from None
    tuner = TUNERS[kind](**options)
    if kind == "hyperband" and max_trials:
        tuner.oracle.max_trials = max_trials  # Oracle.create_trial stops there
    _forget_finished_retries(tuner.oracle)
    return tuner


def _forget_finished_retries(oracle: Any) -> None:
    """A reloaded oracle retries every trial it saved as ongoing; a finished one is never rerun.

    (KerasTuner saves the oracle before it pops the ended trial; a distributed
    chief never saves it again, so its last trial would be rerun on resume.)
    """
    queue = _compat.retry_queue(oracle)
    trials = getattr(oracle, "trials", None)
    if not queue or trials is None:
        return
    finished = {"COMPLETED", "FAILED"}
    _compat.set_retry_queue(oracle, [t for t in queue if t not in trials or trials[t].status not in finished])


# ----------------------------------------------------------------------------- results


def trial_rows(tuner: keras_tuner.Tuner, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per trial of `tuner`'s oracle, in trial order.

    Columns: `trial_id`, `status`, `score`, `epochs`, `seconds`, `tuner_id`,
    then one per hyperparameter (`names`, default: the hypermodel's space),
    `time_limit` (seconds; empty: none), `stopped` (`time`: the limit cut its training),
    `from_trial` (Hyperband continues an earlier trial's weights) and `error`
    (the last line of a failed trial's error).
    """
    hypermodel = tuner.hypermodel
    if names is None:
        space = getattr(hypermodel, "space", None)
        names = list(space) if space else []
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        values = dict(trial.hyperparameters.values)
        if isinstance(hypermodel, SeqzooHyperModel):
            values.update(hypermodel.decode(values))
        record: dict[str, Any] = {}
        path = os.path.join(tuner.project_dir, f"trial_{trial_id}", TRIAL_FILE)
        if os.path.isfile(path):
            try:
                with open(path) as handle:
                    record = json.load(handle)
            except (OSError, ValueError):
                record = {}
        epochs = record.get("epochs")
        if epochs is None and "tuner/epochs" in values:
            epochs = values["tuner/epochs"] - values.get("tuner/initial_epoch", 0)
        row = {
            "trial_id": trial_id,
            "status": trial.status,
            "score": trial.score,
            "epochs": epochs,
            "seconds": record.get("seconds"),
            "tuner_id": record.get("tuner_id"),
        }
        row.update({name: values.get(name) for name in names})
        row["time_limit"] = record.get("time_limit")
        row["stopped"] = record.get("stopped")
        row["from_trial"] = values.get("tuner/trial_id")
        message = (trial.message or "").strip().splitlines()
        row["error"] = message[-1] if message and trial.status != "COMPLETED" else None
        rows.append(row)
    return rows
