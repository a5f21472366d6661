"""Tests of `python -m recipes.history`: probes with known answers, task labels, verdicts, a tiny run."""

from __future__ import annotations

import dataclasses
import json
import os

import keras
import numpy as np
import pytest

from recipes import history
from recipes.history import roles, verdicts
from recipes.history.probes import decay_per_step, far_near_ratio, input_gradient_profile, train_step_time
from recipes.history.tasks import TASKS, adding_problem, delayed_recall, first_token, random_labels


# ----------------------------------------------------------------------------- probes


def _linear_recurrence(w: float, kernel: list[float], seq_len: int) -> keras.Model:
    """h_t = w h_(t-1) + kernel . x_t, output h_T: d h_T / d x_(T-k) = w**k * kernel."""
    cell = keras.layers.SimpleRNN(1, activation=None, use_bias=False)
    model = keras.Sequential([keras.Input((seq_len, len(kernel))), cell])
    cell.set_weights([np.array(kernel, "float32")[:, None], np.full((1, 1), w, "float32")])
    return model


@pytest.mark.parametrize("w", [0.5, 0.9, 1.0])
def test_gradient_profile_of_a_linear_recurrence_decays_as_w_to_the_k(w):
    seq_len = 12
    model = _linear_recurrence(w, [3.0, 4.0], seq_len)  # |kernel| = 5
    x = np.random.default_rng(0).normal(size=(6, seq_len, 2)).astype("float32")
    profile = input_gradient_profile(model, x, np.zeros((6, 1), "float32"), loss=lambda y, p: p,
                                     batch_size=4)  # two batches, the second partial
    np.testing.assert_allclose(profile, 5.0 * w ** np.arange(seq_len), rtol=1e-5)
    assert decay_per_step(profile) == pytest.approx(w, rel=1e-5)


def test_gradient_profile_uses_the_loss_per_example():
    # loss = (h_T - y)^2 / 1 -> dL/dx_(T-k) = 2 (h_T - y) w**k for each example
    seq_len, w = 5, 0.8
    model = _linear_recurrence(w, [1.0], seq_len)
    x = np.zeros((2, seq_len, 1), "float32")
    x[0, -1, 0], x[1, -1, 0] = 1.0, -3.0  # h_T = 1 and -3
    y = np.zeros((2, 1), "float32")
    profile = input_gradient_profile(model, x, y, loss="mse")
    expected = np.mean([2 * 1.0, 2 * 3.0]) * w ** np.arange(seq_len)
    np.testing.assert_allclose(profile, expected, rtol=1e-5)


def test_far_near_ratio_and_decay():
    profile = 0.5 ** np.arange(20)
    assert far_near_ratio(profile, fraction=0.1) == pytest.approx((0.5**18 + 0.5**19) / (1 + 0.5))
    assert far_near_ratio(np.ones(10)) == pytest.approx(1.0)
    assert decay_per_step(np.zeros(8)) == pytest.approx(1.0)  # all below the floor: flat


def test_train_step_time_times_the_requested_steps():
    calls = {}

    def fake_fit(model, data, epochs, callbacks, verbose):
        calls["batches"] = sum(1 for _ in data)
        timer = callbacks[0]
        for i, seconds in enumerate([5.0, 0.3, 0.2, 0.4]):
            timer.on_train_batch_begin(i)
            timer._start -= seconds
            timer.on_train_batch_end(i)

    x, y = np.zeros((2, 3, 1), "float32"), np.zeros((2, 1), "float32")
    seconds = train_step_time(None, x, y, steps=3, warmup=1, fit=fake_fit)
    assert calls["batches"] == 4
    assert seconds == pytest.approx(0.2, abs=0.01)  # the fastest after warm-up


# ----------------------------------------------------------------------------- tasks


def test_adding_problem_target_is_the_sum_of_the_two_marked_values():
    x, y = adding_problem(500, 30, np.random.default_rng(1))
    assert x.shape == (500, 30, 2) and y.shape == (500, 1) and x.dtype == np.float32
    marks = x[..., 1]
    assert set(np.unique(marks)) == {0.0, 1.0}
    assert (marks.sum(axis=1) == 2).all()
    assert (marks[:, :15].sum(axis=1) == 1).all() and (marks[:, 15:].sum(axis=1) == 1).all()
    rows, cols = np.nonzero(marks)
    expected = np.zeros(500)
    np.add.at(expected, rows, x[rows, cols, 0])
    np.testing.assert_allclose(y[:, 0], expected, rtol=1e-6)
    # the trivial baseline (predict 1.0) has MSE ~ Var(U+U) = 1/6
    assert TASKS["adding"].baseline_error(y) == pytest.approx(1 / 6, abs=0.03)


