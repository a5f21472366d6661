"""Recipes: train any seqzoo model on a real task, `python -m recipes.<name>`.

Every recipe plugs into one shared runner (`recipes.runner`), so all of them
take the same flags (`--model`, `--epochs`, `--set KEY=VALUE`, `--out`, ...)
and write the same run directory (`metrics.json`, `model.keras`, ...).

Importing this package sets `TF_CPP_MIN_LOG_LEVEL=2` (`3` when the command
line has `--quiet`) and imports TensorFlow with its start-up chatter hidden, so
the command-line entry points start quietly. TensorFlow reads the level once,
when it is imported, hence the look at `sys.argv` here rather than after the
flags are parsed: under `--quiet` its C++ `E0000 ...` lines (harmless notes that
TensorFlow logs at error severity, e.g. tf.data's "NodeDef mentions attribute
use_unbounded_threadpool" under op determinism, oneDNN's "supports DT_BOOL only
on platforms with AVX-512") would otherwise end a successful run. Failures still
reach the user: TensorFlow raises them as Python exceptions, which the runner
prints as one line. A `TF_CPP_MIN_LOG_LEVEL` already set is kept.
"""

import os
import sys


def _quiet_requested(argv: list[str]) -> bool:
    """`--quiet`, or a prefix of it that argparse accepts (`--qui`...), among the flags before `--`."""
    for arg in argv:
        if arg == "--":
            return False
        if arg.startswith("--qui") and "--quiet".startswith(arg):
            return True
    return False


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if _quiet_requested(sys.argv[1:]) else "2")

try:  # hide TensorFlow's C++ start-up logs, which ignore TF_CPP_MIN_LOG_LEVEL
    from seqzoo._quiet import import_tensorflow_quietly
except ImportError:  # pragma: no cover - older seqzoo
    pass
else:
    import_tensorflow_quietly()
