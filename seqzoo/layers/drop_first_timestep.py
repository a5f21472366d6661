from keras import layers, saving


@saving.register_keras_serializable(package="seqzoo")
class DropFirstTimestep(layers.Layer):
    """Drop step 0, e.g. a [CLS] token: `(batch, time + 1, dim) -> (batch, time, dim)`.

    The inverse of `ClassToken`: per-step outputs line up with the input
    tokens again, and the mask loses its first entry.

    Example:

    >>> import numpy as np
    >>> x = np.arange(6, dtype="float32").reshape(1, 3, 2)
    >>> DropFirstTimestep()(x).numpy().tolist()
    [[[2.0, 3.0], [4.0, 5.0]]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs[:, 1:, :]

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[:, 1:]

    def compute_output_shape(self, input_shape):
        time = None if input_shape[1] is None else input_shape[1] - 1
        return (input_shape[0], time, input_shape[2])
