"""The shared runner: one command line, one training loop and one run directory for every recipe.

A recipe is a small `Recipe` subclass that knows its data; the runner does the
rest: flags, validation, seeding, the distribution strategy, building and
compiling the seqzoo model, training (through `seqzoo.distribute.fit`, with
resume), evaluation and the artifacts. Each recipe module ends with

    if __name__ == "__main__":
        sys.exit(main(MyRecipe()))

Recipe contract (stable; later changes are additive)
----------------------------------------------------
class MyRecipe(Recipe):
    name = "imdb"                     # `python -m recipes.imdb`, run dir prefix, metrics["recipe"]
    description = "..."               # first line of --help
    default_model = "bilstm"          # --model default
    defaults = {"epochs": 5, "batch_size": 64, "learning_rate": 1e-3}
                                      # recipe defaults for the shared flags
    model_defaults = {"*": {"embed_dim": 128}, "bilstm": {"units": 64}}
                                      # seqzoo keywords per model; "*" applies to every model
                                      # that declares the key (task keywords always apply);
                                      # --set overrides both
    flag_defaults = {"*": {"seq_len": 800}, "hopfield": {"seq_len": 1600, "learning_rate": 5e-4}}
                                      # flag defaults that depend on --model: "*" holds those of
                                      # the recipe's own flags declared with default=None, a model
                                      # entry overrides them and the shared flags' `defaults`;
                                      # a flag given on the command line wins
    artifacts = ("vocabulary.txt",)   # extra files the recipe writes (removed by --overwrite)

    def add_arguments(self, group): ...       # recipe-specific flags (an argparse group)
    def check_args(self, args): ...            # optional: flag checks, before any data is read
    def load(self, args) -> TaskData: ...      # read + split + batch the data; raise DataError
    def callbacks(self, args, data) -> list    # optional: extra Keras callbacks (LR schedule, ...)
    def optimizer(self, args, data)            # optional: default Adam(args.learning_rate)
    def evaluate(self, model, data, args, run_dir) -> dict
                                               # test metrics (+ plots); the default is
                                               # classification: test_loss, test_accuracy,
                                               # test_confusion and confusion.png

`load` runs before the run directory is created: raise `DataError` (one line,
saying how to fix it) for missing or malformed data, and the runner exits 2
with nothing written. It must apply `args.limit` (cap examples per split),
`args.seed` (any shuffling/splitting) and `args.batch_size` (the GLOBAL batch:
under a strategy with N replicas each replica sees batch_size / N), and return
`TaskData` whose datasets are batched `(x, y)`, cached and prefetched. The
validation split comes from the training data, never from test; `test` is
evaluated once, after training. Write recipe files (vocabulary, plots) in
`evaluate` with the `recipes.artifacts` helpers (atomic writes).

The run directory (`--out`, default `runs/<recipe>-<model>-<timestamp>`)
------------------------------------------------------------------------
config.json     every flag, the resolved hyperparameters and task keywords, the
                data summary and a `command` that reruns (and resumes) the run
history.csv     one row per epoch (Keras CSVLogger, appended on resume), with
                `epoch_seconds` (incl. validation) and `train_pass_seconds`
tb/             TensorBoard logs
backup/         BackupAndRestore state while training (removed when training ends)
model.keras     the trained model: `import seqzoo.layers` (registers seqzoo's layers), then
                `keras.saving.load_model(path)` (safe mode)
train_state.json  epochs_run and timings, written right after model.keras
curves.png      learning curves;  confusion.png (classification)
metrics.json    written LAST: recipe, model, params, epochs_run, train_seconds
                (sum of epoch_seconds over all sessions), examples_per_second
                (training examples x epochs / training-pass seconds), the test
                metrics and the recipe's data info. Its presence means "complete".

Rerunning the same command on the same `--out`:
- interrupted during training: resumes from the last finished epoch and ends
  with the same number of epochs;
- interrupted after training (model.keras saved, no metrics.json): evaluates
  the saved model and writes the remaining artifacts;
- complete (metrics.json exists): refused with exit code 2; pass `--overwrite`
  to train again in place (removes only the runner's and recipe's artifacts);
- started with different flags: refused with exit code 2 (names the flag).

Bad input (unknown model, bad --set, missing data, unusable run dir): one line
`<prog>: error: ...` on stderr, exit code 2, nothing created.

Tuning and other callers: `resolve_hyperparameters`, `build_model` and
`train_and_evaluate` are the steps `main` runs for one configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import datetime
import os
import shlex
import shutil
import sys
import time
import warnings
from typing import Any, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import seqzoo  # noqa: E402
from recipes import artifacts, flags  # noqa: E402
from recipes.data import DataError  # noqa: E402  (re-exported: recipes raise runner.DataError)
from seqzoo import distribute, registry  # noqa: E402
from seqzoo.heads import loss_and_metrics  # noqa: E402
from seqzoo.params import ParamError, validate_all  # noqa: E402
from seqzoo.params import parse_value  # noqa: E402
from seqzoo.task import TASK_PARAMS  # noqa: E402

__all__ = [
    "DataError",
    "Recipe",
    "RunPaths",
    "TaskData",
    "UsageError",
    "build_model",
    "build_parser",
    "evaluate_classification",
    "main",
    "parse_set",
    "resolve_hyperparameters",
    "train_and_evaluate",
]


class UsageError(Exception):
    """A bad flag, hyperparameter or run directory; the runner exits 2 with this one line."""


@dataclasses.dataclass
class TaskData:
    """What a recipe's `load` returns.

    Args:
        train: batched `(x, y)` with the GLOBAL batch size; shuffled, cached, prefetched.
        val: batched `(x, y)`, split from the TRAINING data (never test).
        test: batched `(x, y)`, evaluated once after training.
        model_kwargs: seqzoo task keywords the data fixes, e.g.
            `{"inputs": "tokens", "vocab_size": 20000, "num_classes": 2}`.
        class_names: class labels for classification (confusion matrix axes).
        info: anything worth recording (sizes, preprocessing), copied into
            config.json and metrics.json under `"data"`.
        sizes: examples per split, `{"train": n, "val": n, "test": n}`; the
            runner counts the training set when `"train"` is missing.
        extras: anything `evaluate` needs (e.g. the vectorizer, normalisation
            statistics); not recorded.
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    model_kwargs: dict[str, Any]
    class_names: list[str] | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)


