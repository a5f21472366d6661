"""Hyperparameter search (seqzoo.tuning, recipes --tune): spaces, constraints, tuners, resume, errors."""

from __future__ import annotations

import csv
import json
import os

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf
from helpers_recipes import ToyRecipe, read_json

import seqzoo
from recipes import runner
from recipes import tuning as recipe_tuning
from seqzoo import registry, tuning

PROG = "python -m recipes.toy: error:"
SMALL = ["--space", "units=2:6", "--space", "depth=1:2", "--quiet"]


@pytest.fixture(autouse=True)
def _isolation(monkeypatch):
    """No distributed-search variables leak in or out (conftest switches op determinism off)."""
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)


class Record(keras.callbacks.Callback):
    """Class-level log of every fit (KerasTuner deep-copies callbacks per trial)."""

    fits: list = []
    strategies: list = []
    interrupt_at: int | None = None

    def on_train_begin(self, logs=None):
        type(self).fits.append(1)
        type(self).strategies.append(type(self.model.distribute_strategy).__name__)
        if type(self).interrupt_at == len(type(self).fits):
            raise KeyboardInterrupt

    @classmethod
    def reset(cls, interrupt_at=None):
        cls.fits, cls.strategies, cls.interrupt_at = [], [], interrupt_at


def _tune(out, *extra, recipe=None):
    try:
        return runner.main(recipe or ToyRecipe(callbacks=[Record()]), ["--tune", "--out", str(out), *extra])
    except SystemExit as exit_:  # argparse's own errors
        return exit_.code


def _rows(out):
    with open(os.path.join(out, "tuning", "trials.csv"), newline="") as handle:
        return list(csv.DictReader(handle))


# ----------------------------------------------------------------------------- spaces


def test_every_model_declares_a_search_space():
    # A recurrent model's size is `units` (a cell's state) or, for the pre-norm stacks of the
    # linear recurrences (lru, mingru, minlstm), `width` (the residual stream).
    natural = {
        "recurrent": {"depth", "dropout"},
        "attention": {"depth", "dropout"},
        "hybrid": {"depth", "dropout"},
        "state space": {"width", "depth", "state_size", "dropout"},
        "memory": {"width", "depth", "heads", "dropout"},
    }
    for name in seqzoo.list_models():
        entry = registry.get(name)
        space = tuning.search_space(name)
        assert natural[entry.family] <= set(space), name
        if entry.family == "recurrent":
            assert {"units", "width"} & set(space), name
        for key, spec in space.items():  # the default lies inside the search range
            if spec.kind != "choice":
                assert spec.search[0] <= spec.default <= spec.search[1], (name, key)
        tuning.SeqzooHyperModel(name)  # every constraint has valid combinations
    for name in ("transformer", "bert", "gpt"):
        assert {"width", "heads", "ff_dim"} <= set(tuning.search_space(name))
    assert {"units", "attention_units"} <= set(tuning.search_space("attention_rnn"))
    assert {"filters", "kernel_size", "units"} <= set(tuning.search_space("cnn_lstm"))
    assert "search 32..512 (log)" in str(seqzoo.info("lstm"))


def test_space_overrides_narrow_widen_and_add():
    space = tuning.search_space("gru", recipe_tuning.parse_space(
        ["units=8:16", "pool=max,mean", "recurrent_dropout=0:0.2", "learning_rate=1e-4:1e-2"]), fixed=["depth"])
    assert space["units"].search == (8, 16) and space["units"].sampling == "log"
    assert space["pool"].search == ("max", "mean")
    assert space["recurrent_dropout"].search == (0.0, 0.2)  # not searched by default: added
    assert space["learning_rate"].sampling == "log"
    assert "depth" not in space  # fixed by the caller
    assert tuning.search_space("gru", {"units": "600:2000:linear"})["units"].search == (600, 2000)  # widened
    assert tuning.search_space("gru", {"depth": [1, 3]})["depth"].search == (1, 3)


