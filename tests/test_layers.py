"""The custom layers: the values they compute, their masks, and serialization."""

import pathlib

import numpy as np
import pytest

import keras
from seqzoo import layers as L


def np_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


LAYERS = {
    "AttentionPooling": (lambda: L.AttentionPooling(8), (2, 5, 6)),
    "AutoregressiveSkip": (lambda: L.AutoregressiveSkip(horizon=3, targets=2), (2, 5, 4)),
    "CausalDepthwiseConv1D": (lambda: L.CausalDepthwiseConv1D(3), (2, 5, 6)),
    "ClassToken": (lambda: L.ClassToken(), (2, 5, 6)),
    "DropFirstTimestep": (lambda: L.DropFirstTimestep(), (2, 5, 6)),
    "FirstTimestep": (lambda: L.FirstTimestep(), (2, 5, 6)),
    "HopfieldPooling": (lambda: L.HopfieldPooling(num_queries=2, heads=2, key_dim=4, update_steps=2), (2, 5, 6)),
    "HopfieldRetrieval": (lambda: L.HopfieldRetrieval(heads=2, key_dim=4, beta=0.5, update_steps=1), (2, 5, 6)),
    "InstanceNormalization": (lambda: L.InstanceNormalization(), (2, 5, 6)),
    "LastTimestep": (lambda: L.LastTimestep(), (2, 5, 6)),
    "LinearRecurrentUnit": (lambda: L.LinearRecurrentUnit(4, r_min=0.5, seed=1), (2, 5, 6)),
    "DiagonalStateSpace": (lambda: L.DiagonalStateSpace(4, seed=1), (2, 5, 6)),
    "MambaMixer": (lambda: L.MambaMixer(state_size=4, conv_width=3), (2, 5, 6)),
    "MinGRU": (lambda: L.MinGRU(4), (2, 5, 6)),
    "MinLSTM": (lambda: L.MinLSTM(4), (2, 5, 6)),
    "LocalAttention": (lambda: L.LocalAttention(heads=3, window=2), (2, 5, 6)),
    "MaskedConv1D": (lambda: L.MaskedConv1D(4, 3, strides=2, activation="relu"), (2, 5, 6)),
    "MaskedMaxPooling1D": (lambda: L.MaskedMaxPooling1D(), (2, 5, 6)),
    "MLSTMMixer": (lambda: L.MLSTMMixer(heads=2, conv_width=3), (2, 5, 6)),
    "MaskedRMSNormalization": (lambda: L.MaskedRMSNormalization(epsilon=1e-5), (2, 5, 6)),
    "PositionEmbedding": (lambda: L.PositionEmbedding(max_len=9), (2, 5, 6)),
    "RGLRU": (lambda: L.RGLRU(gate_blocks=2), (2, 5, 6)),
    "RWKVChannelMix": (lambda: L.RWKVChannelMix(expand=2, block=1, depth=2), (2, 5, 6)),
    "RWKVTimeMix": (lambda: L.RWKVTimeMix(block=1, depth=2), (2, 5, 6)),
    "SegmentGRU": (lambda: L.SegmentGRU(units=4, segment_len=2, channel_independent=True, depth=2), (2, 5, 6)),
    "SegmentPMFDecoder": (lambda: L.SegmentPMFDecoder(horizon=5, segment_len=2, channels=3, targets=2), (2, 6)),
    "SinusoidalPositionEncoding": (lambda: L.SinusoidalPositionEncoding(), (2, 5, 6)),
    "SLSTMMixer": (lambda: L.SLSTMMixer(heads=2, conv_width=3), (2, 5, 6)),
    "TokenShift": (lambda: L.TokenShift(), (2, 5, 6)),
    "TransformerBlock": (lambda: L.TransformerBlock(2, 12, dropout=0.1, activation="gelu", norm_first=True,
                                                    causal=True), (2, 5, 6)),
}


def test_every_public_layer_is_covered():
    # GatherPositions (two inputs) and ReversibleEmbedding (int ids): tests/test_language_model.py
    assert set(LAYERS) | {"InstanceDenormalization", "GatherPositions", "ReversibleEmbedding"} == set(L.__all__)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_config_round_trip_and_serialization(name):
    make, shape = LAYERS[name]
    layer = make()
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    y = layer(x)
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    # Through the Keras registry, as model files do (package "seqzoo").
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is type(layer)
    assert revived.built or not layer.weights  # rebuilt from its build config
    revived.set_weights(layer.get_weights())
    np.testing.assert_allclose(revived(x), y, rtol=1e-5, atol=1e-6)


def test_layers_are_backend_portable():
    """Custom layers and builders use keras.ops only, never TensorFlow directly."""
    root = pathlib.Path(L.__file__).parent.parent
    for path in list((root / "layers").glob("*.py")) + list((root / "models").glob("*.py")):
        text = path.read_text()
        assert "import tensorflow" not in text and "tf." not in text, path.name


