"""The shared runner: one training loop and one run directory for every recipe.

A recipe is a small `Recipe` subclass that knows its data, and a config
dataclass (`recipes.config.RunConfig` subclass) that holds its settings; the
runner does the rest: validation, seeding, the distribution strategy, building
and compiling the seqzoo model, training (through `seqzoo.distribute.fit`,
with resume), evaluation and the artifacts. The command line (`recipes.cli`)
only fills the config. Each recipe module ends with

    if __name__ == "__main__":
        sys.exit(main(MyRecipe()))          # from recipes.cli import main

Recipe contract (stable; later changes are additive)
----------------------------------------------------
@dataclasses.dataclass
class ImdbConfig(RunConfig):          # the shared settings' defaults, then the recipe's own
    model: str = "bilstm"             # --model default
    epochs: int = 2
    seq_len: int = 800                # one field per recipe flag (dest = the field name)

class MyRecipe(Recipe):
    name = "imdb"                     # `python -m recipes.imdb`, run dir prefix, metrics["recipe"]
    description = "..."               # first line of --help
    config_class = ImdbConfig         # the settings every hook receives (`args` below)
    config_by_model = {"hopfield": {"seq_len": 1600, "learning_rate": 5e-4}}
                                      # config defaults that depend on --model (any field);
                                      # a flag given on the command line wins
    model_defaults = {"*": {"embed_dim": 128}, "bilstm": {"units": 64}}
                                      # seqzoo keywords per model; "*" applies to every model
                                      # that declares the key (task keywords always apply);
                                      # --set overrides both
    artifacts = ("vocabulary.txt",)   # extra files the recipe writes (removed by --overwrite)

    def add_arguments(self, group): ...       # the recipe's flags (an argparse group), no default=
    def check_args(self, args): ...            # optional: setting checks, before any data is read
    def load(self, args) -> TaskData: ...      # read + split + batch the data; raise DataError
    def callbacks(self, args, data) -> list    # optional: extra Keras callbacks (LR schedule, ...)
    def optimizer(self, args, data)            # optional: default Adam(args.learning_rate)
    def prepare_model(self, model, args, data) # optional: after build + compile, before the run
                                               # directory exists (e.g. load pretrained weights)
    def evaluate(self, model, data, args, run_dir) -> dict
                                               # test metrics (+ plots); the default is
                                               # classification: test_loss, test_accuracy,
                                               # test_confusion and confusion.png

Defaults resolve in one place (`recipes.config.resolve`): the dataclass
defaults < `config_by_model[model]` < the flags given. Derived settings (a
tuning trial, the best configuration) are `dataclasses.replace(args, ...)`.

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
config.json     every flag (the config's fields), the resolved hyperparameters and task keywords, the
                data summary and a `command` that reruns (and resumes) the run
history.csv     one row per epoch (Keras CSVLogger, appended on resume), with
                `epoch_seconds` (incl. validation) and `train_pass_seconds`
tb/             TensorBoard logs
backup/         the resumable training state while training: Keras's BackupAndRestore
                files plus seqzoo_state.json/state.npz (callback state such as early
                stopping's wait/best/best weights, dropout seed states, the epoch,
                finished) and final.weights.h5; removed once train_state.json exists
model.keras     the trained model: `seqzoo.load_model(path)` (safe mode)
train_state.json  epochs_run and timings, written right after model.keras
curves.png      learning curves;  confusion.png (classification)
metrics.json    written LAST: recipe, model, params, epochs_run, train_seconds
                (sum of epoch_seconds over all sessions), examples_per_second
                (training examples x epochs / training-pass seconds), the test
                metrics and the recipe's data info. Its presence means "complete".

Rerunning the same command on the same `--out` (recipes/rundir.py: the state machine):
- interrupted during training: resumes from the last finished epoch and ends
  exactly like an uninterrupted run (same epochs, history and metrics):
  weights, optimizer, early stopping, dropout seeds and the shuffle order are
  restored (single machine; multi-worker runs restore weights, optimizer and epoch);
- interrupted after training (model.keras + train_state.json, no metrics.json):
  evaluates the saved model and writes the remaining artifacts; interrupted
  between the end of training and train_state.json: restores the final weights
  from backup/ without training;
- complete (metrics.json exists): refused with exit code 2; pass `--overwrite`
  to train again in place (removes only the runner's and recipe's artifacts);
- started with different flags: refused with exit code 2 (names the flag);
- another process running in the same `--out`: refused with exit code 2
  (an flock held on the directory for the whole run; a killed run holds none).
Leftover `.tmp-<pid>-*` files of a killed writer are removed by a rerun and by
`--overwrite`. `SEQZOO_FAULT_AT=<stage>` SIGKILLs the run at a named stage
(`fault_point`; tests/test_faults.py).

Bad input (unknown model, bad --set, --seed outside 0..2**32-1, missing data,
unusable run dir): one line `<prog>: error: ...` on stderr, exit code 2,
nothing created. Warnings (a very large --learning-rate, single-class training
data, a diverged loss) are one `<prog>: warning: ...` line each.

Tuning and other callers: `resolve_hyperparameters`, `build_model` and
`train_and_record` (config.json, training or evaluation, metrics.json, the
summary line) are the steps `main` runs for one configuration; `--tune`'s
final training calls the same `train_and_record`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
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
from recipes import artifacts, baselines, budget, rundir  # noqa: E402
from recipes import config as run_config  # noqa: E402
from recipes.config import RunConfig  # noqa: E402
from recipes.data import DataError, first_line  # noqa: E402  (re-exported: recipes raise runner.DataError)
from recipes.rundir import UsageError  # noqa: E402  (re-exported: recipes raise runner.UsageError)
from seqzoo import distribute, registry  # noqa: E402
from seqzoo.heads import loss_and_metrics  # noqa: E402
from seqzoo.params import ParamError, validate_all  # noqa: E402
from seqzoo.params import parse_value  # noqa: E402
from seqzoo.task import TASK_PARAMS  # noqa: E402

__all__ = [
    "DataError",
    "command_line",
    "default_out",
    "say",
    "warn",
    "seed_run",
    "Recipe",
    "RunPaths",
    "TaskData",
    "UsageError",
    "build_model",
    "evaluate_classification",
    "parse_set",
    "resolve_hyperparameters",
    "train_and_evaluate",
]


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
        train_label_counts: classification: examples per class in the training
            split (optional); the runner warns when fewer than two classes occur.
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    model_kwargs: dict[str, Any]
    class_names: list[str] | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_label_counts: list[int] | None = None


class Recipe:
    """Base class of the recipes; see the module docstring for the contract."""

    name: str = "recipe"
    description: str = ""
    config_class: type[RunConfig] = RunConfig
    config_by_model: dict[str, dict[str, Any]] = {}
    model_defaults: dict[str, dict[str, Any]] = {}
    # --tune searches the model's space shaped around the run's resolved defaults (recipes/tuning.py):
    # a log-sampled range spans default/span .. default*span; {"*": span, NAME: span}, the model's
    # declared width (centred) where none is given. Larger: wider searches; smaller: narrower.
    tune_span: dict[str, float] = {}
    artifacts: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for old in ("defaults", "flag_defaults"):
            if old in vars(cls):
                raise TypeError(f"{cls.__name__}.{old}: the defaults are the fields of a RunConfig subclass "
                                "(config_class) and config_by_model holds the per-model ones (recipes/config.py)")
        run_config.check_overrides(cls.config_class, cls.config_by_model, cls.__name__)

    @property
    def default_model(self) -> str:
        """The `--model` default: `config_class`'s `model` field."""
        return run_config.defaults(self.config_class)["model"]

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        """Add the recipe's own flags to `group`: one per field of `config_class` (dest = the field),
        without `default=` (the dataclass holds the defaults; `%(default)s` shows them)."""

    def check_args(self, args: RunConfig) -> None:
        """Check settings before any data is read (raise `UsageError`/`DataError`)."""

    def default_text(self, key: str) -> str:
        """`(default: 10000; hopfield: 200000)`: a setting's default and its per-model exceptions."""
        return run_config.default_text(self.config_class, self.config_by_model, key)

    def load(self, args: RunConfig) -> TaskData:
        raise NotImplementedError

    def callbacks(self, args: RunConfig, data: TaskData) -> list[keras.callbacks.Callback]:
        """Extra Keras callbacks for training (learning-rate schedule, early stopping, ...)."""
        return []

    def optimizer(self, args: RunConfig, data: TaskData) -> keras.optimizers.Optimizer:
        """The optimizer, created inside the strategy scope; default Adam(--learning-rate).

        `data` is there for per-step schedules (`steps_per_epoch(data, args)`).
        """
        return keras.optimizers.Adam(args.learning_rate)

    def prepare_model(self, model: keras.Model, args: RunConfig, data: TaskData) -> None:
        """Adjust the built, compiled model before anything is written, e.g. load pretrained
        weights (`recipes.finetune`); a resumed run then restores its own state over it.
        Raise `UsageError`/`DataError` to refuse: nothing is written."""

    def evaluate(self, model: keras.Model, data: TaskData, args: RunConfig, run_dir: str) -> dict:
        """Test metrics (and plots in `run_dir`); default: `evaluate_classification`."""
        return evaluate_classification(model, data, run_dir, title=f"{self.name} / {args.model}")


