"""The typed run configs: defaults < config_by_model < flags; replace; one-line errors."""

from __future__ import annotations

import dataclasses

import pytest
from helpers_recipes import ToyConfig, ToyRecipe

from recipes import cli, tuning
from recipes.config import RunConfig, resolve
from recipes.imdb import ImdbConfig, ImdbRecipe
from recipes.rundir import UsageError, flags_for_config


class _Toy(ToyRecipe):
    config_by_model = {"lstm": {"epochs": 3, "learning_rate": 5e-4}}


def test_defaults_then_model_overrides_then_flags():
    assert (cli.parse(_Toy(), []).epochs, cli.parse(_Toy(), []).learning_rate) == (1, 1e-2)
    lstm = cli.parse(_Toy(), ["--model", "lstm"])
    assert (lstm.epochs, lstm.learning_rate, lstm.batch_size) == (3, 5e-4, 16)
    assert cli.parse(_Toy(), ["--model", "lstm", "--epochs", "2"]).epochs == 2
    hopfield = cli.parse(ImdbRecipe(), ["--model", "hopfield", "--ngrams", "1"])
    assert isinstance(hopfield, ImdbConfig) and (hopfield.ngrams, hopfield.seq_len) == (1, 1600)
    assert resolve(ToyConfig, {"model": "lstm"}, _Toy.config_by_model).epochs == 3


def test_config_json_flags_are_the_fields_and_replace_keeps_them():
    config = cli.parse(ToyRecipe(), ["--set", "units=4"])
    flags = flags_for_config(config)
    assert "recipe_name" not in flags and flags["set"] == ["units=4"] and list(flags) == sorted(flags)
    trial = dataclasses.replace(config, learning_rate=0.5)  # what --tune does per trial
    assert trial.learning_rate == 0.5 and trial.recipe_name == "toy" and trial.set == ["units=4"]
    assert not tuning.requested(config)
    with pytest.raises(UsageError, match="--max-trials needs --tune"):
        tuning.requested(dataclasses.replace(config, max_trials=3))


def test_bad_values_are_one_line_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.parse(ToyRecipe(), ["--epochs", "0"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "--epochs: 0 must be >= 1" in err
    with pytest.raises(UsageError, match="unknown setting 'epoch'"):
        resolve(RunConfig, {"epoch": 3})


def test_recipe_mistakes_are_caught_at_definition():
    with pytest.raises(TypeError, match="config_by_model"):
        type("Bad", (ToyRecipe,), {"config_by_model": {"lstm": {"seq_len": 3}}})
    with pytest.raises(TypeError, match="defaults"):
        type("Old", (ToyRecipe,), {"defaults": {"epochs": 2}})

    class Stray(ToyRecipe):
        def add_arguments(self, group):
            group.add_argument("--window")

    with pytest.raises(TypeError, match="flags without a field: window"):
        cli.parse(Stray(), [])


def test_help_defaults_list_models_that_share_a_value_together():
    from recipes.config import default_text

    overrides = {"a": {"learning_rate": 2e-3}, "b": {"epochs": 3}, "c": {"learning_rate": 2e-3},
                 "d": {"learning_rate": 5e-4}}
    default = ImdbConfig.__dataclass_fields__["learning_rate"].default
    assert default_text(ImdbConfig, overrides, "learning_rate") == f"(default: {default:g}; a, c: 0.002; d: 0.0005)"
    assert default_text(ImdbConfig, overrides, "epochs").endswith("; b: 3)")
    assert default_text(ImdbConfig, {}, "learning_rate") == f"(default: {default:g})"