def test_delayed_recall_target_is_the_one_shown_symbol():
    x, y = delayed_recall(400, 25, np.random.default_rng(2), symbols=8)
    assert x.shape == (400, 25, 9) and y.dtype == np.int32
    assert (x.sum(axis=-1) == 1).all()  # one-hot every step
    shown = x[..., :8].sum(axis=-1)
    assert (shown.sum(axis=1) == 1).all()  # exactly one non-blank step
    step = shown.argmax(axis=1)
    np.testing.assert_array_equal(y, x[np.arange(400), step, :8].argmax(-1))
    assert step.min() == 0 and step.max() == 24  # lags span the whole sequence
    assert set(np.unique(y)) == set(range(8))


def test_first_token_label_is_the_first_symbol():
    x, y = first_token(300, 10, np.random.default_rng(3), symbols=4)
    assert x.shape == (300, 10, 4)
    np.testing.assert_array_equal(y, x[:, 0].argmax(-1))
    # the rest of the sequence is noise: the last symbol agrees with the label only by chance
    assert np.mean(x[:, -1].argmax(-1) == y) < 0.4


def test_random_labels_are_reproducible_and_independent_of_the_inputs():
    x1, y1 = random_labels(2000, 5, np.random.default_rng(4))
    x2, y2 = random_labels(2000, 5, np.random.default_rng(4))
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(x1, x2)
    assert set(np.unique(y1)) == {0, 1, 2, 3}
    assert abs(np.corrcoef(x1[:, 0, 0], y1)[0, 1]) < 0.1


def test_skill_is_zero_at_the_baseline_and_one_when_perfect():
    adding, recall = TASKS["adding"], TASKS["recall"]
    _, y = adding_problem(256, 10, np.random.default_rng(5))
    assert adding.skill(y, np.ones_like(y))["skill"] == pytest.approx(0.0)
    assert adding.skill(y, y)["skill"] == pytest.approx(1.0)
    labels = np.arange(8).repeat(4)
    assert recall.skill(labels, np.eye(8)[labels])["skill"] == pytest.approx(1.0)
    assert recall.skill(labels, np.eye(8)[(labels + 1) % 8])["skill"] == pytest.approx(-1 / 7)


def test_too_short_sequences_are_refused():
    with pytest.raises(ValueError, match="seq_len >= 2"):
        adding_problem(3, 1, np.random.default_rng(0))


# ----------------------------------------------------------------------------- verdicts


def _rec(model, task, length, skill):
    return {"model": model, "task": task, "seq_len": length, "skill": skill,
            "solved": skill >= history.THRESHOLDS["success_skill"], "params": 1, "step_seconds": 1.0}


def test_long_range_verdict_follows_the_numbers():
    lengths = (10, 50, 100)
    good = {"rnn": (0.99, 0.1, 0.0), "lstm": (0.99, 0.97, 0.9), "gru": (0.99, 0.95, 0.85)}
    records = [_rec(m, t, L, s) for m, skills in good.items() for t in ("adding", "recall")
               for L, s in zip(lengths, skills)]
    result = history.verdict_long_range(records, ("adding", "recall"))
    assert result["verdict"] == history.CONFIRMED
    assert result["longest_solved"]["adding"] == {"gru": 100, "lstm": 100, "rnn": 10}
    # the simple RNN keeps up on recall: only half the checks hold
    records = [r if not (r["model"] == "rnn" and r["task"] == "recall") else _rec("rnn", "recall", r["seq_len"], 0.99)
               for r in records]
    assert history.verdict_long_range(records, ("adding", "recall"))["verdict"] == history.MIXED
    nothing = [_rec(m, t, L, 0.0) for m in good for t in ("adding", "recall") for L in lengths]
    assert history.verdict_long_range(nothing, ("adding", "recall"))["verdict"] == history.NOT_CONFIRMED
    only_lstm = [r for r in records if r["model"] == "lstm"]
    assert history.verdict_long_range(only_lstm, ("adding",))["verdict"] == history.NOT_MEASURED


