"""seqzoo.distribute: strategy choice and errors, sharding, mixed precision, the training
loop used for multi-worker runs (checked against `model.fit`), resume, and mirrored
training over two logical CPUs (in a subprocess, so this process's TF runtime is untouched).

The multi-worker cluster itself is tested in tests/test_multiworker.py.
"""

import glob
import json
import os
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqzoo
from seqzoo import _multiworker, distribute

TPU_ENV = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE", "TPU_WORKER_ID")

# Same math, different summation order (one device vs a loop / two replicas): float32 noise.
LOSS_RTOL = 1e-4
WEIGHT_ATOL = 1e-5


def series_data(n=48, seq_len=10, features=3, horizon=2, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.rand(n, seq_len, features).astype("float32")
    y = (0.5 * x[:, -horizon:, -1:] + 0.1).astype("float32")
    return x, y


def datasets(batch=16):
    x, y = series_data()
    train = tf.data.Dataset.from_tensor_slices((x[:32], y[:32])).batch(batch)
    val = tf.data.Dataset.from_tensor_slices((x[32:], y[32:])).batch(batch)
    return train, val


def gru_model(strategy=None, seed=0):
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = seqzoo.build("gru", inputs="series", seq_len=10, features=3, head="forecast",
                             horizon=2, targets=1, units=8)
        model.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    return model


def assert_weights_close(a, b, atol=WEIGHT_ATOL):
    assert len(a.get_weights()) == len(b.get_weights())
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=atol)


# --------------------------------------------------------------------------- strategies


def test_unknown_strategy_is_a_one_line_error():
    with pytest.raises(distribute.StrategyError, match="unknown strategy 'gpu'; choose one of auto") as info:
        distribute.get_strategy("gpu")
    assert "\n" not in str(info.value)


def test_tpu_without_a_tpu_fails_fast(monkeypatch):
    for name in TPU_ENV:
        monkeypatch.delenv(name, raising=False)
    if glob.glob("/dev/accel[0-9]*"):
        pytest.skip("this machine has TPU devices")
    start = time.perf_counter()
    with pytest.raises(distribute.StrategyError, match="no TPU found.*TPU_NAME") as info:
        distribute.get_strategy("tpu")
    assert time.perf_counter() - start < 2.0  # no network probing, no retries
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("tf_config, message", [
    (None, "needs TF_CONFIG on every machine; set e.g. TF_CONFIG="),
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', "TF_CONFIG has no cluster.worker list"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}}', r"TF_CONFIG has no task \{type, index\}"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
     "task worker:2 is not in cluster.worker"),
])
def test_multi_worker_without_usable_tf_config(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(distribute.StrategyError, match=message) as info:
        distribute.get_strategy("multi_worker")
    assert "\n" not in str(info.value)


def test_auto_resolution(monkeypatch):
    for name in TPU_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf.config.list_physical_devices("GPU") or glob.glob("/dev/accel[0-9]*"):
        pytest.skip("accelerators present")
    assert distribute.resolve("auto") == "default"
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert distribute.resolve("auto") == "default"  # one worker is not a cluster
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:2"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert distribute.resolve("auto") == "multi_worker"
    monkeypatch.setenv("TPU_NAME", "my-tpu")
    assert distribute.resolve("auto") == "tpu"
    assert distribute.resolve("one_device") == "one_device"


def test_single_process_strategies_and_helpers(tmp_path):
    for name in ("default", "one_device"):
        strategy = distribute.get_strategy(name)
        assert strategy.num_replicas_in_sync == 1
        assert distribute.is_chief(strategy)
        assert not distribute.is_multi_worker(strategy)
        assert distribute.write_dir(str(tmp_path), strategy) == str(tmp_path)
        assert distribute.chief_value(7, strategy) == 7


def test_shard_by_data_sets_data_policy_unless_chosen():
    policy = tf.data.experimental.AutoShardPolicy
    dataset = tf.data.Dataset.range(8).batch(2)
    sharded = distribute.shard_by_data(dataset)
    assert sharded.options().experimental_distribute.auto_shard_policy == policy.DATA
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy.FILE
    by_file = dataset.with_options(options)
    assert distribute.shard_by_data(by_file).options().experimental_distribute.auto_shard_policy == policy.FILE
    assert list(sharded.as_numpy_iterator())[1].tolist() == [2, 3]  # data unchanged


# --------------------------------------------------------------------------- the training loop


def test_loop_matches_model_fit(tmp_path):
    """The multi-worker loop (here on one device) gives model.fit's history, logs and weights."""
    train, val = datasets()
    reference = gru_model()
    expected = distribute.fit(reference, train, validation_data=val, epochs=2, verbose=0).history
    model = gru_model()
    csv = tmp_path / "history.csv"
    got = _multiworker.fit(model, train, validation_data=val, epochs=2, verbose=0,
                           callbacks=[keras.callbacks.CSVLogger(str(csv))]).history
    assert sorted(got) == sorted(expected) == ["loss", "mae", "val_loss", "val_mae"]
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=LOSS_RTOL)
    assert got["loss"][1] < got["loss"][0]
    assert_weights_close(model, reference)
    rows = csv.read_text().splitlines()
    assert rows[0].split(",") == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert len(rows) == 3