def test_masked_conv1d_outputs_at_valid_steps_ignore_padding():
    conv = L.MaskedConv1D(3, 4, strides=2)
    rng = np.random.default_rng(0)
    short = rng.normal(size=(1, 7, 2)).astype("float32")
    padded = np.concatenate([short, rng.normal(size=(1, 5, 2)).astype("float32")], axis=1)  # garbage padding
    mask = np.array([[True] * 7 + [False] * 5])
    out_short, out_padded = conv(short), conv(padded, mask=mask)
    np.testing.assert_allclose(out_padded[:, :4], out_short, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(conv.compute_mask(padded, mask), mask[:, ::2])


def test_masked_max_pooling_ignores_padded_steps():
    x = np.array([[[1.0, -3.0], [2.0, -1.0], [100.0, 100.0]]], "float32")
    out = L.MaskedMaxPooling1D()(x, mask=np.array([[True, True, False]]))
    np.testing.assert_allclose(out, [[2.0, -1.0]])


def test_last_timestep_picks_each_rows_last_valid_step():
    x = np.arange(12, dtype="float32").reshape(2, 3, 2)
    mask = np.array([[True, False, False], [True, True, True]])
    np.testing.assert_allclose(L.LastTimestep()(x, mask=mask), [[0.0, 1.0], [10.0, 11.0]])


def test_class_token_prepends_a_learned_vector_and_extends_the_mask():
    layer = L.ClassToken()
    x = np.zeros((2, 3, 4), "float32")
    out = np.asarray(layer(x))
    np.testing.assert_allclose(out[:, 0], np.broadcast_to(np.asarray(layer.token)[0], (2, 4)))
    mask = np.array([[True, False, False], [True, True, True]])
    np.testing.assert_array_equal(layer.compute_mask(x, mask), [[True, True, False, False], [True] * 4])


def test_sinusoidal_encoding_matches_the_paper_formula():
    d, t = 6, 4
    out = np.asarray(L.SinusoidalPositionEncoding()(np.zeros((1, t, d), "float32")))[0]
    for pos in range(t):
        for i in range(d):
            angle = pos / 10000 ** ((i // 2 * 2) / d)
            expected = np.sin(angle) if i % 2 == 0 else np.cos(angle)
            assert out[pos, i] == pytest.approx(expected, abs=1e-5)


def test_position_embedding_rejects_sequences_longer_than_max_len():
    with pytest.raises(ValueError, match="exceeds max_len=4"):
        L.PositionEmbedding(max_len=4).build((None, 6, 8))


def test_attention_pooling_is_a_convex_combination_of_valid_steps():
    layer = L.AttentionPooling(5)
    x = np.random.default_rng(0).normal(size=(1, 4, 3)).astype("float32")
    x[0, 3] = 1000.0  # a padded step: must get no weight
    out = np.asarray(layer(x, mask=np.array([[True, True, True, False]])))
    assert (out <= x[0, :3].max(axis=0) + 1e-5).all() and (out >= x[0, :3].min(axis=0) - 1e-5).all()


def test_hopfield_retrieval_matches_the_update_rule():
    """One update xi <- softmax(beta xi K^T) K, then read-out softmax(beta xi K^T) K W_V W_O."""
    layer = L.HopfieldRetrieval(heads=1, key_dim=3, beta=2.0, update_steps=1)
    x = np.random.default_rng(1).normal(size=(1, 4, 5)).astype("float32")
    out = np.asarray(layer(x))[0]
    wq, wk, wv, wo = (np.asarray(w) for w in (layer.w_q, layer.w_k, layer.w_v, layer.w_o))
    q, k = x[0] @ wq, x[0] @ wk
    q = np_softmax(2.0 * q @ k.T) @ k
    z = np_softmax(2.0 * q @ k.T) @ (k @ wv[0])
    np.testing.assert_allclose(out, z @ wo, rtol=1e-4, atol=1e-5)


def test_hopfield_with_large_beta_retrieves_the_closest_stored_pattern():
    """Classical associative memory: a noisy cue converges to its stored pattern."""
    layer = L.HopfieldRetrieval(heads=1, key_dim=8, beta=50.0, update_steps=3)
    layer.build((None, 6, 8))
    eye = np.eye(8, dtype="float32")
    layer.set_weights([eye, eye, eye[None], eye])
    patterns = np.sign(np.random.default_rng(2).normal(size=(6, 8))).astype("float32")
    out = np.asarray(layer(patterns[None]))[0]
    np.testing.assert_allclose(out, patterns, atol=1e-3)


def test_hopfield_pooling_ignores_padding():
    layer = L.HopfieldPooling(num_queries=2, heads=2, key_dim=4)
    x = np.random.default_rng(3).normal(size=(1, 6, 8)).astype("float32")
    short = layer(x[:, :4])
    padded = layer(x, mask=np.array([[True] * 4 + [False] * 2]))
    np.testing.assert_allclose(padded, short, rtol=1e-5, atol=1e-6)


def test_causal_transformer_block_does_not_see_the_future():
    block = L.TransformerBlock(2, 16, causal=True, norm_first=True)
    x = np.random.default_rng(4).normal(size=(1, 6, 8)).astype("float32")
    changed = x.copy()
    changed[0, 4:] += 5.0
    a, b = np.asarray(block(x)), np.asarray(block(changed))
    np.testing.assert_allclose(a[0, :4], b[0, :4], rtol=1e-5, atol=1e-5)
    assert not np.allclose(a[0, 4:], b[0, 4:])


def test_instance_norm_and_denorm_are_inverse_on_the_targets():
    x = np.random.default_rng(5).normal(3.0, 2.0, size=(2, 10, 3)).astype("float32")
    normed = np.asarray(L.InstanceNormalization()(x))
    np.testing.assert_allclose(normed.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(normed.std(axis=1), 1.0, atol=1e-3)
    restored = L.InstanceDenormalization(targets=2)([normed[:, :, 1:], x])
    np.testing.assert_allclose(restored, x[:, :, 1:], rtol=1e-4, atol=1e-4)


def test_autoregressive_skip_starts_as_the_window_mean_of_each_target():
    x = np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32")
    out = np.asarray(L.AutoregressiveSkip(horizon=4, targets=2)(x))
    np.testing.assert_allclose(out, np.broadcast_to(x[:, None, :, 1:].mean(axis=2), (2, 4, 2)), rtol=1e-5)
