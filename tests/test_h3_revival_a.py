"""The parallel-scan layers of minGRU, minLSTM, LRU and S5: step form = parallel form,
masked steps carry the state, gradients reach every weight, configs round-trip."""

import math

import numpy as np
import pytest

import keras
import tensorflow as tf

from seqzoo.layers import DiagonalStateSpace, LinearRecurrentUnit, MinGRU, MinLSTM
from seqzoo.layers.diagonal_state_space import hippo_n_eigenvalues
from helpers_layers import assert_gradients_reach_every_weight

LAYERS = {
    "MinGRU": lambda: MinGRU(5),
    "MinLSTM": lambda: MinLSTM(5),
    "LinearRecurrentUnit": lambda: LinearRecurrentUnit(6, r_min=0.5, r_max=0.95, seed=1),
    "DiagonalStateSpace": lambda: DiagonalStateSpace(6, step_min=0.01, step_max=0.5, seed=1),
}
TIME, CHANNELS = 11, 4


def _inputs(seed=0, batch=3):
    return np.random.default_rng(seed).normal(size=(batch, TIME, CHANNELS)).astype("float32")


def _stepped(layer, x, mask=None):
    states, outputs = layer.initial_state(x.shape[0]), []
    for t in range(x.shape[1]):
        y, states = layer.step(tf.constant(x[:, t]), states, mask=None if mask is None else mask[:, t])
        outputs.append(np.asarray(y))
    return np.stack(outputs, axis=1), states


@pytest.mark.parametrize("name", LAYERS)
def test_step_outputs_equal_the_parallel_outputs_at_every_step(name):
    layer = LAYERS[name]()
    x = _inputs()
    parallel = np.asarray(layer(x))
    stepped, _ = _stepped(layer, x)
    np.testing.assert_allclose(stepped, parallel, atol=1e-5)


@pytest.mark.parametrize("name", LAYERS)
def test_masked_steps_carry_the_state(name):
    layer = LAYERS[name]()
    x = _inputs(1, batch=2)
    mask = np.ones((2, TIME), bool)
    mask[1, 6:] = False
    parallel = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(parallel[1, :6], np.asarray(layer(x[1:, :6]))[0], atol=1e-5)
    _, states = _stepped(layer, x, mask)
    _, short_states = _stepped(layer, x[1:, :6])
    for state, short in zip(states, short_states):
        np.testing.assert_allclose(np.asarray(state)[1], np.asarray(short)[0], atol=1e-5)


@pytest.mark.parametrize("name", LAYERS)
def test_gradients_reach_every_weight(name):
    assert_gradients_reach_every_weight(LAYERS[name](), _inputs(2))


@pytest.mark.parametrize("name", LAYERS)
def test_config_round_trip_rebuilds_the_same_layer(name, tmp_path):
    inputs = keras.Input((None, CHANNELS))
    model = keras.Model(inputs, LAYERS[name]()(inputs))
    path = tmp_path / "layer.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = _inputs(3)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    config = model.layers[-1].get_config()
    assert type(model.layers[-1]).from_config(config).get_config() == config


def test_lru_initial_eigenvalues_lie_on_the_ring_and_gamma_normalises():
    layer = LinearRecurrentUnit(200, r_min=0.6, r_max=0.9, max_phase=math.pi / 4, seed=0)
    layer.build((None, None, 3))
    (re, im), gamma = layer.coefficients("float32")
    radius, phase = np.hypot(re, im), np.arctan2(im, re)
    assert (radius >= 0.6 - 1e-5).all() and (radius <= 0.9 + 1e-5).all()
    assert (phase >= -1e-6).all() and (phase <= math.pi / 4 + 1e-5).all()
    np.testing.assert_allclose(np.asarray(gamma), np.sqrt(1 - radius ** 2), rtol=1e-4)
    with pytest.raises(ValueError, match="r_min < r_max"):
        LinearRecurrentUnit(4, r_min=0.9, r_max=0.5)


def test_s5_starts_at_the_hippo_n_eigenvalues_and_discretises_by_zero_order_hold():
    values = hippo_n_eigenvalues(4)
    size = 8
    n = np.arange(size)
    full = -0.5 * np.sqrt(2 * n + 1)[:, None] * np.sqrt(2 * n + 1)[None, :]
    normal = np.tril(full, -1) - np.tril(full, -1).T - 0.5 * np.eye(size)  # HiPPO-LegS + P P^T
    expected = np.linalg.eigvals(normal)
    expected = np.sort(expected[expected.imag >= 0].imag)[::-1][:4]
    np.testing.assert_allclose(values[0], -0.5)
    np.testing.assert_allclose(values[1], expected, rtol=1e-4)
    layer = DiagonalStateSpace(4, step_min=0.1, step_max=0.1, seed=0)
    layer.build((None, None, 2))
    (re, im), (scale_re, scale_im) = layer.coefficients("float32")
    lam = values[0] + 1j * values[1]
    discrete = np.exp(lam * 0.1)
    np.testing.assert_allclose(np.asarray(re) + 1j * np.asarray(im), discrete, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(scale_re) + 1j * np.asarray(scale_im), (discrete - 1) / lam, rtol=1e-4)
