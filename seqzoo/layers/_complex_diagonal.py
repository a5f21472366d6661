"""The shared machinery of LRU and S5 (private): a complex diagonal linear recurrence."""

import math

from keras import initializers, layers, ops

from seqzoo.layers._masking import keep_where
from seqzoo.scan import linear_scan


def constant(value):
    """An initialiser returning `value` (computed once in `build`)."""
    return lambda shape, dtype=None: ops.cast(value, dtype or "float32")


class ComplexDiagonalRecurrence(layers.Layer):
    """`h_t = lambda * h_{t-1} + scale * (B x_t)`, `y_t = Re(C h_t) + D * x_t`, complex `h`.

    Subclasses build their own decay weights in `build_decay(state_size)` and
    return `(lambda, scale)` from `coefficients(dtype)`: `lambda` a (real,
    imag) pair `(state_size,)`, `scale` a real `(state_size,)` or a pair. `B`
    `(channels, N)` and `C` `(N, channels)` are complex (real and imaginary
    weights), `D` real; the output has the input's width. The parallel form is
    one `linear_scan`; `step` carries `[h_real, h_imag]`.
    """

    def __init__(self, state_size, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.state_size = int(state_size)
        self.seed = seed
        self.supports_masking = True

    def build_decay(self, state_size):
        raise NotImplementedError

    def coefficients(self, dtype):
        raise NotImplementedError

    def build(self, input_shape):
        n, width = self.state_size, input_shape[-1]
        self.build_decay(n)
        b_init = initializers.RandomNormal(stddev=1.0 / math.sqrt(2 * width), seed=self.seed)
        c_init = initializers.RandomNormal(stddev=1.0 / math.sqrt(n), seed=self.seed)
        self.b_real = self.add_weight(shape=(width, n), initializer=b_init, name="b_real")
        self.b_imag = self.add_weight(shape=(width, n), initializer=b_init, name="b_imag")
        self.c_real = self.add_weight(shape=(n, width), initializer=c_init, name="c_real")
        self.c_imag = self.add_weight(shape=(n, width), initializer=c_init, name="c_imag")
        self.d = self.add_weight(shape=(width,), initializer="random_normal", name="d")

    def _input(self, x, scale):
        br, bi = ops.matmul(x, ops.cast(self.b_real, x.dtype)), ops.matmul(x, ops.cast(self.b_imag, x.dtype))
        if isinstance(scale, tuple):
            return br * scale[0] - bi * scale[1], br * scale[1] + bi * scale[0]
        return br * scale, bi * scale

    def _output(self, h_real, h_imag, x):
        return (ops.matmul(h_real, ops.cast(self.c_real, x.dtype))
                - ops.matmul(h_imag, ops.cast(self.c_imag, x.dtype)) + x * ops.cast(self.d, x.dtype))

    def call(self, inputs, mask=None):
        lam, scale = self.coefficients(inputs.dtype)
        b = self._input(inputs, scale)
        a = tuple(ops.broadcast_to(p, ops.shape(b[0])) for p in lam)
        h_real, h_imag = linear_scan(a, b, mask=mask)
        return self._output(h_real, h_imag, inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def initial_state(self, batch_size):
        return [ops.zeros((batch_size, self.state_size), dtype=self.compute_dtype) for _ in range(2)]

    def step(self, inputs, states, mask=None):
        """One step: `inputs` `(batch, channels)`, `states` `[h_real, h_imag]`."""
        (lr, li), scale = self.coefficients(inputs.dtype)
        br, bi = self._input(inputs, scale)
        hr, hi = states
        new = keep_where(mask, [lr * hr - li * hi + br, lr * hi + li * hr + bi], states)
        return self._output(new[0], new[1], inputs), new

    def get_config(self):
        config = super().get_config()
        config.update({"state_size": self.state_size, "seed": self.seed})
        return config
