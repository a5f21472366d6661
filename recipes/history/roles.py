"""Which model plays which part in each claim, read from the registry's metadata (never from names).

Every role is a lookup of `seqzoo.registry` (`ModelEntry.tags`, `variant_of`,
`family`, `year`), so a plugin model that declares the same metadata takes part
in the same claims:

| role | rule | built-ins |
|---|---|---|
| `long_range_subjects` (claims 1-3) | family `recurrent`, neither `bidirectional` nor `deep` | rnn, lstm, gru |
| `simple` (claims 1-2) | those tagged `simple` | rnn |
| `gated` (claims 1-2) | those tagged `gated` | lstm, gru |
| `gated_pair` (claim 3) | the gated subjects that vary no other model (`variant_of` is None), oldest and newest by registry year (then name) | (lstm, gru) |
| `bidirectional_pairs` (claim 4) | tagged `bidirectional` with a registered, not bidirectional `variant_of`: (that forward twin, the model) | (rnn, birnn), (lstm, bilstm), (gru, bigru), (deep_lstm, deep_bilstm) |
| `stacked` (claim 6) | family `recurrent`, tagged `deep` | deep_rnn, deep_lstm, deep_gru, deep_bilstm |
| `parallel_scan` (claim 7) | tagged `parallel_scan`, not `bidirectional` | mingru, minlstm, lru, s5, mamba, xlstm, rwkv, hawk, griffin |
| `scan_baselines` (claim 7) | the gated base cells of claims 1-3 (tag `gated`, no `variant_of`) | lstm, gru |

Claims 1-3 are about the cells of 1990-2014: a linear recurrence trained with a
parallel scan (tag `parallel_scan`) is judged by claim 7, not counted among
their gated cells.

Example:

>>> gated_pair(["rnn", "gru", "lstm"])
('lstm', 'gru')
>>> bidirectional_pairs(["bilstm", "rnn"])
(('lstm', 'bilstm'),)
"""

from __future__ import annotations

from typing import Iterable

from seqzoo import registry


def tagged(models: Iterable[str], tag: str) -> tuple[str, ...]:
    """The models (in the given order) whose registry entry carries `tag` (a key of `registry.TAGS`)."""
    if tag not in registry.TAGS:
        raise ValueError(f"unknown tag {tag!r}; valid: {', '.join(registry.TAGS)}")
    return tuple(m for m in models if tag in registry.get(m).tags)


def by_year(models: Iterable[str]) -> tuple[str, ...]:
    """`models` in timeline order: registry year, then name."""
    return tuple(sorted(dict.fromkeys(models), key=lambda m: (registry.get(m).year, m)))


def long_range_subjects(models: Iterable[str]) -> tuple[str, ...]:
    """Recurrent models that read one direction with one layer: the subjects of claims 1-3."""
    return tuple(
        m for m in models
        if registry.get(m).family == "recurrent"
        and not {"bidirectional", "deep", "parallel_scan"} & registry.get(m).tags
    )


def simple(models: Iterable[str]) -> tuple[str, ...]:
    """The ungated cells among the claim 1-3 subjects (tag `simple`)."""
    return tagged(long_range_subjects(models), "simple")


def gated(models: Iterable[str]) -> tuple[str, ...]:
    """The gated cells among the claim 1-3 subjects (tag `gated`)."""
    return tagged(long_range_subjects(models), "gated")


def gated_pair(models: Iterable[str]) -> tuple[str, str] | None:
    """Claim 3's `(older, newer)`: the oldest and the newest gated base cell by registry year; None if < 2."""
    bases = by_year(m for m in gated(models) if registry.get(m).variant_of is None)
    return (bases[0], bases[-1]) if len(bases) >= 2 else None


def bidirectional_pairs(models: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """`(forward twin, bidirectional model)` for each selected bidirectional variant of a registered model."""
    pairs = []
    for m in models:
        entry = registry.get(m)
        twin = entry.variant_of
        if "bidirectional" in entry.tags and twin is not None and twin in registry.list_models() \
                and "bidirectional" not in registry.get(twin).tags:
            pairs.append((twin, m))
    return tuple(pairs)


def stacked(models: Iterable[str]) -> tuple[str, ...]:
    """Stacked recurrent models (family `recurrent`, tag `deep`): claim 6 varies their depth."""
    return tuple(m for m in tagged(models, "deep") if registry.get(m).family == "recurrent")


def before_scans(models: Iterable[str]) -> tuple[str, ...]:
    """The selected models that are not parallel scans: claim 5 ("recurrence is sequential") is about
    them; the scans, whose point is to answer it, are claim 7's."""
    return tuple(m for m in models if "parallel_scan" not in registry.get(m).tags)


def parallel_scan(models: Iterable[str]) -> tuple[str, ...]:
    """Linear recurrences trained with a parallel scan, reading one direction (claim 7)."""
    return tuple(m for m in tagged(models, "parallel_scan") if "bidirectional" not in registry.get(m).tags)


def scan_baselines(models: Iterable[str]) -> tuple[str, ...]:
    """What claim 7 compares the scans with: the gated base cells (tag `gated`, no `variant_of`)."""
    return tuple(m for m in gated(models) if registry.get(m).variant_of is None)


def registered(role) -> tuple[str, ...]:
    """Every registered model that plays `role` (a function of this module), for messages and help.

    Example:

    >>> registered(simple)
    ('rnn',)
    """
    found = role(by_year(registry.list_models()))
    if found and isinstance(found[0], tuple):  # pairs: name the models that make them
        return tuple(dict.fromkeys(pair[1] for pair in found))
    return tuple(found or ())
