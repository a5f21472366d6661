"""Typed run configurations: `RunConfig` (every recipe's shared settings) and one subclass per recipe.

A recipe's options are the fields of its config dataclass (`ImdbConfig(RunConfig)`
adds `max_tokens`, `seq_len`, ...); the dataclass defaults are the defaults, and
one table, `Recipe.config_by_model`, overrides them for a model:

    @dataclasses.dataclass
    class ImdbConfig(RunConfig):
        model: str = "bilstm"
        epochs: int = 2
        seq_len: int = 800

    config_by_model = {"hopfield": {"seq_len": 1600}}

`resolve` is the one place a configuration is assembled, in this order (later
wins): the dataclass defaults < `config_by_model[model]` < the values given (on
the command line, or by a Python caller). argparse only fills a config
(`recipes.cli`): every flag's `dest` is a field and every field (except the few
marked `flag=False`) is a flag, so config.json's `"flags"` (`as_flags`) keeps
exactly the keys the command line had. Derived configurations (a tuning trial,
the best configuration) are `dataclasses.replace(config, ...)`.

Example:

>>> @dataclasses.dataclass
... class ToyConfig(RunConfig):
...     seq_len: int = 10
>>> config = resolve(ToyConfig, {"model": "lstm"}, {"lstm": {"seq_len": 20, "epochs": 3}})
>>> config.seq_len, config.epochs, config.batch_size
(20, 3, 64)
>>> dataclasses.replace(config, learning_rate=0.01).learning_rate
0.01
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from recipes.rundir import UsageError, flags_for_config as as_flags  # noqa: F401  (config.json's "flags")

__all__ = ["RunConfig", "as_flags", "check_overrides", "default_text", "defaults", "flag_names", "resolve"]


@dataclasses.dataclass
class RunConfig:
    """The settings every recipe shares (its flags; `python -m recipes.<name> --help`).

    Args:
        model: a registered seqzoo model.
        epochs: training epochs.
        batch_size: the GLOBAL batch, split across the strategy's replicas.
        learning_rate: the optimizer's (base) learning rate.
        set: `KEY=VALUE` model hyperparameters (`--set`), parsed by `runner.parse_set`.
        data_dir: a local copy of the data (None: the recipe's download).
        out: the run directory (None: `runs/<recipe>-<model>-<timestamp>`).
        overwrite: start over in an `out` that holds a run.
        seed: seeds splits, shuffling and weights.
        no_determinism: skip op determinism.
        limit: cap the examples of every split.
        strategy: the `tf.distribute` strategy name.
        mixed_precision: mixed precision policy.
        quiet: no progress output.
        tune, tuner, max_trials, max_epochs, executions_per_trial, objective, space, trial_seconds,
        tuner_id, oracle_ip, oracle_port: the hyperparameter search (`recipes.tuning`).
        recipe_name: the recipe's name (error and warning lines); not a flag, not recorded.
        given: the names of the settings given (on the command line or to `resolve`); the
            others hold their defaults, which `recipes.budget` may adapt to the data. None
            (a config built directly): every setting counts as given. Not a flag.
        adapted: `{name: {"default", "chosen", "reason"}}`, the defaults `recipes.budget`
            replaced by values chosen from the data; config.json's `"flags"` keep the
            defaults (a rerun, before reading the data, matches them). Not a flag.

    Example:

    >>> RunConfig(epochs=3).batch_size
    64
    """

    model: str = "bilstm"
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 1e-3
    set: list[str] = dataclasses.field(default_factory=list)
    data_dir: str | None = None
    out: str | None = None
    overwrite: bool = False
    seed: int = 42
    no_determinism: bool = False
    limit: int | None = None
    strategy: str = "auto"
    mixed_precision: bool = False
    quiet: bool = False
    # the hyperparameter search (recipes.tuning adds these flags)
    tune: bool = False
    tuner: str = "random"
    max_trials: int = 10
    max_epochs: int | None = None
    executions_per_trial: int = 1
    objective: str = "val_loss"
    space: list[str] = dataclasses.field(default_factory=list)
    trial_seconds: float | None = None
    tuner_id: str | None = None
    oracle_ip: str | None = None
    oracle_port: int | None = None
    recipe_name: str = dataclasses.field(default="recipe", repr=False, metadata={"flag": False})
    given: frozenset[str] | None = dataclasses.field(default=None, repr=False, compare=False,
                                                     metadata={"flag": False})
    adapted: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict, repr=False, compare=False,
                                                           metadata={"flag": False})

    def is_default(self, name: str) -> bool:
        """Whether setting `name` holds its default (it was not given; see `given`).

        >>> resolve(RunConfig, {"epochs": 3}).is_default("epochs"), RunConfig().is_default("epochs")
        (False, False)
        >>> resolve(RunConfig, {"epochs": 3}).is_default("batch_size")
        True
        """
        return self.given is not None and name not in self.given


def flag_names(cls: type[RunConfig]) -> list[str]:
    """The fields of `cls` that are flags (all but those marked `metadata={"flag": False}`)."""
    return [f.name for f in dataclasses.fields(cls) if f.metadata.get("flag", True)]


def defaults(cls: type[RunConfig], model: str | None = None,
             overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """`{field: default}` of `cls`, with `overrides[model]` applied (no model: the base defaults)."""
    values = {}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            values[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            values[field.name] = field.default_factory()
    return {**values, **((overrides or {}).get(model, {}) if model is not None else {})}


def check_overrides(cls: type[RunConfig], overrides: Mapping[str, Mapping[str, Any]], where: str) -> None:
    """Raise `TypeError` (a recipe author's mistake) when `overrides` names a field `cls` lacks."""
    names = set(flag_names(cls))
    for model, values in overrides.items():
        unknown = sorted(set(values) - names)
        if unknown:
            raise TypeError(f"{where}: config_by_model[{model!r}] sets {', '.join(unknown)}, which "
                            f"{cls.__name__} has no field for; add the field or remove the key")


def resolve(cls: type[RunConfig], given: Mapping[str, Any],
            overrides: Mapping[str, Mapping[str, Any]] | None = None, **fixed: Any) -> RunConfig:
    """The configuration: `cls`'s defaults < `overrides[model]` < `given` (< `fixed`).

    The result records the names of `given` (`RunConfig.given`). Raises `UsageError`
    (one line) for a key of `given` that is not a field.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise UsageError(f"unknown setting {unknown[0]!r}; the settings of {cls.__name__}: "
                         f"{', '.join(sorted(flag_names(cls)))}")
    model = given.get("model", defaults(cls)["model"])
    return cls(**{**defaults(cls, model, overrides), **given, "given": frozenset(given), **fixed})


def default_text(cls: type[RunConfig], overrides: Mapping[str, Mapping[str, Any]], key: str) -> str:
    """`(default: 10000; hopfield: 200000)`: a field's default and its per-model exceptions,
    models that share a value listed together (`...; lstm, mingru: linear`)."""
    show = lambda value: f"{value:g}" if isinstance(value, float) else str(value)  # noqa: E731
    groups: dict[str, list[str]] = {}
    for model, values in overrides.items():
        if key in values:
            groups.setdefault(show(values[key]), []).append(model)
    special = "; ".join(f"{', '.join(models)}: {value}" for value, models in groups.items())
    return f"(default: {show(defaults(cls)[key])}" + (f"; {special})" if special else ")")
