from keras import layers, ops, saving

from seqzoo.layers._masking import keep_where, zero_masked


@saving.register_keras_serializable(package="seqzoo")
class TokenShift(layers.Layer):
    """RWKV's token shift: every step's output is the previous step's input.

    `y_t = x_{t-1}`, `y_1 = 0`: a one-step causal shift along time (no
    weights; RWKV mixes `x_t` with `y_t`). Padded (masked) inputs are zeroed
    first, as `CausalDepthwiseConv1D` does. `step` carries the last valid
    input as its state.

    Example:

    >>> import numpy as np
    >>> TokenShift()(np.array([[[1.0], [2.0], [3.0]]], "float32")).numpy()[0, :, 0].tolist()
    [0.0, 1.0, 2.0]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        self._channels = int(input_shape[-1])

    def call(self, inputs, mask=None):
        x = zero_masked(inputs, mask)
        return ops.pad(x, [[0, 0], [1, 0], [0, 0]])[:, :-1]

    def compute_output_shape(self, input_shape):
        return input_shape

    def initial_state(self, batch_size):
        return [ops.zeros((batch_size, self._channels), dtype=self.compute_dtype)]

    def step(self, inputs, states, mask=None):
        """One step: returns the previous input; the state becomes `inputs` (kept on masked steps)."""
        return states[0], keep_where(mask, [inputs], states)
