"""`--quiet` runs as a user starts them (a fresh process, no TF_CPP_MIN_LOG_LEVEL set): stderr holds the
recipe's own lines only; no TensorFlow `E0000 ...` notes, no "Your input ran out of data"."""

import os
import subprocess
import sys

import pytest
from test_speech_commands import make_folder

from recipes import _quiet_requested

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _recipe(*argv):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # conftest sets 2; a user's shell has none
    return subprocess.run([sys.executable, "-m", "recipes.speech_commands", *map(str, argv)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_quiet_success_prints_only_the_recipes_own_lines(tmp_path):
    """The speech pipeline met both: a stateful tf.data map rewritten under op determinism (E0000
    node_def_util), and features whose `unbatch` forgot the split size (Keras's ran-out warning)."""
    done = _recipe("--data-dir", make_folder(tmp_path / "words"), "--epochs", "1", "--batch-size", "4",
                   "--model", "gru", "--set", "units=4", "--quiet", "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    foreign = [line for line in done.stderr.splitlines() if not line.startswith("speech_commands: warning: ")]
    assert foreign == [], done.stderr  # e.g. "E0000 ... NodeDef mentions attribute use_unbounded_threadpool"
    assert os.path.isfile(tmp_path / "run" / "metrics.json")


def test_a_quiet_failure_still_prints_its_one_line_error(tmp_path):
    done = _recipe("--data-dir", tmp_path / "missing", "--quiet", "--out", tmp_path / "run")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m recipes.speech_commands: error: "), done.stderr
    assert str(tmp_path / "missing") in lines[0]
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.parametrize("argv, quiet", [
    (["--quiet"], True), (["--epochs", "1", "--qui"], True), (["--quick"], False), (["--q"], False),
    (["--", "--quiet"], False), ([], False),
])
def test_quiet_is_seen_before_tensorflow_is_imported(argv, quiet):
    assert _quiet_requested(argv) is quiet
