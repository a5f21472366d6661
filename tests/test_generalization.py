"""benchmarks/generalization.py: the FSDD leave-speakers-out folder and the table, on generated folders."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("generalization", os.path.join(ROOT, "benchmarks", "generalization.py"))
generalization = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generalization)


def _fsdd(root, speakers=("ann", "bob", "cat", "dan"), labels=("0", "1")):
    for label in labels:
        os.makedirs(root / label)
        for speaker in speakers:
            for take in range(2):
                (root / label / f"{speaker}_nohash_{take}.wav").write_bytes(b"")
    (root / "testing_list.txt").write_text("0/ann_nohash_0.wav\n")  # the source's own lists: left alone
    return root


def _snapshot(root):
    return sorted((str(p.relative_to(root)), p.read_bytes()) for p in root.rglob("*") if p.is_file())


def test_leave_speakers_out_holds_whole_speakers_out_and_never_writes_the_source(tmp_path):
    source = _fsdd(tmp_path / "fsdd")
    before = _snapshot(source)
    info = generalization.leave_speakers_out(source, tmp_path / "lso", val=["bob"], test=["dan"])
    assert info == {"speakers": {"train": ["ann", "cat"], "val": ["bob"], "test": ["dan"]},
                    "clips": {"train": 8, "val": 4, "test": 4}}
    lso = tmp_path / "lso"
    assert (lso / "validation_list.txt").read_text().split() == [
        "0/bob_nohash_0.wav", "0/bob_nohash_1.wav", "1/bob_nohash_0.wav", "1/bob_nohash_1.wav"]
    assert {generalization.speaker_of(p) for p in (lso / "testing_list.txt").read_text().split()} == {"dan"}
    assert os.readlink(lso / "1") == str(source / "1") and (lso / "1" / "ann_nohash_1.wav").exists()
    assert _snapshot(source) == before
    # building it again (a resumed benchmark) gives the same folder
    assert generalization.leave_speakers_out(source, lso, val=["bob"], test=["dan"]) == info
    with pytest.raises(generalization.BenchError, match="no clips of speaker.*eve; speakers: ann, bob, cat, dan"):
        generalization.leave_speakers_out(source, tmp_path / "x", val=["eve"], test=["dan"])


def _metrics(run_dir, **values):
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "metrics.json"), "w") as f:
        json.dump({"model": "m", "epochs_run": 3, "train_seconds": 12.5, **values}, f)


def test_rows_with_metrics_are_read_not_run_and_the_table_says_where_the_target_is_missed(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(generalization, "machine", lambda: {"cpu": "test"})
    data, runs, out = tmp_path / "data", tmp_path / "runs", tmp_path / "g.json"
    for folder in ("imdb", "ett"):
        os.makedirs(data / folder)
    _metrics(runs / "imdb-2k", test_accuracy=0.83,
             baselines={"majority_accuracy": 0.5, "tfidf_logistic_accuracy": 0.858},
             warnings=["warning: test accuracy 0.8300 is below the tfidf_logistic baseline (0.8580): ..."])
    _metrics(runs / "etth2", test_mse=0.30, baseline_mse=0.5,
             baselines={"linear_mse": 0.31, "linear_mae": 0.4, "persistence_mse": 0.5}, warnings=[])
    args = ["--rows", "imdb-2k,etth2", "--data-root", str(data), "--runs", str(runs), "--out", str(out)]
    assert generalization.main(args) == 0
    rows = {r["row"]: r for r in json.loads(out.read_text())["rows"]}
    imdb, ett = rows["imdb-2k"], rows["etth2"]
    assert imdb["gap"] == pytest.approx(-0.028) and imdb["target_met"] is False and imdb["run_warns"] is True
    assert imdb["command"].startswith("python -m recipes.imdb --data-dir ") and "--limit 2000" in imdb["command"]
    assert ett["cheap"] == "linear_mse" and ett["trivial_value"] == 0.5 and ett["target_met"] is True
    table = capsys.readouterr().out
    assert "| imdb-2k | m | accuracy | **0.8300** | 0.5000 (majority) | 0.8580 (tfidf_logistic) | -0.0280 | **no** | yes | 3 | 12 |" in table
    assert "| etth2 | m | mse | **0.3000** | 0.5000 (persistence) | 0.3100 (linear) | -0.0100 | yes | no |" in table
    # a later invocation with other rows keeps these
    assert generalization.main(["--rows", "etth2", *args[2:]]) == 0
    assert [r["row"] for r in json.loads(out.read_text())["rows"]] == ["etth2", "imdb-2k"]


def test_a_missing_data_folder_is_one_line_and_exit_2(tmp_path, capsys):
    code = generalization.main(["--rows", "mini-speech", "--data-root", str(tmp_path), "--runs", str(tmp_path / "r"),
                                "--out", str(tmp_path / "g.json")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "mini_speech_commands not found; pass --data-root" in err
    assert not (tmp_path / "g.json").exists()
