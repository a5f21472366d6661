"""benchmarks/accuracy.py: each suite reads its own data folder; finished runs are read, not retrained."""

from __future__ import annotations

import importlib.util
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
_spec = importlib.util.spec_from_file_location("accuracy", os.path.join(ROOT, "benchmarks", "accuracy.py"))
accuracy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(accuracy)


def _finished_run(runs_dir, label, model):
    run = runs_dir / label
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({
        "model": model, "seed": 42, "params": 10, "epochs_run": 2, "train_seconds": 3.0,
        "examples_per_second": 5.0, "test_accuracy": 0.75}))
    (run / "history.csv").write_text("epoch,val_accuracy,val_loss\n0,0.5,0.9\n1,0.7,0.8\n")


def test_speech_and_fsdd_suites_read_their_own_folders(tmp_path):
    runs_dir = tmp_path / "runs"
    _finished_run(runs_dir, "speech-mingru-w8", "mingru")
    _finished_run(runs_dir, "fsdd-mingru-w8", "mingru")
    out = tmp_path / "rows.json"
    code = accuracy.main(["--suite", "speech,fsdd", "--models", "mingru", "--set", "width=8", "--tag", "w8",
                          "--data-dir", "/data", "--runs-dir", str(runs_dir), "--json", str(out)])
    assert code == 0
    rows = {row["label"]: row for row in json.loads(out.read_text())["rows"]}
    speech, fsdd = rows["speech-mingru-w8"], rows["fsdd-mingru-w8"]
    assert "--data-dir /data/mini_speech_commands " in speech["command"]
    assert "--data-dir /data/fsdd " in fsdd["command"]
    for row in (speech, fsdd):
        assert "-m recipes.speech_commands" in row["command"] and "--set width=8" in row["command"]
        assert row["test_accuracy"] == 0.75 and row["best_val_accuracy"] == 0.7 and row["wall_seconds"] is None


def _merge_rows(path, worker):
    for i in range(6):
        accuracy.write_rows(path, [{"label": f"w{worker}-{i}"}], 1.0, benchmark="accuracy")


def test_invocations_that_finish_together_keep_every_row(tmp_path, monkeypatch):
    # Two benchmark runs finishing within a second of each other lost one run's rows (2026-12-06):
    # each read the file, spent seconds gathering machine facts, then wrote its own merge.
    import multiprocessing
    import time

    monkeypatch.setattr(accuracy, "machine", lambda: time.sleep(0.05) or {"cpu": "test"})
    path = str(tmp_path / "rows.json")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_merge_rows, args=(path, w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    labels = {row["label"] for row in json.loads(open(path).read())["rows"]}
    assert labels == {f"w{w}-{i}" for w in range(4) for i in range(6)}
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert sorted(os.listdir(tmp_path)) == ["rows.json", "rows.json.lock"]  # no temp file left behind
