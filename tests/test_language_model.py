"""The language-model head: per-step outputs from every backbone, tied embeddings, causality.

Parametrised over the registry, so a newly registered model is covered here too.
"""

import numpy as np
import pytest

import keras

import seqzoo
from seqzoo import registry
from seqzoo.factory import objective_for
from seqzoo.heads import loss_and_metrics
from seqzoo.models._summary import returning_sequences, sequence_outputs

VOCAB, EMBED, BATCH, TIME = 40, 8, 3, 10
LM = dict(head="language_model", vocab_size=VOCAB, embed_dim=EMBED)
# deepspeech2 strides time by default: per-step outputs need stride=1 (see its test below).
EXTRA = {"deepspeech2": {"stride": 1}}
# Models with no per-step outputs: building a language model from them is a one-line error.
NO_STEPS = {"segrnn": "no per-step outputs"}
CAUSAL = seqzoo.list_models(tags=["causal"])


def ids(seed=0, batch=BATCH, time=TIME):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, size=(batch, time))
    x[0, time - 3:] = 0  # one right-padded row
    return x.astype("int32")


def build(name, **kwargs):
    return seqzoo.build(name, **LM, **EXTRA.get(name, {}), **kwargs)


def every_position(x):
    return np.broadcast_to(np.arange(x.shape[1], dtype="int32"), x.shape)


@pytest.mark.parametrize("name", seqzoo.list_models())
def test_every_model_predicts_every_token_with_the_embedding_matrix(name):
    if name in NO_STEPS:
        with pytest.raises(ValueError, match=NO_STEPS[name]):
            build(name, objective="mlm")
        return
    model = build(name, objective="mlm")
    x = ids()
    logits = np.asarray(model({"tokens": x, "positions": every_position(x)}, training=False))
    assert logits.shape == (BATCH, TIME, VOCAB)  # one prediction per input token ([CLS] dropped)
    assert logits.dtype == np.float32 and np.isfinite(logits).all()
    # Tied weights: the only (vocab, embed) matrix is the input embedding.
    assert [w.path for w in model.weights if tuple(w.shape) == (VOCAB, EMBED)] == ["embedding/embeddings"]
    embedding = model.get_layer("embedding")
    h = model.get_layer("lm_norm").output
    head = keras.Model(model.inputs, h)({"tokens": x, "positions": every_position(x)}, training=False)
    expected = np.asarray(head) @ np.asarray(embedding.embeddings).T + np.asarray(embedding.bias)
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", CAUSAL)
def test_a_causal_models_prediction_at_step_t_ignores_the_tokens_after_t(name):
    model = build(name)  # objective from the tags: clm
    assert [i.name for i in model.inputs] == ["tokens"]
    x = ids(batch=2, time=TIME)
    x[0, -3:] = np.array([5, 6, 7])  # no padding: every step is compared
    base = np.asarray(model(x, training=False))
    for t in (0, 4, TIME - 2):
        changed = x.copy()
        changed[:, t + 1:] = np.random.default_rng(t).integers(1, VOCAB, size=changed[:, t + 1:].shape)
        out = np.asarray(model(changed, training=False))
        np.testing.assert_allclose(out[:, : t + 1], base[:, : t + 1], rtol=1e-5, atol=1e-5)
        assert not np.allclose(out[:, t + 1:], base[:, t + 1:])  # the test can fail: later steps see it


def test_a_bidirectional_model_does_see_the_future():
    model = build("bilstm", objective="mlm")
    x = ids()
    changed = x.copy()
    changed[:, -1] = (changed[:, -1] % (VOCAB - 1)) + 1
    feed = lambda v: np.asarray(model({"tokens": v, "positions": every_position(v)}, training=False))  # noqa: E731
    assert not np.allclose(feed(x)[1:, 0], feed(changed)[1:, 0])


