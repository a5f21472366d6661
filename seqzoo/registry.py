"""The model registry: one entry per architecture, listed with fnmatch wildcards.

An entry holds a *backbone* function and the history it belongs to. A backbone
maps the front end's sequence tensor `(batch, time, channels)` (with its Keras
mask) to a summary vector `(batch, width)`; `seqzoo.build` adds the input front
end and the head, so every architecture serves every input kind and head.

Plugins: an installed distribution that declares an entry point in the group
`seqzoo.models` is imported the first time the registry is read; importing its
module registers its builders with `@seqzoo.register`.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import importlib
from importlib import metadata
from typing import Any, Callable

from seqzoo.params import Divides, Param
from seqzoo.task import HEADS as HEAD_KINDS
from seqzoo.task import TASK_PARAMS

ENTRY_POINT_GROUP = "seqzoo.models"

# Roles a model can declare with `register(..., tags=...)`. Recipes and the history
# recipe pick models by these roles (and `variant_of`), never by name.
TAGS: dict[str, str] = {
    "simple": "an ungated recurrent cell (Elman): the state is squashed through one matrix every step",
    "gated": "a gated recurrent cell (LSTM, GRU, ...): gates decide what the state keeps",
    "bidirectional": "reads the sequence in both directions (every step sees the future)",
    "deep": "a stacked variant: depth > 1 by default",
    "causal": "every step's representation depends only on that step and earlier ones: "
              "the model can stream, and pre-trains by next-token prediction",
    "parallel_scan": "a linear recurrence trained with a parallel scan over time; runs step by step at inference",
    "order_free": "ignores the order of the sequence (a set model)",
}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One registered architecture.

    Args:
        name: registry name, e.g. `"bilstm"`.
        backbone: `fn(x, **hyperparameters) -> summary tensor`.
        year: year of the paper that introduced it.
        authors: the paper's authors, short form.
        paper: the paper's title.
        family: e.g. `"recurrent"`, `"attention"`, `"memory"`, `"hybrid"`.
        solved: one sentence: the problem this architecture solved.
        params: hyperparameter declarations (`seqzoo.params.Int`, ...).
        module: the module that registered it (plugins show here).
        constraints: rules between hyperparameters (`seqzoo.params.Divides`).
        tags: roles from `TAGS`, e.g. `("gated", "causal")`.
        variant_of: the registered model this one varies (e.g. `bilstm` -> `lstm`,
            `deep_lstm` -> `lstm`); `None` for a base architecture.
        heads: the model's own head for a head kind, `{kind: fn(summary, stem, task,
            **hyperparameters) -> output}`, used instead of `seqzoo.heads.HEADS[kind]`
            (e.g. SegRNN's parallel multi-step forecast); empty for most models.
    """

    name: str
    backbone: Callable[..., Any]
    year: int
    authors: str
    paper: str
    family: str
    solved: str
    params: dict[str, Param]
    module: str
    constraints: tuple[Divides, ...] = ()
    tags: frozenset[str] = frozenset()
    variant_of: str | None = None
    heads: dict[str, Callable[..., Any]] = dataclasses.field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {key: spec.default for key, spec in self.params.items()}

    def search_space(self) -> dict[str, Param]:
        """The hyperparameters the tuner varies (those declared with `search`)."""
        return {key: spec for key, spec in self.params.items() if spec.search}


_REGISTRY: dict[str, ModelEntry] = {}
_LOADED = False
_loaded_plugins: set[str] = set()


