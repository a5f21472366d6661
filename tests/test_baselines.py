"""recipes.baselines: the sanity baselines and the warnings they give."""

import numpy as np
import tensorflow as tf

from recipes import baselines


def test_collect_strips_trailing_padding_per_example():
    x = np.array([[5, 6, 0, 0], [7, 0, 0, 0]], "int32")
    dataset = tf.data.Dataset.from_tensor_slices((x, np.array([1, 0]))).batch(1)
    rows, labels = baselines.collect(dataset)
    assert [r.tolist() for r in rows] == [[5, 6], [7]] and labels.tolist() == [1, 0]


def test_tfidf_logistic_learns_a_bigram_signal_the_majority_cannot():
    rng = np.random.default_rng(0)
    def make(n):  # class = whether the bigram (3, 4) occurs; unigrams alone are balanced
        rows, labels = [], []
        for i in range(n):
            row = list(rng.integers(5, 40, size=12))
            row += [3, 4, 9, 9] if i % 2 else [4, 3, 9, 9]
            rows.append(np.array(rng.permutation(row[:12]).tolist() + row[12:]))
            labels.append(i % 2)
        return rows, np.array(labels)
    train, y_train = make(200)
    test, y_test = make(60)
    assert baselines.majority_accuracy(y_train, y_test) == 0.5
    assert baselines.tfidf_logistic_accuracy(train, y_train, test, y_test) > 0.95


def test_pooled_logistic_on_frames():
    rng = np.random.default_rng(1)
    y = np.arange(80) % 2
    frames = [rng.normal(loc=2.0 * label, size=(int(rng.integers(5, 9)), 3)) for label in y]
    assert baselines.pooled_logistic_accuracy(frames[:60], y[:60], frames[60:], y[60:]) > 0.9


def test_linear_forecast_recovers_a_linear_trend_that_persistence_misses():
    t = np.arange(300, dtype=float)
    series = np.stack([np.sin(t / 5.0), 0.01 * t], axis=-1)
    x = np.stack([series[i:i + 16] for i in range(250)])
    y = np.stack([series[i + 16:i + 20, -1:] for i in range(250)])
    pred = baselines.linear_forecast(x[:200], y[:200], x[200:], alpha=1e-6)
    persistence = np.repeat(x[200:, -1:, -1:], 4, axis=1)
    assert pred.shape == (50, 4, 1)
    assert np.mean((pred - y[200:]) ** 2) < 1e-6 < np.mean((persistence - y[200:]) ** 2)


def test_sanity_check_warns_only_when_a_baseline_wins():
    assert baselines.sanity_check({"test_accuracy": 0.9}, {"majority_accuracy": 0.5}) == []
    warnings = baselines.sanity_check({"test_accuracy": 0.5}, {"majority_accuracy": 0.5, "tfidf_logistic_accuracy": 0.86})
    assert len(warnings) == 1 and "tfidf_logistic baseline (0.8600)" in warnings[0]
    warnings = baselines.sanity_check({"test_mse": 1.3}, {"persistence_mse": 1.2, "linear_mse": 0.4})
    assert len(warnings) == 2
    assert any("persistence baseline" in w and "no better than chance" in w for w in warnings)
    assert any("linear baseline" in w for w in warnings)


def test_every_run_records_its_baselines_and_warns_when_they_win(tmp_path, capsys):
    from recipes.imdb import ImdbRecipe
    from recipes.runner import main
    from helpers_recipes import write_imdb_csv

    data = write_imdb_csv(tmp_path / "imdb", n_train=64, n_test=32)
    out = tmp_path / "run"
    argv = ["--data-dir", data, "--model", "gru", "--epochs", "1", "--set", "units=4", "--out", str(out),
            "--learning-rate", "1e-6"]
    assert main(ImdbRecipe(), argv) == 0
    import json

    metrics = json.load(open(out / "metrics.json"))
    assert set(metrics["baselines"]) == {"majority_accuracy", "tfidf_logistic_accuracy"}
    assert metrics["baselines"]["tfidf_logistic_accuracy"] > 0.9  # the generated reviews are easy
    # one epoch at a tiny rate learns nothing: the run says so
    assert any("tfidf_logistic baseline" in w for w in metrics["warnings"])
    assert "tfidf_logistic baseline" in capsys.readouterr().err