# ----------------------------------------------------------------------------- flags


# Task keywords a user may --set; the others (inputs, seq_len, vocab_size, features,
# head, num_classes, horizon, targets) are fixed by the recipe from its data and flags.
SETTABLE_TASK_KEYS = ("embed_dim", "token_dropout", "normalize", "linear_skip")

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
# (recipes/rundir.py: the files, the lock and the state machine)

RunPaths = rundir.RunPaths
_RESUME_FREE_FLAGS = rundir.RESUME_FREE_FLAGS  # kept for callers of the old name
_flags_for_config = rundir.flags_for_config


def default_out(recipe: Recipe, model: str) -> str:
    """`runs/<recipe>-<model>-<timestamp>`: the run directory when --out is not given."""
    return rundir.default_out(recipe.name, model)


def command_line(recipe: Recipe, argv: Sequence[str], out: str) -> str:
    """The command that reruns (and resumes) this run, with its --out."""
    argv = list(argv)
    if not any(a == "--out" or a.startswith("--out=") for a in argv):
        argv += ["--out", out]
    return shlex.join(["python", "-m", f"recipes.{recipe.name}", *argv])


# ----------------------------------------------------------------------------- model


def build_model(
    recipe: Recipe,
    args: RunConfig,
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


def steps_per_epoch(data: TaskData, args: RunConfig) -> int:
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


def _tensorboard(log_dir: str, args: RunConfig) -> list[keras.callbacks.Callback]:
    """The TensorBoard callback, or none (with a note) when the tensorboard package is missing."""
    try:
        import tensorboard  # noqa: F401  (TF >= 2.20 no longer installs it)
    except ImportError:
        say(args, "note: no TensorBoard logs (pip install tensorboard)")
        return []
    return [keras.callbacks.TensorBoard(log_dir, write_graph=False)]


def fault_point(stage: str) -> None:
    """Kill this process (SIGKILL) when `SEQZOO_FAULT_AT` names `stage`: the fault-injection
    hook of tests/test_faults.py. Stages: `keras_backup:<k>` (epoch k backed up by Keras,
    not yet by rundir.ResumeState), `epoch_end:<k>` (epoch k fully backed up), `after_fit`
    (training done, model.keras not saved), `after_model_saved`, `after_train_state`
    (backup/ not yet removed), `during_evaluation`, `before_metrics`."""
    if os.environ.get("SEQZOO_FAULT_AT") == stage:
        import signal  # noqa: PLC0415

        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


class _FaultAtEpochEnd(keras.callbacks.Callback):
    def __init__(self, stage: str):
        super().__init__()
        self.stage = stage

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        fault_point(f"{self.stage}:{epoch}")


def _train(recipe, args, data, model, paths, strategy) -> dict[str, Any]:
    """Fit (resuming from backup/), save model.keras, write train_state.json, remove backup/.

    Single-machine runs resume exactly (rundir.ResumeState: callbacks, seeds, data order);
    multi-worker runs resume weights, optimizer and epoch (seqzoo.distribute.fit).
    """
    multi_worker = distribute.is_multi_worker(strategy)
    extra = recipe.callbacks(args, data)
    resume = None if multi_worker else rundir.ResumeState(paths.backup, extra)
    resuming = rundir.has_content(paths.backup)
    if resume is not None and resume.finished:  # killed after training, before model.keras
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(resume.final_weights)
    else:
        callbacks = [
            EpochTimer(),
            keras.callbacks.CSVLogger(paths.history, append=resuming),
            *_tensorboard(paths.tb, args),
            *extra,
        ]
        epochs, train = args.epochs, data.train
        if resume is not None:
            # Keras's backup (kept until train_state.json is written), first; ours, last.
            callbacks = [keras.callbacks.BackupAndRestore(paths.backup, double_checkpoint=True,
                                                          delete_checkpoint=False),
                         *callbacks, _FaultAtEpochEnd("keras_backup"), resume.callback(),
                         _FaultAtEpochEnd("epoch_end")]
            # The shuffle order continues where it stopped: each new iterator of a dataset
            # reshuffles it, so start (without reading) as many as the finished epochs made.
            # Keras 3's EpochIterator makes two per epoch when the number of batches is known
            # (one as the epoch starts, one as it ends), else one; a change there is caught by
            # tests/test_runner.py::test_resumed_run_reproduces_the_uninterrupted_one.
            per_epoch = 2 if int(train.cardinality()) > 0 else 1
            for _ in range(resume.epoch * per_epoch):
                iter(train)
            if resume.state.get("stopped"):  # early stopping had ended training: run no epoch
                epochs = resume.epoch
        with warnings.catch_warnings():  # datasets are shuffled by the recipes, as they should be
            warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed")
            distribute.fit(
                model,
                train,
                validation_data=data.val,
                epochs=epochs,
                callbacks=callbacks,
                backup_dir=paths.backup if multi_worker else None,
                strategy=strategy,
                verbose=0 if args.quiet else 1,
            )
    fault_point("after_fit")
    artifacts.save_model_atomic(model, paths.model)
    fault_point("after_model_saved")
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
        "resumed": bool(resuming or (resume is not None and resume.state.get("resumed"))),
    }
    artifacts.write_json_atomic(paths.train_state, state)
    fault_point("after_train_state")
    shutil.rmtree(paths.backup, ignore_errors=True)
    _warn_if_diverged(args, history)
    return state


