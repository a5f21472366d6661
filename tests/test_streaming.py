"""`seqzoo.streaming.Streamer`: one step at a time with carried state equals the whole sequence."""

import numpy as np
import pytest

from keras import ops

import seqzoo
from seqzoo.streaming import Streamer, StreamingError

TOKENS = dict(vocab_size=50, embed_dim=4, num_classes=3)


@pytest.mark.parametrize("name,kwargs", [
    ("gru", dict(units=6, pool="last")),
    ("lstm", dict(units=6, pool="max")),
    ("rnn", dict(units=6, pool="mean")),
    ("deep_lstm", dict(units=5, depth=2, dropout=0.2)),
])
def test_streamed_outputs_equal_the_prefix_outputs_and_padding_is_carried(name, kwargs):
    model = seqzoo.build(name, **TOKENS, **kwargs)
    streamer = Streamer(model)
    ids = np.random.default_rng(0).integers(1, 50, size=(2, 9)).astype("int32")
    outputs = np.asarray(streamer.run(ids))
    np.testing.assert_allclose(outputs[:, -1], model(ids), atol=1e-5)
    np.testing.assert_allclose(outputs[:, 3], model(ids[:, :4]), atol=1e-5)
    padded = np.concatenate([ids, np.zeros((2, 4), "int32")], axis=1)
    np.testing.assert_allclose(np.asarray(streamer.run(padded))[:, -1], model(ids), atol=1e-5)


def test_step_model_matches_step_and_frames_forecast_stream():
    model = seqzoo.build("gru", inputs="frames", features=3, units=5, head="forecast", horizon=2)
    streamer = Streamer(model)
    x = np.random.default_rng(1).normal(size=(2, 6, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(streamer.run(x))[:, -1], model(x), atol=1e-5)
    step_model = streamer.step_model()
    state = streamer.initial_state(2)
    exported = step_model([ops.convert_to_tensor(x[:, 0]), *state])
    y, new_state = streamer.step(x[:, 0], state)
    np.testing.assert_allclose(exported[0], y, atol=1e-6)
    np.testing.assert_allclose(exported[1], new_state[0], atol=1e-6)
    # an explicit mask skips a frame step: the masked example's state is carried unchanged
    _, masked = streamer.step(x[:, 1], new_state, mask=np.array([True, False]))
    _, unmasked = streamer.step(x[:, 1], new_state)
    np.testing.assert_allclose(masked[0][0], unmasked[0][0], atol=1e-6)
    np.testing.assert_array_equal(masked[0][1], new_state[0][1])
    assert not np.allclose(unmasked[0][1], new_state[0][1])


@pytest.mark.parametrize("name,kwargs,layer", [
    ("bilstm", {}, "bilstm_1"),
    ("transformer", {}, "position_encoding"),
    ("cnn_lstm", {}, "conv_1"),
    ("gru", dict(inputs="series", seq_len=8, features=2), "instance_norm"),
])
def test_models_that_read_the_future_are_refused_naming_the_layer(name, kwargs, layer):
    with pytest.raises(StreamingError, match=f"{name} cannot stream: layer '{layer}'"):
        Streamer(seqzoo.build(name, **kwargs))


def test_causal_depthwise_conv_steps_like_it_convolves():
    from seqzoo.layers import CausalDepthwiseConv1D

    layer = CausalDepthwiseConv1D(3)
    x = np.random.default_rng(2).normal(size=(2, 7, 4)).astype("float32")
    parallel = np.asarray(layer(x))
    state = layer.initial_state(2)
    for t in range(7):
        y, state = layer.step(x[:, t], state)
        np.testing.assert_allclose(y, parallel[:, t], atol=1e-5)
    mask = np.array([[True] * 7, [True] * 4 + [False] * 3])
    np.testing.assert_allclose(np.asarray(layer(x, mask=mask))[1, :4], parallel[1, :4], atol=1e-6)
