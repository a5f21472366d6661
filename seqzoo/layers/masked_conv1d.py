from keras import layers, saving

from seqzoo.layers._masking import zero_masked


@saving.register_keras_serializable(package="seqzoo")
class MaskedConv1D(layers.Conv1D):
    """A causal `Conv1D` that respects and propagates a right-padding mask.

    Padded steps are zeroed before the convolution and the window of output
    step `j` ends at input step `j * strides`, so the outputs at valid steps do
    not depend on how much padding follows. The output mask is the input mask
    subsampled by `strides`.

    Args:
        filters: number of output channels.
        kernel_size: length of the convolution window.
        strides: time stride (subsampling factor).
        **kwargs: any other `keras.layers.Conv1D` argument except `padding`.

    Example:

    >>> import numpy as np
    >>> conv = MaskedConv1D(8, 3, strides=2)
    >>> tuple(conv(np.ones((2, 10, 4), "float32")).shape)
    (2, 5, 8)
    """

    def __init__(self, filters, kernel_size, strides=1, **kwargs):
        padding = kwargs.pop("padding", "causal")
        if padding != "causal":
            raise ValueError(f"MaskedConv1D is always causal; got padding={padding!r}")
        super().__init__(filters, kernel_size, strides=strides, padding="causal", **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return super().call(zero_masked(inputs, mask))

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return mask[:, :: self.strides[0]]
