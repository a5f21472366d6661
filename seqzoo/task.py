"""The task keywords every builder accepts: input kind and head.

`seqzoo.build(name, **kwargs)` splits its keyword arguments into these task
keywords and the architecture's own hyperparameters. The task keywords are the
same for every model:

| keyword | applies to | default | meaning |
|---|---|---|---|
| `inputs` | all | `"tokens"` | `"tokens"` (int ids, 0 = padding, masked), `"frames"` (float `(batch, time, features)`, e.g. log-mel), `"series"` (float `(batch, lookback, variables)`) |
| `seq_len` | all | `None` (tokens, frames), `96` (series) | fixed time length, `None` for variable length |
| `vocab_size` | tokens | `20000` | ids in `[0, vocab_size)` |
| `embed_dim` | tokens | `128` | embedding width |
| `token_dropout` | tokens | `0.0` | while training, zero this fraction of the token embeddings, whole tokens at a time ("word dropout", Iyyer et al. 2015) |
| `features` | frames, series | `40` (frames), `1` (series) | channels per time step |
| `normalize` | series | `True` | per-window instance normalisation, undone on the forecast (RevIN, Kim et al. 2022) |
| `head` | all | `"classification"` | `"classification"`, `"forecast"` or `"language_model"` (tokens only) |
| `num_classes` | classification | `2` | 2: one sigmoid probability `(batch, 1)`; more: softmax `(batch, num_classes)` |
| `horizon` | forecast | `24` | steps ahead; output `(batch, horizon, targets)` |
| `targets` | forecast | `1` | forecast the **last** `targets` variables of a series input |
| `objective` | language_model | `None` | `"clm"` (next token; the input is `tokens`, the output `(batch, time, vocab_size)` logits) or `"mlm"` (masked tokens; inputs `tokens` and `positions` `(batch, k)`, the output `(batch, k, vocab_size)` logits); `None`: `"clm"` for models tagged `causal`, else `"mlm"` (see `seqzoo.heads.language_model`) |
| `linear_skip` | series forecast | `True` | add a linear autoregressive path from the lookback window (LSTNet's highway, Lai et al. 2018) |
"""

from __future__ import annotations

import dataclasses
from typing import Any

from seqzoo.params import Bool, Choice, Float, Int, ParamError, validate_all

INPUT_KINDS = ("tokens", "frames", "series")
HEADS = ("classification", "forecast", "language_model")
OBJECTIVES = ("clm", "mlm")

TASK_PARAMS = {
    "inputs": Choice("tokens", INPUT_KINDS, help="input kind"),
    "seq_len": Int(None, low=1, allow_none=True, help="time steps; None = variable"),
    "vocab_size": Int(20000, low=2, help="token vocabulary size (id 0 = padding)"),
    "embed_dim": Int(128, low=1, help="token embedding width"),
    "token_dropout": Float(0.0, low=0.0, high=1.0, high_inclusive=False,
                           help="training-time dropout of whole token embeddings (word dropout)"),
    "features": Int(None, low=1, allow_none=True, help="channels per step (frames, series)"),
    "normalize": Bool(True, help="instance-normalise each series window (RevIN)"),
    "head": Choice("classification", HEADS, help="output head"),
    "num_classes": Int(2, low=2, help="classes; 2 = one sigmoid output"),
    "horizon": Int(24, low=1, help="forecast steps"),
    "targets": Int(1, low=1, help="forecast the last `targets` variables"),
    "linear_skip": Bool(True, help="linear autoregressive path (series forecast)"),
    "objective": Choice(None, (None, *OBJECTIVES),
                        help="language model: next-token (clm) or masked-token (mlm); None = from the model's tags"),
}

# Which task keywords mean something for which input kind / head: giving one
# that does not apply is an error rather than a silent no-op.
_APPLIES = {
    "vocab_size": ("inputs", ("tokens",)),
    "embed_dim": ("inputs", ("tokens",)),
    "token_dropout": ("inputs", ("tokens",)),
    "features": ("inputs", ("frames", "series")),
    "normalize": ("inputs", ("series",)),
    "num_classes": ("head", ("classification",)),
    "horizon": ("head", ("forecast",)),
    "targets": ("head", ("forecast",)),
    "linear_skip": ("inputs", ("series",)),
    "objective": ("head", ("language_model",)),
}

_KIND_DEFAULTS = {
    "tokens": {},
    "frames": {"features": 40},
    "series": {"features": 1, "seq_len": 96},
}


@dataclasses.dataclass(frozen=True)
class Task:
    """Validated task keywords (see the module docstring for each field)."""

    inputs: str
    seq_len: int | None
    vocab_size: int
    embed_dim: int
    token_dropout: float
    features: int | None
    normalize: bool
    head: str
    num_classes: int
    horizon: int
    targets: int
    linear_skip: bool
    objective: str | None = None

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any], *, where: str = "seqzoo.build") -> "Task":
        values = validate_all(TASK_PARAMS, kwargs, where=where)
        for key, (selector, valid) in _APPLIES.items():
            if key in kwargs and values[selector] not in valid:
                raise ParamError(
                    f"{key} applies only to {selector}={' or '.join(map(repr, valid))}, "
                    f"not {selector}={values[selector]!r}"
                )
        for key, default in _KIND_DEFAULTS[values["inputs"]].items():
            if values[key] is None:
                values[key] = default
        task = cls(**values)
        if task.inputs == "series" and task.seq_len is None:
            raise ParamError("seq_len must be set for inputs='series' (the lookback window)")
        if task.inputs == "series" and task.head == "forecast" and task.targets > task.features:
            raise ParamError(
                f"targets={task.targets} exceeds features={task.features}: the forecast "
                "targets are the last `targets` variables of the series"
            )
        if task.head == "language_model" and task.inputs != "tokens":
            raise ParamError(
                f"head='language_model' predicts tokens: it needs inputs='tokens', not inputs={task.inputs!r}"
            )
        return task
