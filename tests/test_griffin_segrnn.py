"""Hawk and Griffin (De et al. 2024) and SegRNN (Lin et al. 2023): their layers and models.

Every time-mixing layer: step outputs == parallel outputs, masked steps carry
the state, gradients reach every weight, config round trip; the models:
streamed outputs == whole-sequence outputs with right padding.
"""

import numpy as np
import pytest

import keras
import tensorflow as tf

import seqzoo
from seqzoo.layers import RGLRU, LocalAttention, MaskedRMSNormalization, SegmentGRU, SegmentPMFDecoder
from seqzoo.params import ParamError
from seqzoo.streaming import Streamer

RNG = np.random.default_rng(0)


def _steps(layer, x, mask=None):
    state = layer.initial_state(x.shape[0])
    outputs = []
    for t in range(x.shape[1]):
        y, state = layer.step(x[:, t], state, mask=None if mask is None else mask[:, t])
        outputs.append(np.asarray(y))
    return np.stack(outputs, 1), state


def _mask(batch, time, lengths):
    return np.arange(time)[None, :] < np.asarray(lengths)[:, None]


LAYERS = {
    "rg_lru": lambda: RGLRU(gate_blocks=2),
    "local_attention_short_window": lambda: LocalAttention(heads=2, window=3),
    "local_attention_long_window": lambda: LocalAttention(heads=2, window=32),
}


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_step_outputs_equal_parallel_outputs_and_masked_steps_carry_the_state(make):
    layer = make()
    x = RNG.normal(size=(3, 11, 8)).astype("float32")
    parallel = np.asarray(layer(x))
    stepped, _ = _steps(layer, x)
    np.testing.assert_allclose(stepped, parallel, atol=1e-5)

    mask = _mask(3, 11, [11, 6, 1])
    masked = np.asarray(layer(x, mask=mask))
    stepped, state = _steps(layer, x, mask)
    np.testing.assert_allclose(stepped[mask], masked[mask], atol=1e-5)
    # the state after the padding is the state after the last real step
    _, state_6 = _steps(layer, x[1:2, :6])
    for s, s6 in zip(state, state_6):
        np.testing.assert_allclose(np.asarray(s)[1:2], np.asarray(s6), atol=1e-6)
    # valid outputs do not depend on what the padded steps hold
    noisy = np.where(mask[..., None], x, 100.0).astype("float32")
    np.testing.assert_allclose(np.asarray(layer(noisy, mask=mask))[mask], masked[mask], atol=1e-5)


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_a_graph_with_unknown_length_gives_the_eager_outputs(make):
    layer = make()
    x = RNG.normal(size=(2, 11, 8)).astype("float32")
    mask = _mask(2, 11, [11, 7])
    eager = np.asarray(layer(x, mask=mask))
    spec = [tf.TensorSpec((None, None, 8), "float32"), tf.TensorSpec((None, None), "bool")]
    graph = tf.function(lambda x, m: layer(x, mask=m), input_signature=spec)
    np.testing.assert_allclose(np.asarray(graph(x, mask))[mask], eager[mask], atol=1e-5)


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_gradients_reach_every_weight_and_config_round_trips(make):
    layer = make()
    x = tf.constant(RNG.normal(size=(2, 7, 8)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grads = tape.gradient(loss, layer.trainable_variables)
    assert len(grads) == len(layer.trainable_variables) > 0
    assert all(g is not None and np.abs(np.asarray(g)).sum() > 0 for g in grads)
    clone = type(layer).from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_allclose(clone(x), layer(x), atol=1e-6)


def test_rg_lru_matches_the_papers_equations_and_initialisation():
    layer = RGLRU(gate_blocks=2)
    x = RNG.normal(size=(2, 6, 8)).astype("float32")
    y = np.asarray(layer(x))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    lam, wa, ba, wx, bx = (np.asarray(v) for v in (layer.a_param, layer.gate_a_kernel, layer.gate_a_bias,
                                                  layer.gate_x_kernel, layer.gate_x_bias))
    dense = lambda w: np.block([[w[0], np.zeros((4, 4))], [np.zeros((4, 4)), w[1]]])  # noqa: E731
    h = np.zeros((2, 8))
    for t in range(6):
        r, i = sigmoid(x[:, t] @ dense(wa) + ba), sigmoid(x[:, t] @ dense(wx) + bx)
        a = sigmoid(lam) ** (8 * r)
        h = a * h + np.sqrt(1 - a ** 2) * (i * x[:, t])
        np.testing.assert_allclose(y[:, t], h, atol=1e-5)
    big = RGLRU()
    big.build((None, None, 4000))
    a_c = sigmoid(np.asarray(big.a_param)) ** 8
    assert 0.9 - 1e-4 <= a_c.min() and a_c.max() <= 0.999 + 1e-4
    assert abs(a_c.mean() - 0.9495) < 0.005  # uniform on [0.9, 0.999]
    with pytest.raises(ValueError, match="gate_blocks=3 must divide the width 8"):
        RGLRU(gate_blocks=3)(x)


def test_local_attention_matches_a_direct_sliding_window_computation():
    layer = LocalAttention(heads=2, window=3, rope_base=100.0)
    x = RNG.normal(size=(2, 9, 8)).astype("float32")
    y = np.asarray(layer(x))
    wq, wk, wv, wo = (np.asarray(v) for v in (layer.query_kernel, layer.key_kernel, layer.value_kernel,
                                             layer.output_kernel))

    def rope(v, pos):
        half = v.shape[-1] // 2
        angle = pos * 100.0 ** (-np.arange(half) * 2 / v.shape[-1])
        v1, v2 = v[..., :half], v[..., half:]
        return np.concatenate([v1 * np.cos(angle) - v2 * np.sin(angle), v2 * np.cos(angle) + v1 * np.sin(angle)], -1)

    for t in range(9):
        keys = range(max(0, t - 2), t + 1)  # window 3: itself and the two before
        k = np.stack([rope(x[:, s] @ wk, s) for s in keys], 1)  # (batch, keys, 4)
        v = np.stack([x[:, s] @ wv for s in keys], 1)
        q = rope(np.einsum("bd,dhk->bhk", x[:, t], wq), t) / 2.0
        scores = np.einsum("bhk,bsk->bhs", q, k)
        p = np.exp(scores - scores.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        expected = np.einsum("bhk,hkd->bd", np.einsum("bhs,bsk->bhk", p, v), wo)
        np.testing.assert_allclose(y[:, t], expected, atol=1e-5)
    with pytest.raises(ValueError, match="even head size"):
        LocalAttention(heads=8)(x)


def test_masked_rms_normalization_keeps_the_mask_and_the_values():
    x = RNG.normal(size=(2, 4, 6)).astype("float32")
    mask = _mask(2, 4, [4, 2])
    layer = MaskedRMSNormalization(epsilon=1e-6)
    np.testing.assert_allclose(layer(x), keras.layers.RMSNormalization(epsilon=1e-6)(x), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x, mask)), mask)
    clone = MaskedRMSNormalization.from_config(layer.get_config())
    assert clone.supports_masking and clone.epsilon == 1e-6


# ----------------------------------------------------------------------------- models

SMALL = {
    "hawk": dict(units=16, depth=2),
    "griffin": dict(units=16, depth=3, heads=2, window=3),
}


def _models():
    return [name for name in SMALL if name in seqzoo.list_models()]


@pytest.mark.parametrize("name", _models())
def test_model_streams_tokens_with_right_padding_like_it_runs_in_parallel(name):
    model = seqzoo.build(name, vocab_size=50, embed_dim=16, num_classes=3, **SMALL[name])
    ids = np.random.default_rng(1).integers(1, 50, size=(3, 10)).astype("int32")
    ids[1, 6:] = 0
    ids[2, 2:] = 0
    outputs = np.asarray(Streamer(model).run(ids))
    np.testing.assert_allclose(outputs[:, -1], model(ids), atol=1e-5)
    np.testing.assert_allclose(outputs[:, 4], model(ids[:, :5]), atol=1e-5)


@pytest.mark.parametrize("name", _models())
def test_model_streams_frames_for_a_forecast(name):
    model = seqzoo.build(name, inputs="frames", features=3, head="forecast", horizon=2, **SMALL[name])
    x = np.random.default_rng(2).normal(size=(2, 8, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(Streamer(model).run(x))[:, -1], model(x), atol=1e-5)


def test_hawk_says_how_to_fix_gate_blocks_that_do_not_divide():
    with pytest.raises(ParamError, match="gate_blocks=3 must divide the RG-LRU width 16"):
        seqzoo.build("hawk", units=16, gate_blocks=3)
    model = seqzoo.build("hawk", units=16, rnn_expansion=1.5, gate_blocks=4)
    assert model.get_layer("block_1_mix_rg_lru").a_param.shape == (24,)


# ----------------------------------------------------------------------------- segrnn


def test_segment_gru_runs_its_gru_over_embedded_segments():
    layer = SegmentGRU(units=5, segment_len=4)
    x = RNG.normal(size=(2, 12, 3)).astype("float32")
    segments = x.reshape(2, 3, 12)  # 3 segments of 4 steps x 3 channels, time-major inside a segment
    y = np.asarray(layer(x))
    expected = np.asarray(layer.grus[0](layer.embedding(segments)))  # the embedding is linear + ReLU
    np.testing.assert_allclose(y, expected, atol=1e-6)
    # 10 steps: the last segment is zero-padded
    np.testing.assert_allclose(layer(x[:, :10]), layer.grus[0](layer.embedding(
        np.concatenate([x[:, :10], np.zeros((2, 2, 3), "float32")], 1).reshape(2, 3, 12))), atol=1e-6)


def test_segment_gru_channel_independence_treats_each_channel_as_its_own_series():
    layer = SegmentGRU(units=5, segment_len=3, channel_independent=True)
    x = RNG.normal(size=(2, 9, 4)).astype("float32")
    y = np.asarray(layer(x))
    assert y.shape == (2, 4 * 5)
    single = SegmentGRU(units=5, segment_len=3, channel_independent=True)
    single.build((None, 9, 1))
    single.set_weights(layer.get_weights())  # shared weights do not depend on the channel count
    for c in range(4):
        np.testing.assert_allclose(y[:, 5 * c:5 * (c + 1)], single(x[:, :, c:c + 1]), atol=1e-6)


@pytest.mark.parametrize("independent,depth", [(False, 1), (True, 2)])
def test_segment_gru_ignores_right_padding_gets_gradients_and_round_trips(independent, depth):
    layer = SegmentGRU(units=4, segment_len=3, channel_independent=independent, depth=depth)
    x = RNG.normal(size=(2, 11, 3)).astype("float32")
    mask = _mask(2, 11, [11, 5])
    y = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(y[1], np.asarray(layer(x[1:2, :5]))[0], atol=1e-6)  # 5 steps: 2 segments
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(tf.constant(x)) ** 2)
    grads = tape.gradient(loss, layer.trainable_variables)
    assert len(grads) == 2 + 3 * depth and all(g is not None for g in grads)  # embedding x2, GRU x3
    clone = SegmentGRU.from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x), layer(x), atol=1e-6)


