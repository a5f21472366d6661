"""The zoo on JAX and PyTorch, and `.keras` files across backends.

Keras fixes its backend once per process (`KERAS_BACKEND`, read at import), and
this pytest process runs TensorFlow. So each backend gets ONE subprocess running
`tests/backend_harness.py` over `seqzoo.list_models()` (models registered later
are covered without editing this file) with TensorFlow made unimportable:
build, `fit`, predict, `.keras` round trip, mixed right padding; the same process
loads the models this process saved under TensorFlow and saves its own, which
this process loads back (predictions equal within `TOLERANCE` both ways).

A backend that is not installed is skipped (`pip install -e ".[test]"` installs
CPU JAX and PyTorch).

The whole registry on both backends costs about 15 CPU-minutes, more than the
suite's budget on 2 cores: by default the harness runs one model of each kind of
layer code (`SUBSET`: the recurrent cells, learned positions, self-attention,
the real and the complex parallel scan, and the convolution front end) on JAX and PyTorch;
`SEQZOO_BACKENDS_FULL=1 python -m pytest tests/test_backends.py` runs every
registered model (do that before a release and whenever a layer changes).
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import seqzoo
from backend_harness import CI_FULL, TOLERANCE, check_saved, save_for_other_backends

ROOT = pathlib.Path(__file__).resolve().parents[1]
HARNESS = ROOT / "tests" / "backend_harness.py"
BACKENDS = ["jax", "torch"]
SUBSET = ["gru", "bert", "mingru", "lru", "cnn_lstm"]
FULL = os.environ.get("SEQZOO_BACKENDS_FULL") == "1"
MODELS = seqzoo.list_models() if FULL else [m for m in SUBSET if m in seqzoo.list_models()]


def _run(args, backend, timeout=1800):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), str(ROOT)]))
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="session")
def saved_under_tensorflow(tmp_path_factory):
    directory = tmp_path_factory.mktemp("saved-tensorflow")
    save_for_other_backends(seqzoo, MODELS, str(directory))
    return directory


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_model_trains_predicts_and_round_trips_without_tensorflow(backend, saved_under_tensorflow, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -e '.[test]')")
    saved_here = tmp_path / f"saved-{backend}"
    saved_here.mkdir()
    report_path = tmp_path / "report.json"
    result = _run(
        [str(HARNESS), "--block-tensorflow", "--combos", "ci", "--check-dir", str(saved_under_tensorflow),
         "--save-dir", str(saved_here), "--out", str(report_path), "--models", *MODELS],
        backend,
    )
    assert report_path.exists(), result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["backend"] == backend
    assert report["failures"] == {}, json.dumps(report["failures"], indent=1)
    assert result.returncode == 0, result.stderr[-3000:]
    assert report["models"] == MODELS  # nothing skipped
    assert report["combos"] == [f"{kind}/{head}" for kind, head in CI_FULL]
    assert not report["tensorflow_imported"]
    # Saved under TensorFlow, loaded there; and saved there, loaded here under TensorFlow.
    assert sorted(report["cross_backend_gaps"]) == sorted(MODELS)
    gaps = check_saved(seqzoo, str(saved_here))
    assert sorted(gaps) == sorted(MODELS)
    bad = {name: gap for name, gap in gaps.items() if not isinstance(gap, float) or gap > TOLERANCE}
    assert not bad, bad


def test_import_seqzoo_and_the_cli_work_with_tensorflow_unimportable():
    pytest.importorskip("jax")
    code = textwrap.dedent("""
        import sys
        import backend_harness
        backend_harness.block_tensorflow()
        import numpy as np
        import seqzoo
        from seqzoo import cli
        model = seqzoo.build("gpt", vocab_size=50, embed_dim=8, width=16, heads=2, ff_dim=16, depth=1)
        print(tuple(model.predict(np.array([[3, 4, 5, 0]]), verbose=0).shape))
        assert cli.main(["info", "gru"]) == 0
        assert cli.main(["list", "zzz*"]) == 2
        try:
            import tensorflow
        except ImportError as error:
            print("no tensorflow:", error)
        assert sys.modules.get("tensorflow") is None
    """)
    result = _run(["-c", code], "jax", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "(1, 1)"
    assert any(line.startswith("gru (2014, recurrent)") for line in lines)
    assert "no model matches 'zzz*'" in result.stderr
    assert lines[-1].startswith("no tensorflow:")  # ModuleNotFoundError: "halted; None in sys.modules"


def test_gpu_benchmark_quick_mode_runs_on_cpu_jax_and_reports_the_kernels(tmp_path):
    pytest.importorskip("jax")
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nearlier text\n")
    out = tmp_path / "gpu.json"
    args = [str(ROOT / "benchmarks" / "gpu.py"), "--quick", "--models", "lstm,gru", "--lengths", "8",
            "--out", str(out), "--results", str(results)]
    for _ in range(2):  # the second run replaces the section, never appends a copy
        result = _run(args, "jax", timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["device"]["backend"] == "jax" and not report["device"]["tensorflow_imported"]
    assert [(r["model"], "ms_per_step" in r) for r in report["zoo"]] == [("lstm", True), ("gru", True)]
    assert [(r["model"], r["length"]) for r in report["lengths"]] == [("lstm", 8), ("gru", 8)]
    kernels = {(r["model"], r["inputs"]): r["kernels"] for r in report["kernels"]}
    # Keras' JAX backend declines its fused kernels for masked (token) input ...
    assert kernels[("gru", "tokens")]["fused"] == 0 and kernels[("gru", "tokens")]["generic"] > 0
    # ... and runs its fused GRU scan for unmasked frames (cuDNN needs a GPU: none here).
    assert kernels[("gru", "frames")]["fused"] > 0 and kernels[("gru", "frames")]["cudnn_calls"] == 0
    text = results.read_text()
    assert text.startswith("# Results\n\nearlier text\n")
    assert text.count("<!-- gpu.py:begin -->") == 1 and text.count("<!-- gpu.py:end -->") == 1
    assert "| lstm | frames | Keras step loop (no cuDNN) |" in text
    assert np.isfinite([r["ms_per_step"] for r in report["lengths"]]).all()


def test_imdb_text_pipeline_gives_the_same_ids_on_jax_as_on_tensorflow():
    # recipes.imdb feeds fit from tf.data on any backend; its TextVectorization
    # must not rely on TensorFlow-only options (ragged output, a tf.strings
    # standardize callable), which failed under KERAS_BACKEND=jax.
    pytest.importorskip("jax")
    code = textwrap.dedent("""
        import json, numpy as np
        from recipes.data import text
        texts = np.array(["Great<br />film, GREAT film!", "a b c d e f", "!!!", "bad plot: bad"], dtype=object)
        vectorizer = text.fit_vectorizer(texts, max_tokens=50, ngrams=2)
        examples, lengths = text.vectorize(texts, np.array([1, 0, 1, 0]), vectorizer, seq_len=5)
        print(json.dumps([vectorizer.get_vocabulary(), [x.tolist() for x, _ in examples.as_numpy_iterator()],
                          lengths.tolist()]))
    """)
    results = {}
    for backend in ("tensorflow", "jax"):
        result = _run(["-c", code], backend, timeout=300)
        assert result.returncode == 0, (backend, result.stderr[-3000:])
        results[backend] = json.loads(result.stdout.strip().splitlines()[-1])
    vocabulary, ids, lengths = results["tensorflow"]
    assert results["jax"] == results["tensorflow"]
    # standardised ("<br />", case, punctuation), words then bigrams, the last 5 ids kept
    assert [vocabulary[i] for i in ids[0]] == ["great", "film", "great film", "film great", "great film"]
    assert ids[2] == [1] and lengths[2] == 1  # no token: one OOV id
