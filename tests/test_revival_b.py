"""Mamba, xLSTM and RWKV layers: step form == parallel form, masking, gradients, configs."""

import numpy as np
import pytest

import keras
import tensorflow as tf

import seqzoo
from seqzoo.layers import MambaMixer, MLSTMMixer, RWKVChannelMix, RWKVTimeMix, SLSTMMixer, TokenShift
from seqzoo.streaming import Streamer
from helpers_layers import assert_gradients_reach_every_weight

BATCH, TIME, WIDTH = 2, 9, 8

LAYERS = {
    "mamba": lambda: MambaMixer(state_size=4, expand=2, conv_width=3),
    "mlstm": lambda: MLSTMMixer(heads=2, conv_width=3),
    "mlstm_chunkwise": lambda: MLSTMMixer(heads=2, conv_width=3, chunk_size=4),  # TIME = 9: 3 chunks, 3 padded steps
    "slstm": lambda: SLSTMMixer(heads=2, conv_width=3),
    "slstm_no_conv": lambda: SLSTMMixer(heads=4, conv_width=0),
    "rwkv_time_mix": lambda: RWKVTimeMix(block=1, depth=3),
    "rwkv_channel_mix": lambda: RWKVChannelMix(expand=2, block=0, depth=2),
}


def _inputs(seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).normal(size=(BATCH, TIME, WIDTH))).astype("float32")


def _stepped(layer, x, mask=None):
    states = layer.initial_state(x.shape[0])
    outputs = []
    for t in range(x.shape[1]):
        y, states = layer.step(keras.ops.convert_to_tensor(x[:, t]), states,
                               mask=None if mask is None else keras.ops.convert_to_tensor(mask[:, t]))
        outputs.append(np.asarray(y))
    return np.stack(outputs, 1), states


@pytest.mark.parametrize("name", LAYERS)
def test_step_outputs_equal_parallel_outputs_at_every_step(name):
    layer = LAYERS[name]()
    x = _inputs()
    parallel = np.asarray(layer(x))
    stepped, _ = _stepped(layer, x)
    np.testing.assert_allclose(stepped, parallel, atol=1e-5)


@pytest.mark.parametrize("name", LAYERS)
def test_masked_steps_carry_the_state(name):
    layer = LAYERS[name]()
    x = _inputs(1)
    mask = np.ones((BATCH, TIME), bool)
    mask[1, 5:] = False
    parallel = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(parallel[1, :5], np.asarray(layer(x[1:, :5]))[0], atol=1e-5)
    stepped, final = _stepped(layer, x, mask)
    np.testing.assert_allclose(stepped[mask], parallel[mask], atol=1e-5)
    _, short_final = _stepped(layer, x[1:, :5])
    for carried, short in zip(final, short_final):
        np.testing.assert_allclose(np.asarray(carried)[1], np.asarray(short)[0], atol=1e-5)


@pytest.mark.parametrize("name", LAYERS)
def test_gradients_reach_every_weight(name):
    assert_gradients_reach_every_weight(LAYERS[name](), _inputs(2))


@pytest.mark.parametrize("name", LAYERS)
def test_config_round_trip_keeps_outputs(name):
    layer = LAYERS[name]()
    x = _inputs(3)
    expected = np.asarray(layer(x))
    clone = type(layer).from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_allclose(np.asarray(clone(x)), expected, atol=1e-6)


SMALL = [
    ("mamba", dict(width=16, state_size=4)),
    ("xlstm", dict(units=16, depth=3, heads=2, mlstm_per_slstm=1)),
    ("xlstm", dict(units=16, depth=1, heads=2, mlstm_per_slstm=1, chunk_size=3)),
    ("rwkv", dict(units=16, ffn_expand=2)),
]


@pytest.mark.parametrize("name,kwargs", SMALL)
def test_model_streams_like_it_runs_with_right_padding(name, kwargs):
    model = seqzoo.build(name, vocab_size=50, embed_dim=8, num_classes=3, **kwargs)
    ids = np.random.default_rng(4).integers(1, 50, size=(2, 7)).astype("int32")
    padded = np.concatenate([ids, np.zeros((2, 3), "int32")], axis=1)
    streamed = np.asarray(Streamer(model).run(padded))
    np.testing.assert_allclose(streamed[:, -1], model(padded), atol=1e-5)
    np.testing.assert_allclose(streamed[:, -1], model(ids), atol=1e-5)


@pytest.mark.parametrize("name,kwargs", SMALL)
def test_frames_forecast_model_streams_and_exports_a_step_model(name, kwargs):
    model = seqzoo.build(name, inputs="frames", features=3, head="forecast", horizon=2, **kwargs)
    x = np.random.default_rng(5).normal(size=(2, 6, 3)).astype("float32")
    streamer = Streamer(model)
    np.testing.assert_allclose(np.asarray(streamer.run(x))[:, -1], model(x), atol=1e-5)
    state = streamer.initial_state(2)
    exported = streamer.step_model()([keras.ops.convert_to_tensor(x[:, 0]), *state])
    y, new_state = streamer.step(x[:, 0], state)
    np.testing.assert_allclose(exported[0], y, atol=1e-6)
    for a, b in zip(exported[1:], new_state):
        np.testing.assert_allclose(a, b, atol=1e-6)


