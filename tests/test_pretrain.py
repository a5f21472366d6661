"""Pre-training (recipes.pretrain, recipes.data.corpus) and fine-tuning (--init, recipes.finetune).

Tiny generated corpora only (no network, no ../shared).
"""

from __future__ import annotations

import re
import shutil

import keras
import numpy as np
import pandas as pd
import pytest

from helpers_recipes import StopAfterEpoch, read_json, reviews, write_aclimdb, write_imdb_csv
from recipes import finetune
from recipes.data import DataError, corpus
from recipes.imdb import ImdbRecipe
from recipes.pretrain import PretrainRecipe
from recipes.runner import main

GRU = ["--set", "units=8", "--set", "embed_dim=8"]


# ----------------------------------------------------------------------------- masking, targets


def test_masking_statistics_follow_bert():
    rng = np.random.default_rng(0)
    rows = rng.integers(2, 500, size=(2000, 64)).astype(np.int32)
    lengths = rng.integers(1, 65, size=2000)
    rows[np.arange(64)[None, :] >= lengths[:, None]] = 0  # right padding of every length
    inputs, positions, targets = corpus.mask_tokens(rows, mask_id=500, rng=np.random.default_rng(1))
    assert positions.shape == targets.shape == (2000, 10)  # ceil(0.15 * 64)
    used = targets != 0
    real = (rows != 0).sum(1)
    np.testing.assert_array_equal(used.sum(1), np.maximum(1, np.round(0.15 * real)))  # 15 % of the real tokens
    picked = np.take_along_axis(rows, positions, axis=1)
    np.testing.assert_array_equal(targets[used], picked[used])  # targets: the original ids
    assert (picked[used] != 0).all()  # padding is never chosen
    for row in range(50):
        assert len(set(positions[row][used[row]])) == used[row].sum()  # distinct positions
    now = np.take_along_axis(inputs, positions, axis=1)[used]
    masked, kept = np.mean(now == 500), np.mean(now == targets[used])
    assert 0.78 < masked < 0.82 and 0.09 < kept < 0.115  # 80 % [MASK], 10 % kept (+ random hits)
    randoms = now[(now != 500) & (now != targets[used])]
    assert 0.085 < len(randoms) / used.sum() < 0.11 and randoms.min() >= 2 and randoms.max() < 500
    chosen = np.zeros_like(rows, bool)
    chosen[np.nonzero(used)[0], positions[used]] = True
    np.testing.assert_array_equal(inputs[~chosen], rows[~chosen])  # every other step unchanged


def test_next_token_targets_are_the_inputs_shifted_by_one_and_padding_weighs_nothing():
    stream = np.arange(1, 24, dtype=np.int32)  # 23 tokens
    x, y, weight = corpus.make_examples(stream, objective="clm", seq_len=5, mask_id=99, seed=0)
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])  # step t's target is input t + 1
    np.testing.assert_array_equal(x[1:, 0], y[:-1, -1])  # windows chain: every transition once
    pairs = {(a, b) for xs, ys in zip(x, y) for a, b in zip(xs, ys) if b}
    assert pairs == {(t, t + 1) for t in range(1, 23)}
    np.testing.assert_array_equal(weight, (y != 0).astype(np.float32))
    assert weight[-1].sum() < 5 and (y[-1][weight[-1] == 0] == 0).all()  # the padded tail
    x, y, weight = corpus.make_examples(stream, objective="mlm", seq_len=8, mask_id=99, seed=0)
    assert set(x) == {"tokens", "positions"} and x["tokens"].shape == (3, 8) and y.shape == (3, 2)
    assert weight[-1].tolist() == [1.0, 0.0]  # 7 real tokens in the last window: one target


# ----------------------------------------------------------------------------- corpus readers


