import keras
from keras import saving


@saving.register_keras_serializable(package="seqzoo")
class MaskedRMSNormalization(keras.layers.RMSNormalization):
    """`keras.layers.RMSNormalization` that passes the Keras mask on.

    RMS normalisation acts on each time step on its own, so a padding mask
    stays valid after it; Keras' layer (3.15) sets `supports_masking = False`
    and drops the mask, which makes every later recurrence read the padding.
    A subclass of the Keras layer, so `seqzoo.streaming` steps it as pointwise.

    Args:
        **kwargs: those of `keras.layers.RMSNormalization` (`axis`, `epsilon`).

    Example:

    >>> import numpy as np
    >>> x = keras.layers.Embedding(10, 4, mask_zero=True)(np.array([[3, 0]]))
    >>> MaskedRMSNormalization().compute_mask(x, x._keras_mask).numpy().tolist()
    [[True, False]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return mask
