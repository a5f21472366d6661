from keras import layers, saving


@saving.register_keras_serializable(package="seqzoo")
class FirstTimestep(layers.Layer):
    """The output at step 0, e.g. a [CLS] token: `(batch, time, dim) -> (batch, dim)`.

    Example:

    >>> import numpy as np
    >>> x = np.arange(6, dtype="float32").reshape(1, 3, 2)
    >>> FirstTimestep()(x).numpy().tolist()
    [[0.0, 1.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs[:, 0, :]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
