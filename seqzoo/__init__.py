"""seqzoo: the history of sequence models as a Keras 3 model zoo.

>>> import seqzoo
>>> model = seqzoo.build("bilstm")          # token ids -> P(positive)
>>> seqzoo.list_models("*lstm*")
['bilstm', 'cnn_lstm', 'deep_bilstm', 'deep_lstm', 'lstm']

Importing seqzoo registers its custom layers with Keras, so
`keras.saving.load_model("model.keras")` works for seqzoo models afterwards;
`seqzoo.load_model` does the same in one call.

seqzoo needs Keras and one Keras backend (TensorFlow, JAX or PyTorch, chosen by
`KERAS_BACKEND`); TensorFlow is imported only where it is used (the recipes'
`tf.data` pipelines, `seqzoo.tuning`, `seqzoo.distribute`).
"""

from seqzoo._quiet import import_keras_quietly

import_keras_quietly()  # the backend's start-up chatter is not seqzoo's output

from seqzoo import layers  # noqa: E402,F401  (registers the serializable layers)
from seqzoo.factory import build  # noqa: E402
from seqzoo.model_info import info  # noqa: E402
from seqzoo.registry import list_models, register  # noqa: E402
from seqzoo.saving import load_model  # noqa: E402

__version__ = "0.1.0"
__all__ = ["build", "info", "list_models", "load_model", "register", "__version__"]
