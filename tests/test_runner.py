"""The shared recipe runner (recipes.runner) on a toy recipe: artifacts, resume, faults, bad input."""

from __future__ import annotations

import csv
import glob
import os

import keras
import numpy as np
import pytest
from helpers_recipes import CountEpochs, StopAfterEpoch, ToyRecipe, read_json

from recipes import cli, runner
from recipes.config import RunConfig

METRIC_KEYS = {
    "recipe", "model", "params", "epochs_run", "train_seconds", "examples_per_second",
    "test_accuracy", "test_loss", "test_confusion", "sizes", "data", "strategy", "replicas",
    "dtype_policy", "seed",
}



def _run(recipe, out, *extra):
    return runner.main(recipe, ["--out", str(out), "--quiet", *extra])


def _history_epochs(path):
    with open(path, newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_end_to_end_artifacts_and_default_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert runner.main(ToyRecipe(), ["--epochs", "2", "--set", "units=3"]) == 0
    (run_dir,) = glob.glob("runs/toy-gru-*")
    files = set(os.listdir(run_dir))
    assert {"metrics.json", "model.keras", "history.csv", "config.json", "curves.png",
            "confusion.png", "tb", "train_state.json"} <= files
    assert "backup" not in files  # removed when training completed
    assert not [f for f in files if f.startswith(".tmp-")]

    metrics = read_json(os.path.join(run_dir, "metrics.json"))
    assert METRIC_KEYS <= set(metrics)
    assert metrics["recipe"] == "toy" and metrics["model"] == "gru" and metrics["epochs_run"] == 2
    assert metrics["train_seconds"] > 0 and metrics["examples_per_second"] > 0
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["test_loss"] > 0
    assert np.array(metrics["test_confusion"]).shape == (3, 3)
    assert np.array(metrics["test_confusion"]).sum() == metrics["sizes"]["test"] == 48

    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), safe_mode=True)
    assert model.count_params() == metrics["params"]
    assert model.output_shape == (None, 3)

    config = read_json(os.path.join(run_dir, "config.json"))
    assert config["flags"]["epochs"] == 2 and config["flags"]["set"] == ["units=3"]
    assert config["hyperparameters"]["units"] == 3  # --set beats the recipe default (4)
    assert config["hyperparameters"]["depth"] == 1  # seqzoo default filled in
    assert config["task"]["num_classes"] == 3
    assert "--out" in config["command"] and config["command"].startswith("python -m recipes.toy")

    assert _history_epochs(os.path.join(run_dir, "history.csv")) == [0, 1]
    for png in ("curves.png", "confusion.png"):
        with open(os.path.join(run_dir, png), "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert glob.glob(os.path.join(run_dir, "tb", "**", "*tfevents*"), recursive=True)
    assert capsys.readouterr().out.count("test_accuracy") == 1  # the closing summary line


def test_interrupted_run_resumes_to_the_same_epoch_count(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--epochs", "3"]
    assert _run(ToyRecipe(callbacks=[StopAfterEpoch(1)]), out, *argv) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err
    assert not (out / "metrics.json").exists() and not (out / "model.keras").exists()
    assert os.listdir(out / "backup")
    assert _history_epochs(out / "history.csv") == [0, 1]

    # a different command does not resume it (and touches nothing)
    before = sorted(os.listdir(out))
    assert _run(ToyRecipe(), out, "--epochs", "4") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--epochs" in err and "different settings" in err
    assert sorted(os.listdir(out)) == before

    counter = CountEpochs()
    assert _run(ToyRecipe(callbacks=[counter]), out, *argv) == 0
    assert counter.epochs == [2]  # only the missing epoch was trained
    metrics = read_json(out / "metrics.json")
    assert metrics["epochs_run"] == 3
    assert _history_epochs(out / "history.csv") == [0, 1, 2]
    assert read_json(out / "train_state.json")["resumed"] is True
    assert not (out / "backup").exists()


def test_complete_run_is_refused_evaluated_or_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(ToyRecipe(), out) == 0
    first = read_json(out / "metrics.json")
    (out / "notes.txt").write_text("mine")
    stamp = os.stat(out / "metrics.json").st_mtime_ns
    capsys.readouterr()
    recipe = ToyRecipe()
    assert _run(recipe, out) == 2
    err = capsys.readouterr().err
    assert "complete run" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert recipe.loads == 0  # refused before reading any data
    assert os.stat(out / "metrics.json").st_mtime_ns == stamp

    # killed between model.keras and metrics.json: the rerun only evaluates the saved model
    os.remove(out / "metrics.json")
    counter = CountEpochs()
    assert _run(ToyRecipe(callbacks=[counter]), out) == 0
    assert counter.epochs == []
    second = read_json(out / "metrics.json")
    assert second["test_loss"] == pytest.approx(first["test_loss"], rel=1e-6)
    assert second["epochs_run"] == first["epochs_run"] == 1

    assert _run(ToyRecipe(), out, "--overwrite", "--epochs", "2") == 0
    assert read_json(out / "metrics.json")["epochs_run"] == 2
    assert _history_epochs(out / "history.csv") == [0, 1]
    assert (out / "notes.txt").read_text() == "mine"  # not the runner's file: kept


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "gruu"], "did you mean 'gru'"),
        (["--set", "unitz=4"], "unknown keyword argument 'unitz'"),
        (["--set", "units=-1"], "units=-1 is out of range"),
        (["--set", "units=many"], "must be an integer"),
        (["--set", "units"], "expected KEY=VALUE"),
        (["--set", "num_classes=5"], "fixed by the toy recipe"),
        (["--set", "embed_dim=8"], "embed_dim applies only to inputs='tokens'"),
        (["--epochs", "0"], "must be >= 1"),
        (["--learning-rate", "x"], "is not a number"),
        (["--strategy", "bogus"], "invalid choice"),
        (["--seed", "-1"], "between 0 and 4294967295"),
        (["--seed", "99999999999"], "between 0 and 4294967295"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_created(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    try:
        code = runner.main(ToyRecipe(), ["--out", str(out), *argv])
    except SystemExit as exit_:  # argparse-level errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("python -m recipes.toy: error:")
    assert not out.exists()


def test_data_error_and_foreign_out_dir(tmp_path, capsys):
    out = tmp_path / "never"
    assert runner.main(ToyRecipe(fail_load="no such folder 'x'; pass --data-dir"), ["--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == "python -m recipes.toy: error: no such folder 'x'; pass --data-dir"
    assert not out.exists()

    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"meow")
    assert runner.main(ToyRecipe(), ["--out", str(foreign)]) == 2
    assert "not a seqzoo run directory" in capsys.readouterr().err
    assert os.listdir(foreign) == ["cat.jpg"]


def test_parse_set_values():
    assert runner.parse_set(["units=64", "dropout=0.25", "lr=1e-3", "flag=True", "x=none", "pool=max"]) == {
        "units": 64, "dropout": 0.25, "lr": 0.001, "flag": True, "x": None, "pool": "max",
    }


class _PerModelToy(ToyRecipe):
    config_by_model = {"lstm": {"learning_rate": 5e-4, "epochs": 3}}


@pytest.mark.parametrize(
    "argv,expected",
    [
        ([], {"epochs": 1, "batch_size": 16, "learning_rate": 1e-2}),  # the recipe's defaults
        (["--model", "lstm"], {"epochs": 3, "batch_size": 16, "learning_rate": 5e-4}),
        (["--model", "lstm", "--epochs", "2", "--learning-rate", "0.1"], {"epochs": 2, "learning_rate": 0.1}),
    ],
)
def test_shared_flag_defaults_follow_the_model_and_given_flags_win(argv, expected):
    args = cli.parse(_PerModelToy(), argv)
    assert {key: getattr(args, key) for key in expected} == expected


def test_help_shows_the_per_model_defaults(capsys):
    with pytest.raises(SystemExit):
        runner.main(_PerModelToy(), ["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 0.01; lstm: 0.0005)" in text and "(default: 1; lstm: 3)" in text


def test_help_lists_every_shared_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        runner.main(ToyRecipe(), ["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--model", "--epochs", "--batch-size", "--learning-rate", "--set", "--data-dir", "--out",
                 "--seed", "--limit", "--strategy", "--mixed-precision", "--quiet", "--overwrite", "GLOBAL"):
        assert flag in text


def _stopper():
    # min_delta so large that only the first epoch "improves": stops after epoch index 2
    return keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, min_delta=100.0,
                                         restore_best_weights=True)


def _history_rows(path):
    with open(path, newline="") as handle:
        rows = {int(r["epoch"]): r for r in csv.DictReader(handle)}
    return [{k: v for k, v in rows[e].items() if "seconds" not in k} for e in sorted(rows)]


def test_resumed_run_reproduces_the_uninterrupted_one(tmp_path):
    """Early stopping (wait, best, best weights), dropout seeds and the shuffle order survive
    an interruption: same history, same epochs, same test metrics."""
    argv = ["--epochs", "6", "--set", "dropout=0.3", "--batch-size", "8"]
    whole = tmp_path / "whole"
    assert _run(ToyRecipe(callbacks=[_stopper()]), whole, *argv) == 0
    assert read_json(whole / "metrics.json")["epochs_run"] == 3  # stopped early

    cut = tmp_path / "cut"
    assert _run(ToyRecipe(callbacks=[_stopper(), StopAfterEpoch(1)]), cut, *argv) == 130
    counter = CountEpochs()
    assert _run(ToyRecipe(callbacks=[_stopper(), counter]), cut, *argv) == 0
    assert counter.epochs == [2]  # resumed, and early stopping remembered its wait count
    assert _history_rows(cut / "history.csv") == _history_rows(whole / "history.csv")
    a, b = read_json(whole / "metrics.json"), read_json(cut / "metrics.json")
    assert (a["test_loss"], a["test_confusion"], a["epochs_run"]) == (b["test_loss"], b["test_confusion"],
                                                                      b["epochs_run"])


def _refused(capsys, recipe, out, *argv):
    assert runner.main(recipe, ["--out", str(out), "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert recipe.loads == 0  # refused before reading any data
    return err


def test_unusable_out_is_refused_before_loading(tmp_path, capsys):
    (tmp_path / "somefile").write_text("x")
    assert "is a file, not a folder" in _refused(capsys, ToyRecipe(), tmp_path / "somefile" / "sub")
    assert "cannot create folders in '/proc'" in _refused(capsys, ToyRecipe(), "/proc/x")
    assert os.listdir(tmp_path) == ["somefile"]


def test_config_that_is_not_an_object_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("[1, 2]")
    assert "config.json is not a seqzoo file" in _refused(capsys, ToyRecipe(), out)
    assert os.listdir(out) == ["config.json"]


def test_damaged_model_is_refused_and_load_model_says_so(tmp_path, capsys):
    import seqzoo

    out = tmp_path / "run"
    assert _run(ToyRecipe(), out) == 0
    capsys.readouterr()  # the first run's own output (e.g. its baseline warnings)
    os.remove(out / "metrics.json")  # waits for evaluation ...
    data = (out / "model.keras").read_bytes()
    (out / "model.keras").write_bytes(data[: len(data) // 2])  # ... with a truncated model
    err = _refused(capsys, ToyRecipe(), out)
    assert "model.keras is damaged" in err and "--overwrite" in err
    with pytest.raises(ValueError, match="not a readable .keras archive"):
        seqzoo.load_model(out / "model.keras")
    with pytest.raises(FileNotFoundError, match="no such model file"):
        seqzoo.load_model(out / "nothing.keras")


def test_op_determinism_1_a_run_switches_it_on(tmp_path):
    from tensorflow.python.framework import config

    assert _run(ToyRecipe(), tmp_path / "run") == 0
    assert config.is_op_determinism_enabled()


def test_op_determinism_2_is_off_again_in_the_next_test():
    from tensorflow.python.framework import config

    assert not config.is_op_determinism_enabled()  # reset by conftest


def test_tmp_leftovers_are_removed_by_overwrite(tmp_path):
    out = tmp_path / "run"
    assert _run(ToyRecipe(), out) == 0
    (out / ".tmp-4242-train_state.json").write_text("{")
    assert _run(ToyRecipe(), out, "--overwrite") == 0
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]


def test_huge_learning_rate_warns_on_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(ToyRecipe(), out, "--learning-rate", "1e30") == 0
    err = capsys.readouterr().err
    rate_lines = [line for line in err.splitlines() if "--learning-rate" in line]
    assert len(rate_lines) == 1 and "warning: --learning-rate 1e+30 is very large" in rate_lines[0]
    assert "majority baseline" in err  # and the run's sanity check says it learned nothing

    runner._warn_if_diverged(RunConfig(learning_rate=1e30, recipe_name="toy"), {"loss": [0.7, float("nan")]})
    assert capsys.readouterr().err.strip() == (
        "python -m recipes.toy: warning: training diverged (loss nan in the last epoch); "
        "lower --learning-rate (now 1e+30)")