def test_gradient_verdict_follows_the_numbers():
    k = np.arange(50)
    probes = {"rnn": {"gradient_init": 0.7**k, "gradient_trained": 0.8**k},
              "lstm": {"gradient_init": 0.7**k, "gradient_trained": np.ones(50)},
              "gru": {"gradient_init": 0.5**k, "gradient_trained": 0.99**k}}
    assert history.verdict_gradient(probes)["verdict"] == history.CONFIRMED
    probes["gru"]["gradient_trained"] = 0.9**k  # keeps less than 1e-1, still 10x the RNN
    assert history.verdict_gradient(probes)["verdict"] == history.MIXED
    same = {m: {"gradient_init": 0.8**k, "gradient_trained": 0.8**k} for m in ("rnn", "lstm")}
    assert history.verdict_gradient(same)["verdict"] == history.NOT_CONFIRMED


def test_gru_verdict_follows_the_numbers():
    recs = [dict(_rec("lstm", "adding", 10, 0.9), params=100, step_seconds=2.0),
            dict(_rec("gru", "adding", 10, 0.88), params=75, step_seconds=1.5)]
    result = history.verdict_gated_cost(recs)
    assert result["verdict"] == history.CONFIRMED and result["time_ratio"] == pytest.approx(0.75)
    recs[1]["step_seconds"] = 2.5
    assert history.verdict_gated_cost(recs)["verdict"] == history.MIXED
    recs[1]["skill"] = 0.5
    assert history.verdict_gated_cost(recs)["verdict"] == history.NOT_CONFIRMED


def test_parallel_verdict_follows_the_numbers():
    lengths = [64, 128, 256, 512, 1024]
    families = {"lstm": "recurrent", "transformer": "attention"}
    linear = {L: 1e-4 * L + 2e-3 for L in lengths}
    flat = {L: 0.01 + 1e-7 * L for L in lengths}
    quadratic = {L: 1e-8 * L * L + 1e-3 for L in lengths}
    result = history.verdict_parallel({"lstm": linear, "transformer": flat}, families)
    assert result["verdict"] == history.CONFIRMED and result["long_end_from"] == 256
    assert history.verdict_parallel({"lstm": linear, "transformer": quadratic}, families)["verdict"] == history.MIXED
    assert history.verdict_parallel({"lstm": flat, "transformer": flat}, families)["verdict"] == history.NOT_CONFIRMED
    assert history.verdict_parallel({"lstm": linear}, {"lstm": "recurrent"})["verdict"] == history.NOT_MEASURED
    assert history.scaling_exponent({64: 1.0, 128: 2.0, 256: 4.0}) == pytest.approx(1.0)


def test_parallel_scan_verdict_follows_the_numbers():
    def record(model, task, length, solved):
        return {"model": model, "task": task, "seq_len": length, "solved": solved, "skill": float(solved)}
    records = [record(m, t, L, L <= limit) for m, limit in (("mingru", 50), ("lstm", 50), ("gru", 25))
               for t in ("adding", "recall") for L in (10, 25, 50)]
    linear = {"mingru": {256: 0.01, 1024: 0.04, 4096: 0.16}, "lstm": {256: 0.1, 1024: 0.4, 4096: 1.6},
              "gru": {256: 0.1, 1024: 0.4, 4096: 1.6}}
    claim = verdicts.verdict_parallel_scan(records, linear)
    assert claim["verdict"] == verdicts.CONFIRMED and round(claim["speedup"]["mingru"], 6) == 10.0
    assert claim["longest_solved"]["adding"] == {"mingru": 50, "lstm": 50, "gru": 25}
    slow = {**linear, "mingru": {256: 0.2, 1024: 1.6, 4096: 12.8}}  # b = 1.5 and slower than the gated cells
    claim = verdicts.verdict_parallel_scan(records, slow)
    assert claim["verdict"] == verdicts.MIXED and "mingru linear" in claim["reason"]
    forgetful = [r if r["model"] != "mingru" else {**r, "solved": r["seq_len"] <= 10} for r in records]
    assert "mingru solves adding" in verdicts.verdict_parallel_scan(forgetful, linear)["reason"]
    classic = [r for r in records if r["model"] != "mingru"]
    assert verdicts.verdict_parallel_scan(classic, {"lstm": linear["lstm"]})["verdict"] == verdicts.NOT_MEASURED


