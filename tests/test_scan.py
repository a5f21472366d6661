"""`seqzoo.scan.linear_scan`: the chunked recurrence equals the step-by-step one."""

import numpy as np
import pytest

import keras
from keras import ops

from seqzoo.scan import linear_scan, sequential_scan


def _random(shape, seed=0, low=0.0, high=1.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape).astype("float32")


@pytest.mark.parametrize("time,chunk", [(1, None), (5, None), (33, None), (33, 4), (40, 7)])
def test_chunked_equals_sequential_with_initial_state_and_extra_channel_axes(time, chunk):
    a, b = _random((2, time, 3, 2), 1), _random((2, time, 3, 2), 2, -1, 1)
    initial = _random((2, 3, 2), 3, -1, 1)
    np.testing.assert_allclose(linear_scan(a, b, initial=initial, chunk_size=chunk),
                               sequential_scan(a, b, initial=initial), atol=1e-5)


def test_complex_pairs_and_reverse():
    a = (_random((2, 19, 3), 1, -0.7, 0.7), _random((2, 19, 3), 2, -0.7, 0.7))
    b = (_random((2, 19, 3), 3, -1, 1), _random((2, 19, 3), 4, -1, 1))
    re, im = linear_scan(a, b, chunk_size=4)
    ref_re, ref_im = sequential_scan(a, b)
    np.testing.assert_allclose(re, ref_re, atol=1e-5)
    np.testing.assert_allclose(im, ref_im, atol=1e-5)
    real_a, real_b = a[0], b[0]
    backward = linear_scan(real_a, real_b, reverse=True, chunk_size=5)
    np.testing.assert_allclose(backward, np.flip(sequential_scan(real_a[:, ::-1], real_b[:, ::-1]), 1), atol=1e-5)


def test_masked_steps_carry_the_state():
    a, b = _random((2, 12, 3), 1), _random((2, 12, 3), 2, -1, 1)
    mask = np.ones((2, 12), bool)
    mask[0, 7:] = False
    states = np.asarray(linear_scan(a, b, mask=mask, chunk_size=4))
    np.testing.assert_allclose(states[0, 7:], np.repeat(states[0, 6:7], 5, axis=0), atol=1e-6)
    np.testing.assert_allclose(states[0, -1], np.asarray(sequential_scan(a[:1, :7], b[:1, :7]))[0, -1], atol=1e-5)


