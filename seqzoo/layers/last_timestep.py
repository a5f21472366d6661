from keras import layers, saving

from seqzoo.layers._masking import last_valid


@saving.register_keras_serializable(package="seqzoo")
class LastTimestep(layers.Layer):
    """The output at the last valid (unpadded) step: `(batch, time, dim) -> (batch, dim)`.

    Used by causal models (GPT) whose last position has seen the whole input.
    Assumes right padding, as token ids with id 0 = padding give.

    Example:

    >>> import numpy as np
    >>> x = np.arange(6, dtype="float32").reshape(1, 3, 2)
    >>> LastTimestep()(x, mask=np.array([[True, True, False]])).numpy().tolist()
    [[2.0, 3.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return last_valid(inputs, mask)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
