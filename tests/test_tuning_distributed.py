"""Distributed search: one chief (the oracle) and two workers on localhost, KerasTuner's own engine."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import pytest
from helpers_ports import release, reserve_ports

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
TRIALS = 6

SCRIPT = textwrap.dedent("""
    import sys, time
    import keras
    from helpers_recipes import ToyRecipe
    from recipes import runner

    class Slow(keras.callbacks.Callback):  # trials long enough for both workers to get some
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(0.5)

    sys.exit(runner.main(ToyRecipe(callbacks=[Slow()]), sys.argv[1:]))
""")


def test_chief_and_two_workers_share_one_oracle(tmp_path):
    script = tmp_path / "toy_recipe.py"
    script.write_text(SCRIPT)
    out = tmp_path / "search"
    (port,), held = reserve_ports(1)  # held until the chief's oracle binds it: no other process takes it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, ROOT]), "TF_CPP_MIN_LOG_LEVEL": "2",
           "SEQZOO_WORKER_WAIT": "120"}
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        env.pop(name, None)
    command = [sys.executable, str(script), "--tune", "--out", str(out), "--max-trials", str(TRIALS),
               "--space", "units=2:6", "--space", "depth=1:2", "--oracle-port", str(port)]
    # Workers first: they wait for the chief to start the search in --out.
    procs = {
        tid: subprocess.Popen([*command, "--tuner-id", tid], env=env, cwd=str(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for tid in ("tuner0", "tuner1", "chief")
    }
    outputs = {}
    try:
        for tid, proc in procs.items():
            outputs[tid] = proc.communicate(timeout=420)[0]
    finally:
        release(held)
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for tid, proc in procs.items():
        assert proc.returncode == 0, f"{tid} exited {proc.returncode}:\n{outputs.get(tid, '')[-3000:]}"
    assert "worker tuner0 finished" in outputs["tuner0"] and "worker tuner1 finished" in outputs["tuner1"]

    with open(out / "tuning" / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == TRIALS and len({r["trial_id"] for r in rows}) == TRIALS
    assert {r["status"] for r in rows} == {"COMPLETED"}
    assert {r["tuner_id"] for r in rows} == {"tuner0", "tuner1"}  # both workers ran trials, the chief none

    oracle = json.loads((out / "tuning" / "keras_tuner" / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == sorted(r["trial_id"] for r in rows)  # each recorded once
    assert not oracle["ongoing_trials"]
    trial_dirs = [d for d in os.listdir(out / "tuning" / "keras_tuner") if d.startswith("trial_")]
    assert len(trial_dirs) == TRIALS

    best = json.loads((out / "tuning" / "best.json").read_text())
    assert best["trials"] == {"total": TRIALS, "completed": TRIALS}
    assert os.path.isfile(out / "metrics.json")  # the chief trained and tested the best configuration
    assert "test_accuracy" in outputs["chief"]


@pytest.fixture
def _no_kerastuner_env():
    names = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    yield
    for name in names:
        os.environ.pop(name, None)
    os.environ.update(saved)


def test_worker_refuses_a_search_with_other_settings(tmp_path, capsys, monkeypatch, _no_kerastuner_env):
    from helpers_recipes import ToyRecipe

    from recipes import cli, runner
    from recipes import tuning as recipe_tuning

    out = tmp_path / "search"
    argv = ["--tune", "--out", str(out), "--max-trials", "3", "--tuner-id", "tuner0", "--oracle-port", "9"]
    monkeypatch.setattr(recipe_tuning, "WORKER_WAIT_SECONDS", 0.5)
    assert runner.main(ToyRecipe(), argv) == 2  # no chief started a search there
    assert "no chief started a search" in capsys.readouterr().err and not out.exists()

    chief_args = dataclasses.replace(cli.parse(ToyRecipe(), [*argv[:-4], "--tuner-id", "chief"]),
                                     max_trials=5)  # the chief searches with other settings
    os.makedirs(out / "tuning")
    (out / "tuning" / "settings.json").write_text(json.dumps(
        {"recipe": "toy", "flags": runner._flags_for_config(chief_args)}))
    assert runner.main(ToyRecipe(), argv) == 2
    err = capsys.readouterr().err
    assert "uses other settings (--max-trials)" in err and err.count("\n") == 1
    assert os.listdir(out / "tuning") == ["settings.json"]  # the worker wrote nothing


@pytest.mark.parametrize("flags, message", [
    ({"tuner_id": "tuner0"}, "needs the oracle's port"),
    ({"oracle_port": 9000}, "needs a tuner id"),
    ({"tuner_id": "chief", "oracle_port": 70000}, "1..65535"),
])
def test_distributed_settings_are_checked(flags, message):
    from recipes import runner, tuning

    env: dict[str, str] = {}
    with pytest.raises(runner.UsageError, match=message):
        tuning.configure_distributed(environ=env, **flags)
    assert env == {}
    assert tuning.configure_distributed("tuner1", oracle_port=9000, environ=env) == "tuner1"
    assert env["KERASTUNER_ORACLE_IP"] == "127.0.0.1"  # localhost unless told otherwise
    assert tuning.is_search_worker(env) and not tuning.is_search_chief(env)
    assert tuning.configure_distributed("chief", oracle_port=9000, environ=env) == "chief"
    assert tuning.is_search_chief(env) and not tuning.is_search_worker(env)
    assert not tuning.is_search_chief({}) and not tuning.is_search_worker({})  # one process