def test_segrnn_is_not_causal_and_says_why_it_cannot_stream_or_return_steps():
    from seqzoo.models._summary import sequence_outputs
    from seqzoo.streaming import StreamingError

    assert "segrnn" not in seqzoo.list_models(tags=["causal"])
    assert "segrnn" not in seqzoo.list_models(tags=["parallel_scan"])
    with pytest.raises(StreamingError, match="layer 'segment_gru'"):
        Streamer(seqzoo.build("segrnn", units=4))
    with pytest.raises(ValueError, match="segrnn has no per-step outputs"), sequence_outputs():
        seqzoo.build("segrnn", units=4)
    model = seqzoo.build("segrnn", inputs="series", seq_len=48, features=7, head="forecast", horizon=24,
                         targets=7, segment_len=12, channel_independent=True, units=8)
    assert model.get_layer("segment_gru").output.shape == (None, 7 * 8)
    assert model.output_shape == (None, 24, 7)


@pytest.mark.parametrize("independent", [True, False])
def test_pmf_decoder_decodes_every_segment_in_one_gru_step_from_the_final_state(independent):
    channels, units, w = 3, 6, 4
    decoder = SegmentPMFDecoder(horizon=10, segment_len=w, channels=channels, targets=2,
                                channel_independent=independent)
    states = RNG.normal(size=(2, channels * units if independent else units)).astype("float32")
    y = np.asarray(decoder(states))
    assert y.shape == (2, 10, 2)
    position = np.asarray(decoder.position_embedding)  # (3 segments, .)
    for j in range(3):
        for k, c in enumerate([1, 2]):  # the last two channels are the targets
            if independent:
                x = np.concatenate([position[j], np.asarray(decoder.channel_embedding)[c]])[None].repeat(2, 0)
                h = states.reshape(2, channels, units)[:, c]
            else:
                x, h = position[j][None].repeat(2, 0), states
            out = np.asarray(decoder.readout(decoder.cell(x, [h])[0]))
            segment = out if independent else out.reshape(2, w, 2)[..., k]
            steps = min(w, 10 - j * w)
            np.testing.assert_allclose(y[:, j * w:j * w + steps, k], segment[:, :steps], atol=1e-5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(decoder(tf.constant(states)) ** 2)
    grads = tape.gradient(loss, decoder.trainable_variables)
    assert all(g is not None for g in grads) and len(grads) == (7 if independent else 6)  # embeddings, cell x3, readout x2
    clone = SegmentPMFDecoder.from_config(decoder.get_config())
    clone.build(states.shape)
    clone.set_weights(decoder.get_weights())
    np.testing.assert_allclose(clone(states), y, atol=1e-6)
    with pytest.raises(ValueError, match="targets=4 exceeds channels=3"):
        SegmentPMFDecoder(10, 4, channels=3, targets=4)


def test_segrnn_uses_its_own_pmf_head_for_series_forecasts_only():
    series = dict(inputs="series", seq_len=12, features=3, head="forecast", horizon=5, targets=2, units=4,
                  segment_len=4)
    names = lambda model: [layer.name for layer in model.layers]  # noqa: E731
    assert "pmf_decoder" in names(seqzoo.build("segrnn", **series))
    assert "forecast_dense" in names(seqzoo.build("segrnn", **series, decoder="linear"))
    frames = seqzoo.build("segrnn", inputs="frames", features=3, head="forecast", horizon=5, units=4)
    assert "forecast_dense" in names(frames) and "pmf_decoder" not in names(frames)
    with pytest.raises(ValueError, match="heads for unknown head kinds \\['ranking'\\]"):
        seqzoo.register("bad_head_demo", year=2024, authors="-", paper="-", family="-", solved="-",
                        heads={"ranking": lambda *a, **k: None})(lambda x: x)
    assert "bad_head_demo" not in seqzoo.list_models()


def test_segrnn_pmf_learns_a_multivariate_sine_forecast():
    rng = np.random.default_rng(2)
    t = np.arange(24 + 8)[None, :] + rng.uniform(0, 20, size=(256, 1))
    waves = np.stack([np.sin(t / 3.0), np.cos(t / 5.0), np.sin(t / 7.0)], axis=-1)
    x, y = waves[:, :24].astype("float32"), waves[:, 24:].astype("float32")
    model = seqzoo.build("segrnn", inputs="series", seq_len=24, features=3, head="forecast", horizon=8,
                         targets=3, units=16, segment_len=6, channel_independent=True, linear_skip=False)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    losses = model.fit(x, y, batch_size=32, epochs=8, verbose=0).history["loss"]
    persistence = float(np.mean((y - x[:, -1:]) ** 2))
    assert losses[-1] < 0.3 * persistence, (losses, persistence)


@pytest.mark.parametrize("name", _models())
def test_exported_step_model_gives_the_streamed_step(name):
    from keras import ops

    model = seqzoo.build(name, vocab_size=50, embed_dim=16, gate_blocks=2, **SMALL[name])
    streamer = Streamer(model)
    state = streamer.initial_state(2)
    ids = np.array([5, 7], "int32")
    exported = streamer.step_model()([ops.convert_to_tensor(ids), *state])
    y, new_state = streamer.step(ids, state)
    np.testing.assert_allclose(exported[0], y, atol=1e-6)
    for a, b in zip(exported[1:], new_state):
        np.testing.assert_allclose(a, b, atol=1e-6)
