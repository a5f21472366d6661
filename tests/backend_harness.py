"""The zoo harness for one Keras backend: every registered model, every input kind x head.

Run it in a process whose backend is fixed by `KERAS_BACKEND` (Keras reads it
once, at import):

    KERAS_BACKEND=jax python tests/backend_harness.py --block-tensorflow
    KERAS_BACKEND=torch python tests/backend_harness.py --block-tensorflow --models 'gru' 'bert'

For each model of `seqzoo.list_models()` (so models registered later are
covered without editing this file) and each combination in `COMBOS`, it builds
the model, trains it for two steps with `fit`, predicts, saves it as `.keras`
and loads it back (`seqzoo.load_model`, safe mode) with the same predictions;
on token inputs it also checks that right padding (lengths mixed within the
batch) does not change the prediction. `--block-tensorflow` makes TensorFlow
unimportable first, so a pass shows the zoo needs only Keras and the backend.
`--combos ci` (what the test suite runs) does all that for `CI_FULL` only and
just builds the other combinations.

`--save-dir` writes one `.keras` model per registered model with its inputs and
predictions; `--check-dir` loads such a directory (written under another
backend) and compares the predictions (cross-backend round trip).

It prints one JSON report (`--out` writes it to a file too); the exit status is
1 if any check failed. `tests/test_backends.py` runs it once per backend.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback

import numpy as np

BATCH, TIME = 4, 12
# Tolerance of a prediction after a save/load round trip, same or another backend.
TOLERANCE = 1e-4

INPUTS = {
    "tokens": dict(inputs="tokens", vocab_size=50, embed_dim=16),
    "frames": dict(inputs="frames", features=6),
    "series": dict(inputs="series", seq_len=TIME, features=3),
}
HEADS = {
    "binary": (dict(head="classification", num_classes=2), (BATCH, 1)),
    "multiclass": (dict(head="classification", num_classes=5), (BATCH, 5)),
    "forecast": (dict(head="forecast", horizon=4, targets=2), (BATCH, 4, 2)),
    "forecast_1": (dict(head="forecast", horizon=3), (BATCH, 3, 1)),
}
# Every input kind with every head kind (binary / multi-class / forecast), 7 builds per model.
COMBOS = [
    ("tokens", "binary"), ("tokens", "multiclass"), ("tokens", "forecast_1"),
    ("frames", "multiclass"), ("frames", "forecast"),
    ("series", "binary"), ("series", "forecast"),
]
# The CI subset (`--combos ci`): these get every check; the other combos are
# built (symbolic shapes) but not trained, to keep one backend's run short.
CI_FULL = [("tokens", "binary"), ("series", "forecast")]


def sample(kind, batch=BATCH, time=TIME, seed=0):
    """Inputs of one kind; token rows are right-padded to mixed lengths (time // 2 ... time)."""
    rng = np.random.default_rng(seed)
    if kind == "tokens":
        ids = rng.integers(1, INPUTS["tokens"]["vocab_size"], size=(batch, time))
        for row, length in enumerate(rng.integers(time // 2, time + 1, size=batch)):
            ids[row, length:] = 0  # right padding
        return ids.astype("int32")
    features = INPUTS[kind]["features"]
    return rng.normal(size=(batch, time, features)).astype("float32")


def targets(head, batch=BATCH, seed=1):
    """Training targets that match a head's output."""
    rng = np.random.default_rng(seed)
    kwargs, shape = HEADS[head]
    if kwargs["head"] == "forecast":
        return rng.normal(size=(batch,) + shape[1:]).astype("float32")
    return rng.integers(0, kwargs["num_classes"], size=(batch,)).astype("float32")


def block_tensorflow():
    """Call before importing keras or seqzoo: from then on this process has no TensorFlow.

    `sys.modules["tensorflow"] = None` makes `import tensorflow` raise
    `ModuleNotFoundError` and `importlib.util.find_spec("tensorflow")` return None,
    as when it is not installed (PyTorch probes optional modules with `find_spec`).
    """
    if tensorflow_imported():
        raise RuntimeError("TensorFlow is already imported; block it before importing keras")
    sys.modules["tensorflow"] = None


def tensorflow_imported():
    return sys.modules.get("tensorflow") is not None


def _check_build(seqzoo, name, kind, head):
    head_kwargs, shape = HEADS[head]
    model = seqzoo.build(name, **INPUTS[kind], **head_kwargs)
    assert tuple(model.output_shape) == (None,) + shape[1:], f"output_shape {model.output_shape}"
    return model


def _check_combo(seqzoo, name, kind, head, workdir):
    from seqzoo.heads import loss_and_metrics

    head_kwargs, shape = HEADS[head]
    model = _check_build(seqzoo, name, kind, head)
    x, y = sample(kind, batch=2 * BATCH), targets(head, batch=2 * BATCH)
    loss, metrics = loss_and_metrics(head_kwargs["head"], head_kwargs.get("num_classes", 2))
    model.compile(optimizer="adam", loss=loss, metrics=metrics)
    history = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all(), f"loss {history.history['loss']}"
    x = sample(kind)
    predicted = model.predict(x, verbose=0)
    assert predicted.shape == shape, f"predict gave {predicted.shape}, expected {shape}"
    assert np.isfinite(predicted).all(), "non-finite prediction"
    path = os.path.join(workdir, f"{name}-{kind}-{head}.keras")
    model.save(path)
    loaded = seqzoo.load_model(path)
    reloaded = loaded.predict(x, verbose=0)
    gap = float(np.max(np.abs(reloaded - predicted)))
    assert gap <= TOLERANCE, f"loaded model differs by {gap:.2e}"
    if kind == "tokens":
        _check_padding(model)


def padding_gaps(model, lengths=(3, 9, 6, 12), time=TIME + 4, side="right", seed=5):
    """Rows of mixed `lengths` padded to `time` in ONE batch, on `side`: per row, the
    largest gap between its batched prediction and its prediction alone, unpadded."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), time), "int32")
    rows = [rng.integers(1, INPUTS["tokens"]["vocab_size"], size=n).astype("int32") for n in lengths]
    for row, tokens in enumerate(rows):
        if side == "right":
            ids[row, : len(tokens)] = tokens
        else:
            ids[row, time - len(tokens) :] = tokens
    from keras import ops  # to NumPy on every backend (a torch output carries autograd state)

    batched = ops.convert_to_numpy(model(ids, training=False))
    return [
        float(np.max(np.abs(ops.convert_to_numpy(model(tokens[None], training=False)) - batched[row : row + 1])))
        for row, tokens in enumerate(rows)
    ]


def _check_padding(model):
    gaps = padding_gaps(model)
    assert max(gaps) <= TOLERANCE, f"right padding changed rows by {gaps}"


CROSS_COMBO = ("tokens", "multiclass")


def save_for_other_backends(seqzoo, names, directory):
    """One `.keras` per model (tokens -> 5 classes), its inputs and its predictions."""
    kind, head = CROSS_COMBO
    x = sample(kind, seed=7)
    np.save(os.path.join(directory, "inputs.npy"), x)
    for name in names:
        model = seqzoo.build(name, **INPUTS[kind], **HEADS[head][0])
        model.save(os.path.join(directory, f"{name}.keras"))
        np.save(os.path.join(directory, f"{name}.npy"), model.predict(x, verbose=0))


def check_saved(seqzoo, directory):
    """Load every model of a `save_for_other_backends` directory; the gap to its saved predictions."""
    x = np.load(os.path.join(directory, "inputs.npy"))
    gaps = {}
    for file in sorted(os.listdir(directory)):
        if not file.endswith(".keras"):
            continue
        name = file[: -len(".keras")]
        try:
            predicted = seqzoo.load_model(os.path.join(directory, file)).predict(x, verbose=0)
            gaps[name] = float(np.max(np.abs(predicted - np.load(os.path.join(directory, f"{name}.npy")))))
        except Exception as error:  # noqa: BLE001  (reported per model)
            gaps[name] = _failure(error)
    return gaps


def _failure(error):
    last = traceback.extract_tb(error.__traceback__)[-1]
    return f"{type(error).__name__}: {str(error)[:400]} ({os.path.basename(last.filename)}:{last.lineno})"


def run(models=None, combos=COMBOS, save_dir=None, check_dir=None):
    """Run the checks in this process; returns the JSON-able report.

    `combos` get every check; with fewer than `COMBOS`, the others are only built.
    """
    import keras

    import seqzoo

    start = time.perf_counter()
    names = seqzoo.list_models() if not models else [n for m in models for n in seqzoo.list_models(m)]
    report = {
        "backend": keras.backend.backend(),
        "tensorflow_imported": tensorflow_imported(),
        "models": names,
        "combos": [f"{kind}/{head}" for kind, head in combos],  # fully checked; the rest of COMBOS built
        "failures": {},
        "seconds": {},
    }
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            began = time.perf_counter()
            for kind, head in COMBOS:
                try:
                    if (kind, head) in combos:
                        _check_combo(seqzoo, name, kind, head, workdir)
                    else:
                        _check_build(seqzoo, name, kind, head)
                except Exception as error:  # noqa: BLE001  (reported per model and combo)
                    report["failures"][f"{name} {kind}/{head}"] = _failure(error)
                keras.backend.clear_session()
            report["seconds"][name] = round(time.perf_counter() - began, 2)
            print(f"{name}: {report['seconds'][name]} s", file=sys.stderr, flush=True)
    if save_dir:
        save_for_other_backends(seqzoo, names, save_dir)
    if check_dir:
        gaps = check_saved(seqzoo, check_dir)
        report["cross_backend_gaps"] = gaps
        for name, gap in gaps.items():
            if not isinstance(gap, float) or gap > TOLERANCE:
                report["failures"][f"{name} loaded from {check_dir}"] = gap
    report["tensorflow_imported"] = tensorflow_imported()
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="fnmatch patterns (default: every registered model)")
    parser.add_argument("--combos", choices=["all", "ci"], default="all",
                        help="all: every check on every combo; ci: every check on CI_FULL, the rest built only")
    parser.add_argument("--block-tensorflow", action="store_true", help="make TensorFlow unimportable first")
    parser.add_argument("--save-dir", help="write one .keras per model + inputs/predictions here")
    parser.add_argument("--check-dir", help="load the models of a --save-dir written under another backend")
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args(argv)
    if args.block_tensorflow:
        block_tensorflow()
    combos = COMBOS if args.combos == "all" else CI_FULL
    report = run(args.models, combos, save_dir=args.save_dir, check_dir=args.check_dir)
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
