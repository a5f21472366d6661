"""Fault injection: a run SIGKILLed at each moment of its end, then rerun, ends exactly like an
uninterrupted run (recipes/rundir.py's state machine; the hook is runner.fault_point)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
from helpers_recipes import ToyRecipe, read_json

from recipes import runner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = ("import sys; sys.path.insert(0, 'tests'); from helpers_recipes import ToyRecipe; "
          "from recipes import runner; sys.exit(runner.main(ToyRecipe(), sys.argv[1:]))")
ARGV = ["--epochs", "2", "--set", "dropout=0.2", "--batch-size", "8", "--quiet"]


def _toy(out, *, fault=None, extra=()):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("SEQZOO_FAULT_AT", None)
    if fault:
        env["SEQZOO_FAULT_AT"] = fault
    return subprocess.run([sys.executable, "-c", SCRIPT, "--out", str(out), *ARGV, *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _epochs(path):
    with open(path, newline="") as handle:
        return sorted({int(row["epoch"]) for row in csv.DictReader(handle)})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "whole"
    done = _toy(out)
    assert done.returncode == 0, done.stderr
    return read_json(out / "metrics.json")


# stage -> what the killed run leaves, checked before the rerun
LEFT = {
    "keras_backup:0": {"backup"},                      # epoch 0 half backed up: retrained
    "epoch_end:0": {"backup"},                         # epoch 0 backed up: resumes at epoch 1
    "after_fit": {"backup"},                           # finished, final weights in backup/
    "after_model_saved": {"backup", "model.keras"},    # no train_state.json: still "resume"
    "after_train_state": {"backup", "model.keras", "train_state.json"},  # evaluate only
    "during_evaluation": {"model.keras", "train_state.json"},
    "before_metrics": {"model.keras", "train_state.json", "confusion.png", "curves.png"},
}


# Each case starts two Python processes: the suite runs one kill per phase of the end
# (training, after training, evaluation); SEQZOO_ALL_FAULTS=1 runs every stage.
QUICK = ("epoch_end:0", "after_fit", "during_evaluation")
STAGES = list(LEFT) if os.environ.get("SEQZOO_ALL_FAULTS") else list(QUICK)


@pytest.mark.parametrize("stage", STAGES)
def test_killed_run_reruns_to_the_uninterrupted_result(tmp_path, reference, stage):
    out = tmp_path / "run"
    killed = _toy(out, fault=stage)
    assert killed.returncode == -9, killed.stderr  # SIGKILL
    files = set(os.listdir(out))
    assert LEFT[stage] <= files and "metrics.json" not in files
    (out / f".tmp-{999999}-train_state.json").write_text("{")  # a killed writer's leftover

    rerun = _toy(out)
    assert rerun.returncode == 0, rerun.stderr
    noise = [line for line in rerun.stderr.splitlines()  # TensorFlow's import-time log lines aside
             if ("error:" in line or "warning:" in line or line.startswith(("E0000", "Traceback")))
             and " baseline (" not in line]  # the sanity check's verdict on the toy model is no noise
    assert noise == []
    metrics = read_json(out / "metrics.json")
    for key in ("test_loss", "test_accuracy", "test_confusion", "epochs_run", "params"):
        assert metrics[key] == reference[key], key
    assert _epochs(out / "history.csv") == [0, 1]
    left = set(os.listdir(out))
    assert "backup" not in left and not [f for f in left if f.startswith(".tmp-")]
    assert read_json(out / "train_state.json")["epochs_run"] == 2


def test_second_run_on_the_same_out_is_refused_and_a_killed_one_leaves_no_lock(tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; os.makedirs(sys.argv[1]); fd = os.open(sys.argv[1], os.O_RDONLY); "
        "fcntl.flock(fd, fcntl.LOCK_EX); open(os.path.join(sys.argv[1], 'config.json'), 'w').write('{}'); "
        "print('locked', flush=True); time.sleep(120)"), str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = {name: os.stat(out / name).st_mtime_ns for name in os.listdir(out)}
        recipe = ToyRecipe()
        assert runner.main(recipe, ["--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "in use by another running process" in err and len(err.strip().splitlines()) == 1
        assert recipe.loads == 0  # refused before reading data
        assert {name: os.stat(out / name).st_mtime_ns for name in os.listdir(out)} == before
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: the kernel dropped its lock; the directory is judged on its files
    assert runner.main(ToyRecipe(), ["--out", str(out), "--quiet", "--overwrite"]) == 0
    assert read_json(out / "metrics.json")["epochs_run"] == 1
