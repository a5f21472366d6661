"""Canaries for `seqzoo._compat`: each private TensorFlow / Keras / KerasTuner API seqzoo relies on
still exists and behaves as assumed. A failure here after an upgrade names the one function to fix."""

from __future__ import annotations

import json
import os

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from seqzoo import _compat


@pytest.fixture(autouse=True)
def _no_kerastuner_env(monkeypatch):
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)


def _tiny_model(hp=None) -> keras.Model:
    units = hp.Int("units", 1, 3) if hp is not None else 2
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(units, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    return model


def _data(n=8):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4)


# ----------------------------------------------------------------------------- TensorFlow


def test_gradient_registry_holds_each_traced_custom_gradient_and_lets_it_go():
    registry = _compat.gradient_registry()
    assert isinstance(registry, dict)
    before = {k for k in registry if str(k).startswith("CustomGradient-")}

    @tf.custom_gradient
    def double(x):
        return 2 * x, lambda dy: 2 * dy

    @tf.function
    def loss(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = double(x)
        return tape.gradient(y, x)

    assert float(loss(tf.constant(1.0))) == 2.0
    added = {k for k in registry if str(k).startswith("CustomGradient-")} - before
    assert added  # tracing registered a fresh name, and nothing removes it
    for name in added:
        registry.pop(name)
    assert not {k for k in _compat.gradient_registry() if str(k).startswith("CustomGradient-")} - before


# ----------------------------------------------------------------------------- KerasTuner


class _Hooked(_compat.TunerSpaceHook, keras_tuner.RandomSearch):
    declared = True
    calls = 0

    def populate_space(self):
        type(self).calls += 1
        if not self.declared:
            return False
        hp = self.oracle.get_space()
        hp.Int("units", 1, 3)
        self.oracle.update_space(hp)
        return True


def test_tuner_space_hook_replaces_kerastuner_populate_initial_space(tmp_path):
    built = []

    def build(hp):
        built.append(1)
        return _tiny_model(hp)

    _Hooked.calls, _Hooked.declared = 0, True
    tuner = _Hooked(build, objective="val_loss", max_trials=1, directory=str(tmp_path), project_name="a")
    assert _Hooked.calls == 1 and not built  # KerasTuner called the hook once, at construction
    assert [p.name for p in tuner.oracle.get_space().space] == ["units"]

    _Hooked.calls, _Hooked.declared = 0, False  # falling back: KerasTuner builds the model itself
    tuner = _Hooked(build, objective="val_loss", max_trials=1, directory=str(tmp_path), project_name="b")
    assert _Hooked.calls == 1 and built
    assert [p.name for p in tuner.oracle.get_space().space] == ["units"]


def test_tuner_is_worker_reads_kerastuner_distributed_environment(tmp_path, monkeypatch):
    tuner = keras_tuner.RandomSearch(_tiny_model, objective="val_loss", max_trials=1, directory=str(tmp_path))
    assert _compat.tuner_is_worker(tuner) is False
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "9")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    assert _compat.tuner_is_worker(tuner) is True
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert _compat.tuner_is_worker(tuner) is False


def test_a_reloaded_oracle_retries_its_ongoing_trials_from_the_retry_queue(tmp_path):
    def tuner():
        return keras_tuner.RandomSearch(_tiny_model, objective="val_loss", max_trials=5, seed=1,
                                        directory=str(tmp_path), project_name="p")

    first = tuner()
    assert _compat.retry_queue(first.oracle) == []
    trial = first.oracle.create_trial("tuner0")  # ongoing when the process "dies"
    first.save()
    again = tuner()  # reloads the project
    assert _compat.retry_queue(again.oracle) == [trial.trial_id]
    assert again.oracle.create_trial("tuner0").trial_id == trial.trial_id  # retried first
    again = tuner()
    _compat.set_retry_queue(again.oracle, [])
    assert again.oracle.create_trial("tuner0").trial_id != trial.trial_id