def test_the_objective_comes_from_the_registry_tags():
    for entry in registry.entries():
        assert objective_for(entry) == ("clm" if "causal" in entry.tags else "mlm")
    assert objective_for(registry.get("gpt"), "mlm") == "mlm"  # masked tokens from the left context
    with pytest.raises(ValueError, match="objective='clm' needs a causal model.*'bert'.*use objective='mlm'"):
        seqzoo.build("bert", **LM, objective="clm")
    mlm = build("gpt", objective="mlm")
    assert sorted(i.name for i in mlm.inputs) == ["positions", "tokens"]


def test_language_model_task_errors():
    with pytest.raises(ValueError, match="objective applies only to head='language_model'"):
        seqzoo.build("gru", objective="clm")
    with pytest.raises(ValueError, match="needs inputs='tokens'"):
        seqzoo.build("gru", inputs="frames", head="language_model")
    with pytest.raises(ValueError, match="stride=2 shortens time.*pass stride=1"):
        seqzoo.build("deepspeech2", **LM)


def test_sequence_outputs_is_scoped_and_the_classifier_is_unchanged():
    names = [layer.name for layer in seqzoo.build("lstm").layers]
    with sequence_outputs():
        assert returning_sequences()
    assert not returning_sequences()
    build("lstm")
    assert [layer.name for layer in seqzoo.build("lstm").layers] == names
    assert seqzoo.build("lstm").output_shape == (None, 1)


@pytest.mark.parametrize("name", ["gpt", "bert"])
def test_language_model_saves_and_loads_in_safe_mode(name, tmp_path):
    model = build(name)
    model.get_layer("embedding").bias.assign(np.linspace(-1, 1, VOCAB))
    model.save(tmp_path / "lm.keras")
    loaded = keras.saving.load_model(tmp_path / "lm.keras", safe_mode=True)
    x = ids()
    feed = x if name == "gpt" else {"tokens": x, "positions": x[:, :2] * 0 + 1}
    np.testing.assert_allclose(loaded(feed, training=False), model(feed, training=False), rtol=1e-6)


def test_masked_positions_are_gathered_and_padded_targets_are_ignored():
    model = build("transformer", objective="mlm")
    x = ids()
    full = np.asarray(model({"tokens": x, "positions": every_position(x)}, training=False))
    positions = np.array([[3, 1, 0], [2, 0, 0], [9, 8, 7]], "int32")
    picked = np.asarray(model({"tokens": x, "positions": positions}, training=False))
    np.testing.assert_allclose(picked, np.take_along_axis(full, positions[:, :, None], axis=1), rtol=1e-5, atol=1e-5)
    loss, _ = loss_and_metrics("language_model")
    targets = np.array([[5, 6, 0], [7, 0, 0], [1, 2, 3]])
    log_p = picked - np.log(np.exp(picked).sum(-1, keepdims=True))
    chosen = -np.take_along_axis(log_p, targets[:, :, None], axis=-1)[..., 0]
    np.testing.assert_allclose(float(loss(targets, picked)), chosen[targets != 0].mean(), rtol=1e-5)


def test_tied_embedding_and_gather_layers_round_trip_through_the_registry():
    from seqzoo.layers import GatherPositions, ReversibleEmbedding

    layer = ReversibleEmbedding(VOCAB, EMBED, mask_zero=True, output_bias=True)
    h = layer(ids())
    layer.bias.assign(np.arange(VOCAB, dtype="float32"))
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is ReversibleEmbedding and revived.get_config() == layer.get_config()
    revived.set_weights(layer.get_weights())
    np.testing.assert_allclose(revived(h, reverse=True), layer(h, reverse=True), rtol=1e-6)
    np.testing.assert_array_equal(revived.compute_mask(ids()), ids() != 0)
    gather = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(GatherPositions()))
    assert type(gather) is GatherPositions
    np.testing.assert_allclose(gather([h, np.array([[2]] * BATCH)])[:, 0], np.asarray(h)[:, 2])