def _recipes():
    from recipes.ett import EttRecipe
    from recipes.imdb import ImdbRecipe
    from recipes.speech_commands import SpeechCommandsRecipe

    return EttRecipe(), ImdbRecipe(), SpeechCommandsRecipe()


@pytest.mark.parametrize("model", seqzoo.list_models())
def test_searched_ranges_contain_each_recipes_defaults(model):
    """Every searched dimension contains the run's resolved default, which is also the first trial's value."""
    for recipe in _recipes():
        hparams = runner.resolve_hyperparameters(recipe, model, {})
        hypermodel = tuning.SeqzooHyperModel(model, defaults=hparams, centre=True, span=recipe.tune_span)
        assert hypermodel.space, (recipe.name, model)
        for name, spec in hypermodel.space.items():
            if spec.kind == "choice":
                assert hparams[name] in spec.search, (recipe.name, model, name)
            else:
                assert spec.search[0] <= hparams[name] <= spec.search[1], (recipe.name, model, name, spec)
                assert spec.search[0] < spec.search[1]
        assert hypermodel.default_values() == {k: hparams[k] for k in hypermodel.space}, (recipe.name, model)


def test_ranges_are_centred_on_the_recipe_default_not_the_models_generic_space():
    from recipes.ett import EttRecipe

    assert not 32 <= 16 <= 512 and tuning.search_space("gru")["units"].search == (32, 512)  # the generic one
    hparams = runner.resolve_hyperparameters(EttRecipe(), "gru", {})
    assert hparams["units"] == 16
    space = tuning.search_space("gru", around=hparams)
    assert space["units"].search == (4, 64) and space["units"].sampling == "log"  # 16 / 4 .. 16 * 4
    assert space["depth"].search == (1, 4)  # linear: as declared, it holds the default
    assert tuning.search_space("gru", around={"units": 16}, span={"*": 2})["units"].search == (8, 32)
    assert tuning.search_space("gru", around={"units": 3000})["units"].search == (750, 8192)  # clipped: valid <= 8192
    assert tuning.search_space("gru", around={"depth": 7})["depth"].search == (1, 7)  # widened to the default
    assert tuning.search_space("gru", around={"units": 1}, span=1.2) == tuning.search_space("gru", fixed=["units"])
    assert tuning.search_space("gru", {"units": "32:64"}, around={"units": 16})["units"].search == (32, 64)  # as given
    assert tuning.search_space("gru", {"units": "8:64"}, around={"units": 16})["units"].default == 16
    transformer = tuning.SeqzooHyperModel("transformer", defaults={"width": 32, "heads": 2, "ff_dim": 64},
                                          centre=True)
    assert transformer.default_values()["width"] == 32  # kept in the heads=2 grid of widths
    with pytest.raises(tuning.SpaceError, match="span >= 1"):
        tuning.search_space("gru", around={"units": 16}, span=0.5)


@pytest.mark.parametrize("kind", ["random", "bayesian", "hyperband"])
def test_the_first_trial_is_the_default_configuration(tmp_path, kind):
    defaults = {"width": 32, "heads": 2, "ff_dim": 64, "depth": 1, "dropout": 0.1}
    hypermodel = tuning.SeqzooHyperModel("transformer", {"inputs": "tokens", "vocab_size": 20},
                                         defaults=defaults, centre=True)
    tuner = tuning.make_tuner(kind, hypermodel, max_trials=5, max_epochs=3, directory=str(tmp_path), seed=7)
    assert tuner.populate_space()
    first = tuner.oracle.create_trial("tuner0")
    assert hypermodel.decode(first.hyperparameters.values) == defaults
    tuner.oracle.update_trial(first.trial_id, {"val_loss": 1.0})
    tuner.oracle.end_trial(first.trial_id, "COMPLETED")
    second = tuner.oracle.create_trial("tuner0")
    assert hypermodel.decode(second.hyperparameters.values) != defaults  # then the oracle's own draws

    off = tuning.make_tuner(kind, hypermodel, max_trials=5, max_epochs=3, directory=str(tmp_path / "off"),
                            seed=7, defaults_first=False)
    off.populate_space()
    assert hypermodel.decode(off.oracle.create_trial("tuner0").hyperparameters.values) != defaults