# ----------------------------------------------------------------------------- mamba


def test_mamba_initialises_as_the_paper_says():
    layer = MambaMixer(state_size=5, dt_min=0.01, dt_max=0.05)
    layer(_inputs())
    a = -np.exp(np.asarray(layer.A_log))
    np.testing.assert_allclose(a[3], -np.arange(1, 6), rtol=1e-6)  # S4D-real: A_n = -(n + 1)
    dt = np.log1p(np.exp(np.asarray(layer.dt_proj.bias)))  # softplus(bias): the initial step sizes
    assert dt.min() >= 0.01 * (1 - 1e-5) and dt.max() <= 0.05 * (1 + 1e-5)
    np.testing.assert_allclose(np.asarray(layer.D), 1.0)


def test_mamba_rejects_bad_step_range():
    with pytest.raises(ValueError, match="0 < dt_min <= dt_max"):
        MambaMixer(dt_min=0.1, dt_max=0.01)


# ----------------------------------------------------------------------------- xlstm


@pytest.mark.parametrize("ratio,depth,expected", [
    (1, 2, ["mlstm", "slstm"]),
    (7, 8, ["mlstm"] * 7 + ["slstm"]),
    (0, 2, ["slstm", "slstm"]),
    (3, 2, ["mlstm", "mlstm"]),
])
def test_xlstm_places_slstm_blocks_by_the_ratio(ratio, depth, expected):
    model = seqzoo.build("xlstm", units=8, heads=2, depth=depth, mlstm_per_slstm=ratio)
    kinds = [type(layer).__name__[:5].lower() for layer in model.layers if isinstance(layer, (MLSTMMixer, SLSTMMixer))]
    assert kinds == expected


def test_mlstm_parallel_form_stays_finite_with_large_gate_inputs():
    layer = MLSTMMixer(heads=2)
    x = _inputs(5, scale=30.0)
    layer(x)
    layer.input_gate.bias.assign(np.full((2,), 40.0, "float32"))  # exp(40) overflows without the stabiliser
    parallel = np.asarray(layer(x))
    assert np.isfinite(parallel).all()
    stepped, _ = _stepped(layer, x)
    np.testing.assert_allclose(stepped, parallel, atol=1e-4, rtol=1e-4)


def _mlstm_pair(chunk_size, x, unroll=False):
    """A quadratic-form MLSTMMixer and a chunkwise one with the same weights."""
    quadratic = MLSTMMixer(heads=2, chunk_size=None)
    chunkwise = MLSTMMixer(heads=2, chunk_size=chunk_size, unroll=unroll)
    quadratic(x), chunkwise(x)
    chunkwise.set_weights(quadratic.get_weights())
    return quadratic, chunkwise


@pytest.mark.parametrize("chunk_size,unroll", [(1, False), (2, False), (4, False), (8, False), (4, True)])
def test_mlstm_chunkwise_form_equals_the_quadratic_form_with_right_padding(chunk_size, unroll):
    x = _inputs(8)
    mask = np.ones((BATCH, TIME), bool)
    mask[0, 4:] = False
    quadratic, chunkwise = _mlstm_pair(chunk_size, x, unroll)
    for m in (None, mask):
        np.testing.assert_allclose(np.asarray(chunkwise(x, mask=m)), np.asarray(quadratic(x, mask=m)), atol=1e-5)


def test_mlstm_chunkwise_form_runs_in_a_graph_with_unknown_time_and_stays_finite_with_large_gates():
    x = _inputs(9, scale=30.0)
    quadratic, chunkwise = _mlstm_pair(4, x)
    for layer in (quadratic, chunkwise):
        layer.input_gate.bias.assign(np.full((2,), 40.0, "float32"))  # exp(40) overflows without the stabiliser
    spec = [tf.TensorSpec((None, None, WIDTH)), tf.TensorSpec((None, None), tf.bool)]
    graph = tf.function(lambda x, mask: chunkwise(x, mask=mask), input_signature=spec)
    mask = np.ones((BATCH, TIME), bool)
    mask[1, 6:] = False
    got = np.asarray(graph(x, mask))
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, np.asarray(quadratic(x, mask=mask)), atol=1e-4, rtol=1e-4)
    unrolled = MLSTMMixer(heads=2, chunk_size=4, unroll=True)
    with pytest.raises(ValueError, match="unroll=True needs a known sequence length"):
        tf.function(unrolled, input_signature=spec[:1])(x)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "64"])
def test_mlstm_rejects_a_chunk_size_that_is_not_a_positive_integer(bad):
    with pytest.raises(ValueError, match="chunk_size=.* must be a positive integer \\(or None"):
        MLSTMMixer(chunk_size=bad)