# The shared flags' defaults; a recipe's `defaults` overrides them.
SHARED_DEFAULTS: dict[str, Any] = {"epochs": 5, "batch_size": 64, "learning_rate": 1e-3}


class Recipe:
    """Base class of the recipes; see the module docstring for the contract."""

    name: str = "recipe"
    description: str = ""
    default_model: str = "bilstm"
    defaults: dict[str, Any] = {}
    model_defaults: dict[str, dict[str, Any]] = {}
    flag_defaults: dict[str, dict[str, Any]] = {}
    artifacts: tuple[str, ...] = ()

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        """Add the recipe's own flags to `group`."""

    def check_args(self, args: argparse.Namespace) -> None:
        """Check flag combinations before any data is read (raise `UsageError`/`DataError`)."""

    def base_flag_defaults(self) -> dict[str, Any]:
        """Every model's flag defaults: the shared flags' (with `defaults`) and `flag_defaults["*"]`."""
        return {**SHARED_DEFAULTS, **self.defaults, **self.flag_defaults.get("*", {})}

    def default_text(self, key: str) -> str:
        """`(default: 10000; hopfield: 200000)`: a flag's default and its per-model exceptions."""
        show = lambda value: f"{value:g}" if isinstance(value, float) else str(value)  # noqa: E731
        special = "; ".join(f"{m}: {show(v[key])}" for m, v in self.flag_defaults.items() if m != "*" and key in v)
        return f"(default: {show(self.base_flag_defaults()[key])}" + (f"; {special})" if special else ")")

    def load(self, args: argparse.Namespace) -> TaskData:
        raise NotImplementedError

    def callbacks(self, args: argparse.Namespace, data: TaskData) -> list[keras.callbacks.Callback]:
        """Extra Keras callbacks for training (learning-rate schedule, early stopping, ...)."""
        return []

    def optimizer(self, args: argparse.Namespace, data: TaskData) -> keras.optimizers.Optimizer:
        """The optimizer, created inside the strategy scope; default Adam(--learning-rate).

        `data` is there for per-step schedules (`steps_per_epoch(data, args)`).
        """
        return keras.optimizers.Adam(args.learning_rate)

    def evaluate(self, model: keras.Model, data: TaskData, args: argparse.Namespace, run_dir: str) -> dict:
        """Test metrics (and plots in `run_dir`); default: `evaluate_classification`."""
        return evaluate_classification(model, data, run_dir, title=f"{self.name} / {args.model}")


