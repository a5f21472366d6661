from keras import layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class SinusoidalPositionEncoding(layers.Layer):
    """Add the fixed sine/cosine position code of Vaswani et al. (2017).

    `PE[t, 2i] = sin(t / w^(2i/d))`, `PE[t, 2i+1] = cos(t / w^(2i/d))` with
    `w = max_wavelength`. Works for any length; no weights.

    Args:
        max_wavelength: the longest wavelength `w` (10000 in the paper).

    Example:

    >>> import numpy as np
    >>> x = SinusoidalPositionEncoding()(np.zeros((1, 3, 4), "float32"))
    >>> x[0, 0].numpy().tolist()  # position 0: sin 0 = 0, cos 0 = 1
    [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = float(max_wavelength)
        self.supports_masking = True

    def call(self, inputs):
        length, dim = ops.shape(inputs)[1], inputs.shape[-1]
        positions = ops.cast(ops.arange(length), "float32")[:, None]
        pair = ops.cast(ops.arange(dim) // 2 * 2, "float32")
        angles = positions / ops.power(self.max_wavelength, pair / float(dim))
        even = ops.cast(ops.arange(dim) % 2 == 0, "float32")
        code = ops.sin(angles) * even + ops.cos(angles) * (1.0 - even)
        return inputs + ops.cast(code[None], inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
