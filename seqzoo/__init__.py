"""seqzoo: the history of sequence models as a Keras 3 model zoo.

>>> import seqzoo
>>> model = seqzoo.build("bilstm")          # token ids -> P(positive)
>>> seqzoo.list_models("*lstm*")
['bilstm', 'cnn_lstm', 'deep_bilstm', 'deep_lstm', 'lstm']

The public names are imported on first use, so `import seqzoo` (and the
`seqzoo` command) stays cheap until a model is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "build": "seqzoo.factory",
    "info": "seqzoo.model_info",
    "list_models": "seqzoo.registry",
    "register": "seqzoo.registry",
}
__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seqzoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_PUBLIC))