# ----------------------------------------------------------------------------- flags


# Task keywords a user may --set; the others (inputs, seq_len, vocab_size, features,
# head, num_classes, horizon, targets) are fixed by the recipe from its data and flags.
SETTABLE_TASK_KEYS = ("embed_dim", "token_dropout", "normalize", "linear_skip")

# Flags that may differ when an interrupted run is resumed.
_RESUME_FREE_FLAGS = ("quiet", "overwrite", "strategy", "out")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`prog: error: message (see --help)`, exit 2) that
    fills the flags left at None from `model_flag_defaults` of the parsed --model."""

    model_flag_defaults: dict[str, dict[str, Any]] = {}

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace, extras = super().parse_known_args(args, namespace)
        table = self.model_flag_defaults
        for key, value in {**table.get("*", {}), **table.get(getattr(namespace, "model", None), {})}.items():
            if getattr(namespace, key, None) is None:
                setattr(namespace, key, value)
        return namespace, extras


def build_parser(recipe: Recipe) -> argparse.ArgumentParser:
    """The command-line parser: the shared flags, then the recipe's own group."""
    prog = f"python -m recipes.{recipe.name}"
    parser = _Parser(
        prog=prog,
        description=recipe.description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Rerun the same command with the same --out to resume an interrupted run.\n"
            "Hyperparameters of a model: python -m seqzoo info MODEL.\n"
            "Exit codes: 0 done, 2 bad input (nothing written), 130 interrupted (resumable)."
        ),
    )
    shared = parser.add_argument_group("shared flags (every recipe)")
    shared.add_argument("--model", default=recipe.default_model,
                        help="any registered seqzoo model (default: %(default)s)")
    shared.add_argument("--epochs", type=flags.positive_int, default=None,
                        help="training epochs " + recipe.default_text("epochs"))
    shared.add_argument("--batch-size", type=flags.positive_int, default=None,
                        help="GLOBAL batch size, split across the strategy's replicas "
                        + recipe.default_text("batch_size"))
    shared.add_argument("--learning-rate", type=flags.positive_float, default=None,
                        help="Adam learning rate " + recipe.default_text("learning_rate"))
    shared.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="model hyperparameter or embed_dim/token_dropout/normalize/linear_skip, repeatable, "
                        "e.g. --set units=128 --set dropout=0.2 (values: int, float, "
                        "true/false, none, or text)")
    shared.add_argument("--data-dir", default=None,
                        help="local copy of the data (layouts: see below); default: download")
    shared.add_argument("--out", default=None,
                        help="run directory (default: runs/<recipe>-<model>-<timestamp>)")
    shared.add_argument("--overwrite", action="store_true",
                        help="start over in an --out that holds a run (complete or not); removes only the run's own files")
    shared.add_argument("--seed", type=int, default=42,
                        help="random seed for splits, shuffling and weights (default: %(default)s)")
    shared.add_argument("--no-determinism", action="store_true",
                        help="skip tf.config.experimental.enable_op_determinism (faster on GPU; "
                        "runs are then not bit-for-bit repeatable)")
    shared.add_argument("--limit", type=flags.positive_int, default=None, metavar="N",
                        help="cap the examples of every split at N (smoke runs)")
    shared.add_argument("--strategy", default="auto", choices=distribute.STRATEGIES,
                        help="tf.distribute strategy (default: %(default)s: mirrored on "
                        "several GPUs, else default)")
    shared.add_argument("--mixed-precision", action="store_true",
                        help="mixed precision (float16 on GPU, bfloat16 on CPU/TPU)")
    shared.add_argument("--quiet", action="store_true",
                        help="no progress bar or summary; errors only")
    recipe.add_arguments(parser.add_argument_group(f"{recipe.name} flags"))
    from recipes import tuning  # noqa: PLC0415  (--tune flags; recipes.tuning imports this module)

    tuning.add_arguments(parser)
    parser.model_flag_defaults = {**recipe.flag_defaults, "*": recipe.base_flag_defaults()}
    return parser


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """`["units=64", "pool=max"]` -> `{"units": 64, "pool": "max"}`; bad syntax raises `UsageError`."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. --set units=128")
        values[key] = parse_value(text.strip())
    return values


def resolve_hyperparameters(recipe: Recipe, model: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The model's full hyperparameters (seqzoo defaults < recipe defaults < `overrides`),
    plus the settable task keywords given; validated by seqzoo.

    Raises `UsageError` for an unknown model, an unknown key or an invalid value.
    """
    try:
        entry = registry.get(model)
    except registry.UnknownModelError as error:
        raise UsageError(f"--model: {error}") from None
    for key in overrides:
        if key in TASK_PARAMS and key not in SETTABLE_TASK_KEYS:
            raise UsageError(
                f"--set {key}: this task keyword is fixed by the {recipe.name} recipe from its data "
                f"and flags (see --help); settable task keywords: {', '.join(SETTABLE_TASK_KEYS)}"
            )
    common = {
        k: v for k, v in recipe.model_defaults.get("*", {}).items() if k in entry.params or k in TASK_PARAMS
    }
    values = {**common, **recipe.model_defaults.get(model, {}), **overrides}
    task_values = {k: v for k, v in values.items() if k in TASK_PARAMS}
    model_values = {k: v for k, v in values.items() if k not in TASK_PARAMS}
    try:
        resolved = validate_all(entry.params, model_values, where=f"model {model!r}")
        for key, value in task_values.items():
            task_values[key] = TASK_PARAMS[key].validate(key, value)
    except TypeError as error:  # unknown keyword: seqzoo lists the valid ones
        raise UsageError(f"--set: {error}; task keywords: {', '.join(SETTABLE_TASK_KEYS)}") from None
    except ParamError as error:
        raise UsageError(f"--set: {error}") from None
    return {**resolved, **task_values}


