"""recipes.budget: the defaults that adapt to the data (decision functions, flags, one tiny run)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_recipes import read_json, write_imdb_csv

from recipes import budget, cli, rundir, runner
from recipes.budget import TrainingBudget
from recipes.imdb import ImdbConfig, ImdbRecipe


@pytest.mark.parametrize("steps, expected", [
    (32, 22),     # small data: ceil(700 / 32) epochs
    (704, 2),     # the benchmark already gives the steps: the default stays
    (1, 30),      # tiny data: capped
    (400, 2),     # never fewer than the default
])
def test_budget_epochs(steps, expected):
    assert budget.budget_epochs(2, steps, min_steps=700, max_epochs=30) == expected


def test_early_stopping_only_when_extended_and_validation_is_large_enough():
    decide = budget.early_stopping_patience
    assert decide(0, extended=True, val_examples=2000, patience=2) == 2
    assert decide(0, extended=True, val_examples=199, patience=2) == 0  # too few to choose an epoch
    assert decide(0, extended=False, val_examples=2000, patience=2) == 0  # the benchmark's setting
    assert decide(1, extended=True, val_examples=2000, patience=2) == 1  # the recipe already stops early
    assert not budget.trustworthy_validation(None)


def test_text_statistics_rules():
    assert budget.vocabulary_size([9, 4, 2, 1, 1, 1], cap=100) == 5  # 2 reserved + 3 seen twice
    assert budget.vocabulary_size([9, 4, 2], cap=4) == 4
    assert budget.vocabulary_size([1, 1], cap=100) == 3  # at least one word
    assert budget.sequence_length(np.arange(1, 101), cap=800) == 100  # 99th percentile of 1..100: 99.01
    assert budget.sequence_length(np.full(10, 5000), cap=800) == 800
    assert budget.ngram_lengths([3, 1], 2).tolist() == [5, 1]  # words + bigrams
    assert budget.schedule_stretch(6, 18) == 3.0 and budget.schedule_stretch(6, 6) == 1.0
    with pytest.raises(ValueError, match="min_steps"):
        TrainingBudget(min_steps=0, max_epochs=3)


def test_parser_records_defaulted_flags_and_an_explicit_epochs_wins():
    args = cli.parse(ImdbRecipe(), ["--epochs", "2"])
    assert not budget.is_default(args, "epochs") and budget.is_default(args, "seq_len")
    data = runner.TaskData(train=None, val=None, test=None, model_kwargs={}, sizes={"val": 2000})
    assert budget.adapt(ImdbRecipe(), args, data, steps_per_epoch=10) == {} and args.epochs == 2

    args = cli.parse(ImdbRecipe(), [])
    adapted = budget.adapt(ImdbRecipe(), args, data, steps_per_epoch=10)
    assert (args.epochs, args.patience) == (30, 2)  # bilstm: 700 steps capped at 30 epochs; early stopping
    assert adapted["epochs"]["default"] == 2 and data.info["adapted"] == adapted
    flags = rundir.flags_for_config(args)  # config.json keeps the defaults: a rerun matches before loading
    assert (flags["epochs"], flags["patience"]) == (2, 0)
    assert "epochs 2 -> 30" in budget.describe(adapted)


def test_config_built_directly_adapts_nothing():
    args = ImdbConfig(epochs=1, patience=0)
    data = runner.TaskData(train=None, val=None, test=None, model_kwargs={}, sizes={"val": 2000})
    assert budget.adapt(ImdbRecipe(), args, data, steps_per_epoch=1) == {} and args.epochs == 1


class _SmallBudgetImdb(ImdbRecipe):
    training_budget = TrainingBudget(min_steps=30, max_epochs=3, patience=1)


def test_imdb_run_records_the_choices_and_reruns_as_complete(tmp_path, capsys):
    data_dir = write_imdb_csv(tmp_path / "data")
    out = tmp_path / "run"
    argv = ["--data-dir", data_dir, "--out", str(out), "--limit", "32", "--batch-size", "8",
            "--set", "units=4", "--set", "embed_dim=8"]
    assert runner.main(_SmallBudgetImdb(), argv) == 0
    printed = capsys.readouterr().out
    metrics, config = read_json(out / "metrics.json"), read_json(out / "config.json")
    adapted = metrics["data"]["adapted"]
    assert adapted["epochs"]["chosen"] == 3 and metrics["epochs_run"] == 3  # 30 steps: capped at 3 epochs
    assert "patience" not in adapted  # 5 validation reviews: too few to stop early
    assert adapted["max_tokens"]["chosen"] < 10000 and adapted["seq_len"]["chosen"] < 800
    assert metrics["data"]["max_tokens"] == adapted["max_tokens"]["chosen"]
    assert config["data"]["adapted"] == adapted and config["flags"]["epochs"] == 2
    assert "adapted to the data: " in printed and "epochs 2 -> 3 (" in printed
    assert runner.main(_SmallBudgetImdb(), argv) == 2  # complete: refused as such, not as changed flags
    assert "--overwrite" in capsys.readouterr().err


def test_forecast_schedule_spans_the_chosen_epochs():
    from recipes import forecast

    args = forecast.ForecastConfig(lr_schedule="halve", learning_rate=1.0, patience=0, epochs=18,
                                   adapted={"epochs": {"default": 6, "chosen": 18, "reason": ""}})
    schedule = forecast.ForecastRecipe().callbacks(args, None)[0].schedule
    # the default's shape over 3x the epochs: kept for epochs 0..3 (0..1 by default), halved every 3
    assert [schedule(e, None) for e in (0, 3, 6, 9)] == [1.0, 1.0, 0.5, 0.25]


def test_speech_patience_flag_adds_early_stopping():
    import keras

    from recipes.speech_commands import SpeechCommandsRecipe

    recipe = SpeechCommandsRecipe()
    assert cli.parse(recipe, []).patience == 0 and len(recipe.callbacks(cli.parse(recipe, []), None)) == 1
    stop = recipe.callbacks(cli.parse(recipe, ["--patience", "3"]), None)[1]
    assert isinstance(stop, keras.callbacks.EarlyStopping) and stop.patience == 3 and stop.restore_best_weights
