import math

import numpy as np
from keras import initializers, layers, ops, saving

from seqzoo.layers._masking import keep_where
from seqzoo.layers.causal_depthwise_conv1d import CausalDepthwiseConv1D
from seqzoo.scan import linear_scan


def _dt_bias_initializer(dt_min, dt_max, floor=1e-4):
    """The inverse softplus of step sizes drawn log-uniformly in [dt_min, dt_max] (Mamba's init)."""

    def init(shape, dtype=None):
        dt = np.exp(np.random.uniform(math.log(dt_min), math.log(dt_max), size=shape))
        dt = np.maximum(dt, floor)
        return ops.cast(dt + np.log(-np.expm1(-dt)), dtype or "float32")

    return init


def _s4d_real_initializer(shape, dtype=None):
    """`log(n + 1)` for state n of every channel: A_n = -(n + 1) (S4D-real)."""
    channels, state = shape
    return ops.cast(np.log(np.tile(np.arange(1, state + 1, dtype="float64"), (channels, 1))), dtype or "float32")


@saving.register_keras_serializable(package="seqzoo")
class MambaMixer(layers.Layer):
    """Mamba's selective state-space block (Gu & Dao 2023), with a step form.

    `(batch, time, width) -> (batch, time, width)`:

    1. `x, z = in_proj(u)`, each `expand * width` channels;
    2. `x = silu(causal_depthwise_conv(x))` (width `conv_width`);
    3. selection: `delta = softplus(dt_proj(x_proj_dt(x)))` (a rank-`dt_rank`
       projection plus bias, initialised so that `delta` lies in
       `[dt_min, dt_max]`), `B_t, C_t = x_proj(x)` (`state_size` each);
    4. the recurrence `h_t = exp(delta_t * A) h_{t-1} + delta_t B_t x_t` per
       channel and state (`A = -exp(A_log)`, S4D-real init `A_n = -(n + 1)`),
       computed with `seqzoo.scan.linear_scan` over a
       `(batch, time, expand * width, state_size)` state;
    5. `y = (C_t . h_t + D x_t) * silu(z)`, then `out_proj(y)`.

    A masked (padded) step carries the state; `step` runs one step with the
    state `[conv window, h]`.

    Args:
        state_size: N, the state per channel (16 in the paper).
        expand: inner width = `expand * width`.
        conv_width: steps the causal convolution reads.
        dt_rank: rank of the step-size projection; `None`: `ceil(width / 16)`.
        dt_min: smallest initial step size.
        dt_max: largest initial step size.

    Example:

    >>> import numpy as np
    >>> mixer = MambaMixer(state_size=4)
    >>> tuple(mixer(np.ones((2, 10, 8), "float32")).shape)
    (2, 10, 8)
    """

    def __init__(self, state_size=16, expand=2, conv_width=4, dt_rank=None, dt_min=0.001, dt_max=0.1,
                 **kwargs):
        super().__init__(**kwargs)
        self.state_size = int(state_size)
        self.expand = int(expand)
        self.conv_width = int(conv_width)
        self.dt_rank = None if dt_rank is None else int(dt_rank)
        self.dt_min = float(dt_min)
        self.dt_max = float(dt_max)
        if not 0 < self.dt_min <= self.dt_max:
            raise ValueError(f"MambaMixer needs 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
        self.supports_masking = True

    def build(self, input_shape):
        width = int(input_shape[-1])
        inner = self.expand * width
        rank = self.dt_rank or math.ceil(width / 16)
        self._rank = rank
        self.in_proj = layers.Dense(2 * inner, use_bias=False, name=f"{self.name}_in_proj")
        self.in_proj.build((None, width))
        self.conv = CausalDepthwiseConv1D(self.conv_width, name=f"{self.name}_conv")
        self.conv.build((None, None, inner))
        self.x_proj = layers.Dense(rank + 2 * self.state_size, use_bias=False, name=f"{self.name}_x_proj")
        self.x_proj.build((None, inner))
        self.dt_proj = layers.Dense(
            inner, name=f"{self.name}_dt_proj",
            kernel_initializer=initializers.RandomUniform(-rank ** -0.5, rank ** -0.5),
            bias_initializer=_dt_bias_initializer(self.dt_min, self.dt_max))
        self.dt_proj.build((None, rank))
        self.A_log = self.add_weight(shape=(inner, self.state_size), initializer=_s4d_real_initializer,
                                     name="A_log")
        self.D = self.add_weight(shape=(inner,), initializer="ones", name="D")
        self.out_proj = layers.Dense(width, use_bias=False, name=f"{self.name}_out_proj")
        self.out_proj.build((None, inner))

    def _select(self, x):
        """Step size, B and C from the convolved input (any leading axes)."""
        proj = self.x_proj(x)
        n = self.state_size
        delta = ops.softplus(self.dt_proj(proj[..., :self._rank]))
        return delta, proj[..., self._rank:self._rank + n], proj[..., self._rank + n:]

    def _decay(self, delta):
        a = -ops.exp(ops.cast(self.A_log, delta.dtype))
        return ops.exp(ops.expand_dims(delta, -1) * a)

    def _output(self, x, z, h, c):
        y = ops.sum(h * ops.expand_dims(c, -2), axis=-1) + x * ops.cast(self.D, x.dtype)
        return self.out_proj(y * ops.silu(z))

    def call(self, inputs, mask=None):
        x, z = ops.split(self.in_proj(inputs), 2, axis=-1)
        x = ops.silu(self.conv(x, mask=mask))
        delta, b, c = self._select(x)
        drive = ops.expand_dims(delta * x, -1) * ops.expand_dims(b, -2)  # (batch, time, inner, N)
        h = linear_scan(self._decay(delta), drive, mask=mask)
        return self._output(x, z, h, c)

    def compute_output_shape(self, input_shape):
        return input_shape

    def initial_state(self, batch_size):
        inner = int(self.D.shape[0])
        return [*self.conv.initial_state(batch_size),
                ops.zeros((batch_size, inner, self.state_size), dtype=self.compute_dtype)]

    def step(self, inputs, states, mask=None):
        """One step: `inputs` `(batch, width)`; `states` = `[conv window, h (batch, inner, N)]`."""
        x, z = ops.split(self.in_proj(inputs), 2, axis=-1)
        x, conv_states = self.conv.step(x, states[:1], mask=mask)
        x = ops.silu(x)
        delta, b, c = self._select(x)
        h = self._decay(delta) * states[1] + ops.expand_dims(delta * x, -1) * ops.expand_dims(b, -2)
        y = self._output(x, z, h, c)
        return y, [*conv_states, *keep_where(mask, [h], states[1:])]

    def get_config(self):
        config = super().get_config()
        config.update({
            "state_size": self.state_size,
            "expand": self.expand,
            "conv_width": self.conv_width,
            "dt_rank": self.dt_rank,
            "dt_min": self.dt_min,
            "dt_max": self.dt_max,
        })
        return config
