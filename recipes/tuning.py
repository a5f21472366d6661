"""`--tune`: hyperparameter search on every recipe, then the best configuration trained like a normal run.

    python -m recipes.imdb --tune --model bilstm --max-trials 20 --out runs/imdb-tune
    python -m recipes.ett --tune --model transformer --tuner hyperband --max-epochs 9 \\
        --objective val_mae --space width=32:128 --space heads=2,4 --out runs/ett-tune

The search space is the model's own (`python -m seqzoo info MODEL`), shaped
around this run's defaults (the recipe's for the model, `--set`): every
searched range contains the default, a log-sampled one centred on it
(default/span .. default*span, clipped to the valid range; the span is the
recipe's `tune_span` or the model's declared width), and the first trial is
the default configuration, so the search can only match or improve on it.
`--space KEY=LO:HI` (optionally `:log`/`:linear`) or `--space KEY=A,B,C`
narrows, widens or adds a dimension (any hyperparameter of the model, or
`learning_rate`), checked against its valid range, and is taken as given.
`--set KEY=VALUE` fixes a hyperparameter (it is not searched). Dependent
dimensions (heads dividing the width) are sampled together, so every trial is
a valid model.

A trial's training stops after `--trial-seconds S` (default: twice the
default configuration's time per epoch, times the epochs a trial may train;
`0`: no limit), so one huge configuration cannot eat the search; the cut
epoch is still validated and the trial keeps its best score so far
(trials.csv: `time_limit`, `stopped`).

Every trial trains on the training split and is scored on the validation
split (`--objective`, default `val_loss`; never a test metric). The run
directory gets

    tuning/trials.csv     one row per trial: trial_id, status, score, epochs, seconds,
                          tuner_id, the hyperparameters, time_limit, stopped,
                          from_trial (Hyperband), error
    tuning/best.json      the best trial: score, hyperparameters, all model hyperparameters
    tuning/settings.json  the search's flags (a rerun must match them), space, trial limit
    tuning/keras_tuner/   KerasTuner's oracle and trial checkpoints

then the best configuration is trained for `--epochs` and evaluated on test
exactly like a run without `--tune` (config.json, history.csv, model.keras,
metrics.json, plots). Rerunning the same command continues an interrupted
search (finished trials are never rerun; the interrupted one restarts) or
an interrupted final training; `--overwrite` starts over.

Distributed search (KerasTuner's chief/worker engine): start one chief and
any number of workers with the same command and `--out` (a folder every
process can read and write), adding `--tuner-id chief` or `--tuner-id
tuner0`, `tuner1`, ... and `--oracle-port PORT` (or the environment variables
`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_PORT`, `KERASTUNER_ORACLE_IP`). The
chief serves the oracle on `--oracle-ip` (default 127.0.0.1: this machine
only; `0.0.0.0` accepts other machines, whose workers then give the chief's
address), runs no trial, and when every trial is done writes trials.csv and
best.json and trains the best configuration. Workers wait for the chief to
start the search in --out (up to `SEQZOO_WORKER_WAIT` seconds, default 600),
refuse a search started with other flags, and only run trials.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import io
import logging
import os
import re
import sys
import time
from typing import Any, Sequence

from recipes import artifacts, flags, rundir, runner
from recipes.config import RunConfig
from recipes.config import defaults as config_defaults
from recipes.rundir import UsageError

TUNERS = ("random", "bayesian", "hyperband")
WORKER_WAIT_SECONDS = float(os.environ.get("SEQZOO_WORKER_WAIT", "600"))  # a worker waits this long for the chief
SUBDIR = "tuning"
PROJECT = "keras_tuner"
TRIAL_TIME_FACTOR = 2.0  # --trial-seconds default: this many times the default trial's seconds per epoch

# (field of RunConfig, flag) of every search setting: given without --tune they are an error.
_FLAGS = (
    ("tuner", "--tuner"),
    ("max_trials", "--max-trials"),
    ("max_epochs", "--max-epochs"),
    ("executions_per_trial", "--executions-per-trial"),
    ("objective", "--objective"),
    ("space", "--space"),
    ("trial_seconds", "--trial-seconds"),
    ("tuner_id", "--tuner-id"),
    ("oracle_ip", "--oracle-ip"),
    ("oracle_port", "--oracle-port"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `hyperparameter search` flag group to a recipe's parser (fields of `RunConfig`,
    which holds their defaults)."""
    group = parser.add_argument_group(
        "hyperparameter search (KerasTuner)",
        "--tune searches the model's space (python -m seqzoo info MODEL), centred on this run's "
        "defaults and starting with them, on the validation split, writes OUT/tuning/trials.csv "
        "and best.json, then trains and tests the best configuration.",
    )
    group.add_argument("--tune", action="store_true", help="search hyperparameters, then train the best")
    group.add_argument("--tuner", choices=TUNERS,
                       help="search algorithm (default: %(default)s; bayesian needs scikit-learn)")
    group.add_argument("--max-trials", type=flags.positive_int, metavar="N",
                       help="configurations to try in all (default: %(default)s; also caps hyperband)")
    group.add_argument("--max-epochs", type=flags.positive_int, metavar="N",
                       help="hyperband: the largest epoch budget of a trial (default: --epochs)")
    group.add_argument("--executions-per-trial", type=flags.positive_int, metavar="N", help="trainings per configuration, scores averaged (default: %(default)s)")
    group.add_argument("--objective",
                       help="validation metric to optimise: val_loss, val_accuracy (classification), "
                       "val_mae (forecast) (default: %(default)s)")
    group.add_argument("--space", action="append", metavar="KEY=LO:HI|KEY=A,B,C",
                       help="narrow/widen/add a search dimension, repeatable, e.g. --space units=32:256 "
                       "--space pool=max,mean --space learning_rate=1e-4:1e-2:log")
    group.add_argument("--trial-seconds", type=flags.non_negative_float, metavar="S",
                       help=f"stop a trial's training after S seconds, keeping its best score so far "
                       f"(default: {TRIAL_TIME_FACTOR:g}x the first trial's (the defaults') seconds per "
                       "epoch, times the epochs a trial may train; 0: no limit)")
    group.add_argument("--tuner-id", metavar="ID",
                       help="distributed search: 'chief' serves the oracle, tuner0, tuner1, ... run trials "
                       "(or KERASTUNER_TUNER_ID)")
    group.add_argument("--oracle-ip", metavar="IP",
                       help="distributed search: the chief's address (default 127.0.0.1; on the chief "
                       "0.0.0.0 accepts other machines) (or KERASTUNER_ORACLE_IP)")
    group.add_argument("--oracle-port", type=flags.positive_int, metavar="PORT",
                       help="distributed search: the oracle's port (or KERASTUNER_ORACLE_PORT)")