# ----------------------------------------------------------------------------- run dir


@dataclasses.dataclass(frozen=True)
class RunPaths:
    """The files of a run directory."""

    root: str

    def __getattr__(self, name: str) -> str:
        if name in _FILES:
            return os.path.join(self.root, _FILES[name])
        raise AttributeError(name)


_FILES = {
    "config": "config.json",
    "metrics": "metrics.json",
    "model": "model.keras",
    "history": "history.csv",
    "train_state": "train_state.json",
    "curves": "curves.png",
    "confusion": "confusion.png",
    "tb": "tb",
    "backup": "backup",
}


def _default_out(recipe: Recipe, model: str) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{recipe.name}-{model}-{stamp}")


def _has_content(path: str) -> bool:
    return os.path.isdir(path) and bool(os.listdir(path))


def _flags_for_config(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in sorted(vars(args).items()) if not k.startswith("_")}


def _inspect_run_dir(recipe: Recipe, args: argparse.Namespace, hparams: dict[str, Any]) -> str:
    """`"new"`, `"resume"` (interrupted training), `"evaluate"` (trained, not evaluated)
    or `"overwrite"`; raises `UsageError` for a directory that cannot be used. Reads only."""
    paths = RunPaths(args.out)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out!r} is a file; give a directory")
    if not _has_content(args.out):
        return "new"
    if not os.path.isfile(paths.config):
        raise UsageError(
            f"--out {args.out!r} exists and is not a seqzoo run directory (no config.json); "
            "choose a new --out"
        )
    if os.path.isfile(paths.metrics) or args.overwrite:
        if not args.overwrite:
            raise UsageError(
                f"--out {args.out!r} holds a complete run (metrics.json); "
                "pass --overwrite to train again there, or choose another --out"
            )
        return "overwrite"
    try:
        previous = artifacts.read_json(paths.config)
    except (OSError, ValueError) as error:
        raise UsageError(f"--out {args.out!r}: unreadable config.json ({error}); choose a new --out") from None
    now = artifacts.to_jsonable({"recipe": recipe.name, "flags": _flags_for_config(args), "hyperparameters": hparams})
    changed = [
        f"--{k.replace('_', '-')}"
        for k in sorted(set(now["flags"]) | set(previous.get("flags", {})))
        if k not in _RESUME_FREE_FLAGS and now["flags"].get(k) != previous.get("flags", {}).get(k)
    ]
    if previous.get("recipe") != recipe.name:
        changed.insert(0, "recipe")
    if not changed and previous.get("hyperparameters") != now["hyperparameters"]:
        changed.append("hyperparameters (recipe defaults changed)")
    if changed:
        raise UsageError(
            f"--out {args.out!r} holds an unfinished run started with different settings "
            f"({', '.join(changed)}); rerun its command (config.json) or choose another --out"
        )
    if os.path.isfile(paths.model) and os.path.isfile(paths.train_state) and not _has_content(paths.backup):
        return "evaluate"
    return "resume"