def test_corpus_layouts(tmp_path):
    pd.DataFrame({"text": ["one unlabelled", "two"]}).to_csv(tmp_path / "unsup.csv", index=False)
    write_imdb_csv(tmp_path)  # train.csv (48, labels ignored) and test.csv (never read)
    got = corpus.read_corpus(str(tmp_path))
    assert len(got.texts) == 50 and not any("testonlyword" in str(t) for t in got.texts)
    acl = corpus.read_corpus(write_aclimdb(str(tmp_path / "acl")))
    assert len(acl.texts) == 25 and b"unlabelled review" in list(acl.texts)  # train/pos, neg, unsup
    (tmp_path / "txt" / "sub").mkdir(parents=True)
    (tmp_path / "txt" / "a.txt").write_text("alpha")
    (tmp_path / "txt" / "sub" / "b.txt").write_text("beta")
    assert sorted(corpus.read_corpus(str(tmp_path / "txt")).texts) == [b"alpha", b"beta"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no known layout"):
        corpus.read_corpus(str(tmp_path / "empty"))
    pd.DataFrame({"review": ["x"]}).to_csv(tmp_path / "empty" / "unsup.csv", index=False)
    with pytest.raises(DataError, match="has no column text"):
        corpus.read_corpus(str(tmp_path / "empty"))


def test_unreadable_corpora_are_one_line_errors_that_say_the_fix(tmp_path):
    (tmp_path / "ok.txt").write_text("fine words")
    (tmp_path / "latin.txt").write_bytes("caf\xe9 na\xefve".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.txt is not UTF-8 text \(byte 0xe9 at offset 3\); convert it"):
        corpus.read_corpus(str(tmp_path))
    with pytest.raises(DataError, match="--held-out 0.5 of 4 documents leaves none for training: pass a smaller"):
        corpus.split_documents(np.array(list("abcd"), dtype=object), held_out=0.5, seed=0)


def test_vocabulary_ends_with_mask_and_round_trips():
    texts = np.array(reviews(30)[0], dtype=object)
    vocabulary = corpus.fit_vocabulary(texts, max_tokens=12)
    assert len(vocabulary) == 12 and vocabulary[:2] == ["", "[UNK]"] and vocabulary[-1] == "[MASK]"
    assert corpus.vectorizer_for(vocabulary).get_vocabulary() == vocabulary
    assert 11 not in corpus.token_stream(np.array(["[MASK] mask"], dtype=object), vocabulary)


# ----------------------------------------------------------------------------- recipes end to end


def corpus_dir(tmp_path):
    texts = reviews(160, seed=5)[0]
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "unsup.csv", index=False)
    return str(tmp_path)


def pretrain(tmp_path, out, *extra, recipe=None):
    (tmp_path / "corpus").mkdir(exist_ok=True)
    argv = ["--model", "gru", "--data-dir", corpus_dir(tmp_path / "corpus"), "--out", str(out), "--epochs", "2", "--seq-len", "12",
            "--batch-size", "16", "--held-out", "0.1", "--max-tokens", "40", "--quiet", *GRU, *extra]
    return main(recipe or PretrainRecipe(), argv)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pretrain")
    assert pretrain(tmp, tmp / "run") == 0
    return tmp


def test_pretraining_writes_a_language_model_and_its_vocabulary(pretrained):
    run = pretrained / "run"
    metrics = read_json(run / "metrics.json")
    assert metrics["data"]["objective"] == "clm" and metrics["epochs_run"] == 2
    assert 1.0 < metrics["test_perplexity"] < 40 and metrics["test_perplexity"] == pytest.approx(
        np.exp(metrics["test_loss"]))
    vocabulary = (run / "vocabulary.txt").read_text().split("\n")[:-1]
    assert len(vocabulary) == metrics["data"]["vocab_size"] <= 40 and vocabulary[-1] == "[MASK]"


def test_interrupted_pretraining_resumes_from_the_last_epoch(pretrained, tmp_path):
    class Interrupted(PretrainRecipe):
        def callbacks(self, args, data):
            return [StopAfterEpoch(0)]

    out = tmp_path / "run"
    assert pretrain(tmp_path, out, recipe=Interrupted()) == 130
    assert not (out / "metrics.json").exists()
    first = (out / "history.csv").read_text().splitlines()
    assert len(first) == 2  # header + epoch 0
    assert pretrain(tmp_path, out) == 0
    assert read_json(out / "train_state.json")["resumed"] is True
    history = (out / "history.csv").read_text().splitlines()
    assert history[:2] == first and len(history) == 3  # epoch 1 appended to the first session's epoch 0
    assert read_json(out / "metrics.json")["epochs_run"] == 2
    # Same architecture, vocabulary and data as the uninterrupted run; the weights differ only
    # through the second epoch's shuffle order (tf.data restarts its shuffle on resume).
    resumed = keras.saving.load_model(out / "model.keras")
    whole = keras.saving.load_model(pretrained / "run" / "model.keras")
    for a, b in zip(resumed.weights, whole.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=0.05, err_msg=a.path)


def finetune_argv(pretrained, out, *extra):
    data = write_imdb_csv(pretrained / "imdb") if not (pretrained / "imdb").exists() else str(pretrained / "imdb")
    return ["--model", "gru", "--data-dir", data, "--init", str(pretrained / "run"), "--out", str(out),
            "--epochs", "1", "--batch-size", "16", "--quiet", *GRU, *extra]


def test_fine_tuning_loads_exactly_the_pretrained_weights_and_freezes_them(pretrained, tmp_path):
    out = tmp_path / "ft"
    assert main(ImdbRecipe(), finetune_argv(pretrained, out, "--freeze-epochs", "1")) == 0
    tuned = keras.saving.load_model(out / "model.keras")
    source = {w.path: np.asarray(w) for w in keras.saving.load_model(pretrained / "run" / "model.keras").weights}
    loaded = [w.path for w in tuned.weights if w.path in source]
    assert sorted(loaded) == ["embedding/embeddings", "gru_1/gru_cell/bias", "gru_1/gru_cell/kernel",
                              "gru_1/gru_cell/recurrent_kernel"]
    for w in tuned.weights:  # frozen for the one epoch: bit-identical to the pretrained ones
        if w.path in source:
            np.testing.assert_array_equal(np.asarray(w), source[w.path], err_msg=w.path)
    fresh = keras.saving.load_model(out / "model.keras")  # the head did train
    assert read_json(out / "metrics.json")["data"]["init"] == str(pretrained / "run")
    assert (out / "vocabulary.txt").read_text() == (pretrained / "run" / "vocabulary.txt").read_text()
    assert fresh.get_layer("probability").get_weights()[0].any()


def test_fine_tune_adam_scales_the_pretrained_steps():
    def step(factor, frozen):
        a, b = keras.Variable(np.ones(3, "float32"), name="a"), keras.Variable(np.ones(3, "float32"), name="b")
        optimizer = finetune.FineTuneAdam(0.1, pretrained_factor=factor, frozen_steps=frozen)
        optimizer.pretrained_paths = {a.path}
        optimizer.apply_gradients([(np.ones(3, "float32"), a), (np.ones(3, "float32"), b)])
        return 1 - np.asarray(a)[0], 1 - np.asarray(b)[0]

    assert step(1.0, 0) == pytest.approx((0.1, 0.1), rel=1e-4)
    assert step(0.25, 0) == pytest.approx((0.025, 0.1), rel=1e-4)
    assert step(0.25, 1) == pytest.approx((0.0, 0.1), rel=1e-4)


@pytest.mark.parametrize("extra,message", [
    (["--model", "lstm"], "pretrained --model gru, not lstm; pass --model gru"),
    (["--set", "units=6"], r"gru_1/gru_cell/kernel is \(8, 24\) there and \(8, 18\) here"),
    (["--ngrams", "2"], "pass --ngrams 1"),
])
def test_fine_tuning_mismatches_are_one_line_errors_and_write_nothing(pretrained, tmp_path, capsys, extra, message):
    out = tmp_path / "ft"
    assert main(ImdbRecipe(), finetune_argv(pretrained, out, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err), err
    assert not out.exists()


@pytest.mark.parametrize("damage,message", [
    (("model.keras", lambda data: data[: len(data) // 2]), "model.keras is unreadable"),
    (("vocabulary.txt", lambda data: data + b"\xff\xfe\n"), "vocabulary.txt is unreadable .*utf-8"),
    (("config.json", lambda data: b"{not json"), "config.json is unreadable"),
])
def test_a_damaged_pretraining_run_is_a_one_line_error(pretrained, tmp_path, capsys, damage, message):
    run = tmp_path / "run"
    shutil.copytree(pretrained / "run", run)
    name, change = damage
    (run / name).write_bytes(change((run / name).read_bytes()))
    argv = finetune_argv(pretrained, tmp_path / "ft")
    argv[argv.index("--init") + 1] = str(run)
    assert main(ImdbRecipe(), argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err) and "rerun recipes.pretrain" in err, err
    assert not (tmp_path / "ft").exists()


def test_fine_tuning_refuses_a_missing_run_and_longer_sequences_than_learned_positions(pretrained, tmp_path, capsys):
    argv = finetune_argv(pretrained, tmp_path / "ft")
    argv[argv.index("--init") + 1] = str(tmp_path)
    assert main(ImdbRecipe(), argv) == 2
    assert "no config.json, model.keras, vocabulary.txt" in capsys.readouterr().err
    gpt = tmp_path / "gpt"
    (gpt / "corpus").mkdir(parents=True)
    tiny = ["--set", "width=8", "--set", "heads=2", "--set", "ff_dim=8", "--set", "depth=1", "--set", "embed_dim=8"]
    argv = ["--model", "gpt", "--data-dir", corpus_dir(gpt / "corpus"), "--out", str(gpt / "run"), "--epochs", "1",
            "--seq-len", "12", "--max-tokens", "40", "--held-out", "0.1", "--limit", "40", "--quiet", *tiny]
    assert main(PretrainRecipe(), argv) == 0
    argv = ["--model", "gpt", "--data-dir", write_imdb_csv(gpt / "imdb"), "--init", str(gpt / "run"),
            "--out", str(gpt / "ft"), "--seq-len", "50", "--quiet", *tiny]
    assert main(ImdbRecipe(), argv) == 2
    assert "--seq-len 50 exceeds the 12 positions gpt learned" in capsys.readouterr().err
    assert not (gpt / "ft").exists()
    # --seq-len left at its default (800): the learned 12 positions, recorded as an adapted choice
    argv = argv[:argv.index("--seq-len")] + argv[argv.index("--seq-len") + 2:] + ["--epochs", "1", "--limit", "40"]
    assert main(ImdbRecipe(), argv) == 0
    metrics = read_json(gpt / "ft" / "metrics.json")
    assert metrics["data"]["seq_len"] == 12
    assert read_json(gpt / "ft" / "config.json")["flags"]["seq_len"] == 800  # the default: a rerun matches
