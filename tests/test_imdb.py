"""recipes.imdb end to end on tiny generated data in every layout (CSV, aclImdb folders, TFDS mock)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from helpers_recipes import read_json, write_aclimdb, write_imdb_csv

import recipes.data
import seqzoo.layers  # noqa: F401  (registers seqzoo's layers for load_model)
from recipes import cli, runner
from recipes.data import text
from recipes.imdb import ImdbRecipe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--epochs", "1", "--batch-size", "8", "--max-tokens", "64", "--seq-len", "12",
        "--set", "units=4", "--set", "embed_dim=8", "--quiet"]



@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory):
    return write_imdb_csv(tmp_path_factory.mktemp("imdb_csv"))


def _vocabulary(run_dir):
    with open(os.path.join(run_dir, "vocabulary.txt")) as handle:
        return handle.read().split("\n")[:-1]


def test_csv_end_to_end_and_repeatable(csv_dir, tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert runner.main(ImdbRecipe(), ["--data-dir", csv_dir, "--out", str(out), "--limit", "32", *TINY]) == 0
        runs.append(read_json(out / "metrics.json"))
    metrics = runs[0]
    for key in ("recipe", "model", "params", "epochs_run", "train_seconds", "examples_per_second",
                "test_accuracy", "test_loss"):
        assert key in metrics
    assert metrics["recipe"] == "imdb" and metrics["model"] == "bilstm" and metrics["epochs_run"] == 1
    assert metrics["sizes"] == {"train": 32, "val": 5, "test": 24}  # --limit caps train; val = 10% of 48
    assert metrics["data"]["source"].startswith("csv:")
    assert runs[0]["test_loss"] == runs[1]["test_loss"]  # same --seed, same numbers

    out = tmp_path / "a"
    for name in ("model.keras", "history.csv", "config.json", "curves.png", "confusion.png", "tb"):
        assert os.path.exists(out / name), name
    vocabulary = _vocabulary(out)
    assert vocabulary[:2] == ["", "[UNK]"] and "great" in vocabulary
    assert "br" not in vocabulary  # <br /> stripped
    assert "testonlyword" not in vocabulary  # fitted on training text only
    config = read_json(out / "config.json")
    assert config["task"] == {"inputs": "tokens", "vocab_size": len(vocabulary), "num_classes": 2}
    assert config["hyperparameters"]["units"] == 4 and config["hyperparameters"]["pool"] == "max"


def test_aclimdb_folders_and_fixed_length(tmp_path):
    data_dir = write_aclimdb(tmp_path / "aclImdb_parent" / "aclImdb")
    out = tmp_path / "run"
    argv = ["--data-dir", str(tmp_path / "aclImdb_parent"), "--out", str(out), "--no-bucketing",
            "--truncate", "start", *TINY]
    assert runner.main(ImdbRecipe(), argv) == 0
    metrics = read_json(out / "metrics.json")
    assert metrics["sizes"] == {"train": 22, "val": 2, "test": 12}  # unsup/ ignored
    assert metrics["data"]["source"] == f"folders:{os.path.abspath(data_dir)}"
    assert sum(map(sum, metrics["test_confusion"])) == 12


def test_tfds_default_with_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(recipes.data, "network_available", lambda *a, **k: True)
    out = tmp_path / "run"
    with tfds.testing.mock_data(num_examples=20):
        assert runner.main(ImdbRecipe(), ["--out", str(out), *TINY]) == 0
    metrics = read_json(out / "metrics.json")
    assert metrics["data"]["source"] == "tfds:imdb_reviews"
    assert metrics["sizes"] == {"train": 18, "val": 2, "test": 20}


def test_offline_without_data_dir_fails_fast(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(recipes.data, "network_available", lambda *a, **k: False)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: False)
    out = tmp_path / "run"
    start = time.monotonic()
    assert runner.main(ImdbRecipe(), ["--out", str(out)]) == 2
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "no network" in err and "--data-dir" in err
    assert not out.exists()


def _write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(content)


def _bad_layouts(root):
    good_test = "text,label\nfine film,1\n"
    cases = {
        "missing": (None, "is not a folder"),
        "empty_folder": ({}, "holds no known layout"),
        "no_label_column": ({"train.csv": "text,stars\nok,1\n", "test.csv": good_test}, "lacks column(s) label"),
        "bad_label": ({"train.csv": "text,label\nok,1\nbad,7\n", "test.csv": good_test}, "row 3 has label '7'; labels must be integers 0..1"),
        "text_label": ({"train.csv": "text,label\nok,pos\n", "test.csv": good_test}, "labels must be integers"),
        "empty_csv": ({"train.csv": "", "test.csv": good_test}, "is empty"),
        "no_rows": ({"train.csv": "text,label\n", "test.csv": good_test}, "has no rows"),
        "empty_text": ({"train.csv": "text,label\n,1\n", "test.csv": good_test}, "empty text or label"),
        "only_train_csv": ({"train.csv": good_test}, "has no test.csv"),
        "acl_missing_neg": ({"train/pos/1_9.txt": "x", "train/neg/2_1.txt": "y", "test/pos/3_9.txt": "z"},
                            "lacks the class folder(s) neg"),
        "acl_no_files": ({"train/pos/.keep": "", "train/neg/.keep": "", "test/pos/.keep": "", "test/neg/.keep": ""},
                         "No text files found"),
    }
    out = {}
    for name, (files, message) in cases.items():
        folder = os.path.join(root, name)
        if files is not None:
            os.makedirs(folder, exist_ok=True)
            for rel, content in files.items():
                _write(os.path.join(folder, rel), content)
        out[name] = (folder, message)
    return out


def test_bad_data_one_line_exit_2_nothing_created(tmp_path, capsys):
    for name, (folder, message) in _bad_layouts(str(tmp_path / "data")).items():
        out = tmp_path / f"out_{name}"
        before = sorted(os.listdir(folder)) if os.path.isdir(folder) else None
        code = runner.main(ImdbRecipe(), ["--data-dir", folder, "--out", str(out), *TINY])
        err = capsys.readouterr().err
        assert code == 2, name
        assert message in err, (name, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, name
        assert not out.exists(), name
        assert (sorted(os.listdir(folder)) if os.path.isdir(folder) else None) == before


def test_vectorize_truncates_and_never_empty():
    vectorizer = text.fit_vectorizer(np.array(["a b c d e f", "b c"], dtype=object), max_tokens=10)
    texts = np.array(["a b c d e f", "!!!", "Great<br />film"], dtype=object)
    for truncate, first in (("end", ["c", "d", "e", "f"]), ("start", ["a", "b", "c", "d"])):
        examples, lengths = text.vectorize(texts, np.array([1, 0, 1]), vectorizer, seq_len=4, truncate=truncate)
        ids = [x.tolist() for x, _ in examples.as_numpy_iterator()]
        vocab = vectorizer.get_vocabulary()
        assert [vocab[i] for i in ids[0]] == first
        assert ids[1] == [1]  # no token -> one OOV id, never an empty sequence
        assert lengths.tolist() == [4, 1, 2]
    batched = text.batch_examples(examples, lengths, batch_size=2, seq_len=4, bucketing=True)
    assert int(batched.cardinality()) == len(list(batched))  # exact step count for the progress bar
    assert sorted(int(n) for x, _ in batched for n in tf.reduce_sum(tf.sign(x), axis=1)) == [1, 2, 4]


def test_cli_subprocess(csv_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "recipes.imdb", "--data-dir", csv_dir, "--out", str(out), "--limit", "16", *TINY],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert read_json(out / "metrics.json")["epochs_run"] == 1
    # a fresh process loads model.keras in safe mode once seqzoo's layers are registered
    load = (f"import seqzoo.layers, keras; m = keras.saving.load_model({str(out / 'model.keras')!r}, "
            "safe_mode=True); print(m.count_params())")
    loaded = subprocess.run([sys.executable, "-c", load], env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert int(loaded.stdout.split()[-1]) == read_json(out / "metrics.json")["params"]

    bad = subprocess.run(
        [sys.executable, "-m", "recipes.imdb", "--model", "bilstn", "--out", str(tmp_path / "x")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()  # TensorFlow's start-up logs hidden too
    assert len(lines) == 1 and lines[0].startswith("python -m recipes.imdb: error: --model: unknown model")
    assert "did you mean 'bilstm'" in lines[0]
    assert not (tmp_path / "x").exists()


def test_bigram_vocabulary_appends_bigram_ids():
    texts = np.array(["good movie good movie", "bad movie", "good plot", "bad plot bad"])
    vectorizer = text.fit_vectorizer(texts, max_tokens=50, ngrams=2)
    vocabulary = vectorizer.get_vocabulary()
    assert "good movie" in vocabulary and "bad plot" in vocabulary
    ids = vectorizer(["good movie bad"]).to_list()[0]
    words = [str(vocabulary[i]) for i in ids]
    assert words == ["good", "movie", "bad", "good movie", "[UNK]"], words  # "movie bad": not in train


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["--model", "gru"], {"ngrams": 1, "max_tokens": 10000, "seq_len": 800, "lr_schedule": "constant",
                              "patience": 1, "batch_size": 64, "learning_rate": 1e-3}),
        ([], {"ngrams": 1, "seq_len": 800, "lr_schedule": "linear", "patience": 0, "batch_size": 32,
              "learning_rate": 2e-3}),  # bilstm
        (["--model", "hopfield"], {"ngrams": 2, "max_tokens": 200000, "seq_len": 1600, "learning_rate": 1e-3,
                                   "lr_schedule": "linear", "patience": 0}),
        (["--model", "hopfield", "--lr-schedule", "constant", "--patience", "2"],
         {"lr_schedule": "constant", "patience": 2}),
        (["--model", "hopfield", "--ngrams", "1", "--seq-len", "50"], {"ngrams": 1, "max_tokens": 200000, "seq_len": 50}),
    ],
)
def test_data_defaults_depend_on_the_model_and_flags_win(argv, expected):
    args = cli.parse(ImdbRecipe(), argv)
    assert {key: getattr(args, key) for key in expected} == expected


def test_patience_keeps_the_best_validation_epoch():
    recipe = ImdbRecipe()
    (stopper,) = recipe.callbacks(cli.parse(recipe, ["--model", "gru"]), None)
    assert stopper.monitor == "val_loss" and stopper.patience == 1 and stopper.restore_best_weights
    assert recipe.callbacks(cli.parse(recipe, ["--model", "gru", "--patience", "0"]), None) == []
    assert recipe.callbacks(cli.parse(recipe, ["--model", "hopfield"]), None) == []  # keeps its last epoch


@pytest.mark.parametrize(
    "train,sizes,steps",
    [
        (tf.data.Dataset.range(10).batch(2), {}, 5),  # known cardinality
        (tf.data.Dataset.range(10).batch(2).filter(lambda x: True), {"train": 10}, 3),  # ceil(10 / --batch-size 4)
        (tf.data.Dataset.range(10).batch(2).filter(lambda x: True), {}, 5),  # counted
    ],
)
def test_linear_schedule_reaches_zero_at_the_last_training_step(train, sizes, steps):
    recipe = ImdbRecipe()
    args = cli.parse(recipe, ["--epochs", "2", "--batch-size", "4", "--learning-rate", "0.01",
                              "--lr-schedule", "linear"])
    data = runner.TaskData(train=train, val=train, test=train, model_kwargs={}, sizes=sizes)
    assert runner.steps_per_epoch(data, args) == steps
    optimizer = recipe.optimizer(args, data)
    rates = []
    for step in (0, steps, 2 * steps, 2 * steps + 3):
        optimizer.iterations.assign(step)
        rates.append(float(optimizer.learning_rate))
    assert rates == pytest.approx([0.01, 0.005, 0.0, 0.0])
    constant_args = cli.parse(recipe, ["--learning-rate", "0.01", "--lr-schedule", "constant"])
    constant = recipe.optimizer(constant_args, data)
    constant.iterations.assign(2 * steps)
    assert float(constant.learning_rate) == pytest.approx(0.01)


def test_linear_schedule_trains_to_a_zero_rate_and_the_saved_model_keeps_it(csv_dir, tmp_path):
    out = tmp_path / "run"
    argv = ["--data-dir", csv_dir, "--out", str(out), "--limit", "32", *TINY,
            "--epochs", "2", "--lr-schedule", "linear"]
    assert runner.main(ImdbRecipe(), argv) == 0
    metrics = read_json(out / "metrics.json")
    assert metrics["epochs_run"] == 2
    model = keras.saving.load_model(str(out / "model.keras"))
    schedule = model.optimizer.get_config()["learning_rate"]["config"]
    assert int(model.optimizer.iterations) == schedule["decay_steps"] > 0  # bucketed batches counted exactly
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0)


def test_single_class_training_data_warns(tmp_path, capsys):
    import pandas as pd

    folder = tmp_path / "one"
    write_imdb_csv(folder)
    train = pd.read_csv(folder / "train.csv")
    train["label"] = 1
    train.to_csv(folder / "train.csv", index=False)
    out = tmp_path / "run"
    assert runner.main(ImdbRecipe(), ["--data-dir", str(folder), "--out", str(out), *TINY]) == 0
    err = capsys.readouterr().err
    assert "warning: the training data holds a single class (only 'pos')" in err


def test_every_per_model_default_names_a_registered_model_and_its_own_keys():
    from recipes.runner import resolve_hyperparameters

    recipe = ImdbRecipe()
    for model, values in ImdbRecipe.model_defaults.items():
        if model == "*":
            continue
        resolved = resolve_hyperparameters(recipe, model, {})  # a typo or a foreign key raises
        assert {k: resolved[k] for k in values} == values, model
    # the revival models: one 128-wide block, max pooling, Adam 2e-3 decayed linearly, last epoch
    assert {k: resolve_hyperparameters(recipe, "mingru", {})[k] for k in ("width", "depth", "pool")} == {
        "width": 128, "depth": 1, "pool": "max"}
    args = cli.parse(recipe, ["--model", "rwkv"])
    assert (args.learning_rate, args.lr_schedule, args.patience) == (2e-3, "linear", 0)
    # segrnn: 8-token segments, word dropout 0.2 and a 20k vocabulary, on the same schedule
    assert {k: resolve_hyperparameters(recipe, "segrnn", {})[k] for k in ("segment_len", "token_dropout")} == {
        "segment_len": 8, "token_dropout": 0.2}
    args = cli.parse(recipe, ["--model", "segrnn"])
    assert (args.max_tokens, args.learning_rate, args.lr_schedule, args.patience) == (20000, 2e-3, "linear", 0)
    assert cli.parse(recipe, ["--model", "segrnn", "--max-tokens", "5000"]).max_tokens == 5000
