import keras
from keras import initializers, layers, ops, saving

from seqzoo.layers._masking import keep_where
from seqzoo.scan import linear_scan

C = 8.0  # the paper's fixed scale of the recurrence gate's exponent


def _log_a(lam, gate):
    """log a_t = -c * r_t * softplus(-Lambda): a_t = sigmoid(Lambda) ** (c * r_t), in log space."""
    return -C * gate * ops.softplus(-lam)


def _decay_init(shape, dtype=None, low=0.9, high=0.999):
    """Lambda such that a^c = sigmoid(Lambda)^c is uniform in [low, high] (the paper's init)."""
    a_c = keras.random.uniform(shape, low, high, dtype="float32")
    a = ops.exp(ops.log(a_c) / C)
    return ops.cast(ops.log(a) - ops.log1p(-a), dtype or "float32")  # logit(a)


@saving.register_keras_serializable(package="seqzoo")
class RGLRU(layers.Layer):
    """Real-Gated Linear Recurrent Unit (De et al. 2024, Griffin/Hawk), with a step form.

    For each channel, with gates from the input only (no state in them):

        r_t = sigmoid(W_a x_t + b_a)            recurrence gate
        i_t = sigmoid(W_x x_t + b_x)            input gate
        log a_t = -c * r_t * softplus(-Lambda)  i.e. a_t = sigmoid(Lambda) ** (c r_t), c = 8
        h_t = a_t * h_{t-1} + sqrt(1 - a_t^2) * (i_t * x_t)

    The recurrence is linear in h, so the whole sequence is one
    `seqzoo.scan.linear_scan`; `step` runs it one step at a time. Lambda is
    initialised so that a^c is uniform in [0.9, 0.999] (the paper's statement;
    RecurrentGemma's code draws a^2 uniform in [0.81, 0.998] instead). Unlike
    RecurrentGemma, the first step is normalised like every other (no reset).
    The gate weights are block-diagonal with `gate_blocks` blocks (the paper's
    choice; 1 = dense). A masked (padded) step carries the state unchanged.
    The output is every state h_t (width = input width).

    Args:
        gate_blocks: diagonal blocks of W_a and W_x; must divide the width.
        kernel_initializer: initialiser of the gate weights.

    Example:

    >>> import numpy as np
    >>> layer = RGLRU()
    >>> x = np.random.randn(2, 5, 8).astype("float32")
    >>> y = layer(x)
    >>> state = layer.initial_state(2)
    >>> for t in range(5):
    ...     y_t, state = layer.step(x[:, t], state)
    >>> bool(np.allclose(y_t, y[:, -1], atol=1e-5))
    True
    """

    def __init__(self, gate_blocks=1, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.gate_blocks = int(gate_blocks)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        width = int(input_shape[-1])
        if width % self.gate_blocks:
            raise ValueError(f"RGLRU: gate_blocks={self.gate_blocks} must divide the width {width}")
        self.width = width
        size = width // self.gate_blocks
        shape = (self.gate_blocks, size, size)
        self.gate_a_kernel = self.add_weight(shape=shape, initializer=self.kernel_initializer, name="gate_a_kernel")
        self.gate_a_bias = self.add_weight(shape=(width,), initializer="zeros", name="gate_a_bias")
        self.gate_x_kernel = self.add_weight(shape=shape, initializer=self.kernel_initializer, name="gate_x_kernel")
        self.gate_x_bias = self.add_weight(shape=(width,), initializer="zeros", name="gate_x_bias")
        self.a_param = self.add_weight(shape=(width,), initializer=_decay_init, name="a_param")

    def _gate(self, x, kernel, bias):
        # the block-diagonal matrix as one dense (width, width) matrix: no reshape of x, so the
        # same code serves whole sequences, single steps and symbolic step models
        blocks = self.gate_blocks
        dense = ops.einsum("hij,hg->higj", ops.cast(kernel, x.dtype), ops.eye(blocks, dtype=x.dtype))
        dense = ops.reshape(dense, (self.width, self.width))
        return ops.sigmoid(ops.matmul(x, dense) + ops.cast(bias, x.dtype))

    def _coefficients(self, x):
        """a_t and the normalised input b_t = sqrt(1 - a_t^2) * i_t * x_t, in float32."""
        x = ops.cast(x, "float32")
        log_a = _log_a(ops.cast(self.a_param, "float32"), self._gate(x, self.gate_a_kernel, self.gate_a_bias))
        # sqrt(1 - a^2) = sqrt(-expm1(2 log a)); the floor bounds the square root's derivative
        # by 1000 where a -> 1 (RecurrentGemma bounds it the same way)
        scale = ops.sqrt(ops.maximum(-ops.expm1(2.0 * log_a), 2.5e-7))
        return ops.exp(log_a), scale * self._gate(x, self.gate_x_kernel, self.gate_x_bias) * x

    def call(self, inputs, mask=None):
        a, b = self._coefficients(inputs)
        return ops.cast(linear_scan(a, b, mask=mask), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def initial_state(self, batch_size):
        return [ops.zeros((batch_size, self.width), dtype="float32")]

    def step(self, inputs, states, mask=None):
        """One step: `inputs` `(batch, width)`; the state is h `(batch, width)`."""
        a, b = self._coefficients(inputs)
        h = a * states[0] + b
        new = keep_where(mask, [h], states)
        return ops.cast(new[0], self.compute_dtype), new

    def get_config(self):
        config = super().get_config()
        config.update({
            "gate_blocks": self.gate_blocks,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
        })
        return config