class _Slow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        import time

        time.sleep(0.05)


def test_the_trial_time_limit_stops_a_slow_trial_keeping_its_score(tmp_path):
    x = np.random.default_rng(0).normal(size=(64, 4, 2)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, -1:, :1])).batch(4)  # 16 batches of 0.05 s an epoch
    hypermodel = tuning.SeqzooHyperModel(
        "gru", {"inputs": "series", "seq_len": 4, "features": 2, "head": "forecast", "horizon": 1, "targets": 1},
        fixed={"units": 4, "depth": 1, "pool": "last"}, space={"dropout": "0:0.2"})
    tuner = tuning.make_tuner("random", hypermodel, objective="val_loss", max_trials=1, directory=str(tmp_path),
                              trial_seconds=lambda tuner_, trial, epochs: 0.5 if epochs == 50 else None)
    tuner.search(data, validation_data=data, epochs=50, callbacks=[_Slow()], verbose=0)
    row, = tuning.trial_rows(tuner)
    assert row["status"] == "COMPLETED" and row["score"] is not None  # the cut epoch was validated
    assert row["stopped"] == "time" and row["time_limit"] == 0.5 and row["epochs"] < 50
    assert row["seconds"] < 20


def test_the_relative_time_limit_follows_the_first_trial():
    policy = tuning.relative_time_limit(2.0)

    class Tuner:
        record = None

        def first_trial_record(self):
            return self.record

    class Trial:
        trial_id = "1"

    tuner = Tuner()
    assert policy(tuner, Trial(), 6) is None  # the first trial has not run: no limit
    tuner.record = {"trial_id": "1", "seconds": 30.0, "epochs": 3}
    assert policy(tuner, Trial(), 6) is None  # the first trial itself (rerun on resume): no limit
    tuner.record = {"trial_id": "0", "seconds": 30.0, "epochs": 3}
    assert policy(tuner, Trial(), 6) == 120.0 and policy(tuner, Trial(), 1) == 20.0
    tuner.record = {"trial_id": "0", "seconds": 30.0, "epochs": 3, "stopped": "time"}
    assert policy(tuner, Trial(), 6) is None


@pytest.mark.parametrize("space, fixed, message", [
    ({"units": "64:8"}, (), "inverted range (64 > 8)"),
    ({"units": "8:8"}, (), "empty range"),
    ({"units": ":"}, (), "empty range"),
    ({"units": ""}, (), "empty"),
    ({"units": "0:8"}, (), "units=0 is out of range: valid [1, 8192]"),
    ({"dropout": "0:1"}, (), "dropout=1.0 is out of range"),
    ({"units": "2.5:8"}, (), "must be integers"),
    ({"bogus": "1:2"}, (), "no hyperparameter 'bogus'"),
    ({"vocab_size": "1:2"}, (), "a task keyword"),
    ({"pool": "1:2"}, (), "pool is a choice"),
    ({"pool": "max,max"}, (), "repeated"),
    ({"units": "64"}, (), "use fixed={'units': 64}"),
    ({"dropout": "0:0.5:log"}, (), "log sampling needs LO > 0"),
    ({"units": "8:16"}, ("units",), "space['units'] and fixed['units'] both given"),
])
def test_bad_space_is_one_line(space, fixed, message):
    with pytest.raises(tuning.SpaceError) as error:
        tuning.search_space("gru", space, fixed=fixed)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert "--" not in str(error.value)  # the library names Python arguments, never flags


