"""The shared harness: every registered model, every input kind and head.

Parametrised over `seqzoo.list_models()`, so a newly registered architecture
is tested here without editing this file.
"""

import copy
import json
import pathlib

import numpy as np
import pytest

import keras
import tensorflow as tf

import seqzoo
from backend_harness import COMBOS, HEADS, INPUTS, TIME, padding_gaps, sample
from seqzoo.heads import loss_and_metrics

MODELS = seqzoo.list_models()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("kind,head", COMBOS)
def test_every_input_and_head_gives_the_documented_shape(name, kind, head):
    head_kwargs, shape = HEADS[head]
    model = seqzoo.build(name, **INPUTS[kind], **head_kwargs)
    assert isinstance(model, keras.Model)
    out = np.asarray(model(sample(kind), training=False))
    assert out.shape == shape
    assert np.isfinite(out).all()
    if head == "binary":
        assert ((out >= 0) & (out <= 1)).all()
    if head == "multiclass":
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_default_build_reads_token_ids_and_outputs_a_probability(name):
    model = seqzoo.build(name)
    assert model.input_shape == (None, None)
    assert model.output_shape == (None, 1)
    assert model.name == name


def vocabulary_task(n=128, time=TIME, seed=1):
    """A small learnable problem: class 1 sequences use ids 26-49, class 0 ids 3-25.

    Variable lengths, right-padded with 0. Every model family can learn it in
    a few steps; a model that cannot read its input cannot.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = np.where(y[:, None] == 1, rng.integers(26, 50, size=(n, time)), rng.integers(3, 26, size=(n, time)))
    for i, length in enumerate(rng.integers(time // 2, time + 1, size=n)):
        x[i, length:] = 0
    return x.astype("int32"), y.astype("float32")


@pytest.mark.parametrize("name", MODELS)
def test_every_weight_gets_a_gradient_and_a_few_steps_lower_the_loss(name):
    x, y = vocabulary_task()
    model = seqzoo.build(name, **INPUTS["tokens"])
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(y[:8, None], model(x[:8], training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    dead = [v.path for v, g in zip(model.trainable_variables, grads) if g is None]
    assert not dead, f"weights no loss reaches: {dead}"

    loss, metrics = loss_and_metrics("classification", 2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss, metrics=metrics)
    losses = model.fit(x, y, batch_size=32, epochs=4, verbose=0, shuffle=False).history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses


def test_series_forecast_with_instance_norm_and_linear_skip_learns_a_sine():
    rng = np.random.default_rng(2)
    t = np.arange(TIME + 4)[None, :] + rng.uniform(0, 20, size=(256, 1))
    level = rng.uniform(-5, 5, size=(256, 1, 1))  # per-window level shifts: RevIN's job
    waves = np.stack([np.sin(t / 3.0), np.cos(t / 5.0), np.sin(t / 7.0)], axis=-1) + level
    x, y = waves[:, :TIME].astype("float32"), waves[:, TIME:, 1:].astype("float32")
    model = seqzoo.build("gru", **INPUTS["series"], head="forecast", horizon=4, targets=2, units=16)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    losses = model.fit(x, y, batch_size=32, epochs=8, verbose=0).history["loss"]
    persistence = float(np.mean((y - x[:, -1:, 1:]) ** 2))
    assert losses[-1] < 0.5 * persistence, (losses, persistence)


def test_token_dropout_drops_whole_tokens_in_training_only():
    model = seqzoo.build("hopfield", **INPUTS["tokens"], token_dropout=0.5, depth=0)
    ids = np.random.default_rng(4).integers(1, 50, size=(8, 64)).astype("int32")
    embedded = np.asarray(model.get_layer("embedding")(ids))
    dropped = np.asarray(model.get_layer("token_dropout")(embedded, training=True))
    gone = np.all(dropped == 0, axis=-1)  # (batch, time): the whole vector or nothing
    assert 0.35 < gone.mean() < 0.65
    np.testing.assert_allclose(dropped[~gone], 2.0 * embedded[~gone], rtol=1e-6)  # kept tokens rescaled
    np.testing.assert_allclose(model(ids, training=False), model(ids, training=False))
    assert not np.allclose(model(ids, training=True), model(ids, training=False))
    clone = keras.Model.from_config(model.get_config())
    assert clone.get_layer("token_dropout").rate == 0.5
    assert "token_dropout" not in [layer.name for layer in seqzoo.build("hopfield", **INPUTS["tokens"]).layers]
    with pytest.raises(ValueError, match="token_dropout applies only to inputs='tokens'"):
        seqzoo.build("gru", **INPUTS["series"], token_dropout=0.1)


def _assert_same_predictions(a, b, x):
    np.testing.assert_allclose(a(x, training=False), b(x, training=False), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_save_and_load_in_safe_mode_gives_identical_predictions(name, tmp_path):
    model = seqzoo.build(name, **INPUTS["tokens"], **HEADS["multiclass"][0])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert [w.shape for w in loaded.weights] == [w.shape for w in model.weights]
    _assert_same_predictions(loaded, model, sample("tokens"))


@pytest.mark.parametrize("name", ["gru", "transformer"])
def test_series_forecast_model_saves_and_loads(name, tmp_path):
    model = seqzoo.build(name, **INPUTS["series"], **HEADS["forecast"][0])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    _assert_same_predictions(loaded, model, sample("series"))


@pytest.mark.parametrize("name", MODELS)
def test_get_config_from_config_round_trip(name):
    model = seqzoo.build(name, **INPUTS["tokens"])
    config = model.get_config()
    clone = keras.Model.from_config(copy.deepcopy(config))  # from_config consumes its dict
    as_json = lambda c: json.loads(json.dumps(c))  # noqa: E731  (tuples and lists alike)
    assert as_json(clone.get_config()) == as_json(config)
    clone.set_weights(model.get_weights())
    _assert_same_predictions(clone, model, sample("tokens"))


@pytest.mark.parametrize("name", MODELS)
def test_right_padding_with_mixed_lengths_in_one_batch_changes_no_row(name):
    # Rows of 3, 9, 6 and 16 tokens, right-padded to 20 in one batch: each row
    # predicts what it predicts alone and unpadded (the README's promise).
    model = seqzoo.build(name, **INPUTS["tokens"], num_classes=3)
    gaps = padding_gaps(model, lengths=[3, 9, 6, 16], time=20)
    assert max(gaps) <= 1e-4, gaps


def test_left_padding_is_outside_the_promise_and_the_readme_says_so():
    # Recurrent layers skip masked steps wherever they lie, so left padding is
    # harmless to them on CPU; position encodings count the padding, so an
    # attention model sees shifted positions and predicts differently. Hence
    # the README's limit, which must stay stated.
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    assert "padding must be on the right" in readme
    lengths = [3, 9, 6, 16]
    lstm = seqzoo.build("lstm", **INPUTS["tokens"], num_classes=3)
    assert max(padding_gaps(lstm, lengths=lengths, time=20, side="left")) <= 1e-5
    transformer = seqzoo.build("transformer", **INPUTS["tokens"], num_classes=3)
    assert max(padding_gaps(transformer, lengths=lengths, time=20, side="left")) > 1e-3
    assert max(padding_gaps(transformer, lengths=lengths, time=20, side="right")) <= 1e-4


def _recurrent_layers(layer):
    inner = (layer.forward_layer, layer.backward_layer) if isinstance(layer, keras.layers.Bidirectional) else (layer,)
    yield from (rnn for rnn in inner if isinstance(rnn, (keras.layers.LSTM, keras.layers.GRU)))


@pytest.mark.parametrize("name", MODELS)
def test_lstm_and_gru_defaults_keep_the_cudnn_kernel(name):
    model = seqzoo.build(name)
    for layer in model.layers:
        for rnn in _recurrent_layers(layer):
            cell = rnn.cell
            assert cell.activation is keras.activations.tanh, rnn.name
            assert cell.recurrent_activation is keras.activations.sigmoid, rnn.name
            assert cell.recurrent_dropout == 0 and not rnn.unroll and cell.use_bias, rnn.name
            if isinstance(rnn, keras.layers.GRU):
                assert cell.reset_after, rnn.name