def test_tiny_run_of_the_parallel_scan_claim(tmp_path):
    out = str(tmp_path / "scan")
    results = history.run(history.TINY, out, models=["lstm", "gru", "mingru"], claims=[7], seed=1)
    assert set(results["claims"]) == {"7"}
    assert results["claims"]["7"]["verdict"] in history.VERDICTS
    assert set(results["raw"]["scan_step_time"]) == {"mingru", "lstm", "gru"}
    assert {r["model"] for r in results["raw"]["long_range"]} == {"mingru", "lstm", "gru"}
    assert "scan_step_time.png" in os.listdir(out)
    assert "## 7. Linear recurrences trained with a parallel scan" in open(os.path.join(out, "report.md")).read()


def test_parallel_scans_are_not_counted_among_the_gated_cells_of_claims_1_to_3():
    assert roles.long_range_subjects(["rnn", "lstm", "gru", "mingru", "mamba"]) == ("rnn", "lstm", "gru")
    assert roles.parallel_scan(["lstm", "mingru", "mamba"]) == ("mingru", "mamba")
    assert roles.gated_pair(["lstm", "gru", "mingru"]) == ("lstm", "gru")
    assert roles.before_scans(["rnn", "mingru", "transformer"]) == ("rnn", "transformer")  # claim 5's models


def test_bidirectional_and_depth_verdicts_follow_the_numbers():
    pair = {"forward": _rec("lstm", "first_token", 50, 0.1), "bidirectional": _rec("bilstm", "first_token", 50, 1.0)}
    assert history.verdict_bidirectional([pair])["verdict"] == history.CONFIRMED
    both = {"forward": _rec("gru", "first_token", 50, 0.9), "bidirectional": _rec("bigru", "first_token", 50, 1.0)}
    assert history.verdict_bidirectional([both])["verdict"] == history.NOT_CONFIRMED
    assert history.verdict_bidirectional([pair, both])["verdict"] == history.MIXED
    depth = lambda *skills: {"deep_lstm": {d + 1: {"skill": s} for d, s in enumerate(skills)}}  # noqa: E731
    assert history.verdict_depth(depth(0.5, 0.7, 0.9))["verdict"] == history.CONFIRMED
    assert history.verdict_depth(depth(0.5, 0.8, 0.6))["verdict"] == history.MIXED
    assert history.verdict_depth(depth(0.5, 0.52, 0.55))["verdict"] == history.NOT_CONFIRMED


# ----------------------------------------------------------------------------- roles


def test_roles_come_from_registry_metadata():
    models = ["rnn", "lstm", "gru", "bilstm", "transformer", "deep_lstm", "birnn", "deep_bilstm", "cnn_lstm"]
    assert roles.long_range_subjects(models) == ("rnn", "lstm", "gru")
    assert roles.simple(models) == ("rnn",) and roles.gated(models) == ("lstm", "gru")
    assert roles.gated_pair(models) == ("lstm", "gru")  # by registry year: 1997 vs 2014
    assert roles.bidirectional_pairs(models) == (("lstm", "bilstm"), ("rnn", "birnn"), ("deep_lstm", "deep_bilstm"))
    assert roles.stacked(models) == ("deep_lstm", "deep_bilstm")
    assert roles.gated_pair(["lstm"]) is None


def test_a_plugin_model_takes_the_roles_its_metadata_declares():
    import seqzoo
    from seqzoo import registry
    from seqzoo.models._recurrent import recurrent_params, recurrent_stack

    def cell(x, **kw):
        return recurrent_stack(x, cell="gru", **kw)

    seqzoo.register("mgu_demo", year=2016, authors="-", paper="-", family="recurrent", solved="-",
                    params=recurrent_params(units=8), tags=("gated", "causal"))(cell)
    seqzoo.register("bimgu_demo", year=2016, authors="-", paper="-", family="recurrent", solved="-",
                    params=recurrent_params(units=8), tags=("gated", "bidirectional"), variant_of="mgu_demo")(cell)
    try:
        models = ["gru", "lstm", "mgu_demo", "bimgu_demo"]
        assert roles.gated(models) == ("gru", "lstm", "mgu_demo")
        assert roles.gated_pair(models) == ("lstm", "mgu_demo")  # the newest against the oldest
        assert roles.bidirectional_pairs(models) == (("mgu_demo", "bimgu_demo"),)
        records = [dict(_rec(m, "adding", 10, 0.9), params=p, step_seconds=t)
                   for m, p, t in (("lstm", 100, 2.0), ("mgu_demo", 50, 1.0))]
        result = history.verdict_gated_cost(records)
        assert result["verdict"] == history.CONFIRMED and result["pair"] == ["lstm", "mgu_demo"]
        assert "mgu_demo/lstm" in result["reason"]
    finally:
        registry.unregister("mgu_demo")
        registry.unregister("bimgu_demo")


