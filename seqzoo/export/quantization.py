"""Choose a LiteRT quantisation scheme by measured agreement: the first that keeps the decisions.

Full-integer int8 is the smallest and fastest file, but int8 rounding carried in a
recurrent state over ~100 steps can change a classifier's decisions (LSTM gate
pre-activations spanning +-23 get a quantisation step of ~0.18). `select_quantization`
writes the schemes in order (by default int8, then 16x8: int16 activations, then
weight-only int8), measures each file's agreement with the float model on data the caller
chooses (not the test split), and keeps the first that reaches the target, or the best one.
With `smaller_than` (the float file's bytes, say) a scheme counts only if its file is also
smaller: an unrolled recurrent graph in full-integer int8 carries a bias and per-channel
scales for every step's ops, and can be larger than the float32 file it stands in for.

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
>>> list(choice.agreement), choice.met, list(choice.sizes) == list(choice.agreement)
(['int8', 'int16x8', 'weights_int8'], False, True)
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
        sizes: `{scheme: bytes}` of each scheme written, in the order tried.
        failed: `{scheme: reason}` of each scheme that did not convert (one line each).
        target: the agreement asked for.
        met: whether `scheme` reaches `target` (and its file is under `smaller_than`, where
            that was given; False: the best one was kept, see `select_quantization`).
        smaller_than: the size limit asked for (None: none).
    """

    path: str
    scheme: str
    agreement: dict[str, float]
    failed: dict[str, str]
    target: float
    met: bool
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    smaller_than: int | None = None

    def metrics(self, prefix: str) -> dict[str, Any]:
        """Flat metrics: `{prefix}_scheme`, `{prefix}_scheme_met_target`,
        `{prefix}_selection_agreement_{scheme}`, `{prefix}_selection_bytes_{scheme}` and
        `{prefix}_scheme_failed_{scheme}`."""
        out: dict[str, Any] = {f"{prefix}_scheme": self.scheme, f"{prefix}_scheme_met_target": self.met}
        out.update({f"{prefix}_selection_agreement_{scheme}": value for scheme, value in self.agreement.items()})
        out.update({f"{prefix}_selection_bytes_{scheme}": size for scheme, size in self.sizes.items()})
        out.update({f"{prefix}_scheme_failed_{scheme}": reason for scheme, reason in self.failed.items()})
        return out


def select_quantization(
    write: Callable[[str, str], Any],
    path: str | os.PathLike,
    agreement: Callable[[str], float],
    *,
    target: float = 0.97,
    schemes: Sequence[str] = FALLBACK,
    smaller_than: int | None = None,
) -> QuantizationChoice:
    """Write `path` with the first of `schemes` whose measured agreement reaches `target`
    (and whose file has fewer than `smaller_than` bytes, where given).

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
        smaller_than: a size in bytes (e.g. the float32 file's) that a scheme's file must
            stay under to count: a file as large as the float one is no use as its
            quantised variant. None: any size.

    Returns:
        The `QuantizationChoice`: the first scheme reaching `target` (under `smaller_than`),
        else the one with the best agreement among the files under `smaller_than` (among
        all files where none is; the earlier one on a tie).

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
    sizes: dict[str, int] = {}
    failed: dict[str, str] = {}
    best: tuple[str, str] | None = None  # (scheme, temporary file)

    def small(scheme: str) -> bool:
        return smaller_than is None or sizes[scheme] < smaller_than

    def rank(scheme: str) -> tuple[bool, float]:  # a small file first, then the agreement
        return small(scheme), measured[scheme]

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
            sizes[scheme] = os.path.getsize(candidate)
            if best is None or rank(scheme) > rank(best[0]):
                if best is not None:
                    os.remove(best[1])
                best = (scheme, candidate)
            else:
                os.remove(candidate)
            if measured[scheme] >= target and small(scheme):
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
                              met=measured[scheme] >= target and small(scheme), sizes=sizes,
                              smaller_than=smaller_than)
