"""Real multi-worker training: two worker processes on 127.0.0.1 with TF_CONFIG.

Each test starts a two-worker `MultiWorkerMirroredStrategy` cluster (this file,
run as a script, is the worker) and compares it with a single-process run in
this process. Every subprocess has a timeout, so a hung collective fails the
test instead of hanging the suite.

Tolerances: the cluster and the single process do the same math (gradients
averaged over the same global batch) in a different summation order, so
losses agree to `LOSS_RTOL` and weights to `WEIGHT_ATOL` (float32 noise, seen
~1e-7); the two workers' weights are identical bit for bit.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers_ports import release, reserve_ports

LOSS_RTOL = 1e-4
WEIGHT_ATOL = 1e-5
TIMEOUT = 240  # seconds per cluster run (a 2-core machine shared with other tests)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# --------------------------------------------------------------------------- shared by workers and tests


def build(strategy):
    """The tiny forecasting model, data and datasets both sides train."""
    import keras
    import tensorflow as tf

    import seqzoo

    rng = np.random.RandomState(0)
    x = rng.rand(96, 10, 3).astype("float32")
    y = (0.5 * x[:, -2:, -1:] + 0.1).astype("float32")
    train = tf.data.Dataset.from_tensor_slices((x[:64], y[:64])).batch(16)  # global batch 16
    val = tf.data.Dataset.from_tensor_slices((x[64:], y[64:])).batch(16)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = seqzoo.build("gru", inputs="series", seq_len=10, features=3, head="forecast",
                             horizon=2, targets=1, units=8)
        model.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    return model, train, val


def worker_main(args):
    """One worker: train through seqzoo.distribute.fit, write result.json into args['out']."""
    os.environ["TF_CONFIG"] = json.dumps(args["tf_config"])
    from seqzoo import distribute

    strategy = distribute.get_strategy("multi_worker")  # before any TensorFlow op
    import keras

    class Slow(keras.callbacks.Callback):
        """From epoch `args['slow_from']` on, sleep after each batch (time to kill a worker)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.slow = epoch >= args.get("slow_from", 10**9)

        def on_train_batch_end(self, batch, logs=None):
            if self.slow:
                time.sleep(0.5)

    model, train, val = build(strategy)
    out = args["out"]
    os.makedirs(out, exist_ok=True)
    history = distribute.fit(
        model, train, validation_data=val, epochs=args["epochs"],
        callbacks=[Slow(), keras.callbacks.CSVLogger(os.path.join(out, "history.csv"))],
        backup_dir=args.get("backup"), strategy=strategy, verbose=2,
    )
    np.savez(os.path.join(out, "weights.npz"), *model.get_weights())
    result = {"history": history.history, "chief": distribute.is_chief(strategy),
              "replicas": strategy.num_replicas_in_sync}
    if args.get("evaluate") and distribute.is_chief(strategy):  # the chief alone: no collective
        result["evaluate"] = distribute.evaluate(model, val, strategy=strategy)
    with open(os.path.join(out, "result.json"), "w") as handle:
        json.dump(result, handle)
    distribute.barrier(strategy)  # exit together (the chief evaluated alone above)


# --------------------------------------------------------------------------- cluster helpers


_HELD: list = []  # sockets holding the cluster's ports until the test ends (helpers_ports)


@pytest.fixture(autouse=True)
def _release_ports():
    yield
    release(_HELD)
    _HELD.clear()


def tf_config(ports, index):
    return {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}


def start_workers(command_for, tmp_path, tag):
    """Start one process per worker; `command_for(index, tf_config)` -> (argv, env overrides)."""
    ports, held = reserve_ports(2)  # held, so no other process takes them before the workers bind
    _HELD.extend(held)
    procs = []
    for index in range(2):
        argv, env = command_for(index, tf_config(ports, index))
        log = open(tmp_path / f"{tag}-worker{index}.log", "w")
        procs.append(subprocess.Popen(
            argv, cwd=str(tmp_path), stdout=log, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
        ))
    return procs


