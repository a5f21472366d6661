"""`seqzoo.load_model`: load a saved seqzoo model in Keras safe mode."""

from __future__ import annotations

import os
import zipfile

import keras

from seqzoo import layers  # noqa: F401  (the custom layers must be registered first)


def load_model(path: str | os.PathLike, *, compile: bool = True) -> keras.Model:
    """Load a `.keras` file written by `model.save` (safe mode: no arbitrary code).

    Args:
        path: the `.keras` file.
        compile: also restore the optimizer, loss and metrics.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` exists but is not a `.keras` archive (truncated or damaged).

    Example:

    >>> import os, tempfile, seqzoo
    >>> path = os.path.join(tempfile.mkdtemp(), "gru.keras")
    >>> seqzoo.build("gru", units=8).save(path)
    >>> seqzoo.load_model(path).name
    'gru'
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such model file: {os.fspath(path)!r}")
    if not zipfile.is_zipfile(path):  # Keras would say "File not found" for a file that exists
        raise ValueError(f"{os.fspath(path)!r} is not a readable .keras archive (truncated or damaged); "
                         "save the model again")
    return keras.saving.load_model(path, compile=compile, safe_mode=True)