def test_inside_a_layer_with_variable_length_it_builds_trains_and_saves(tmp_path):
    @keras.saving.register_keras_serializable(package="seqzoo_test")
    class Decay(keras.layers.Layer):
        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1],), initializer="zeros")

        def call(self, x):
            return linear_scan(ops.sigmoid(x + self.w), x)

    inputs = keras.Input((None, 4))
    model = keras.Model(inputs, Decay()(inputs))
    assert model.output_shape == (None, None, 4)
    x = _random((8, 37, 4), 5, -1, 1)
    model.compile("adam", "mse")
    model.fit(x, x, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def _grads(fn, tensors, weights):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(tensors)
        out = fn(*tensors)
        out = out if isinstance(out, tuple) else (out,)
        loss = sum(tf.reduce_sum(w * o) for w, o in zip(weights, out))
    return [np.asarray(g) for g in tape.gradient(loss, tensors)]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("complex_pairs", [False, True])
def test_the_hand_written_gradient_equals_the_sequential_one(reverse, complex_pairs):
    import tensorflow as tf

    n = 2 if complex_pairs else 1
    shape = (2, 13, 3)
    tensors = [tf.constant(_random(shape, i, -0.8, 0.8)) for i in range(n)]  # a
    tensors += [tf.constant(_random(shape, 10 + i, -1, 1)) for i in range(n)]  # b
    tensors += [tf.constant(_random((2, 3), 20 + i, -1, 1)) for i in range(n)]  # initial
    weights = [tf.constant(_random(shape, 30 + i, -1, 1)) for i in range(n)]
    pack = (lambda parts: tuple(parts)) if complex_pairs else (lambda parts: parts[0])
    flip = (lambda x: tf.reverse(x, [1])) if reverse else (lambda x: x)

    def chunked(*t):
        out = linear_scan(pack(t[:n]), pack(t[n:2 * n]), initial=pack(t[2 * n:]), reverse=reverse, chunk_size=4)
        return tuple(out) if complex_pairs else out

    def reference(*t):
        out = sequential_scan(pack([flip(x) for x in t[:n]]), pack([flip(x) for x in t[n:2 * n]]),
                              initial=pack(t[2 * n:]))
        return tuple(flip(x) for x in out) if complex_pairs else flip(out)

    for got, want in zip(_grads(chunked, tensors, weights), _grads(reference, tensors, weights)):
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
def test_gated_scan_equals_the_linear_scan_of_its_gates_with_gradients(reverse):
    import tensorflow as tf

    from seqzoo.scan import gated_scan

    k, v = tf.constant(_random((2, 21, 3), 1, -4, 4)), tf.constant(_random((2, 21, 3), 2, -1, 1))
    h0 = tf.constant(_random((2, 3), 3, -1, 1))
    mask = np.ones((2, 21), bool)
    mask[1, 15:] = False
    weights = [tf.constant(_random((2, 21, 3), 4, -1, 1))]
    fused = lambda k, v, h0: gated_scan(k, v, initial=h0, mask=mask, reverse=reverse, chunk_size=5)  # noqa: E731
    plain = lambda k, v, h0: linear_scan(tf.sigmoid(-k), tf.sigmoid(k) * v, initial=h0, mask=mask,  # noqa: E731
                                         reverse=reverse, chunk_size=5)
    np.testing.assert_allclose(fused(k, v, h0), plain(k, v, h0), atol=1e-6)
    for got, want in zip(_grads(fused, [k, v, h0], weights), _grads(plain, [k, v, h0], weights)):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_unknown_length_inside_a_traced_function_gives_the_same_states_and_gradients():
    import tensorflow as tf

    a, b = _random((2, 23, 3), 1), _random((2, 23, 3), 2, -1, 1)

    @tf.function(input_signature=[tf.TensorSpec((None, None, 3)), tf.TensorSpec((None, None, 3))])
    def traced(a, b):
        with tf.GradientTape() as tape:
            tape.watch(a)
            h = linear_scan(a, b, chunk_size=4)
            loss = tf.reduce_sum(h * h)
        return h, tape.gradient(loss, a)

    h, grad = traced(tf.constant(a), tf.constant(b))
    np.testing.assert_allclose(h, sequential_scan(a, b), atol=1e-5)
    ref_a = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(ref_a)
        ref = sequential_scan(ref_a, b)
        loss = tf.reduce_sum(ref * ref)
    np.testing.assert_allclose(grad, tape.gradient(loss, ref_a), atol=1e-4)


@pytest.mark.parametrize("reverse", [False, True])
def test_gated_projection_scan_equals_the_gated_scan_of_the_projection_with_gradients(reverse):
    import tensorflow as tf

    from seqzoo.scan import gated_projection_scan, gated_scan

    x, kernel = tf.constant(_random((2, 21, 4), 1, -1, 1)), tf.constant(_random((4, 6), 2, -2, 2))
    h0 = tf.constant(_random((2, 3), 3, -1, 1))
    mask = np.ones((2, 21), bool)
    mask[1, 15:] = False
    weights = [tf.constant(_random((2, 21, 3), 4, -1, 1))]

    def project(x, kernel):  # position-wise: any leading axes
        y = ops.matmul(x, kernel)
        return y[..., :3], ops.tanh(y[..., 3:])

    # 21 steps in chunks of 5: padded; the mask ends row 1 early
    fused = lambda x, kernel, h0: gated_projection_scan(  # noqa: E731
        x, lambda t: project(t, kernel), initial=h0, mask=mask, reverse=reverse, chunk_size=5)
    plain = lambda x, kernel, h0: gated_scan(*project(x, kernel), initial=h0, mask=mask,  # noqa: E731
                                             reverse=reverse, chunk_size=5)
    np.testing.assert_allclose(fused(x, kernel, h0), plain(x, kernel, h0), atol=1e-6)
    for got, want in zip(_grads(fused, [x, kernel, h0], weights), _grads(plain, [x, kernel, h0], weights)):
        np.testing.assert_allclose(got, want, atol=1e-5)

    @tf.function(input_signature=[tf.TensorSpec((None, None, 4))])
    def unknown_length(x):
        return gated_projection_scan(x, lambda t: project(t, kernel), reverse=reverse, chunk_size=4)

    np.testing.assert_allclose(unknown_length(x), gated_scan(*project(x, kernel), reverse=reverse), atol=1e-5)


def test_the_default_chunk_grows_with_time_times_channels_and_changes_no_result():
    from seqzoo.scan import _default_chunk

    assert [_default_chunk(1024, 128), _default_chunk(1024, 256), _default_chunk(4096, 128)] == [32, 64, 128]
    assert [_default_chunk(None, 4096), _default_chunk(10**6, 10**3), _default_chunk(5, 1)] == [32, 128, 32]
    a, b = _random((1, 300, 1024), 1), _random((1, 300, 1024), 2, -1, 1)  # 300 x 1024 > 4096 x 64: chunks of 128
    np.testing.assert_allclose(linear_scan(a, b), linear_scan(a, b, chunk_size=32), atol=1e-5)
