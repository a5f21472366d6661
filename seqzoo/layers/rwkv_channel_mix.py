from keras import layers, ops, saving

from seqzoo.layers._rwkv import add_vector, channel_ramp, mix_ratios
from seqzoo.layers.token_shift import TokenShift


@saving.register_keras_serializable(package="seqzoo")
class RWKVChannelMix(layers.Layer):
    """RWKV-4's channel mixing (Peng et al. 2023), with a step form.

    `(batch, time, width) -> (batch, time, width)`: key and receptance read
    the input mixed with the previous step's (token shift), and

        out_t = sigmoid(receptance(x_r)) * value(relu(key(x_k))^2)

    with a hidden width of `expand * width` (squared ReLU). The only state is
    the previous input (`step`).

    Args:
        expand: hidden width = `expand * width` (4 in the paper).
        block: this block's index (0-based) in a stack of `depth` (the
            mixing coefficients' initialisation depends on it).
        depth: blocks in the stack.

    Example:

    >>> import numpy as np
    >>> mix = RWKVChannelMix(expand=2)
    >>> tuple(mix(np.ones((2, 10, 8), "float32")).shape)
    (2, 10, 8)
    """

    def __init__(self, expand=4, block=0, depth=1, **kwargs):
        super().__init__(**kwargs)
        self.expand = int(expand)
        self.block = int(block)
        self.depth = int(depth)
        if not 0 <= self.block < self.depth:
            raise ValueError(f"RWKVChannelMix needs 0 <= block < depth, got block={block}, depth={depth}")
        self.supports_masking = True

    def build(self, input_shape):
        width = int(input_shape[-1])
        _, down = mix_ratios(self.block, self.depth)
        self.mix_k = add_vector(self, "mix_k", channel_ramp(width) ** down)
        self.mix_r = add_vector(self, "mix_r", channel_ramp(width) ** down)
        self.shift = TokenShift(name=f"{self.name}_shift")
        self.shift.build(input_shape)
        self.key = layers.Dense(self.expand * width, use_bias=False, name=f"{self.name}_key")
        self.key.build((None, width))
        self.value = layers.Dense(width, use_bias=False, name=f"{self.name}_value")
        self.value.build((None, self.expand * width))
        self.receptance = layers.Dense(width, use_bias=False, name=f"{self.name}_receptance")
        self.receptance.build((None, width))

    def _mix(self, x, previous):
        xk = previous + ops.cast(self.mix_k, x.dtype) * (x - previous)
        xr = previous + ops.cast(self.mix_r, x.dtype) * (x - previous)
        return ops.sigmoid(self.receptance(xr)) * self.value(ops.square(ops.relu(self.key(xk))))

    def call(self, inputs, mask=None):
        return self._mix(inputs, self.shift(inputs, mask=mask))

    def compute_output_shape(self, input_shape):
        return input_shape

    def initial_state(self, batch_size):
        return self.shift.initial_state(batch_size)

    def step(self, inputs, states, mask=None):
        """One step: `inputs` `(batch, width)`; the state is the previous input."""
        previous, new_states = self.shift.step(inputs, states, mask=mask)
        return self._mix(inputs, previous), new_states

    def get_config(self):
        config = super().get_config()
        config.update({"expand": self.expand, "block": self.block, "depth": self.depth})
        return config
