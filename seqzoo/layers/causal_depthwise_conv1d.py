from keras import initializers, layers, ops, saving

from seqzoo.layers._masking import keep_where, zero_masked


@saving.register_keras_serializable(package="seqzoo")
class CausalDepthwiseConv1D(layers.Layer):
    """A short causal convolution per channel, with a step form for streaming.

    `y_t[c] = bias[c] + sum_i kernel[i, c] * x_{t - width + 1 + i}[c]`: each
    channel mixes its own last `width` steps (Mamba's and Griffin's
    convolution before the recurrence). Padded (masked) steps are zeroed, so
    the outputs at valid steps do not depend on right padding; the mask passes
    through. `step` carries the last `width - 1` inputs.

    Args:
        width: steps each output reads (the current one included).
        use_bias: add a per-channel bias.
        kernel_initializer: initialiser of the `(width, channels)` kernel.

    Example:

    >>> import numpy as np
    >>> conv = CausalDepthwiseConv1D(4)
    >>> tuple(conv(np.ones((2, 10, 3), "float32")).shape)
    (2, 10, 3)
    """

    def __init__(self, width=4, use_bias=True, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        channels = input_shape[-1]
        self.kernel = self.add_weight(shape=(self.width, channels), initializer=self.kernel_initializer,
                                      name="kernel")
        self.bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias") if self.use_bias else None

    def call(self, inputs, mask=None):
        x = zero_masked(inputs, mask)
        padded = ops.pad(x, [[0, 0], [self.width - 1, 0], [0, 0]])
        time = ops.shape(x)[1]
        y = 0.0
        for i in range(self.width):
            y = y + padded[:, i:i + time] * ops.cast(self.kernel[i], x.dtype)
        if self.bias is not None:
            y = y + ops.cast(self.bias, x.dtype)
        return y

    def compute_output_shape(self, input_shape):
        return input_shape

    def initial_state(self, batch_size):
        return [ops.zeros((batch_size, self.width - 1, self.kernel.shape[-1]), dtype=self.compute_dtype)]

    def step(self, inputs, states, mask=None):
        """One step: `inputs` `(batch, channels)`; the state holds the last `width - 1` inputs."""
        window = ops.concatenate([states[0], ops.expand_dims(inputs, 1)], axis=1)
        y = ops.sum(window * ops.cast(self.kernel, inputs.dtype), axis=1)
        if self.bias is not None:
            y = y + ops.cast(self.bias, inputs.dtype)
        return y, keep_where(mask, [window[:, 1:]], states)

    def get_config(self):
        config = super().get_config()
        config.update({
            "width": self.width,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
        })
        return config