def _warn_if_diverged(args: RunConfig, history: dict[str, list[float]]) -> None:
    losses = history.get("loss", [])
    if losses and not np.isfinite(losses[-1]):
        warn(args, f"training diverged (loss {losses[-1]} in the last epoch); "
                    f"lower --learning-rate (now {args.learning_rate:g})")


def train_and_evaluate(
    recipe: Recipe,
    args: RunConfig,
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
        shutil.rmtree(paths.backup, ignore_errors=True)  # killed before it was removed
        try:
            model = seqzoo.load_model(paths.model)  # outside the scope: this process alone
        except Exception as error:  # noqa: BLE001  (a damaged file: say so in one line)
            raise UsageError(f"--out {args.out!r}: model.keras cannot be loaded ({first_line(error)}); "
                             "pass --overwrite to train again") from None
        state = artifacts.read_json(paths.train_state)
    else:
        state = _train(recipe, args, data, model, paths, strategy)
        if multi_worker:
            if not _is_chief(strategy):
                return {"epochs_run": state["epochs_run"]}  # nothing to record on other workers
            model = distribute.local_copy(model)  # evaluation is not a collective
    fault_point("during_evaluation")
    test_metrics = recipe.evaluate(model, data, args, run_dir)
    sanity = _baselines(data, test_metrics)
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
        **sanity,
    }
    fault_point("before_metrics")
    artifacts.write_json_atomic(paths.metrics, metrics)
    return metrics