def requested(args: RunConfig) -> bool:
    """Whether to search; search settings given without `--tune` raise `UsageError`."""
    if args.tune:
        return True
    default = config_defaults(type(args))
    given = [flag for name, flag in _FLAGS if getattr(args, name) != default[name]]
    if given:
        raise UsageError(f"{given[0]} needs --tune")
    return False


# ----------------------------------------------------------------------------- flags -> seqzoo.tuning


def parse_space(items: Sequence[str]) -> dict[str, str]:
    """`--space` values -> the `space` of `seqzoo.tuning.search_space`: `["units=16:64", "pool=max,mean"]`
    -> `{"units": "16:64", "pool": "max,mean"}`.

    Syntax: `KEY=LO:HI` (optionally `KEY=LO:HI:log` or `:linear`) or
    `KEY=A,B,C`; seqzoo checks the values. Bad syntax raises `UsageError`.

    Example:

    >>> parse_space(["units=16:64", "pool=max,mean"])
    {'units': '16:64', 'pool': 'max,mean'}
    """
    space: dict[str, str] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"--space {item!r}: expected KEY=LO:HI or KEY=A,B,C, e.g. --space units=32:256")
        if key in space:
            raise UsageError(f"--space {key} is given twice; give each dimension once")
        space[key] = text.strip()
    return space


# seqzoo.tuning's messages name its Python arguments; the command line names flags.
_FLAG_FORMS = (
    (re.compile(r"space\['(\w+)'\]='([^']*)'"), r"--space \1=\2"),  # space['units']='8:2'
    (re.compile(r"space\['(\w+)'\]"), r"--space \1"),
    (re.compile(r"space=\{KEY: 'LO:HI'\}"), "--space KEY=LO:HI"),
    (re.compile(r"^space:"), "--space:"),  # space: gru has no hyperparameter ...
    (re.compile(r"fixed=\{'(\w+)': '?([^'}]*)'?\}"), r"--set \1=\2"),  # fixed={'units': 8}
    (re.compile(r"fixed\['(\w+)'\]"), r"--set \1"),
    (re.compile(r"objective='([^']*)'"), r"--objective \1"),
    (re.compile(r"kind='(\w+)'"), r"--tuner \1"),
)