def wait_all(procs, tmp_path, tag, timeout=TIMEOUT):
    """Wait for every process (killing all on timeout); returns (returncodes, logs)."""
    deadline = time.monotonic() + timeout
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=max(1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            codes.append("timeout")
    logs = [(tmp_path / f"{tag}-worker{i}.log").read_text() for i in range(len(procs))]
    return codes, logs


def script_workers(tmp_path, tag, **args):
    def command_for(index, config):
        worker_args = {**args, "tf_config": config, "out": str(tmp_path / f"{tag}{index}")}
        return [sys.executable, os.path.abspath(__file__), json.dumps(worker_args)], {}

    return start_workers(command_for, tmp_path, tag)


def read_worker(tmp_path, tag, index):
    folder = tmp_path / f"{tag}{index}"
    with open(folder / "result.json") as handle:
        result = json.load(handle)
    with np.load(folder / "weights.npz") as data:
        result["weights"] = [data[f"arr_{i}"] for i in range(len(data.files))]
    return result


def single_process(epochs):
    """The reference: the same model and data trained in this process, one device."""
    from seqzoo import distribute

    strategy = distribute.get_strategy("default")
    model, train, val = build(strategy)
    history = distribute.fit(model, train, validation_data=val, epochs=epochs, strategy=strategy, verbose=0)
    return history.history, model.get_weights()


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)


