"""seqzoo: the history of sequence models as a Keras 3 model zoo.

>>> import seqzoo
>>> model = seqzoo.build("bilstm")          # token ids -> P(positive)
>>> seqzoo.list_models("*lstm*")
['bilstm', 'cnn_lstm', 'deep_bilstm', 'deep_lstm', 'lstm']
"""

from seqzoo.factory import build
from seqzoo.info import info
from seqzoo.registry import list_models, register

__version__ = "0.1.0"
__all__ = ["build", "info", "list_models", "register", "__version__"]
