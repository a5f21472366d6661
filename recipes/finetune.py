"""`--init RUN_DIR`: fine-tune a token model from a `recipes.pretrain` run (shared by the text recipes).

A recipe with token input adds the flags (`add_arguments`), checks the run
before reading data (`PretrainedRun.open`), vectorises with the run's
vocabulary instead of fitting one, and in `Recipe.prepare_model` loads the
run's front end and backbone into the freshly built model (`load_weights`):
every variable is matched by its path (`embedding/embeddings`,
`lstm_1/lstm_cell/kernel`, ...), the language-model head (`lm_*`, the output
bias) stays behind, and the new model's head (and bert's pooler) start fresh.

ULMFiT-style schedule (Howard & Ruder 2018). Keras has no per-variable
learning rate, so `FineTuneAdam` scales Adam's step on the pretrained
variables: by 0 for the first `--freeze-epochs` epochs (the new head trains
alone on frozen features; counted in optimizer steps, so a resumed run
continues the schedule), then by `--pretrained-lr-factor` (discriminative
fine-tuning with two groups: pretrained and new; ULMFiT decays it per layer).
A frozen variable keeps its exact value (a step of 0), its Adam moments still
follow the gradient. Only a run with `--freeze-epochs` or `--pretrained-lr-factor`
uses `FineTuneAdam`; its `model.keras` records it as the compiled optimizer, so load
that file with `import recipes.finetune` first, or with `compile=False` (plain
`--init` compiles the standard Adam and loads like any run).

A mismatch (other model, other widths, a vocabulary that is not the run's,
longer sequences than the learned positions) is a `UsageError` (one line,
exit 2) raised before the run directory is created; a `--seq-len` left at its
default becomes the learned length instead (`PretrainedRun.fit_seq_len`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os

import keras

from recipes import flags
from recipes.artifacts import read_json
from recipes.config import RunConfig
from recipes.data import first_line
from recipes.runner import UsageError

HEAD_PREFIX = "lm_"  # the language-model head's layers (seqzoo.heads.language_model)
LEFT_BEHIND = ("embedding/output_bias",)  # the tied output's bias: part of the head


@dataclasses.dataclass
class FineTuneConfig(RunConfig):
    """A recipe's settings with fine-tuning (`add_arguments`' flags).

    Args:
        init: a `recipes.pretrain` run directory to start from (None: from scratch).
        freeze_epochs: train only the new layers for the first N epochs.
        pretrained_lr_factor: the pretrained layers learn at this factor of the learning rate.
    """

    init: str | None = None
    freeze_epochs: int = 0
    pretrained_lr_factor: float = 1.0


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """`--init`, `--freeze-epochs`, `--pretrained-lr-factor` (the fields of `FineTuneConfig`)."""
    group.add_argument("--init", metavar="RUN_DIR",
                       help="start from a recipes.pretrain run: its vocabulary, front end and backbone "
                       "(a fresh head); the model and its widths must match the run's")
    group.add_argument("--freeze-epochs", type=flags.non_negative_int, metavar="N",
                       help="with --init: train only the new layers for the first N epochs; N >= --epochs "
                       "never trains the pretrained layers (a linear probe) (default: %(default)s)")
    group.add_argument("--pretrained-lr-factor", type=flags.positive_float, metavar="F",
                       help="with --init: the pretrained layers learn at F x --learning-rate "
                       "(default: %(default)s)")


@dataclasses.dataclass
class PretrainedRun:
    """A finished `recipes.pretrain` run directory."""

    path: str
    config: dict
    vocabulary: list[str]
    model: keras.Model

    @classmethod
    def open(cls, args: FineTuneConfig) -> "PretrainedRun | None":
        """The run `args.init` names (None without `--init`); `UsageError` if unusable or another model."""
        if not args.init:
            if args.freeze_epochs or args.pretrained_lr_factor != 1.0:
                raise UsageError("--freeze-epochs and --pretrained-lr-factor need --init RUN_DIR")
            return None
        path = args.init
        files = {name: os.path.join(path, name) for name in ("config.json", "model.keras", "vocabulary.txt")}
        missing = [name for name, file in files.items() if not os.path.isfile(file)]
        if missing:
            raise UsageError(
                f"--init {path}: no {', '.join(missing)}; expected a finished recipes.pretrain run directory"
            )
        unreadable = f"--init {path}: {{}} is unreadable ({{}}); rerun recipes.pretrain into a new --out and pass that"
        try:
            config = read_json(files["config.json"])
        except (ValueError, OSError) as error:  # JSONDecodeError, UnicodeDecodeError
            raise UsageError(unreadable.format("config.json", first_line(error))) from None
        if config.get("recipe") != "pretrain":
            raise UsageError(f"--init {path} is a {config.get('recipe')!r} run, not a recipes.pretrain run")
        if config.get("model") != args.model:
            raise UsageError(
                f"--init {path} pretrained --model {config.get('model')}, not {args.model}; "
                f"pass --model {config.get('model')}"
            )
        try:
            with open(files["vocabulary.txt"], encoding="utf-8") as handle:
                vocabulary = handle.read().split("\n")[:-1]
        except (ValueError, OSError) as error:  # UnicodeDecodeError
            raise UsageError(unreadable.format("vocabulary.txt", first_line(error))) from None
        import seqzoo.layers  # noqa: F401  (registers seqzoo's layers for safe-mode loading)

        try:
            model = keras.saving.load_model(files["model.keras"], compile=False, safe_mode=True)
        except Exception as error:  # noqa: BLE001  (truncated, not a zip, ...: say so in one line)
            raise UsageError(unreadable.format("model.keras", first_line(error))) from None
        rows = model.get_layer("embedding").input_dim
        if rows != len(vocabulary):
            raise UsageError(
                f"--init {path}: vocabulary.txt holds {len(vocabulary)} entries but the model embeds {rows}"
            )
        return cls(path, config, vocabulary, model)

    @property
    def seq_len(self) -> int | None:
        return self.config.get("data", {}).get("seq_len")

    def fit_seq_len(self, args: RunConfig) -> None:
        """Keep `args.seq_len` within the positions the run learned (models with `PositionEmbedding`).

        Left at the recipe's default, `--seq-len` becomes the run's pre-training
        length (recorded in `config.adapted`, as `recipes.budget` records its
        choices); given longer on the command line, it is a `UsageError`.
        """
        from seqzoo.layers import PositionEmbedding

        from recipes import budget

        learned = any(isinstance(layer, PositionEmbedding) for layer in self.model.layers)
        if not (learned and self.seq_len and args.seq_len > self.seq_len):
            return
        if budget.is_default(args, "seq_len"):
            budget.choose(args, "seq_len", self.seq_len,
                          f"the positions {self.config['model']} learned in --init {self.path}")
            return
        raise UsageError(
            f"--seq-len {args.seq_len} exceeds the {self.seq_len} positions {self.config['model']} learned in "
            f"--init {self.path} (learned position embeddings); pass --seq-len {self.seq_len} or "
            "pretrain with a longer --seq-len"
        )


def load_weights(model: keras.Model, run: PretrainedRun) -> list[str]:
    """Copy `run`'s front end and backbone into `model` by variable path; the paths loaded.

    Raises `UsageError` (before anything is assigned) when a pretrained
    variable has no counterpart of the same shape.
    """
    source = {
        w.path: w for w in run.model.weights
        if not w.path.startswith(HEAD_PREFIX) and w.path not in LEFT_BEHIND
    }
    target = {w.path: w for w in model.weights}
    hint = f"(pretrained with {run.config.get('hyperparameters')}: pass the same --set values)"
    for path, weight in source.items():
        if path not in target:
            raise UsageError(f"--init {run.path}: the model here has no {path} {hint}")
        if tuple(target[path].shape) != tuple(weight.shape):
            raise UsageError(
                f"--init {run.path}: {path} is {tuple(weight.shape)} there and "
                f"{tuple(target[path].shape)} here {hint}"
            )
    for path, weight in source.items():
        target[path].assign(weight)
    return sorted(source)


@keras.saving.register_keras_serializable(package="recipes")
class FineTuneAdam(keras.optimizers.Adam):
    """Adam whose steps on the pretrained variables are scaled: 0 while frozen, then a factor.

    Args:
        pretrained_factor: the pretrained variables' step is this times the learning rate.
        frozen_steps: for the first `frozen_steps` optimizer steps their step is 0.
        **kwargs: `keras.optimizers.Adam` arguments.

    Set `pretrained_paths` (variable paths) before the first step; the other
    variables train normally.

    Example:

    >>> optimizer = FineTuneAdam(1e-3, pretrained_factor=0.3, frozen_steps=100)
    >>> optimizer.pretrained_paths = {"embedding/embeddings"}
    """

    def __init__(self, *args, pretrained_factor: float = 1.0, frozen_steps: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.pretrained_factor = float(pretrained_factor)
        self.frozen_steps = int(frozen_steps)
        self.pretrained_paths: set[str] = set()
        self._pretrained_flags: list[bool] = []

    def build(self, var_list):
        super().build(var_list)
        self._pretrained_flags = [v.path in self.pretrained_paths for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        if self._pretrained_flags and self._pretrained_flags[self._get_variable_index(variable)]:
            frozen = keras.ops.less(self.iterations, self.frozen_steps)
            learning_rate = keras.ops.where(frozen, 0.0, self.pretrained_factor) * learning_rate
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config.update({"pretrained_factor": self.pretrained_factor, "frozen_steps": self.frozen_steps})
        return config
