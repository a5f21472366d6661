"""`seqzoo.info`: the history and hyperparameters of one registered model."""

from __future__ import annotations

import dataclasses
from typing import Any

from seqzoo import registry
from seqzoo.task import TASK_PARAMS


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What `seqzoo.info(name)` returns; `str()` gives a readable card.

    `hyperparameters` maps each name to `{"default", "valid", "search", "help"}`;
    `search_space` lists the ones the tuner varies.
    """

    name: str
    year: int
    authors: str
    paper: str
    family: str
    solved: str
    hyperparameters: dict[str, dict[str, Any]]
    search_space: dict[str, str]
    module: str
    tags: tuple[str, ...] = ()
    variant_of: str | None = None

    def __str__(self) -> str:
        lines = [
            f"{self.name} ({self.year}, {self.family})",
            f"  paper:   {self.paper}",
            f"  authors: {self.authors}",
            f"  solved:  {self.solved}",
            *([f"  tags:    {', '.join(self.tags)}"] if self.tags else []),
            *([f"  variant of: {self.variant_of}"] if self.variant_of else []),
            "  hyperparameters:",
        ]
        width = max((len(k) for k in self.hyperparameters), default=0)
        for key, spec in self.hyperparameters.items():
            search = f"; search {spec['search']}" if spec["search"] else ""
            lines.append(
                f"    {key:<{width}}  default {spec['default']!r}, valid {spec['valid']}{search}"
                + (f"  -- {spec['help']}" if spec["help"] else "")
            )
        lines.append("  task keywords (every model): " + ", ".join(sorted(TASK_PARAMS)))
        return "\n".join(lines)


def _spec_dict(spec) -> dict[str, Any]:
    search = None
    if spec.search:
        search = (
            "{" + ", ".join(map(repr, spec.search)) + "}"
            if spec.kind == "choice"
            else f"{spec.search[0]}..{spec.search[1]}" + (f" ({spec.sampling})" if spec.sampling != "linear" else "")
        )
    return {"default": spec.default, "valid": spec.range_text(), "search": search, "help": spec.help}


def info(name: str) -> ModelInfo:
    """Year, authors, paper, family, the problem it solved, and its hyperparameters.

    Example:

    >>> import seqzoo
    >>> card = seqzoo.info("lstm")
    >>> card.year, card.hyperparameters["units"]["default"]
    (1997, 128)
    """
    entry = registry.get(name)
    hyper = {key: _spec_dict(spec) for key, spec in entry.params.items()}
    return ModelInfo(
        name=entry.name,
        year=entry.year,
        authors=entry.authors,
        paper=entry.paper,
        family=entry.family,
        solved=entry.solved,
        hyperparameters=hyper,
        search_space={k: v["search"] for k, v in hyper.items() if v["search"]},
        module=entry.module,
        tags=tuple(sorted(entry.tags)),
        variant_of=entry.variant_of,
    )