@pytest.mark.parametrize("message, flags", [
    ("space['units']='64': one value is not a search; to fix it use fixed={'units': 64}",
     "--space units=64: one value is not a search; to fix it use --set units=64"),
    ("space['pool']='max': one value is not a search; to fix it use fixed={'pool': 'max'}",
     "--space pool=max: one value is not a search; to fix it use --set pool=max"),
    ("space['units'] and fixed['units'] both given", "--space units and --set units both given"),
    ("space: gru has no hyperparameter 'bogus'", "--space: gru has no hyperparameter 'bogus'"),
    ("nothing to search: add a dimension, e.g. space={KEY: 'LO:HI'}", "nothing to search: add a dimension, e.g. --space KEY=LO:HI"),
    ("objective='test_accuracy': a test metric", "--objective test_accuracy: a test metric"),
    ("kind='bayesian' needs scikit-learn", "--tuner bayesian needs scikit-learn"),
    ("the search space: units=0 is out of range", "the search space: units=0 is out of range"),
])
def test_recipes_translate_library_messages_into_flags(message, flags):
    assert recipe_tuning.flag_message(tuning.SpaceError(message)) == flags


@pytest.mark.parametrize("items, message", [
    (["units"], "expected KEY=LO:HI"),
    (["=1:2"], "expected KEY=LO:HI"),
    (["units=1:2", "units=3:4"], "--space units is given twice"),
])
def test_space_flag_syntax_errors(items, message):
    with pytest.raises(runner.UsageError, match=message):
        recipe_tuning.parse_space(items)


def test_heads_always_divide_width():
    """Random and Bayesian sampling only produce valid (heads, width) pairs; no trial fails."""
    for model, factor, dividend in (("transformer", 1, "width"), ("transformer_rnn", 2, "units")):
        hypermodel = tuning.SeqzooHyperModel(model)
        space = keras_tuner.HyperParameters()
        hypermodel.declare_hyperparameters(space)
        random = keras_tuner.oracles.RandomSearchOracle(objective="val_loss", max_trials=500, seed=3)
        random.hyperparameters = space
        bayes = keras_tuner.oracles.BayesianOptimizationOracle(objective="val_loss", max_trials=50, seed=3)
        bayes.hyperparameters = space
        rng = np.random.default_rng(0)
        samples = [random._random_values() for _ in range(300)]
        samples += [bayes._vector_to_values(rng.uniform(size=len(bayes._nonfixed_space()))) for _ in range(300)]
        pairs = set()
        for values in samples:
            hp = space.copy()
            hp.values = values
            chosen = hypermodel.values(hp)
            assert (factor * chosen[dividend]) % chosen["heads"] == 0, (model, chosen)
            pairs.add((chosen["heads"], chosen[dividend]))
        assert len({h for h, _ in pairs}) == 8  # every heads value 1..8 is reachable
        assert any(w % 8 for _, w in pairs)  # widths are not forced to one common multiple

    fixed_width = tuning.SeqzooHyperModel("transformer", fixed={"width": 96})
    assert fixed_width.space["heads"].search == (1, 8)
    hp = keras_tuner.HyperParameters()
    fixed_width.declare_hyperparameters(hp)
    assert list(hp.space[[p.name for p in hp.space].index("heads")].values) == [1, 2, 3, 4, 6, 8]

    with pytest.raises(tuning.SpaceError, match="heads must divide width"):
        tuning.SeqzooHyperModel("transformer", fixed={"width": 96, "heads": 5})
    with pytest.raises(tuning.SpaceError, match="no width in the searched range fits heads=3"):
        tuning.SeqzooHyperModel("transformer", space={"heads": "2,3", "width": "8,16"})


def test_build_restores_the_dtype_policy_that_clear_session_resets():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    hypermodel = tuning.SeqzooHyperModel(
        "transformer", {"inputs": "tokens", "vocab_size": 20},
        space={"width": "8:16", "heads": "1,2", "depth": "1:2"}, seed=1)
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()  # what KerasTuner does before every build
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert model.get_layer("block_1").dtype_policy.name == "mixed_bfloat16"
    chosen = hypermodel.values(hp)
    assert chosen["width"] % chosen["heads"] == 0 and model.optimizer is not None
    tuning.clear_session()
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"