def test_first_draw_hook_replaces_the_first_random_draw_of_every_oracle():
    for base in (keras_tuner.oracles.RandomSearchOracle, keras_tuner.oracles.BayesianOptimizationOracle,
                 keras_tuner.oracles.HyperbandOracle):
        class First(_compat.FirstDrawHook, base):
            def first_values(self):
                return {"units": 3}

        options = {"max_epochs": 2} if base is keras_tuner.oracles.HyperbandOracle else {"max_trials": 5}
        oracle = First(objective="val_loss", seed=1, **options)
        space = keras_tuner.HyperParameters()
        space.Int("units", 1, 30)
        oracle.update_space(space)
        assert oracle._random_values() == {"units": 3}  # no trial yet: the hook's values
        oracle.trials["0"] = object()
        assert any(oracle._random_values() != {"units": 3} for _ in range(5))  # then KerasTuner's own draws


# ----------------------------------------------------------------------------- Keras


def test_symbolic_build_creates_optimizer_and_metric_state():
    model = _tiny_model()
    data = _data()
    assert not model.optimizer.built
    metric_state = len(model.metrics_variables)  # the loss tracker's only
    _compat.symbolic_build(model, data.element_spec)
    assert model.optimizer.built and model.optimizer.variables
    assert len(model.metrics_variables) > metric_state  # the compiled metrics' (mae) state now exists
    model.fit(data, epochs=1, verbose=0)  # and fit accepts the state it created


def test_initial_epoch_is_what_backup_and_restore_restored(tmp_path):
    backup = str(tmp_path / "backup")

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("crash")

    model = _tiny_model()
    assert _compat.initial_epoch(model) is None
    with pytest.raises(RuntimeError, match="crash"):
        model.fit(_data(), epochs=3, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(backup), Crash()])
    with open(os.path.join(backup, "training_metadata.json")) as handle:
        assert json.load(handle)["epoch"] == 1

    restored = _tiny_model()
    _compat.symbolic_build(restored, _data().element_spec)
    callback = keras.callbacks.BackupAndRestore(backup)
    callback.set_model(restored)
    _compat.reset_initial_epoch(restored)
    callback.on_train_begin()
    assert _compat.initial_epoch(restored) == 1
    _compat.reset_initial_epoch(restored)
    assert _compat.initial_epoch(restored) is None


def test_run_through_graph_calls_call_fn_for_each_layer_in_order():
    model = _tiny_model()
    x = np.ones((2, 3), "float32")
    seen = []

    def call_fn(layer, *args, **kwargs):
        seen.append(layer.name)
        return layer(*args, **kwargs)

    out = _compat.run_through_graph(model, x, call_fn)
    assert seen == ["hidden", "out"]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), keras.ops.convert_to_numpy(model(x)), rtol=1e-6)

    # what call_fn returns flows on to the next layer
    doubled = _compat.run_through_graph(model, x, lambda layer, *a, **k: 2 * layer(*a, **k))
    assert not np.allclose(keras.ops.convert_to_numpy(doubled), keras.ops.convert_to_numpy(out))


def test_mel_from_magnitude_is_the_mel_layer_on_its_own_stft_frames():
    layer = keras.layers.MelSpectrogram(fft_length=128, sequence_stride=40, sequence_length=100,
                                        num_mel_bins=8, sampling_rate=8000, power_to_db=True,
                                        top_db=1e9, min_power=1e-10)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 800)).astype("float32")
    real, imag = keras.ops.stft(x, 100, 40, 128, window="hann", center=True)
    mel = _compat.mel_from_magnitude(layer, keras.ops.sqrt(real**2 + imag**2))
    expected = keras.ops.convert_to_numpy(keras.ops.swapaxes(layer(x), -1, -2))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(mel), expected, atol=1e-4)
    louder = _compat.mel_from_magnitude(layer, 10 * keras.ops.sqrt(real**2 + imag**2))
    # the dB step ran: 10x the amplitude is 100x the power, +20 dB
    np.testing.assert_allclose(keras.ops.convert_to_numpy(louder - mel), 20.0, atol=1e-3)

