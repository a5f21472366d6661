"""`seqzoo.build`: front end + registered backbone + head -> `keras.Model`."""

from __future__ import annotations

from typing import Any

import keras

from seqzoo import registry
from seqzoo.heads import HEADS
from seqzoo.inputs import FRONT_ENDS
from seqzoo.params import validate_all
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
    stem = FRONT_ENDS[task.inputs](task)
    summary = entry.backbone(stem.x, **hparams)
    outputs = HEADS[task.head](summary, stem, task)
    return keras.Model(stem.inputs, outputs, name=name)
