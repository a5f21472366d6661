"""Recipes: train any seqzoo model on a real task, `python -m recipes.<name>`.

Every recipe plugs into one shared runner (`recipes.runner`), so all of them
take the same flags (`--model`, `--epochs`, `--set KEY=VALUE`, `--out`, ...)
and write the same run directory (`metrics.json`, `model.keras`, ...).

Importing this package sets `TF_CPP_MIN_LOG_LEVEL=2` and imports TensorFlow
with its start-up chatter hidden, so the command-line entry points start quietly.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:  # hide TensorFlow's C++ start-up logs, which ignore TF_CPP_MIN_LOG_LEVEL
    from seqzoo._quiet import import_tensorflow_quietly
except ImportError:  # pragma: no cover - older seqzoo
    pass
else:
    import_tensorflow_quietly()
