import numpy as np
from keras import layers, ops, saving

from seqzoo.layers._masking import keep_where
from seqzoo.layers._rwkv import add_vector, channel_ramp, mix_ratios, running_max
from seqzoo.layers.token_shift import TokenShift
from seqzoo.scan import linear_scan

NEG = -1e30  # log of an empty sum


@saving.register_keras_serializable(package="seqzoo")
class RWKVTimeMix(layers.Layer):
    """RWKV-4's time mixing (Peng et al. 2023), with a step form.

    `(batch, time, width) -> (batch, time, width)`. Receptance, key and value
    read the input mixed with the previous step's (token shift, per-channel
    mixing coefficients); per channel, with decay `w = exp(time_decay) > 0`
    and bonus `u = time_first` for the current token,

        wkv_t = (sum_{i<t} e^{-(t-1-i) w + k_i} v_i + e^{u + k_t} v_t)
              / (sum_{i<t} e^{-(t-1-i) w + k_i}     + e^{u + k_t}),

    and the output is `output(sigmoid(r_t) * wkv_t)`.

    The sums are a linear recurrence with decay `e^{-w}`, computed with
    `seqzoo.scan.linear_scan` on states scaled by a stabiliser: the running
    maximum `M_t` of `k_i + w p_i` (p the position counting valid steps), so
    every decay and input factor of the scan is `exp` of a number <= 0 and no
    `e^{k}` overflows (the official kernel's running maximum, taken in
    parallel; positions and maxima in float64, so large `w * t` loses no
    precision). `step` is RWKV's recurrent mode with the state
    `[previous input, a, b, r]` (a, b the sums scaled by `e^{-r}`). A masked
    step carries the state and does not advance the decay.

    Args:
        block: this block's index (0-based) and `depth` the number of blocks:
            RWKV-4's initialisation of the decays, bonuses and mixing
            coefficients depends on the depth of the block.
        depth: blocks in the stack.

    Example:

    >>> import numpy as np
    >>> mix = RWKVTimeMix()
    >>> tuple(mix(np.ones((2, 10, 8), "float32")).shape)
    (2, 10, 8)
    """

    def __init__(self, block=0, depth=1, **kwargs):
        super().__init__(**kwargs)
        self.block = int(block)
        self.depth = int(depth)
        if not 0 <= self.block < self.depth:
            raise ValueError(f"RWKVTimeMix needs 0 <= block < depth, got block={block}, depth={depth}")
        self.supports_masking = True

    def build(self, input_shape):
        width = int(input_shape[-1])
        up, down = mix_ratios(self.block, self.depth)
        ramp = channel_ramp(width)
        speed = -5 + 8 * (np.arange(width) / max(width - 1, 1)) ** (0.7 + 1.3 * up)
        zigzag = 0.5 * (((np.arange(width) + 1) % 3) - 1)
        self.time_decay = add_vector(self, "time_decay", speed)
        self.time_first = add_vector(self, "time_first", np.log(0.3) + zigzag)
        self.mix_k = add_vector(self, "mix_k", ramp ** down)
        self.mix_v = add_vector(self, "mix_v", ramp ** down + 0.3 * up)
        self.mix_r = add_vector(self, "mix_r", ramp ** (0.5 * down))
        self.shift = TokenShift(name=f"{self.name}_shift")
        self.shift.build(input_shape)
        self.key, self.value, self.receptance, self.output_proj = (
            layers.Dense(width, use_bias=False, name=f"{self.name}_{name}")
            for name in ("key", "value", "receptance", "output"))
        for dense in (self.key, self.value, self.receptance, self.output_proj):
            dense.build((None, width))

    def _project(self, x, previous):
        mixed = lambda mix: previous + ops.cast(mix, x.dtype) * (x - previous)  # noqa: E731
        return self.key(mixed(self.mix_k)), self.value(mixed(self.mix_v)), ops.sigmoid(
            self.receptance(mixed(self.mix_r)))

    @staticmethod
    def _read(a, b, r_prev, k, v, u):
        """wkv from the sums `a`, `b` scaled by `e^{-r_prev}` and the current token's bonus term."""
        q = ops.maximum(r_prev, u + k)
        old, new = ops.exp(r_prev - q), ops.exp(u + k - q)
        return (old * a + new * v) / (old * b + new)

    def call(self, inputs, mask=None):
        k, v, r = self._project(inputs, self.shift(inputs, mask=mask))
        w = ops.exp(ops.cast(self.time_decay, "float64"))
        valid = ops.ones_like(k[..., :1]) if mask is None else ops.expand_dims(mask, -1)
        valid = ops.cast(valid, "float64")
        position = ops.cumsum(valid, axis=1)
        exponent = ops.cast(k, "float64") + w * position  # k_i + w p_i
        exponent = ops.where(valid > 0, exponent, NEG)
        top = running_max(ops.stop_gradient(exponent), NEG)  # M_t
        top_prev = ops.pad(top, [[0, 0], [1, 0], [0, 0]], constant_values=NEG)[:, :-1]
        decay = ops.cast(ops.exp(top_prev - top), k.dtype)  # e^{-w} rescaled: 1 on masked steps
        gain = ops.cast(ops.exp(exponent - top), k.dtype)
        sums = linear_scan(ops.stack([decay, decay], -1), ops.stack([gain * v, gain], -1), mask=mask)
        num, den = sums[..., 0], sums[..., 1]
        # the sums before step t, and their reference level r_{t-1} = M_{t-1} - w p_{t-1}
        shift = lambda t: ops.pad(t, [[0, 0], [1, 0], [0, 0]])[:, :-1]  # noqa: E731
        r_prev = ops.cast(top_prev - w * (position - valid), k.dtype)
        u = ops.cast(self.time_first, k.dtype)
        wkv = self._read(shift(num), shift(den), r_prev, k, v, u)
        return self.output_proj(r * wkv)

    def compute_output_shape(self, input_shape):
        return input_shape

    def initial_state(self, batch_size):
        zeros = ops.zeros((batch_size, int(self.time_decay.shape[0])), dtype=self.compute_dtype)
        return [*self.shift.initial_state(batch_size), zeros, zeros, ops.full(ops.shape(zeros), NEG, zeros.dtype)]

    def step(self, inputs, states, mask=None):
        """One step: `inputs` `(batch, width)`; `states` = `[previous input, a, b, r]`."""
        previous, shift_states = self.shift.step(inputs, states[:1], mask=mask)
        k, v, r = self._project(inputs, previous)
        a, b, ref = states[1:]
        wkv = self._read(a, b, ref, k, v, ops.cast(self.time_first, k.dtype))
        decayed = ref - ops.exp(ops.cast(self.time_decay, k.dtype))
        top = ops.maximum(decayed, k)
        old, new = ops.exp(decayed - top), ops.exp(k - top)
        new_states = [old * a + new * v, old * b + new, top]
        return self.output_proj(r * wkv), [*shift_states, *keep_where(mask, new_states, states[1:])]

    def get_config(self):
        config = super().get_config()
        config.update({"block": self.block, "depth": self.depth})
        return config