def _baselines(data: TaskData, test_metrics: dict[str, Any]) -> dict[str, Any]:
    """`{"baselines": {...}, "warnings": [...]}`: the sanity baselines fitted on the same training
    split (recipes.baselines) and a plain warning for each one the model does not beat."""
    try:
        found = baselines.for_task(data)
    except Exception as error:  # noqa: BLE001  (a baseline never fails the run; say why it is missing)
        return {"baselines": {}, "warnings": [f"warning: no sanity baselines ({first_line(error)})"]}
    if "baseline_mse" in test_metrics:  # the forecast recipes' persistence, on the same windows
        found["persistence_mse"] = test_metrics["baseline_mse"]
    return {"baselines": found, "warnings": baselines.sanity_check(test_metrics, found)}


def train_and_record(
    recipe: Recipe,
    args: RunConfig,
    argv: Sequence[str],
    data: TaskData,
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    *,
    hparams: dict[str, Any],
    policy: str,
    state: str | None = None,
    config: dict[str, Any] | None = None,
    label: str = "",
) -> dict[str, Any]:
    """Train `model` into `args.out` and record it: config.json (new runs), training (resumed
    when interrupted) or evaluation only (trained before), metrics.json, the summary line.

    The one path of plain runs and of `--tune`'s final training. The caller holds
    the run directory's lock (`rundir.RunLock`) on the chief.

    Args:
        hparams: the model's resolved hyperparameters (recorded in config.json).
        policy: the dtype policy name (recorded).
        state: `"new"`, `"resume"` or `"evaluate"` (default: read from the directory).
        config: extra or replaced config.json entries.
        label: a word before the model's name in the progress line (e.g. `"best "`).

    Returns:
        The metrics (empty or partial on multi-worker workers other than the chief).
    """
    chief = _is_chief(strategy)
    run_dir = args.out if chief else distribute.write_dir(args.out, strategy)  # workers: a temp dir
    paths = RunPaths(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    if chief:
        rundir.remove_leftovers(run_dir)
        state = state or rundir.training_state(paths)
    state = state or "new"
    if state == "new":
        artifacts.write_json_atomic(paths.config, {
            "recipe": recipe.name,
            "model": args.model,
            "command": command_line(recipe, argv, args.out),
            "flags": rundir.flags_for_config(args),
            "hyperparameters": hparams,
            "task": data.model_kwargs,
            "data": data.info,
            "class_names": data.class_names,
            "strategy": distribute.resolve(args.strategy),
            "dtype_policy": policy,
            "versions": {"seqzoo": seqzoo.__version__, "tensorflow": tf.__version__, "keras": keras.__version__},
            **(config or {}),
        })
    verb = {"resume": "resuming", "evaluate": "evaluating the trained model in"}.get(state, "training into")
    say(args, f"{recipe.name}: {label}{args.model} ({model.count_params():,} params), {verb} {args.out}")
    metrics = train_and_evaluate(recipe, args, data, model, run_dir, strategy, trained=state == "evaluate")
    distribute.barrier(strategy)  # multi-worker: workers exit together (no-op otherwise)
    if not chief:
        shutil.rmtree(run_dir, ignore_errors=True)
        return metrics
    shown = {k: v for k, v in metrics.items() if k.startswith("test_") and isinstance(v, float)}
    say(args, f"{recipe.name}: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
         + f"; epochs {metrics['epochs_run']}, {metrics['train_seconds']:.0f} s; {args.out}")
    if metrics.get("baselines"):
        say(args, f"{recipe.name}: baselines on the same test split: "
             + ", ".join(f"{k} {v:.4f}" for k, v in metrics["baselines"].items() if v is not None))
    for line in metrics.get("warnings", []):
        print(f"{recipe.name}: {line}", file=sys.stderr, flush=True)
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


def seed_run(args: RunConfig) -> None:
    """Seed Python, NumPy and Keras with --seed and switch op determinism on (unless --no-determinism)."""
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


def _agree_on_state(recipe, args, hparams, strategy, chief, lock) -> str:
    """What to do with the run directory; under multi-worker every worker follows the chief.

    Only the chief reads `--out`. The others learn its verdict through one
    collective, so a refused run directory stops every worker (instead of
    leaving them waiting) and a rerun after training evaluates on the chief only.
    """
    refusal = None
    state = "new"
    if chief:
        try:
            lock.acquire()  # an existing --out: locked before it is read
            state = rundir.inspect_run(args.out, recipe.name, rundir.flags_for_config(args), hparams,
                                       args.overwrite)
        except UsageError as error:
            refusal, state = error, "refused"
    if distribute.is_multi_worker(strategy):
        state = _STATES[distribute.chief_value(_STATES.index(state), strategy)]
    if refusal is not None:
        raise refusal
    if state == "refused":
        raise UsageError(f"the chief refused --out {args.out} (see its message); fix it and restart every worker")
    return state


def say(args: RunConfig, text: str) -> None:
    """Print a progress line unless --quiet."""
    if not args.quiet:
        print(text, flush=True)


def warn(args: RunConfig, text: str) -> None:
    """A warning line on stderr (also under --quiet: it may explain a bad result)."""
    prog = f"python -m recipes.{args.recipe_name}"
    print(f"{prog}: warning: {text}", file=sys.stderr, flush=True)


# A learning rate above this is a typo or a test of divergence: warn.
LARGE_LEARNING_RATE = 10.0


def check_common(recipe: Recipe, args: RunConfig) -> None:
    """The checks of the shared flags that need no data (plain runs and --tune)."""
    if args.learning_rate > LARGE_LEARNING_RATE:
        warn(args, f"--learning-rate {args.learning_rate:g} is very large (above {LARGE_LEARNING_RATE:g}); "
                    "training will likely diverge")


def check_data(args: RunConfig, data: TaskData) -> None:
    """Warnings about data that loads but cannot train a useful model (one class)."""
    counts = data.train_label_counts
    if counts is not None:
        present = [i for i, n in enumerate(counts) if n]
        if len(present) < 2:
            names = data.class_names or [str(i) for i in range(len(counts))]
            only = f"only {names[present[0]]!r}" if present else "none"
            warn(args, f"the training data holds a single class ({only}); "
                        "the model cannot learn to tell the classes apart")


def adapt_to_data(recipe: Recipe, args: RunConfig, data: TaskData) -> None:
    """The defaults that adapt to the data (recipes/budget.py: epochs, patience; the recipe's
    `load` may have chosen others), recorded in `data.info["adapted"]` and printed."""
    adapted = budget.adapt(recipe, args, data, steps_per_epoch(data, args))
    if adapted:
        say(args, f"{recipe.name}: adapted to the data: {budget.describe(adapted)}")


def _lock_new_dir(lock: rundir.RunLock, recipe: Recipe, args: RunConfig, hparams, state: str) -> str:
    """Lock an --out this run has just created; re-inspect it (another run may have started there)."""
    if lock.held:
        return state
    os.makedirs(args.out, exist_ok=True)
    lock.acquire()
    again = rundir.inspect_run(args.out, recipe.name, rundir.flags_for_config(args), hparams, args.overwrite)
    if again != state:
        raise UsageError(f"--out {args.out!r} was used by another run meanwhile; rerun to continue it")
    return state


def run(recipe: Recipe, args: RunConfig, argv: Sequence[str]) -> dict[str, Any]:
    """Validate, load, build, then train and evaluate; raises `UsageError`/`DataError` before writing.

    The chief holds `--out`'s lock (recipes/rundir.py) from before it is inspected
    (or, for a new directory, from its creation) to the end.
    """
    args.out = args.out or default_out(recipe, args.model)
    hparams = resolve_hyperparameters(recipe, args.model, parse_set(args.set))
    check_common(recipe, args)
    recipe.check_args(args)
    try:  # first TensorFlow work: multi_worker must be created before any op runs
        strategy = _make_strategy(args.strategy)
        policy = distribute.set_mixed_precision(args.mixed_precision, strategy)
    except distribute.StrategyError as error:
        raise UsageError(f"--strategy {args.strategy}: {error}") from None
    chief = _is_chief(strategy)
    lock = rundir.RunLock(args.out)
    try:
        state = _agree_on_state(recipe, args, hparams, strategy, chief, lock)
        seed_run(args)
        data = recipe.load(args)
        check_data(args, data)
        adapt_to_data(recipe, args, data)
        keras.utils.set_random_seed(args.seed)  # weights do not depend on what loading consumed
        model = build_model(recipe, args, data, hparams, strategy)
        recipe.prepare_model(model, args, data)
        if chief:
            state = _lock_new_dir(lock, recipe, args, hparams, state)
            if state == "overwrite":
                rundir.clear(RunPaths(args.out), recipe.artifacts)
        return train_and_record(recipe, args, argv, data, model, strategy, hparams=hparams, policy=policy,
                                state="new" if state == "overwrite" else state)
    finally:
        lock.release()


def __getattr__(name: str) -> Any:
    """`runner.main` and `runner.build_parser`: the old names of `recipes.cli.main` / `build_parser`
    (the command line moved there so that runner and tuning do not import each other)."""
    if name in ("main", "build_parser"):
        return getattr(importlib.import_module("recipes.cli"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