def test_fixed_values_are_checked_before_any_trial():
    with pytest.raises(tuning.SpaceError, match="no hyperparameter 'bogus'"):
        tuning.SeqzooHyperModel("gru", fixed={"bogus": 1})
    with pytest.raises(tuning.SpaceError, match=r"units=0 is out of range"):
        tuning.SeqzooHyperModel("gru", fixed={"units": 0})
    hypermodel = tuning.SeqzooHyperModel("gru", fixed={"units": 8, "learning_rate": 0.01}, defaults={"depth": 2})
    assert "units" not in hypermodel.space and "depth" in hypermodel.space  # defaults do not stop a search
    assert hypermodel.fixed["units"] == 8 and hypermodel.learning_rate == 0.01


def test_objective_must_be_a_validation_metric():
    assert tuning.make_objective("val_mae", ["loss", "mae"]).direction == "min"
    for name, text in (("test_accuracy", "test metric"), ("accuracy", "not a validation metric"),
                       ("val_auc", "does not compute it")):
        with pytest.raises(tuning.SpaceError, match=text):
            tuning.make_objective(name, ["loss", "accuracy"])


# ----------------------------------------------------------------------------- Python API


def test_python_api_search_keeps_no_trial_graph_alive(tmp_path):
    """A forecast search from Python; every trial's custom gradients (which pin its graphs) are dropped."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, -2:, -1:])).batch(32)
    hypermodel = tuning.SeqzooHyperModel(
        "transformer", {"inputs": "series", "seq_len": 12, "features": 3, "head": "forecast",
                        "horizon": 2, "targets": 1},
        space={"width": "8:16", "heads": "1,2,4", "depth": "1:2", "ff_dim": "8:16"}, seed=0)
    tuner = tuning.make_tuner("random", hypermodel, objective="val_mae", max_trials=2,
                              directory=str(tmp_path), seed=1)
    during = []

    class Probe(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            during.append(len(tuning.custom_gradients()))

    before = tuning.custom_gradients()
    tuner.search(data, validation_data=data, epochs=1, verbose=0, callbacks=[Probe()])
    assert len(during) == 2 and min(during) > len(before)  # the optimizer step registered some
    assert tuning.custom_gradients() == before  # KerasTuner#395/#873: none pinned after the trials
    rows = tuning.trial_rows(tuner)
    assert [r["status"] for r in rows] == ["COMPLETED", "COMPLETED"]
    assert all(r["width"] % r["heads"] == 0 and r["epochs"] == 1 and r["seconds"] > 0 for r in rows)
    assert tuner.oracle.objective.name == "val_mae"


def _rss_mib() -> float:
    """This process's resident set size (second field of /proc/self/statm, in pages)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_resident_memory_stays_flat_across_trials(tmp_path):
    """KerasTuner#395/#873 through RSS: five tiny trials, resident memory after each.

    Without the per-trial cleanup (or with the session cleared but the custom
    gradients kept) every trial keeps its traced graphs: 15-55 MiB a trial here;
    with it the growth from trial 2 to 5 is ~2 MiB.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4, 2)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, (x[:, :, 0].mean(1) > 0).astype("int32"))).batch(16).cache()
    hypermodel = tuning.SeqzooHyperModel(
        "rnn", {"inputs": "frames", "features": 2, "seq_len": 4, "num_classes": 2},
        space={"units": "2:4"}, seed=0)
    tuner = tuning.make_tuner("random", hypermodel, objective="val_loss", max_trials=5,
                              directory=str(tmp_path), seed=0)
    rss = []
    tuner.on_trial_recorded = lambda tuner_, trial: rss.append(_rss_mib())
    tuner.search(data, validation_data=data, epochs=1, verbose=0)
    assert len(rss) == 5
    # From trial 2 on (TensorFlow's one-off allocations are done by then): under 5 MiB a trial.
    growth = rss[-1] - rss[1]
    assert growth < 15, f"RSS grew {growth:.1f} MiB over 3 trials: {[round(v, 1) for v in rss]}"


# ----------------------------------------------------------------------------- recipes --tune


def test_random_search_then_best_trained_like_a_normal_run(tmp_path, capsys):
    Record.reset()
    out = tmp_path / "run"
    assert _tune(out, "--max-trials", "3", "--strategy", "one_device", *SMALL[:-1]) == 0
    rows = _rows(out)
    assert [r["trial_id"] for r in rows] == ["0", "1", "2"]
    assert {r["status"] for r in rows} == {"COMPLETED"} and {r["epochs"] for r in rows} == {"1"}
    assert list(rows[0])[:6] == ["trial_id", "status", "score", "epochs", "seconds", "tuner_id"]
    assert all(2 <= int(r["units"]) <= 6 and r["depth"] in ("1", "2") for r in rows)
    assert (rows[0]["units"], rows[0]["depth"], rows[0]["pool"]) == ("4", "1", "last")  # the toy's defaults first
    assert rows[0]["time_limit"] == "" and all(float(r["time_limit"]) > 0 for r in rows[1:])
    settings = read_json(out / "tuning" / "settings.json")
    assert settings["first_trial"] == {"units": 4, "depth": 1, "dropout": 0.0, "pool": "last"}
    assert "first trial's seconds per epoch" in settings["trial_seconds"]
    best = read_json(out / "tuning" / "best.json")
    assert best["score"] == pytest.approx(min(float(r["score"]) for r in rows))
    assert best["objective"] == "val_loss" and best["direction"] == "min"
    config = read_json(out / "config.json")
    assert config["hyperparameters"]["units"] == best["hyperparameters"]["units"]
    metrics = read_json(out / "metrics.json")
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["epochs_run"] == 1
    assert len(Record.fits) == 4  # 3 trials + the final training
    assert set(Record.strategies) == {"OneDeviceStrategy"}  # --strategy inside every trial
    printed = capsys.readouterr().out
    assert "rank" in printed and "best val_loss" in printed and "test_accuracy" in printed


def test_bayesian_maximises_val_accuracy_over_executions(tmp_path):
    Record.reset()
    out = tmp_path / "run"
    assert _tune(out, "--tuner", "bayesian", "--max-trials", "2", "--objective", "val_accuracy",
                 "--executions-per-trial", "2", *SMALL) == 0
    rows = _rows(out)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"COMPLETED"}
    assert len(Record.fits) == 2 * 2 + 1  # two trainings per configuration, then the final one
    record = json.loads((out / "tuning" / "keras_tuner" / "trial_0" / "seqzoo_trial.json").read_text())
    assert record["executions"] == 2 and record["tuner_id"] == "tuner0"
    best = read_json(out / "tuning" / "best.json")
    assert best["direction"] == "max"
    assert best["score"] == pytest.approx(max(float(r["score"]) for r in rows))


def test_hyperband_continues_the_best_trial(tmp_path):
    out = tmp_path / "run"
    assert _tune(out, "--tuner", "hyperband", "--max-epochs", "3", "--max-trials", "4", *SMALL) == 0
    rows = _rows(out)
    assert len(rows) == 4
    continued = [r for r in rows if r["from_trial"]]
    assert len(continued) == 1 and continued[0]["epochs"] == "2"  # epochs 1 -> 3 from its weights
    assert {r["epochs"] for r in rows if not r["from_trial"]} == {"1"}
    assert os.path.isfile(out / "metrics.json")


def test_trial_optimizers_see_the_largest_epoch_budget(tmp_path):
    class EpochsSeen(ToyRecipe):
        seen: list = []

        def optimizer(self, args, data):
            type(self).seen.append((args.epochs, runner.steps_per_epoch(data, args)))
            return super().optimizer(args, data)

    out = tmp_path / "run"
    assert _tune(out, "--tuner", "hyperband", "--max-epochs", "3", "--max-trials", "2", *SMALL,
                 recipe=EpochsSeen()) == 0
    trials, final = EpochsSeen.seen[:-1], EpochsSeen.seen[-1]
    assert trials and set(trials) == {(3, 3)}  # a per-step schedule spans hyperband's budget: 48 / 16 batches
    assert final == (1, 3)  # the best configuration then trains for --epochs


def test_resume_never_reruns_a_finished_trial(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--max-trials", "3", *SMALL]
    Record.reset(interrupt_at=2)  # killed during the second trial
    assert _tune(out, *argv) == 130
    rows = _rows(out)
    assert [(r["trial_id"], r["status"]) for r in rows] == [("0", "COMPLETED")]
    first = (out / "tuning" / "keras_tuner" / "trial_0" / "seqzoo_trial.json").read_text()
    assert not os.path.exists(out / "metrics.json")

    assert _tune(out, "--max-trials", "4", *SMALL) == 2  # another search: refused, nothing touched
    assert "--max-trials" in capsys.readouterr().err
    assert len(_rows(out)) == 1

    Record.reset()
    assert _tune(out, *argv) == 0
    assert len(Record.fits) == 3  # trial 1 (interrupted) again, trial 2, the final training
    rows = _rows(out)
    assert [r["trial_id"] for r in rows] == ["0", "1", "2"] and {r["status"] for r in rows} == {"COMPLETED"}
    assert (out / "tuning" / "keras_tuner" / "trial_0" / "seqzoo_trial.json").read_text() == first
    record = json.loads(first)
    limit = 2 * record["seconds"] / record["epochs"] * 1  # the resumed trials' limit: from the first trial's record
    assert [float(r["time_limit"]) for r in rows[1:]] == [pytest.approx(limit, abs=1e-3)] * 2
    oracle = json.loads((out / "tuning" / "keras_tuner" / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2"]

    Record.reset()
    capsys.readouterr()
    assert _tune(out, *argv) == 2  # complete: refused
    assert "complete search" in capsys.readouterr().err and not Record.fits

    assert _tune(out, *argv, "--overwrite") == 0  # starts over
    assert len(Record.fits) == 4 and len(_rows(out)) == 3


@pytest.mark.parametrize("extra, message", [
    (["--space", "units=8:2"], "inverted range"),
    (["--space", "units="], "empty"),
    (["--space", "units=0:4"], "units=0 is out of range"),
    (["--space", "bogus=1:2"], "no hyperparameter 'bogus'"),
    (["--objective", "test_accuracy"], "test metric"),
    (["--objective", "accuracy"], "not a validation metric"),
    (["--objective", "val_mae"], "does not compute it"),  # classification: checked after loading
    (["--max-trials", "0"], "--max-trials: 0 must be >= 1"),
    (["--max-epochs", "3"], "--max-epochs applies to --tuner hyperband"),
    (["--tuner-id", "chief"], "needs the oracle's port"),
    (["--set", "units=4", "--space", "units=2:8"], "--space units and --set units both given"),
    (["--space", "units=4"], "to fix it use --set units=4"),
    (["--space", "pool=1:2"], "give values, e.g. --space pool="),
    (["--space", "units=2:4", "--space", "units=4:8"], "--space units is given twice"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert _tune(out, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith(PROG) and message in err and err.count("\n") == 1
    assert not out.exists()
    assert "KERASTUNER_TUNER_ID" not in os.environ


def test_search_flags_need_tune(tmp_path, capsys):
    out = tmp_path / "run"
    assert runner.main(ToyRecipe(), ["--out", str(out), "--space", "units=2:4"]) == 2
    assert "--space needs --tune" in capsys.readouterr().err and not out.exists()
    assert runner.main(ToyRecipe(), ["--out", str(out), "--trial-seconds", "5"]) == 2
    assert "--trial-seconds needs --tune" in capsys.readouterr().err and not out.exists()


def test_trial_seconds_flag_fixes_or_lifts_the_limit(tmp_path):
    out = tmp_path / "run"
    assert _tune(out, "--max-trials", "1", "--trial-seconds", "300", *SMALL) == 0
    assert [r["time_limit"] for r in _rows(out)] == ["300.0"]  # the first trial too
    assert read_json(out / "tuning" / "settings.json")["trial_seconds"] == "300 s"
    assert recipe_tuning._trial_limit(0) is None and recipe_tuning._limit_text(0) == "no limit"
