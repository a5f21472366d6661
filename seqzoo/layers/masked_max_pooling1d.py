from keras import layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class MaskedMaxPooling1D(layers.Layer):
    """Max over the valid time steps: `(batch, time, dim) -> (batch, dim)`.

    `keras.layers.GlobalMaxPooling1D` ignores masks; this layer does not.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0], [5.0], [9.0]]], "float32")
    >>> float(MaskedMaxPooling1D()(x, mask=np.array([[True, True, False]]))[0, 0])
    5.0
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            lowest = ops.cast(-3e4 if self.compute_dtype in ("float16", "bfloat16") else -1e9, inputs.dtype)
            inputs = ops.where(ops.expand_dims(mask, -1), inputs, lowest)
        return ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