def assert_close_weights(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        np.testing.assert_allclose(wa, wb, atol=WEIGHT_ATOL)


# --------------------------------------------------------------------------- tests


def test_two_workers_train_like_one_process(tmp_path):
    procs = script_workers(tmp_path, "run", epochs=2, evaluate=True)
    expected, weights = single_process(epochs=2)  # while the cluster runs
    codes, logs = wait_all(procs, tmp_path, "run")
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    chief, worker = read_worker(tmp_path, "run", 0), read_worker(tmp_path, "run", 1)
    assert (chief["chief"], worker["chief"], chief["replicas"]) == (True, False, 2)
    assert "Epoch 2/2" in logs[0] and "val_loss" in logs[0]  # the chief shows progress
    assert "Epoch" not in logs[1]  # other workers stay quiet
    assert not any("StartAbort" in log for log in logs)  # no worker saw another one vanish
    assert chief["history"] == worker["history"]
    assert_same_weights(chief["weights"], worker["weights"])

    assert sorted(chief["history"]) == sorted(expected) == ["loss", "mae", "val_loss", "val_mae"]
    for key in expected:
        np.testing.assert_allclose(chief["history"][key], expected[key], rtol=LOSS_RTOL, err_msg=key)
    assert_close_weights(chief["weights"], weights)
    # distribute.evaluate works under the multi-worker strategy (model.evaluate does not),
    # on the chief alone.
    assert "evaluate" not in worker
    np.testing.assert_allclose(chief["evaluate"]["loss"], expected["val_loss"][-1], rtol=LOSS_RTOL)
    rows = (tmp_path / "run0" / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,loss,mae,val_loss,val_mae" and len(rows) == 3


def test_killed_worker_resumes_from_backup(tmp_path):
    backup = str(tmp_path / "backup")
    metadata = os.path.join(backup, "training_metadata.json")
    procs = script_workers(tmp_path, "first", epochs=3, backup=backup, slow_from=1)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and all(p.poll() is None for p in procs):
        try:
            with open(metadata) as handle:
                if json.load(handle)["epoch"] == 1:  # epoch 0 backed up; epoch 1 running (slowly)
                    break
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    else:
        for p in procs:
            p.kill()
        pytest.fail("the cluster never backed up epoch 0")
    # Epoch 1 takes >= 2 s (Slow), and cannot end without worker 1: it dies mid-training.
    procs[1].send_signal(signal.SIGKILL)
    expected, weights = single_process(epochs=3)  # uninterrupted reference, while the chief notices
    codes, logs = wait_all(procs, tmp_path, "first", timeout=120)
    assert codes[1] == -signal.SIGKILL
    # The chief notices (collective aborted by the coordination service) and stops
    # with a one-line hint instead of hanging.
    assert codes[0] not in (0, "timeout"), logs[0][-3000:]
    assert "restart every worker with the same command to resume from" in logs[0]
    with open(metadata) as handle:
        assert json.load(handle)["epoch"] == 1

    procs = script_workers(tmp_path, "again", epochs=3, backup=backup)  # restart the workers
    codes, logs = wait_all(procs, tmp_path, "again")
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    chief, worker = read_worker(tmp_path, "again", 0), read_worker(tmp_path, "again", 1)
    assert "Epoch 2/3" in logs[0] and "Epoch 1/3" not in logs[0]  # resumed at epoch index 1
    assert len(chief["history"]["loss"]) == 2 and chief["history"] == worker["history"]
    assert_same_weights(chief["weights"], worker["weights"])
    assert not os.path.exists(backup)  # removed once training completed

    # Resuming changed nothing: same losses and weights as an uninterrupted run.
    np.testing.assert_allclose(chief["history"]["loss"], expected["loss"][1:], rtol=LOSS_RTOL)
    np.testing.assert_allclose(chief["history"]["val_loss"], expected["val_loss"][1:], rtol=LOSS_RTOL)
    assert_close_weights(chief["weights"], weights)


def ramp_csv(path, rows=240):
    import pandas as pd

    t = np.arange(rows, dtype=float)
    pd.DataFrame({
        "date": pd.date_range("2021-01-01", periods=rows, freq="h").astype(str),
        "noise": np.random.default_rng(0).normal(size=rows),
        "load": 10 + t + np.sin(t / 3),
    }).to_csv(path, index=False)
    return str(path)


# One epoch, full batches only, so the cluster must match one process to float32 noise:
# - 240 rows -> 153 training windows; --limit 144 keeps 9 full global batches of 16 (a partial
#   last batch splits unevenly over the replicas and Keras' per-replica mean loss then weights
#   that step's examples unevenly: a ~1e-4 drift, as under MirroredStrategy);
# - after the first epoch a seeded shuffle, once auto-sharded, visits the windows in a
#   different order than in one process (each worker still gets a disjoint half of every
#   epoch), so later epochs are comparable in distribution, not bit for bit.
RECIPE_FLAGS = ["--target", "load", "--lookback", "12", "--horizon", "4", "--epochs", "1",
                "--batch-size", "16", "--limit", "144", "--set", "units=4", "--quiet", "--no-determinism"]


def test_recipe_on_two_workers(tmp_path):
    """`python -m recipes.forecast --strategy multi_worker` on two workers vs one process."""
    csv = ramp_csv(tmp_path / "series.csv")
    out = str(tmp_path / "cluster-run")

    def command_for(index, config):
        argv = [sys.executable, "-m", "recipes.forecast", "--csv", csv, *RECIPE_FLAGS,
                "--strategy", "multi_worker", "--out", out]
        return argv, {"TF_CONFIG": json.dumps(config), "PYTHONPATH": ROOT}

    procs = start_workers(command_for, tmp_path, "recipe")

    from recipes import forecast
    from recipes.runner import main

    reference = str(tmp_path / "single-run")  # one process, trained while the cluster runs
    assert main(forecast.ForecastRecipe(), ["--csv", csv, *RECIPE_FLAGS, "--strategy", "default",
                                            "--out", reference]) == 0
    codes, logs = wait_all(procs, tmp_path, "recipe")
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)

    def read(folder, name):
        with open(os.path.join(folder, name)) as handle:
            return json.load(handle) if name.endswith(".json") else handle.read().splitlines()

    assert sorted(os.listdir(out)) == sorted(os.listdir(reference))  # same artifacts, nothing extra
    metrics, expected = read(out, "metrics.json"), read(reference, "metrics.json")
    assert (metrics["strategy"], expected["strategy"]) == ("multi_worker", "default")
    assert metrics["replicas"] == 2
    assert metrics["epochs_run"] == 1
    for key in ("test_mse", "test_mae", "baseline_mse"):
        np.testing.assert_allclose(metrics[key], expected[key], rtol=LOSS_RTOL, err_msg=key)
    history, expected_history = read(out, "history.csv"), read(reference, "history.csv")
    assert history[0] == expected_history[0] and len(history) == 2
    header = history[0].split(",")
    for key in ("loss", "val_loss"):
        column = header.index(key)
        got = [float(row.split(",")[column]) for row in history[1:]]
        want = [float(row.split(",")[column]) for row in expected_history[1:]]
        np.testing.assert_allclose(got, want, rtol=LOSS_RTOL, err_msg=key)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    worker_main(json.loads(sys.argv[1]))