def flag_message(error: Exception) -> str:
    """A `seqzoo.tuning.SpaceError` in the command line's words.

    Example:

    >>> flag_message(ValueError("space['units'] and fixed['units'] both given"))
    '--space units and --set units both given'
    """
    text = str(error)
    for pattern, flag in _FLAG_FORMS:
        text = pattern.sub(flag, text)
    return text


# ----------------------------------------------------------------------------- distributed search

_TUNER_ID, _ORACLE_IP, _ORACLE_PORT = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"


def configure_distributed(
    tuner_id: str | None = None,
    oracle_ip: str | None = None,
    oracle_port: int | str | None = None,
    environ: dict[str, str] | None = None,
) -> str | None:
    """Set KerasTuner's distributed-search variables from the flags; returns the tuner id (`None`: one process).

    The flags (`--tuner-id`, `--oracle-ip`, `--oracle-port`) override the
    environment (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`,
    `KERASTUNER_ORACLE_PORT`). The id `chief` serves the oracle, any other id
    (`tuner0`, `tuner1`, ...) runs trials. The oracle address defaults to
    127.0.0.1 (this machine only). Incomplete settings raise `UsageError` and
    change nothing.

    Example:

    >>> env = {}
    >>> configure_distributed("chief", oracle_port=8000, environ=env)
    'chief'
    >>> env["KERASTUNER_ORACLE_IP"]
    '127.0.0.1'
    """
    env = os.environ if environ is None else environ
    given = {_TUNER_ID: tuner_id, _ORACLE_IP: oracle_ip, _ORACLE_PORT: oracle_port}
    values = {k: str(v) if v is not None else env.get(k) for k, v in given.items()}
    tid, ip, port = values[_TUNER_ID], values[_ORACLE_IP], values[_ORACLE_PORT]
    if not tid and not port and not ip:
        return None
    if not tid:
        raise UsageError("distributed search needs a tuner id: --tuner-id chief on one process, "
                         "tuner0, tuner1, ... on the others (or KERASTUNER_TUNER_ID)")
    if not port:
        raise UsageError("distributed search needs the oracle's port: --oracle-port PORT on every "
                         "process (or KERASTUNER_ORACLE_PORT)")
    try:
        if not 0 < int(port) < 65536:
            raise ValueError
    except ValueError:
        raise UsageError(f"oracle port {port!r} must be an integer in 1..65535") from None
    values[_ORACLE_IP] = ip or "127.0.0.1"
    env.update(values)
    return tid


def is_search_chief(environ: dict[str, str] | None = None) -> bool:
    """Whether this process is a distributed search's chief (serves the oracle, runs no trial).

    Not `seqzoo.distribute.is_chief`, the worker of a multi-worker training
    that writes the run directory.
    """
    env = os.environ if environ is None else environ
    return "chief" in env.get(_TUNER_ID, "") and _ORACLE_IP in env


def is_search_worker(environ: dict[str, str] | None = None) -> bool:
    """Whether this process is a distributed search's worker (runs trials for a remote oracle)."""
    env = os.environ if environ is None else environ
    return _ORACLE_IP in env and not is_search_chief(env)


# ----------------------------------------------------------------------------- run dir


def _settings_path(out: str) -> str:
    return os.path.join(out, SUBDIR, "settings.json")


def _inspect(recipe, args: RunConfig, flags: dict[str, Any]) -> str:
    """`"new"`, `"resume"` or `"overwrite"`; `UsageError` for an unusable --out. Reads only."""
    return rundir.inspect_search(args.out, recipe.name, flags, args.overwrite)


_changed_flags = rundir.changed_flags