def test_xlstm_with_a_chunk_size_saves_and_loads_in_safe_mode(tmp_path):
    model = seqzoo.build("xlstm", inputs="frames", features=3, num_classes=2, units=8, depth=1, heads=2, chunk_size=2)
    x = np.random.default_rng(10).normal(size=(2, 5, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert [layer.chunk_size for layer in loaded.layers if isinstance(layer, MLSTMMixer)] == [2]
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    with pytest.raises(ValueError, match="chunk_size=0 is out of range"):
        seqzoo.build("xlstm", units=8, chunk_size=0)


def test_mlstm_rejects_heads_that_do_not_divide_the_inner_width():
    with pytest.raises(ValueError, match="heads=3 must divide expand \\* width = 16"):
        MLSTMMixer(heads=3)(_inputs())


# ----------------------------------------------------------------------------- rwkv


def _wkv_reference(k, v, w, u):
    """RWKV-4's WKV by its definition, one step at a time in float64 (no stabiliser needed)."""
    k, v, w, u = (np.asarray(t, "float64") for t in (k, v, w, u))
    out = np.zeros_like(k)
    for t in range(k.shape[1]):
        past = np.arange(t)
        weights = np.exp(-(t - 1 - past)[None, :, None] * w + k[:, :t])  # (batch, t, channels)
        now = np.exp(u + k[:, t])
        out[:, t] = ((weights * v[:, :t]).sum(1) + now * v[:, t]) / (weights.sum(1) + now)
    return out


@pytest.mark.parametrize("scale", [1.0, 60.0])
def test_rwkv_wkv_equals_the_float64_definition_even_with_keys_that_overflow_exp(scale):
    layer = RWKVTimeMix(block=0, depth=2)
    x = _inputs(6, scale=scale)
    layer(x)
    layer.output_proj.set_weights([np.eye(WIDTH, dtype="float32")])
    layer.receptance.set_weights([np.zeros((WIDTH, WIDTH), "float32")])  # sigmoid(0) = 1/2: out = wkv / 2
    layer.time_decay.assign(np.linspace(-3, 3, WIDTH).astype("float32"))  # w from 0.05 to 20
    previous = np.asarray(layer.shift(x))
    k = np.asarray(layer.key(previous + np.asarray(layer.mix_k) * (x - previous)))
    v = np.asarray(layer.value(previous + np.asarray(layer.mix_v) * (x - previous)))
    assert np.abs(k).max() > 100 or scale == 1.0  # e^k overflows float32 above 88
    expected = _wkv_reference(k, v, np.exp(np.asarray(layer.time_decay)), np.asarray(layer.time_first))
    parallel = 2 * np.asarray(layer(x))
    np.testing.assert_allclose(parallel, expected, rtol=1e-4, atol=1e-4 * scale)
    stepped, _ = _stepped(layer, x)
    np.testing.assert_allclose(2 * stepped, expected, rtol=1e-4, atol=1e-4 * scale)


def test_rwkv_wkv_stays_exact_over_long_sequences_with_fast_decay():
    layer = RWKVTimeMix()
    x = np.random.default_rng(7).normal(size=(1, 600, 4)).astype("float32")
    layer(x)
    layer.time_decay.assign(np.array([3.0, 1.0, -2.0, -6.0], "float32"))  # w * t up to 12000
    stepped, _ = _stepped(layer, x[:, -40:])
    np.testing.assert_allclose(np.asarray(layer(x[:, -40:])), stepped, atol=1e-5)
    assert np.isfinite(np.asarray(layer(x))).all()


def test_token_shift_returns_the_previous_step_and_carries_it_over_padding():
    shift = TokenShift()
    x = np.arange(12, dtype="float32").reshape(2, 3, 2)
    np.testing.assert_allclose(np.asarray(shift(x))[:, 1:], x[:, :-1])
    np.testing.assert_allclose(np.asarray(shift(x))[:, 0], 0.0)
    state = shift.initial_state(2)
    _, state = shift.step(x[:, 0], state)
    y, state = shift.step(x[:, 1], state, mask=np.array([True, False]))
    np.testing.assert_allclose(y, x[:, 0])
    np.testing.assert_allclose(state[0], [x[0, 1], x[1, 0]])


def test_rwkv_initialisation_depends_on_the_block_depth():
    first, last = RWKVTimeMix(block=0, depth=4), RWKVTimeMix(block=3, depth=4)
    first(_inputs()), last(_inputs())
    decay_first, decay_last = np.asarray(first.time_decay), np.asarray(last.time_decay)
    np.testing.assert_allclose([decay_first[0], decay_first[-1]], [-5.0, 3.0], atol=1e-6)
    assert (decay_last[1:-1] < decay_first[1:-1]).all()  # deeper blocks: slower decay in the middle channels
    assert (np.asarray(last.mix_k)[1:] > np.asarray(first.mix_k)[1:]).all()
    with pytest.raises(ValueError, match="0 <= block < depth"):
        RWKVTimeMix(block=2, depth=2)