def test_evaluate_and_local_copy():
    train, val = datasets()
    model = gru_model()
    distribute.fit(model, train, epochs=1, verbose=0)
    expected = model.evaluate(val, verbose=0, return_dict=True)
    assert distribute.evaluate(model, val) == pytest.approx(expected, rel=1e-6)
    copy = distribute.local_copy(model)
    assert copy is not model and copy.weights[0] is not model.weights[0]
    assert copy.evaluate(val, verbose=0, return_dict=True) == pytest.approx(expected, rel=1e-6)
    x, _ = series_data(n=4)
    np.testing.assert_allclose(copy.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    with distribute.get_strategy("one_device").scope(), pytest.raises(ValueError, match="outside strategy.scope"):
        distribute.local_copy(model)


class Crash(RuntimeError):
    pass


class StopAt(keras.callbacks.Callback):
    """Crashes training at the start of `epoch` (after the previous epoch's backup)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Crash(f"crash at epoch {epoch}")


@pytest.mark.parametrize("trainer", ["keras", "loop"])
def test_resume_from_backup(tmp_path, trainer):
    train_fn = {"keras": distribute.fit, "loop": _multiworker.fit}[trainer]
    train, val = datasets()
    reference = gru_model()
    expected = distribute.fit(reference, train, epochs=3, verbose=0).history["loss"]

    backup = str(tmp_path / "backup")
    with pytest.raises(Crash):
        train_fn(gru_model(), train, epochs=3, backup_dir=backup, callbacks=[StopAt(2)], verbose=0)
    with open(os.path.join(backup, "training_metadata.json")) as handle:
        assert json.load(handle)["epoch"] == 2
    resumed = gru_model(seed=123)  # different initial weights: the backup must replace them
    history = train_fn(resumed, train, epochs=3, backup_dir=backup, verbose=0).history
    assert len(history["loss"]) == 1  # only epoch 2 remained
    np.testing.assert_allclose(history["loss"], expected[2:], rtol=LOSS_RTOL)
    assert_weights_close(resumed, reference)  # weights AND optimizer state were restored
    assert not os.path.exists(backup)  # removed once training completed


def test_loop_early_stopping():
    train, val = datasets()
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, min_delta=10.0)
    history = _multiworker.fit(gru_model(), train, validation_data=val, epochs=5, callbacks=[stop],
                               verbose=0).history
    assert len(history["loss"]) == 2


def test_loop_progress_output(capsys):
    train, val = datasets()
    _multiworker.fit(gru_model(), train, validation_data=val, epochs=1, verbose=2)
    out = capsys.readouterr().out
    assert "2/2 - " in out and "val_loss: " in out  # steps done/total, validation shown


# --------------------------------------------------------------------------- mixed precision


@pytest.mark.parametrize("trainer", ["keras", "loop"])
def test_mixed_precision_on_cpu(trainer):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("GPU present: the policy would be mixed_float16")
    train_fn = {"keras": distribute.fit, "loop": _multiworker.fit}[trainer]
    strategy = distribute.get_strategy("default")
    assert distribute.set_mixed_precision(True, strategy) == "mixed_bfloat16"
    model = gru_model(strategy)
    assert model.get_layer("gru_1").compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in model.weights)
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    # bfloat16 has float32's range: no loss scaling (Keras wraps only float16 in LossScaleOptimizer)
    assert not isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    before = [w.numpy().copy() for w in model.trainable_weights]
    train, val = datasets()
    history = train_fn(model, train, validation_data=val, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and np.isfinite(history["val_loss"][0])
    assert all(w.dtype == "float32" for w in model.weights)  # float32 master weights, updated
    assert all(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
    x, _ = series_data(n=4)
    assert model(x).dtype == "float32"
    assert model.predict(x, verbose=0).dtype == np.float32
    assert distribute.set_mixed_precision(False, strategy) == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_mixed_float16_scales_the_loss():
    """float16 (the GPU policy) trains through a dynamic LossScaleOptimizer: finite updates."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = gru_model()
    assert model.get_layer("gru_1").compute_dtype == "float16"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.optimizer.initial_scale == 2.0**15
    train, val = datasets()
    history = distribute.fit(model, train, validation_data=val, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    assert all(w.dtype == "float32" and np.isfinite(w.numpy()).all() for w in model.weights)
    assert model.optimizer.iterations.numpy() > 0
    assert 1.0 <= float(model.optimizer.dynamic_scale.numpy()) <= 2.0**15  # kept or lowered, never 0/inf


# --------------------------------------------------------------------------- mirrored, two CPUs


def _mirrored_main():
    """Subprocess: mirrored over two logical CPUs vs one device, same global batch."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    mirrored = distribute.get_strategy("mirrored")
    single = distribute.get_strategy("default")
    train, val = datasets()
    result = {"replicas": mirrored.num_replicas_in_sync,
              "devices": list(mirrored.extended.worker_devices)}
    runs = {
        "single": (single, distribute.fit, "float32"),
        "mirrored": (mirrored, distribute.fit, "float32"),
        "mirrored_loop": (mirrored, _multiworker.fit, "float32"),
        "mirrored_loop_fp16": (mirrored, _multiworker.fit, "mixed_float16"),
    }
    for name, (strategy, train_fn, policy) in runs.items():
        keras.mixed_precision.set_global_policy(policy)
        model = gru_model(strategy)
        history = train_fn(model, train, validation_data=val, epochs=2, strategy=strategy, verbose=0)
        result[name] = {
            "history": history.history,
            "weights": [w.tolist() for w in model.get_weights()],
            "optimizer": type(model.optimizer).__name__,
            "output_dtype": keras.backend.standardize_dtype(model(series_data(n=2)[0]).dtype),
        }
    print("RESULT " + json.dumps(result), flush=True)


def test_mirrored_two_cpus_matches_single_device():
    proc = subprocess.run([sys.executable, __file__, "mirrored"], capture_output=True, text=True,
                          timeout=240, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["replicas"] == 2, result["devices"]
    single = result["single"]
    for name in ("mirrored", "mirrored_loop"):
        run = result[name]
        for key in ("loss", "mae", "val_loss", "val_mae"):
            np.testing.assert_allclose(run["history"][key], single["history"][key], rtol=LOSS_RTOL, err_msg=name)
        for got, want in zip(run["weights"], single["weights"]):
            np.testing.assert_allclose(np.array(got), np.array(want), atol=WEIGHT_ATOL, err_msg=name)
    fp16 = result["mirrored_loop_fp16"]
    assert fp16["optimizer"] == "LossScaleOptimizer" and fp16["output_dtype"] == "float32"
    # float16 compute: same trajectory as float32 to about 1e-2.
    np.testing.assert_allclose(fp16["history"]["loss"], single["history"]["loss"], rtol=5e-2)


if __name__ == "__main__" and sys.argv[1:] == ["mirrored"]:
    _mirrored_main()