def _wait_for_chief(recipe, args: RunConfig, flags: dict[str, Any]) -> str:
    """A worker waits until the chief has started the search in --out, then checks it runs the same one."""
    deadline = time.monotonic() + WORKER_WAIT_SECONDS
    path = _settings_path(args.out)
    while not os.path.isfile(path):
        if time.monotonic() > deadline:
            raise UsageError(
                f"no chief started a search in --out {args.out!r} within {WORKER_WAIT_SECONDS:.0f} s; "
                "start the chief (--tuner-id chief) with the same --out"
            )
        time.sleep(0.5)
    try:
        before = artifacts.read_json(path)
    except (OSError, ValueError) as error:
        raise UsageError(f"--out {args.out!r}: unreadable tuning/settings.json ({error})") from None
    changed = _changed_flags(flags, before.get("flags", {}))
    if changed or before.get("recipe") != recipe.name:
        raise UsageError(
            f"the chief's search in --out {args.out!r} uses other settings ({', '.join(changed) or 'recipe'}); "
            "start every process with the same command"
        )
    return "worker"


def _clear(recipe, out: str) -> None:
    rundir.clear(rundir.RunPaths(out), (*recipe.artifacts, SUBDIR))


# ----------------------------------------------------------------------------- results


def _cell(value: Any) -> Any:
    return "" if value is None else value


