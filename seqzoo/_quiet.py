"""Import Keras (and TensorFlow, where it is the backend) without start-up chatter on stderr.

`import seqzoo` needs only Keras and one backend: `import_keras_quietly` imports
Keras, which imports TensorFlow only when `KERAS_BACKEND` is `tensorflow` (the
default). The recipes, which read data with `tf.data`, call
`import_tensorflow_quietly`.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def silenced_stderr():
    """Point file descriptor 2 at /dev/null for the duration (C++ logs included)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_keras_quietly() -> None:
    """Import Keras with `TF_CPP_MIN_LOG_LEVEL=2` and the start-up logs of its backend hidden.

    TensorFlow is imported only if it is the Keras backend; with
    `KERAS_BACKEND=jax` or `torch`, seqzoo runs without TensorFlow installed.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with silenced_stderr():
        import keras  # noqa: F401


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras with `TF_CPP_MIN_LOG_LEVEL=2` and the start-up logs hidden.

    Errors raised by the import itself still propagate (their traceback is
    printed by Python after stderr is restored).
    """
    import_keras_quietly()
    with silenced_stderr():
        import tensorflow  # noqa: F401
