"""`seqzoo.build`: front end + registered backbone + head -> `keras.Model`."""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from seqzoo import registry
from seqzoo.heads import HEADS
from seqzoo.inputs import FRONT_ENDS
from seqzoo.models._summary import sequence_outputs
from seqzoo.params import ParamError, validate_all
from seqzoo.task import TASK_PARAMS, Task


def build(name: str, **kwargs: Any) -> keras.Model:
    """Build the registered architecture `name` as a `keras.Model`.

    Keyword arguments are the task keywords of `seqzoo.task` (input kind and
    head, the same for every model) and the architecture's hyperparameters
    (`seqzoo.info(name)` lists them with defaults and valid ranges).

    With no keyword, the model reads variable-length token ids `(batch, time)`
    (vocabulary 20,000, id 0 = padding) and returns one sigmoid probability
    `(batch, 1)`: binary text classification, e.g. sentiment.

    Example:

    >>> import numpy as np, seqzoo
    >>> model = seqzoo.build("bilstm")
    >>> tuple(model(np.array([[5, 17, 3, 0, 0]])).shape)
    (1, 1)
    >>> seqzoo.build("gru", inputs="series", seq_len=48, features=7,
    ...              head="forecast", horizon=12, targets=7).output_shape
    (None, 12, 7)
    >>> seqzoo.build("gpt", head="language_model", vocab_size=100).output_shape  # next-token logits
    (None, None, 100)
    """
    entry = registry.get(name)
    task_kwargs = {k: v for k, v in kwargs.items() if k in TASK_PARAMS}
    model_kwargs = {k: v for k, v in kwargs.items() if k not in TASK_PARAMS}
    task = Task.from_kwargs(task_kwargs, where=f"seqzoo.build({name!r})")
    try:
        hparams = validate_all(entry.params, model_kwargs, where=f"seqzoo.build({name!r})")
    except TypeError as error:
        raise TypeError(f"{error}; task keywords: {', '.join(sorted(TASK_PARAMS))}") from None
    for rule in entry.constraints:
        rule.check(hparams)
    if task.head == "language_model":
        task = dataclasses.replace(task, objective=objective_for(entry, task.objective))
    stem = FRONT_ENDS[task.inputs](task)
    if task.head == "language_model":  # every step's output, not the summary
        with sequence_outputs():
            summary = entry.backbone(stem.x, **hparams)
    else:
        summary = entry.backbone(stem.x, **hparams)
    own_head = entry.heads.get(task.head)  # a model's own head (registered), else the generic one
    outputs = own_head(summary, stem, task, **hparams) if own_head else HEADS[task.head](summary, stem, task)
    return keras.Model(stem.inputs, outputs, name=name)


def objective_for(entry: registry.ModelEntry, objective: str | None = None) -> str:
    """The pre-training objective of a language model built from `entry`.

    `None` picks it from the registry tags: `"clm"` (next-token prediction) for
    a model tagged `causal`, `"mlm"` (masked tokens) otherwise. `"mlm"` is
    valid for every model (a causal one predicts each masked token from its
    left context and the [MASK] itself); `"clm"` only for a causal model: a
    model whose steps see later tokens would read the answer it must predict.

    Example:

    >>> objective_for(registry.get("bert")), objective_for(registry.get("lstm"))
    ('mlm', 'clm')
    """
    causal = "causal" in entry.tags
    if objective is None:
        return "clm" if causal else "mlm"
    if objective == "clm" and not causal:
        raise ParamError(
            f"objective='clm' needs a causal model, and {entry.name!r} is not tagged 'causal' "
            "(its steps see later tokens, so next-token prediction is trivial); use objective='mlm'"
        )
    return objective