def test_a_new_claim_is_one_table_entry(tmp_path, monkeypatch, capsys):
    """A claim added to CLAIMS is run, judged, reported and accepted by --claims."""
    from recipes.history import claims as claims_module
    from recipes.history import cli

    def verdict(timings, config):
        return {"verdict": history.CONFIRMED, "reason": f"{len(timings)} model timed", "models": sorted(timings)}

    claim = history.Claim(99, "A test claim", "step_time", verdict, lambda c, raw, config: ["It was timed."],
                          "every selected model")
    monkeypatch.setitem(claims_module.CLAIMS, 99, claim)
    results = history.run(history.TINY, str(tmp_path / "run"), models=["rnn"], claims=[99])
    assert results["claims"]["99"] == {"verdict": "confirmed", "reason": "1 model timed", "models": ["rnn"],
                                       "title": "A test claim"}
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## 99. A test claim" in report and "It was timed." in report
    assert results["plots"] == ["step_time.png"]  # the experiment's figure
    args = cli.build_parser().parse_args(["--claims", "99", "--out", str(tmp_path / "new")])
    assert cli.check_args(args).claims == (99,)
    assert "99. A test claim" in cli.build_parser().format_help()


# ----------------------------------------------------------------------------- end to end


def test_tiny_run_writes_report_results_and_plots(tmp_path):
    out = str(tmp_path / "run")
    results = history.run(history.TINY, out, models=["rnn", "lstm", "transformer"], seed=3)
    assert sorted(os.listdir(out)) == ["gradient_flow.png", "report.md", "results.json", "step_time.png",
                                       "success_vs_length.png"]
    saved = json.load(open(os.path.join(out, "results.json")))
    assert saved["claims"].keys() == {"1", "2", "3", "4", "5", "6", "7"}
    for claim in saved["claims"].values():
        assert claim["verdict"] in history.VERDICTS
    # claims whose models were not selected say so instead of guessing
    assert saved["claims"]["3"]["verdict"] == history.NOT_MEASURED  # no gru
    assert saved["claims"]["4"]["verdict"] == history.NOT_MEASURED  # no bidirectional model
    assert saved["claims"]["6"]["verdict"] == history.NOT_MEASURED  # no stacked RNN
    probe = next(r for r in saved["raw"]["long_range"] if "gradient_init" in r)
    assert len(probe["gradient_init"]) == history.TINY.probe_len
    assert set(saved["raw"]["step_time"]) == {"rnn", "lstm", "transformer"}
    report = open(os.path.join(out, "report.md")).read()
    for key, claim in results["claims"].items():
        assert f"## {key}. {claim['title']}" in report
        assert f"**Verdict: {claim['verdict']}.**" in report
    assert "Thresholds:" in report and "far/near" in report


def test_tiny_run_of_the_bidirectional_and_depth_claims(tmp_path):
    out = str(tmp_path / "run")
    config = dataclasses.replace(history.TINY, depths=(1, 2))
    results = history.run(config, out, models=["bilstm", "deep_rnn"], claims=[4, 6], seed=0)
    assert set(results["claims"]) == {"4", "6"}
    pair = results["raw"]["bidirectional"][0]
    assert (pair["forward"]["model"], pair["bidirectional"]["model"]) == ("lstm", "bilstm")
    assert pair["forward"]["overrides"]["pool"] == pair["bidirectional"]["overrides"]["pool"] == "last"
    by_depth = results["raw"]["depth"]["deep_rnn"]
    assert by_depth["1"]["params"] < by_depth["2"]["params"]
    assert sorted(os.listdir(out)) == ["depth.png", "report.md", "results.json"]


# ----------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--models", "lstm,nosuch"], "unknown model 'nosuch'"),
        (["--claims", "2,99"], "not a claim number"),
        (["--seed", "-1"], "--seed -1 must be >= 0"),
        (["--bogus"], "unrecognized arguments"),
        (["--models", ","], "--models is empty"),
    ],
)
def test_bad_flags_exit_2_with_one_line(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        history.main(argv + ["--out", str(tmp_path / "never")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "never").exists()


def test_a_non_empty_out_folder_is_refused_and_left_alone(capsys, tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(SystemExit) as exit_info:
        history.main(["--quick", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "not empty" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["mine.txt"] and (tmp_path / "mine.txt").read_text() == "keep me"
