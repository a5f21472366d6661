import math

from keras import initializers, layers, ops, saving

from seqzoo.layers._masking import keep_where, masked_logits


def _rope(x, positions, base):
    """Rotary position embedding of `x` (..., dim) at `positions` (broadcastable to x.shape[:-1])."""
    half = x.shape[-1] // 2
    freqs = ops.exp(ops.arange(half, dtype="float32") * (-2.0 * math.log(base) / x.shape[-1]))
    angles = ops.expand_dims(ops.cast(positions, "float32"), -1) * freqs
    cos, sin = ops.cast(ops.cos(angles), x.dtype), ops.cast(ops.sin(angles), x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return ops.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


@saving.register_keras_serializable(package="seqzoo")
class LocalAttention(layers.Layer):
    """Causal sliding-window multi-query attention with rotary positions, and a step form.

    Griffin's local attention (De et al. 2024): `heads` query heads share one
    key/value head (multi-query attention); step t attends to the steps
    t - window + 1 .. t (itself included); queries and keys are rotated by
    their absolute position (RoPE, Su et al. 2021). The parallel form works
    in blocks of `window` steps (each block reads itself and the block
    before), so it costs O(T * window), not O(T^2). Masked (right-padded)
    steps are never attended to.

    `step` carries a rolling buffer of the last `window` keys and values, their
    validity and the absolute position (the count of valid steps so far), so
    step outputs equal the parallel ones.

    Args:
        heads: query heads; must divide the input width, and width / heads
            must be even (RoPE rotates pairs of channels).
        window: steps each position attends to (itself included).
        rope_base: RoPE's maximum wavelength.
        kernel_initializer: initialiser of the projections.

    Example:

    >>> import numpy as np
    >>> layer = LocalAttention(heads=2, window=3)
    >>> x = np.random.randn(2, 6, 8).astype("float32")
    >>> y = layer(x)
    >>> state = layer.initial_state(2)
    >>> for t in range(6):
    ...     y_t, state = layer.step(x[:, t], state)
    >>> bool(np.allclose(y_t, y[:, -1], atol=1e-5))
    True
    """

    def __init__(self, heads=4, window=128, rope_base=10000.0, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.heads = int(heads)
        self.window = int(window)
        self.rope_base = float(rope_base)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.supports_masking = True
        if self.window < 1:
            raise ValueError(f"LocalAttention: window={window} must be >= 1")

    def build(self, input_shape):
        width = int(input_shape[-1])
        if width % self.heads or (width // self.heads) % 2:
            raise ValueError(f"LocalAttention: heads={self.heads} must divide the width {width} into an even "
                             "head size (RoPE rotates pairs of channels)")
        self.width, self.head_dim = width, width // self.heads
        init = self.kernel_initializer
        self.query_kernel = self.add_weight(shape=(width, self.heads, self.head_dim), initializer=init,
                                            name="query_kernel")
        self.key_kernel = self.add_weight(shape=(width, self.head_dim), initializer=init, name="key_kernel")
        self.value_kernel = self.add_weight(shape=(width, self.head_dim), initializer=init, name="value_kernel")
        self.output_kernel = self.add_weight(shape=(self.heads, self.head_dim, width), initializer=init,
                                             name="output_kernel")

    def _project(self, x):
        q = ops.einsum("...d,dhk->...hk", x, ops.cast(self.query_kernel, x.dtype))
        k = ops.einsum("...d,dk->...k", x, ops.cast(self.key_kernel, x.dtype))
        v = ops.einsum("...d,dk->...k", x, ops.cast(self.value_kernel, x.dtype))
        return q / ops.cast(math.sqrt(self.head_dim), x.dtype), k, v

    def _output(self, o):
        return ops.einsum("...hk,hkd->...d", o, ops.cast(self.output_kernel, o.dtype))

    def call(self, inputs, mask=None):
        x = inputs
        batch, time = ops.shape(x)[0], ops.shape(x)[1]
        q, k, v = self._project(x)
        positions = ops.arange(time, dtype="float32")
        q = _rope(q, ops.expand_dims(positions, -1), self.rope_base)  # (batch, time, heads, head_dim)
        k = _rope(k, positions, self.rope_base)  # (batch, time, head_dim)
        valid = ops.ones((batch, time), "bool") if mask is None else ops.cast(mask, "bool")

        # blocks of `size` steps; each block's queries read that block and the previous one
        static = x.shape[1]
        size = static if static is not None and static <= self.window else self.window
        pad = (size - time % size) % size
        q = ops.pad(q, [[0, 0], [0, pad], [0, 0], [0, 0]])
        k, v = (ops.pad(t, [[0, 0], [0, pad], [0, 0]]) for t in (k, v))
        valid = ops.pad(valid, [[0, 0], [0, pad]], constant_values=False)
        q = ops.reshape(q, (batch, -1, size, self.heads, self.head_dim))
        k, v = (ops.reshape(t, (batch, -1, size, self.head_dim)) for t in (k, v))
        valid = ops.reshape(valid, (batch, -1, size))

        def with_previous(t, fill):
            previous = ops.concatenate([ops.full_like(t[:, :1], fill), t[:, :-1]], axis=1)
            return ops.concatenate([previous, t], axis=2)  # (batch, blocks, 2 * size, ...)

        keys, values, key_valid = with_previous(k, 0), with_previous(v, 0), with_previous(valid, False)
        # query i of a block is at offset i, key j at offset j - size: allowed when 0 <= i - (j - size) < window
        offset = ops.expand_dims(ops.arange(size), 1) - ops.expand_dims(ops.arange(2 * size), 0) + size
        near = ops.logical_and(offset >= 0, offset < self.window)  # (size, 2 * size)
        allowed = ops.logical_and(near[None, None, None], key_valid[:, :, None, None, :])
        scores = ops.einsum("bnqhk,bnsk->bnhqs", q, keys)
        probs = ops.softmax(masked_logits(scores, allowed), axis=-1)
        o = ops.einsum("bnhqs,bnsk->bnqhk", probs, values)
        o = ops.reshape(o, (batch, -1, self.heads, self.head_dim))[:, :time]
        return self._output(o)

    def compute_output_shape(self, input_shape):
        return input_shape

    def initial_state(self, batch_size):
        """Keys and values of the last `window` steps, which of them are real, and the position."""
        buffer = (batch_size, self.window, self.head_dim)
        return [ops.zeros(buffer, self.compute_dtype), ops.zeros(buffer, self.compute_dtype),
                ops.zeros((batch_size, self.window), self.compute_dtype),
                ops.zeros((batch_size, 1), "float32")]

    def step(self, inputs, states, mask=None):
        """One step: `inputs` `(batch, width)`."""
        keys, values, valid, position = states
        q, k, v = self._project(inputs)
        q = _rope(q, position, self.rope_base)  # (batch, heads, head_dim); position (batch, 1)
        k = _rope(k, position[:, 0], self.rope_base)
        keys = ops.concatenate([keys[:, 1:], ops.expand_dims(k, 1)], axis=1)
        values = ops.concatenate([values[:, 1:], ops.expand_dims(v, 1)], axis=1)
        valid = ops.concatenate([valid[:, 1:], ops.ones_like(valid[:, :1])], axis=1)
        scores = ops.einsum("bhk,bsk->bhs", q, keys)
        probs = ops.softmax(masked_logits(scores, ops.expand_dims(valid > 0, 1)), axis=-1)
        y = self._output(ops.einsum("bhs,bsk->bhk", probs, values))
        return y, keep_where(mask, [keys, values, valid, position + 1.0], states)

    def get_config(self):
        config = super().get_config()
        config.update({
            "heads": self.heads,
            "window": self.window,
            "rope_base": self.rope_base,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
        })
        return config
