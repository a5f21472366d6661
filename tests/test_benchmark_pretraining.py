"""benchmarks/pretraining.py: each fine-tuning run starts from its own pre-training run and fits its positions."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
_spec = importlib.util.spec_from_file_location("pretraining", os.path.join(ROOT, "benchmarks", "pretraining.py"))
pretraining = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pretraining)


def _flag(argv, name, default=None):
    return argv[argv.index(name) + 1] if name in argv else default


@pytest.mark.parametrize("model", sorted(pretraining.PLAN))
def test_fine_tuning_reads_its_own_pretraining_run(model, tmp_path):
    runs = pretraining.planned([model], [42, 1], quick=False, runs_dir=str(tmp_path))
    (pre_label, pre_module, pre_argv), *fine = runs
    assert pre_module == "recipes.pretrain" and _flag(pre_argv, "--model") == model
    assert [label for label, _, _ in fine] == [f"imdb-{model}-init", f"imdb-{model}-init-seed1"]
    for _, module, argv in fine:
        assert module == "recipes.imdb" and _flag(argv, "--model") == model
        assert _flag(argv, "--init") == os.path.join(str(tmp_path), pre_label)
        # --init refuses reviews longer than the learned positions: the fine-tuning length is the pre-training one
        if model in ("bert", "gpt"):
            assert _flag(argv, "--seq-len") == _flag(pre_argv, "--seq-len") is not None


def test_scratch_rows_repeat_the_fine_tuning_flags_without_init(tmp_path):
    runs = {label: argv for label, _, argv in pretraining.planned(["lstm", "gpt"], [42, 1], quick=False,
                                                                 runs_dir=str(tmp_path), scratch=True)}
    assert [label for label in runs if "scratch" in label] == ["imdb-gpt-scratch", "imdb-gpt-scratch-seed1"]
    for seed_label in ("", "-seed1"):
        init, scratch = runs[f"imdb-gpt-init{seed_label}"], runs[f"imdb-gpt-scratch{seed_label}"]
        assert "--init" not in scratch and _flag(scratch, "--seq-len") == "512"
        assert [v for i, v in enumerate(init) if "--init" not in init[max(i - 1, 0):i + 1]] == scratch


def test_quick_runs_get_their_own_labels(tmp_path):
    labels = [label for label, _, _ in pretraining.planned(["lstm"], [42], quick=True, runs_dir=str(tmp_path))]
    assert labels == ["pretrain-lstm-quick", "imdb-lstm-init-quick"]


def test_unknown_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        pretraining.main(["--models", "hopfield"])
    assert exit_info.value.code == 2
    assert "no plan for hopfield" in capsys.readouterr().err