def _clear_run_dir(recipe: Recipe, paths: RunPaths) -> None:
    """Remove the runner's and the recipe's artifacts (nothing else) for --overwrite."""
    for name in [*_FILES.values(), *recipe.artifacts]:
        path = os.path.join(paths.root, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def _command(recipe: Recipe, argv: Sequence[str], out: str) -> str:
    argv = list(argv)
    if not any(a == "--out" or a.startswith("--out=") for a in argv):
        argv += ["--out", out]
    return shlex.join(["python", "-m", f"recipes.{recipe.name}", *argv])


# ----------------------------------------------------------------------------- model


def build_model(
    recipe: Recipe,
    args: argparse.Namespace,
    data: TaskData,
    hparams: dict[str, Any],
    strategy: tf.distribute.Strategy,
) -> keras.Model:
    """Build and compile `args.model` inside `strategy.scope()`.

    Keywords: the data's task keywords, then `hparams`. Loss and metrics come
    from `seqzoo.heads.loss_and_metrics`. Raises `UsageError` when seqzoo
    rejects the combination (e.g. a task keyword that does not apply).
    """
    kwargs = {**data.model_kwargs, **hparams}
    loss, metrics = loss_and_metrics(kwargs.get("head", "classification"), kwargs.get("num_classes", 2))
    with strategy.scope():
        try:
            model = seqzoo.build(args.model, **kwargs)
        except (ParamError, TypeError) as error:
            raise UsageError(f"{args.model}: {error}") from None
        model.compile(optimizer=recipe.optimizer(args, data), loss=loss, metrics=metrics)
    return model


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` (whole epoch, validation included) and `train_pass_seconds`
    (the training pass alone) to each epoch's logs, so history.csv records them."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()
        self._train_end = None

    def on_test_begin(self, logs: dict | None = None) -> None:
        if getattr(self, "_start", None) is not None and self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        end = time.perf_counter()
        if logs is not None:
            logs["epoch_seconds"] = end - self._start
            logs["train_pass_seconds"] = (self._train_end or end) - self._start
        self._start = None


def _count_examples(dataset: tf.data.Dataset) -> int:
    def add(count, batch):
        return count + tf.cast(tf.shape(tf.nest.flatten(batch)[-1])[0], tf.int64)

    return int(dataset.reduce(tf.constant(0, tf.int64), add))


def steps_per_epoch(data: TaskData, args: argparse.Namespace) -> int:
    """Training batches per epoch: the dataset's known cardinality, else
    ceil(train examples / --batch-size), else one counting pass over the data."""
    cardinality = int(data.train.cardinality())
    if cardinality >= 0:
        return max(1, cardinality)
    if data.sizes.get("train"):
        return max(1, -(-data.sizes["train"] // args.batch_size))

    def add_one(count, batch):
        return count + 1

    return max(1, int(data.train.reduce(tf.constant(0, tf.int64), add_one)))


def _tensorboard(log_dir: str, args: argparse.Namespace) -> list[keras.callbacks.Callback]:
    """The TensorBoard callback, or none (with a note) when the tensorboard package is missing."""
    try:
        import tensorboard  # noqa: F401  (TF >= 2.20 no longer installs it)
    except ImportError:
        _say(args, "note: no TensorBoard logs (pip install tensorboard)")
        return []
    return [keras.callbacks.TensorBoard(log_dir, write_graph=False)]


def _train(recipe, args, data, model, paths, strategy) -> dict[str, Any]:
    """Fit (resuming from backup/), save model.keras, return the train summary."""
    resuming = _has_content(paths.backup)
    callbacks = [
        EpochTimer(),
        keras.callbacks.CSVLogger(paths.history, append=resuming),
        *_tensorboard(paths.tb, args),
        *recipe.callbacks(args, data),
    ]
    with warnings.catch_warnings():  # datasets are shuffled by the recipes, as they should be
        warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed")
        distribute.fit(
            model,
            data.train,
            validation_data=data.val,
            epochs=args.epochs,
            callbacks=callbacks,
            backup_dir=paths.backup,
            strategy=strategy,
            verbose=0 if args.quiet else 1,
        )
    artifacts.save_model_atomic(model, paths.model)
    history = artifacts.read_history(paths.history)
    epochs_run = int(max(history.get("epoch", [-1])) + 1)
    train_seconds = float(np.nansum(history.get("epoch_seconds", [0.0])))
    pass_seconds = float(np.nansum(history.get("train_pass_seconds", [0.0])))
    num_train = data.sizes.get("train") or _count_examples(data.train)
    state = {
        "epochs_run": epochs_run,
        "train_seconds": round(train_seconds, 3),
        "examples_per_second": round(num_train * epochs_run / pass_seconds, 2) if pass_seconds else None,
        "train_examples": num_train,
        "resumed": resuming,
    }
    artifacts.write_json_atomic(paths.train_state, state)
    return state


def train_and_evaluate(
    recipe: Recipe,
    args: argparse.Namespace,
    data: TaskData,
    model: keras.Model,
    run_dir: str,
    strategy: tf.distribute.Strategy,
    *,
    trained: bool = False,
) -> dict[str, Any]:
    """Train one configuration in `run_dir` (resuming if interrupted), evaluate, write artifacts.

    Args:
        trained: `model.keras` and `train_state.json` already exist (interrupted
            after training): load the saved model and only evaluate.

    Returns:
        The metrics written to `metrics.json` (written last).
    """
    paths = RunPaths(run_dir)
    multi_worker = distribute.is_multi_worker(strategy)
    if trained:
        if multi_worker and not _is_chief(strategy):
            return {}  # the chief evaluates alone
        model = keras.saving.load_model(paths.model)  # outside the scope: this process alone
        state = artifacts.read_json(paths.train_state)
    else:
        state = _train(recipe, args, data, model, paths, strategy)
        if multi_worker:
            if not _is_chief(strategy):
                return {"epochs_run": state["epochs_run"]}  # nothing to record on other workers
            model = distribute.local_copy(model)  # evaluation is not a collective
    test_metrics = recipe.evaluate(model, data, args, run_dir)
    artifacts.plot_curves(artifacts.read_history(paths.history), paths.curves, f"{recipe.name} / {args.model}")
    metrics = {
        "recipe": recipe.name,
        "model": args.model,
        "params": int(model.count_params()),
        "epochs_run": state["epochs_run"],
        "train_seconds": state["train_seconds"],
        "examples_per_second": state["examples_per_second"],
        **test_metrics,
        "sizes": data.sizes,
        "data": data.info,
        "strategy": distribute.resolve(args.strategy),
        "replicas": int(strategy.num_replicas_in_sync),
        "dtype_policy": keras.mixed_precision.global_policy().name,
        "seed": args.seed,
    }
    artifacts.write_json_atomic(paths.metrics, metrics)
    return metrics


def evaluate_classification(model: keras.Model, data: TaskData, run_dir: str, title: str = "") -> dict[str, Any]:
    """One pass over `data.test`: test_loss, test_accuracy, test_confusion; writes confusion.png."""
    y_true = np.concatenate([np.asarray(y).reshape(-1) for _, y in data.test.as_numpy_iterator()])
    probs = np.asarray(model.predict(data.test.map(lambda x, y: x), verbose=0), dtype=np.float64)
    eps = 1e-7
    if probs.ndim == 1 or probs.shape[-1] == 1:
        p = np.clip(probs.reshape(-1), eps, 1 - eps)
        loss = -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
        y_pred = (p > 0.5).astype(np.int64)
        num_classes = 2
    else:
        p = np.clip(probs[np.arange(len(y_true)), y_true.astype(np.int64)], eps, 1.0)
        loss = -np.mean(np.log(p))
        y_pred = probs.argmax(axis=-1)
        num_classes = probs.shape[-1]
    matrix = artifacts.confusion_matrix(y_true, y_pred, num_classes)
    artifacts.plot_confusion(matrix, data.class_names, os.path.join(run_dir, "confusion.png"), title)
    return {
        "test_accuracy": float(np.mean(y_pred == y_true)),
        "test_loss": float(loss),
        "test_examples": int(len(y_true)),
        "test_confusion": matrix.tolist(),
    }


# ----------------------------------------------------------------------------- main


def _seed(args: argparse.Namespace) -> None:
    keras.utils.set_random_seed(args.seed)
    if not args.no_determinism:
        tf.config.experimental.enable_op_determinism()


def _make_strategy(name: str) -> tf.distribute.Strategy:
    """`distribute.get_strategy(name)`, hiding the C++ logs of the first device probe (e.g.
    "failed call to cuInit" on CPU-only machines); multi-worker and TPU set-up keep theirs."""
    try:
        from seqzoo._quiet import silenced_stderr
    except ImportError:  # pragma: no cover
        silenced_stderr = contextlib.nullcontext
    with silenced_stderr():
        resolved = distribute.resolve(name)
    single = resolved in ("default", "one_device", "mirrored")
    with silenced_stderr() if single else contextlib.nullcontext():
        return distribute.get_strategy(name)


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    is_chief = getattr(distribute, "is_chief", None)
    return True if is_chief is None else bool(is_chief(strategy))


_STATES = ("new", "resume", "evaluate", "overwrite", "refused")


def _agree_on_state(recipe, args, hparams, strategy, chief) -> str:
    """What to do with the run directory; under multi-worker every worker follows the chief.

    Only the chief reads `--out`. The others learn its verdict through one
    collective, so a refused run directory stops every worker (instead of
    leaving them waiting) and a rerun after training evaluates on the chief only.
    """
    refusal = None
    state = "new"
    if chief:
        try:
            state = _inspect_run_dir(recipe, args, hparams)
        except UsageError as error:
            refusal, state = error, "refused"
    if distribute.is_multi_worker(strategy):
        state = _STATES[distribute.chief_value(_STATES.index(state), strategy)]
    if refusal is not None:
        raise refusal
    if state == "refused":
        raise UsageError(f"the chief refused --out {args.out} (see its message); fix it and restart every worker")
    return state


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, flush=True)


def run(recipe: Recipe, args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    """Validate, load, build, then train and evaluate; raises `UsageError`/`DataError` before writing."""
    args.out = args.out or _default_out(recipe, args.model)
    hparams = resolve_hyperparameters(recipe, args.model, parse_set(args.set))
    recipe.check_args(args)
    try:  # first TensorFlow work: multi_worker must be created before any op runs
        strategy = _make_strategy(args.strategy)
        policy = distribute.set_mixed_precision(args.mixed_precision, strategy)
    except distribute.StrategyError as error:
        raise UsageError(f"--strategy {args.strategy}: {error}") from None
    chief = _is_chief(strategy)
    state = _agree_on_state(recipe, args, hparams, strategy, chief)
    _seed(args)
    data = recipe.load(args)
    keras.utils.set_random_seed(args.seed)  # weights do not depend on what loading consumed
    model = build_model(recipe, args, data, hparams, strategy)

    run_dir = args.out if chief else distribute.write_dir(args.out, strategy)  # workers: a temp dir
    paths = RunPaths(run_dir)
    if state == "overwrite":
        _clear_run_dir(recipe, paths)
    os.makedirs(run_dir, exist_ok=True)
    if state in ("new", "overwrite"):
        artifacts.write_json_atomic(paths.config, {
            "recipe": recipe.name,
            "model": args.model,
            "command": _command(recipe, argv, args.out),
            "flags": _flags_for_config(args),
            "hyperparameters": hparams,
            "task": data.model_kwargs,
            "data": data.info,
            "class_names": data.class_names,
            "strategy": distribute.resolve(args.strategy),
            "dtype_policy": policy,
            "versions": {"seqzoo": seqzoo.__version__, "tensorflow": tf.__version__, "keras": keras.__version__},
        })
    verb = {"resume": "resuming", "evaluate": "evaluating the trained model in"}.get(state, "training into")
    _say(args, f"{recipe.name}: {args.model} ({model.count_params():,} params), {verb} {args.out}")
    metrics = train_and_evaluate(recipe, args, data, model, run_dir, strategy, trained=state == "evaluate")
    distribute.barrier(strategy)  # multi-worker: workers exit together (no-op otherwise)
    if not chief:
        shutil.rmtree(run_dir, ignore_errors=True)
        return metrics
    shown = {k: v for k, v in metrics.items() if k.startswith("test_") and isinstance(v, float)}
    _say(args, f"{recipe.name}: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
         + f"; epochs {metrics['epochs_run']}, {metrics['train_seconds']:.0f} s; {args.out}")
    return metrics


def main(recipe: Recipe, argv: Sequence[str] | None = None) -> int:
    """Run `recipe` with command-line `argv` (default `sys.argv[1:]`); returns the exit code.

    Example:

    >>> from recipes.imdb import ImdbRecipe
    >>> main(ImdbRecipe(), ["--data-dir", "data/imdb", "--limit", "256", "--epochs", "1"])  # doctest: +SKIP
    0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.getLogger("absl").setLevel(logging.ERROR)  # TFDS's absl warnings are not for users
    parser = build_parser(recipe)
    args = parser.parse_args(argv)
    try:
        from recipes import tuning  # noqa: PLC0415

        if tuning.requested(args):  # --tune: search, then train the best (recipes/tuning.py)
            tuning.run(recipe, args, argv)
        else:
            run(recipe, args, argv)
    except (UsageError, DataError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; rerun the same command to resume from the last finished epoch",
              file=sys.stderr)
        return 130
    return 0
