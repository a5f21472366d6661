"""Choose a LiteRT quantisation scheme by measured agreement: the first that keeps the decisions.

Full-integer int8 is the smallest and fastest file, but int8 rounding carried in a
recurrent state over ~100 steps can change a classifier's decisions (LSTM gate
pre-activations spanning +-23 get a quantisation step of ~0.18). `select_quantization`
writes the schemes in order (by default int8, then 16x8: int16 activations, then
weight-only int8), measures each file's agreement with the float model on data the caller
chooses (not the test split), and keeps the first that reaches the target, or the best one.

Example:

>>> import numpy as np, os, tempfile, seqzoo
>>> from seqzoo.export import predict_litert, select_quantization, to_litert
>>> model = seqzoo.build("gru", inputs="frames", seq_len=4, features=8, num_classes=3, units=16)
>>> x = np.random.default_rng(0).standard_normal((32, 4, 8)).astype("float32")
>>> keras_top1 = model.predict(x, verbose=0).argmax(-1)
>>> choice = select_quantization(
...     lambda scheme, path: to_litert(model, path, scheme=scheme, representative_data=[x]),
...     os.path.join(tempfile.mkdtemp(), "gru_int8.tflite"),
...     lambda path: float(np.mean(predict_litert(path, x).argmax(-1) == keras_top1)),
...     target=1.01)                        # unreachable: every scheme is tried, the best is kept
>>> list(choice.agreement), choice.met
(['int8', 'int16x8', 'weights_int8'], False)
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any, Callable, Sequence

from seqzoo.export.litert import SCHEMES, LiteRTExportError

FALLBACK = ("int8", "int16x8", "weights_int8")  # smallest and fastest first


@dataclasses.dataclass
class QuantizationChoice:
    """The file `select_quantization` kept and what it measured.

    Args:
        path: the written file.
        scheme: its scheme (a key of `agreement`).
        agreement: `{scheme: agreement}` of each scheme written, in the order tried.
        failed: `{scheme: reason}` of each scheme that did not convert (one line each).
        target: the agreement asked for.
        met: whether `scheme` reaches `target` (False: the best agreement was kept).
    """

    path: str
    scheme: str
    agreement: dict[str, float]
    failed: dict[str, str]
    target: float
    met: bool

    def metrics(self, prefix: str) -> dict[str, Any]:
        """Flat metrics: `{prefix}_scheme`, `{prefix}_scheme_met_target`,
        `{prefix}_selection_agreement_{scheme}` and `{prefix}_scheme_failed_{scheme}`."""
        out: dict[str, Any] = {f"{prefix}_scheme": self.scheme, f"{prefix}_scheme_met_target": self.met}
        out.update({f"{prefix}_selection_agreement_{scheme}": value for scheme, value in self.agreement.items()})
        out.update({f"{prefix}_scheme_failed_{scheme}": reason for scheme, reason in self.failed.items()})
        return out


def select_quantization(
    write: Callable[[str, str], Any],
    path: str | os.PathLike,
    agreement: Callable[[str], float],
    *,
    target: float = 0.97,
    schemes: Sequence[str] = FALLBACK,
) -> QuantizationChoice:
    """Write `path` with the first of `schemes` whose measured agreement reaches `target`.

    Args:
        write: `write(scheme, file)` writes the model quantised with `scheme` to `file`
            (e.g. `to_litert(model, file, scheme=scheme, ...)`); a `LiteRTExportError`
            skips the scheme (recorded in `failed`).
        path: the file to keep (replaced atomically; the candidates are temporary files
            beside it, removed).
        agreement: `agreement(file)`: the file's agreement with the float model, in [0, 1],
            measured on data that is not the test split (the caller's choice: validation
            or calibration data).
        target: the agreement to reach.
        schemes: the order to try (names from `seqzoo.export.SCHEMES`).

    Returns:
        The `QuantizationChoice`: the first scheme reaching `target`, else the one with the
        best agreement (the earlier one on a tie).

    Raises:
        LiteRTExportError: an unknown scheme, or no scheme converts (every reason listed).
    """
    schemes = list(schemes)
    for scheme in schemes or [None]:
        if scheme not in SCHEMES:
            raise LiteRTExportError(f"unknown quantisation scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    path = str(path)
    folder = os.path.dirname(os.path.abspath(path))
    measured: dict[str, float] = {}
    failed: dict[str, str] = {}
    best: tuple[str, str] | None = None  # (scheme, temporary file)
    try:
        for scheme in schemes:
            fd, candidate = tempfile.mkstemp(prefix=f".tmp-{scheme}-", suffix=".tflite", dir=folder)
            os.close(fd)
            try:
                write(scheme, candidate)
            except LiteRTExportError as error:
                os.remove(candidate)
                failed[scheme] = str(error)
                continue
            measured[scheme] = float(agreement(candidate))
            if best is None or measured[scheme] > measured[best[0]]:
                if best is not None:
                    os.remove(best[1])
                best = (scheme, candidate)
            else:
                os.remove(candidate)
            if measured[scheme] >= target:
                break
        if best is None:
            reasons = "; ".join(f"{scheme}: {reason}" for scheme, reason in failed.items())
            raise LiteRTExportError(f"no quantisation scheme converts ({reasons})")
        os.replace(best[1], path)
        best = (best[0], path)
    finally:
        if best is not None and best[1] != path and os.path.exists(best[1]):
            os.remove(best[1])
    scheme = best[0]
    return QuantizationChoice(path=path, scheme=scheme, agreement=measured, failed=failed, target=float(target),
                              met=measured[scheme] >= target)