def register(
    name: str | None = None,
    *,
    year: int,
    authors: str,
    paper: str,
    family: str,
    solved: str,
    params: dict[str, Param] | None = None,
    constraints: tuple[Divides, ...] | list[Divides] = (),
    tags: tuple[str, ...] | list[str] = (),
    variant_of: str | None = None,
    heads: dict[str, Callable[..., Any]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a backbone function under `name` (default: the function's name).

    Args:
        name: registry name; must be new (a duplicate raises `ValueError`).
        year, authors, paper, family, solved: the history shown by `seqzoo info`.
        params: hyperparameters as `{name: Int(...) | Float(...) | Choice(...)}`;
            each is passed to the backbone as a keyword argument.
        constraints: rules between hyperparameters, e.g. `[Divides("heads", "width")]`;
            `build` checks them and the tuner samples only valid combinations.
        tags: roles from `TAGS` (e.g. `("gated", "causal")`); recipes select models by them.
        variant_of: the registered base model this one varies, if any.
        heads: the model's own head for some head kinds (`"classification"`,
            `"forecast"`): `fn(summary, stem, task, **hyperparameters) -> output`,
            float32, the shape of the generic head's; other kinds use `seqzoo.heads`.

    Example:

    >>> import keras, seqzoo
    >>> from seqzoo.params import Int
    >>> @seqzoo.register("mean_mlp_demo", year=2024, authors="You", paper="-",
    ...                  family="baseline", solved="A bag-of-frames baseline.",
    ...                  params={"units": Int(64, low=1)})
    ... def mean_mlp_demo(x, units):
    ...     x = keras.layers.Dense(units, activation="relu")(x)
    ...     return keras.layers.GlobalAveragePooling1D()(x)
    >>> seqzoo.build("mean_mlp_demo").output_shape
    (None, 1)
    >>> seqzoo.registry.unregister("mean_mlp_demo")
    """

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        key = name or fn.__name__
        if not key.isidentifier():
            raise ValueError(f"model name {key!r} must be a Python identifier (letters, digits, _)")
        clash = sorted(set(params or {}) & set(TASK_PARAMS))
        if clash:
            raise ValueError(
                f"model {key!r}: hyperparameter names {clash} clash with task keywords; rename them"
            )
        for rule in constraints:
            missing = {rule.divisor, rule.dividend} - set(params or {})
            if missing:
                raise ValueError(f"model {key!r}: constraint {rule.describe()!r} names unknown {sorted(missing)}")
        unknown = sorted(set(tags) - set(TAGS))
        if unknown:
            raise ValueError(f"model {key!r}: unknown tags {unknown}; valid: {', '.join(TAGS)}")
        if variant_of is not None and (variant_of == key or not str(variant_of).isidentifier()):
            raise ValueError(f"model {key!r}: variant_of={variant_of!r} must name another model")
        bad_heads = sorted(set(heads or {}) - set(HEAD_KINDS))
        if bad_heads:
            raise ValueError(f"model {key!r}: heads for unknown head kinds {bad_heads}; valid: "
                             f"{', '.join(HEAD_KINDS)}")
        if key in _REGISTRY:
            raise ValueError(
                f"model {key!r} is already registered by {_REGISTRY[key].module}; "
                "choose another name"
            )
        _REGISTRY[key] = ModelEntry(
            name=key,
            backbone=fn,
            year=int(year),
            authors=authors,
            paper=paper,
            family=family,
            solved=solved,
            params=dict(params or {}),
            module=getattr(fn, "__module__", "?"),
            constraints=tuple(constraints),
            tags=frozenset(tags),
            variant_of=variant_of,
            heads=dict(heads or {}),
        )
        return fn

    return decorator


def unregister(name: str) -> None:
    """Remove a registered model (for tests and interactive use)."""
    _REGISTRY.pop(name, None)


def _load() -> None:
    """Import the built-in models, then every installed plugin, once."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    importlib.import_module("seqzoo.models")
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.value in _loaded_plugins:
            continue
        try:
            entry_point.load()
        except Exception as error:  # a broken plugin names itself
            raise RuntimeError(
                f"seqzoo plugin {entry_point.name!r} ({entry_point.value}) failed to load: "
                f"{error}. Fix or uninstall that package."
            ) from error
        _loaded_plugins.add(entry_point.value)


def reload_plugins() -> None:
    """Look for newly installed plugins (e.g. after `pip install` in a session)."""
    global _LOADED
    _LOADED = False
    _load()


def get(name: str) -> ModelEntry:
    """The entry for `name`; an unknown name raises `KeyError` with close matches."""
    _load()
    if name in _REGISTRY:
        return _REGISTRY[name]
    raise UnknownModelError(_unknown_message(name))


class UnknownModelError(KeyError):
    """An unknown model name; the message suggests close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def _unknown_message(name: str) -> str:
    names = sorted(_REGISTRY)
    close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.6)
    if not close:
        close = [n for n in names if str(name).lower() in n][:3]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown model {name!r}{hint} (see seqzoo.list_models())"


def _check_tags(tags: tuple[str, ...]) -> None:
    unknown = sorted(set(tags) - set(TAGS))
    if unknown:
        raise ValueError(f"unknown tags {unknown}; valid: {', '.join(TAGS)}")


def list_models(pattern: str = "*", *, tags: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Sorted registered names matching the fnmatch `pattern`, e.g. `"*lstm*"`, that
    carry every tag in `tags` (see `TAGS`), e.g. `list_models(tags=["causal"])`."""
    _load()
    _check_tags(tuple(tags))
    return sorted(
        n for n, e in _REGISTRY.items() if fnmatch.fnmatchcase(n, pattern) and set(tags) <= e.tags
    )


def entries(pattern: str = "*", *, tags: tuple[str, ...] | list[str] = ()) -> list[ModelEntry]:
    """Entries matching `pattern` and `tags`, in timeline order (year, then name)."""
    return sorted((get(n) for n in list_models(pattern, tags=tags)), key=lambda e: (e.year, e.name))


def variants(name: str) -> list[str]:
    """The registered models declared `variant_of=name`, sorted."""
    _load()
    return sorted(n for n, e in _REGISTRY.items() if e.variant_of == name)