def write_trials_csv(rows: list[dict[str, Any]], path: str) -> None:
    """`rows` (from `seqzoo.tuning.trial_rows`) as CSV, atomically."""
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    artifacts.write_text_atomic(path, buffer.getvalue())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def leaderboard(rows: list[dict[str, Any]], names: Sequence[str], objective: str, direction: str,
                top: int = 10) -> str:
    """The best `top` completed trials as a text table."""
    done = [r for r in rows if r["status"] == "COMPLETED" and r["score"] is not None]
    done.sort(key=lambda r: r["score"], reverse=direction == "max")
    lines = [f"{'rank':>4}  {'trial':>5}  {objective:>12}  {'epochs':>6}  {'seconds':>7}  hyperparameters"]
    for rank, row in enumerate(done[:top], 1):
        params = " ".join(f"{n}={_fmt(row.get(n))}" for n in names if row.get(n) is not None)
        lines.append(f"{rank:>4}  {row['trial_id']:>5}  {_fmt(row['score']):>12}  {_fmt(row['epochs']):>6}  "
                     f"{_fmt(row['seconds']):>7}  {params}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the search


def _trial_limit(seconds: float | None):
    """`--trial-seconds` -> `make_tuner(trial_seconds=)`: a number, none (0) or the relative default."""
    from seqzoo import tuning as zt

    if seconds is None:
        return zt.relative_time_limit(TRIAL_TIME_FACTOR)
    return seconds or None


def _space_text(spec) -> str:
    if spec.kind == "choice":
        return "{" + ",".join(map(str, spec.search)) + "}"
    return f"{_fmt(spec.search[0])}..{_fmt(spec.search[1])}" + (" log" if spec.sampling == "log" else "")


def _limit_text(seconds: float | None) -> str:
    if seconds is None:
        return (f"{TRIAL_TIME_FACTOR:g} x the first trial's seconds per epoch x the epochs a trial may train "
                "(the first trial: no limit)")
    return f"{seconds:g} s" if seconds else "no limit"


def _trial_fit(strategy):
    """`HyperModel.fit` for the recipes: train through `seqzoo.distribute.fit` (Hyperband's
    `initial_epoch` becomes the number of epochs still to run)."""
    from seqzoo import distribute

    def fit(model, train, *, validation_data=None, epochs=1, callbacks=None, initial_epoch=0,
            verbose=0, **unused):
        return distribute.fit(model, train, validation_data=validation_data,
                              epochs=max(1, epochs - initial_epoch), callbacks=callbacks,
                              strategy=strategy, verbose=verbose)

    return fit


def run(recipe, args: RunConfig, argv: Sequence[str]) -> dict[str, Any]:
    """Search, write the tuning files, then train and evaluate the best configuration.

    Raises `UsageError`/`DataError` before writing anything for bad input.
    Returns the final run's metrics (empty on a distributed worker).
    """
    lock = rundir.RunLock(args.out or "")
    try:
        return _run(recipe, args, argv, lock)
    finally:
        lock.release()


def _run(recipe, args: RunConfig, argv: Sequence[str], lock: rundir.RunLock) -> dict[str, Any]:
    from seqzoo import distribute
    from seqzoo import tuning as zt

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # every trial retraces: TF's warning is noise here
    tuner_id = configure_distributed(args.tuner_id, args.oracle_ip, args.oracle_port)
    worker = is_search_worker()
    if tuner_id is not None and not args.out:
        raise UsageError("a distributed search needs --out: the same folder on every process")
    args.out = lock.out = args.out or runner.default_out(recipe, args.model)
    user_set = runner.parse_set(args.set)
    hparams = runner.resolve_hyperparameters(recipe, args.model, user_set)
    if args.max_epochs is not None and args.tuner != "hyperband":
        raise UsageError("--max-epochs applies to --tuner hyperband only (other tuners train --epochs per trial)")
    space = parse_space(args.space)
    try:
        zt.search_space(args.model, space, fixed=list(user_set), around=hparams, span=recipe.tune_span)
        if not args.objective.startswith("val_"):  # checked against the model's metrics after loading
            zt.make_objective(args.objective, ["loss", "accuracy", "mae"])  # raises the one-line error
    except zt.SpaceError as error:
        raise UsageError(flag_message(error)) from None
    runner.check_common(recipe, args)
    recipe.check_args(args)
    try:
        if distribute.resolve(args.strategy) == "multi_worker":
            raise UsageError("--tune runs each trial on one machine (KerasTuner supports single-worker "
                             "strategies); spread a search over machines with --tuner-id/--oracle-port")
        strategy = distribute.get_strategy(args.strategy)
        policy = distribute.set_mixed_precision(args.mixed_precision, strategy)
    except distribute.StrategyError as error:
        raise UsageError(f"--strategy {args.strategy}: {error}") from None
    flags = rundir.flags_for_config(args)
    if not worker:
        lock.acquire()  # the chief or a lone search holds --out; workers share it
    state = _wait_for_chief(recipe, args, flags) if worker else _inspect(recipe, args, flags)

    runner.seed_run(args)
    data = recipe.load(args)
    runner.check_data(args, data)
    runner.adapt_to_data(recipe, args, data)  # recipes/budget.py: epochs etc. from the data

    def optimizer(learning_rate: float):
        # A per-step schedule spans a trial's largest budget (hyperband: --max-epochs).
        trial = dataclasses.replace(args, learning_rate=learning_rate, epochs=args.max_epochs or args.epochs)
        return recipe.optimizer(trial, data)

    try:
        hypermodel = zt.SeqzooHyperModel(
            args.model, data.model_kwargs, space=space, fixed={k: hparams[k] for k in user_set if k in hparams},
            defaults=hparams, learning_rate=args.learning_rate, optimizer=optimizer,
            fit=_trial_fit(strategy), seed=args.seed, dtype_policy=policy,
            centre=True, span=recipe.tune_span,
        )
        objective = zt.make_objective(args.objective, hypermodel.metric_names())
    except zt.SpaceError as error:
        raise UsageError(flag_message(error)) from None

    # Nothing was written before this point.
    tuning_dir = os.path.join(args.out, SUBDIR)
    if not worker and not lock.held:  # a new --out: lock it as it is created, then look again
        os.makedirs(args.out, exist_ok=True)
        lock.acquire()
        if _inspect(recipe, args, flags) != state:
            raise UsageError(f"--out {args.out!r} was used by another run meanwhile; rerun to continue it")
    if state == "overwrite":
        _clear(recipe, args.out)
    elif not worker:
        rundir.remove_leftovers(args.out)
    os.makedirs(tuning_dir, exist_ok=True)
    if state in ("new", "overwrite"):
        artifacts.write_json_atomic(_settings_path(args.out), {
            "recipe": recipe.name, "model": args.model,
            "command": runner.command_line(recipe, argv, args.out), "flags": flags,
            "space": {k: v.describe() for k, v in hypermodel.space.items()},
            "first_trial": hypermodel.default_values(),
            "trial_seconds": _limit_text(args.trial_seconds),
        })
    trials_csv = os.path.join(tuning_dir, "trials.csv")
    names = list(hypermodel.space)
    quiet = contextlib.redirect_stdout(io.StringIO()) if args.quiet else contextlib.nullcontext()
    with quiet:
        tuner = zt.make_tuner(
            args.tuner, hypermodel, objective=objective, max_trials=args.max_trials,
            max_epochs=args.max_epochs or args.epochs, executions_per_trial=args.executions_per_trial,
            directory=tuning_dir, project_name=PROJECT, overwrite=False,
            distribution_strategy=strategy, seed=args.seed, trial_seconds=_trial_limit(args.trial_seconds),
        )

    def recorded(tuner_, trial) -> None:
        rows = zt.trial_rows(tuner_, names)
        write_trials_csv(rows, trials_csv)
        row = next(r for r in rows if r["trial_id"] == trial.trial_id)
        params = " ".join(f"{n}={_fmt(row.get(n))}" for n in names if row.get(n) is not None)
        runner.say(args, f"  trial {trial.trial_id} {trial.status.lower()}: {objective.name} "
                          f"{_fmt(row['score'])} ({_fmt(row['seconds'])} s) {params}")

    tuner.on_trial_recorded = recorded
    role = {None: "", "chief": " (chief: serving the oracle)"}.get(tuner_id, f" (worker {tuner_id})")
    remaining = tuner.remaining_trials if not worker else None
    runner.say(args, f"{recipe.name}: searching {args.model} ({args.tuner}, up to {args.max_trials} trials, "
                      f"{objective.name}){role} in {args.out}"
                      + (f"; {args.max_trials - remaining} trials done before" if remaining is not None
                         and remaining < args.max_trials and state == "resume" else "")
                      + "\n  space: " + "; ".join(f"{k} {_space_text(v)}" for k, v in hypermodel.space.items())
                      + "\n  first trial, the defaults: " + " ".join(
                          f"{k}={_fmt(v)}" for k, v in hypermodel.default_values().items())
                      + f"\n  trial time limit: {_limit_text(args.trial_seconds)}")
    try:
        with quiet:
            tuner.search(data.train, validation_data=data.val, epochs=args.epochs,
                         callbacks=recipe.callbacks(args, data), verbose=0)
    except RuntimeError as error:  # KerasTuner stops after consecutive failed trials
        if not worker:
            write_trials_csv(zt.trial_rows(tuner, names), trials_csv)
        first = str(error).strip().splitlines()
        raise UsageError(f"the search stopped: {first[0] if first else error}; see {trials_csv} "
                         "(column error)") from None
    if worker:
        runner.say(args, f"{recipe.name}: worker {tuner_id} finished; the chief writes the results")
        return {}

    if tuner_id is not None:  # the chief: save the oracle after its last trial ended
        tuner.oracle.save()
    rows = zt.trial_rows(tuner, names)
    write_trials_csv(rows, trials_csv)
    completed = [r for r in rows if r["status"] == "COMPLETED" and r["score"] is not None]
    if not completed:
        raise UsageError(f"no trial completed; see {trials_csv} (column error)")
    best_trial = tuner.oracle.get_best_trials(1)[0]
    best = hypermodel.decode(best_trial.hyperparameters.values)
    learning_rate = best.pop("learning_rate", args.learning_rate)
    final_hparams = {**hparams, **best}
    artifacts.write_json_atomic(os.path.join(tuning_dir, "best.json"), {
        "objective": objective.name, "direction": objective.direction, "score": best_trial.score,
        "trial_id": best_trial.trial_id, "model": args.model,
        "hyperparameters": {**best, **({"learning_rate": learning_rate} if "learning_rate" in names else {})},
        "model_hyperparameters": final_hparams, "learning_rate": learning_rate,
        "tuner": args.tuner, "trials": {"total": len(rows), "completed": len(completed)},
    })
    runner.say(args, f"{recipe.name}: {len(rows)} trials ({len(completed)} completed); "
                      f"best {objective.name} {_fmt(best_trial.score)} (trial {best_trial.trial_id})\n"
                      + leaderboard(rows, names, objective.name, objective.direction))
    return _train_best(recipe, args, argv, data, strategy, policy, final_hparams, learning_rate, flags)


def _train_best(recipe, args, argv, data, strategy, policy, hparams, learning_rate, flags) -> dict[str, Any]:
    """Train the best configuration into --out like a normal run (resuming an interrupted one)."""
    import keras

    from seqzoo import tuning as zt

    zt.clear_session()
    keras.utils.set_random_seed(args.seed)
    final_args = dataclasses.replace(args, learning_rate=learning_rate)
    model = runner.build_model(recipe, final_args, data, hparams, strategy)
    recorded = {**hparams, **({"learning_rate": learning_rate} if learning_rate != args.learning_rate else {})}
    return runner.train_and_record(
        recipe, final_args, argv, data, model, strategy, hparams=hparams, policy=policy, label="best ",
        config={"flags": flags, "hyperparameters": recorded, "tuning": os.path.join(SUBDIR, "best.json")},
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run a recipe with --tune, e.g. python -m recipes.imdb --tune")
