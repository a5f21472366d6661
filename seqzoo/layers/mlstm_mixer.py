import math

import numpy as np
from keras import initializers, layers, ops, saving

from seqzoo.layers._masking import keep_where
from seqzoo.layers._xlstm import NEG, head_norm, headwise, lead_shape
from seqzoo.layers.causal_depthwise_conv1d import CausalDepthwiseConv1D


def _linspace_initializer(low, high):
    def init(shape, dtype=None):
        return ops.cast(np.linspace(low, high, int(np.prod(shape))).reshape(shape), dtype or "float32")

    return init


@saving.register_keras_serializable(package="seqzoo")
class MLSTMMixer(layers.Layer):
    """xLSTM's mLSTM block (Beck et al. 2024), pre-up-projection, with a step form.

    `(batch, time, width) -> (batch, time, width)`: up-projection to two
    branches of `expand * width`; on the first, a causal depthwise convolution
    and SiLU give queries and keys, the branch itself the values (block-diagonal
    projections, blocks of `qkv_blocksize` channels); the mLSTM cell per head
    with a matrix memory

        C_t = f_t C_{t-1} + i_t v_t k_t^T,  n_t = f_t n_{t-1} + i_t k_t,
        h_t = C_t q_t / max(|n_t . q_t|, 1)

    (sigmoid forget gate, exponential input gate, keys scaled by
    `1 / sqrt(head_dim)`), per-head normalisation, a learnable skip from the
    convolution, the SiLU gate of the second branch and a down-projection.

    Training uses the paper's parallel form: the log-gate matrix
    `log D_ts = sum_{r=s+1..t} log f_r + log i_s` (s <= t), stabilised by its
    row maximum m_t — quadratic in time, like attention — within chunks of
    `chunk_size` steps, and the recurrent form across chunks: the memory
    `[C; n]` and its stabiliser m entering each chunk are carried by a scan
    over chunks (the chunkwise-parallel form of xLSTM 7B / mlstm_kernels), so
    the cost grows as T * chunk_size + T * head_dim^2 instead of T^2. A
    sequence of at most `chunk_size` steps takes the quadratic form whole.
    `step` runs the recurrent form with the state `[conv window, C, n, m]`
    (m the running stabiliser); all give the same outputs (the same m_t).
    A masked step has f = 1, i = 0: the memory is carried.

    Args:
        heads: memory heads; must divide `expand * width`.
        expand: up-projection factor (2 in the paper).
        conv_width: steps the causal convolution reads.
        qkv_blocksize: channels per block of the query/key/value projections
            (4 in the paper); must divide `expand * width`.
        chunk_size: steps per chunk of the chunkwise-parallel form, or `None`
            for the quadratic form over the whole sequence. Changes speed and
            memory, not the outputs; 32 and 64 tied for the fastest here
            (training step at T = 1024 on a 2-core CPU: 2.4x faster than
            the quadratic form; benchmarks/RESULTS.md).
        unroll: run the recurrence over chunks as unrolled operations instead of
            a `keras.ops.scan` (needs a known length; as for Keras' recurrent
            layers, `seqzoo.export.to_litert` sets it: LiteRT converts no loop
            over an unknown count). The same outputs; the scan trained a few
            percent faster here.

    Example:

    >>> import numpy as np
    >>> mixer = MLSTMMixer(heads=2, chunk_size=4)
    >>> tuple(mixer(np.ones((2, 10, 8), "float32")).shape)
    (2, 10, 8)
    """

    def __init__(self, heads=4, expand=2, conv_width=4, qkv_blocksize=4, chunk_size=64, unroll=False, **kwargs):
        super().__init__(**kwargs)
        if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer))
                                       or chunk_size < 1):
            raise ValueError(f"MLSTMMixer: chunk_size={chunk_size!r} must be a positive integer "
                             "(or None for the quadratic form over the whole sequence)")
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self.unroll = bool(unroll)
        self.heads = int(heads)
        self.expand = int(expand)
        self.conv_width = int(conv_width)
        self.qkv_blocksize = int(qkv_blocksize)
        self.supports_masking = True

    def build(self, input_shape):
        width = int(input_shape[-1])
        inner = self.expand * width
        for name, size in (("heads", self.heads), ("qkv_blocksize", self.qkv_blocksize)):
            if inner % size:
                raise ValueError(f"MLSTMMixer: {name}={size} must divide expand * width = {inner}")
        blocks, size = inner // self.qkv_blocksize, self.qkv_blocksize
        self.up_proj = layers.Dense(2 * inner, use_bias=False, name=f"{self.name}_up_proj")
        self.up_proj.build((None, width))
        self.conv = CausalDepthwiseConv1D(self.conv_width, name=f"{self.name}_conv")
        self.conv.build((None, None, inner))
        projection = initializers.RandomNormal(stddev=math.sqrt(2.0 / (5 * size)))
        self.q_kernel = self.add_weight(shape=(blocks, size, size), initializer=projection, name="q_kernel")
        self.k_kernel = self.add_weight(shape=(blocks, size, size), initializer=projection, name="k_kernel")
        self.v_kernel = self.add_weight(shape=(blocks, size, size), initializer=projection, name="v_kernel")
        self.input_gate = layers.Dense(self.heads, kernel_initializer="zeros",
                                       bias_initializer=initializers.RandomNormal(stddev=0.1), name=f"{self.name}_input_gate")
        self.input_gate.build((None, 3 * inner))
        self.forget_gate = layers.Dense(self.heads, kernel_initializer="zeros",
                                        bias_initializer=_linspace_initializer(3.0, 6.0), name=f"{self.name}_forget_gate")
        self.forget_gate.build((None, 3 * inner))
        self.norm_weight = self.add_weight(shape=(inner,), initializer="ones", name="norm_weight")
        self.skip = self.add_weight(shape=(inner,), initializer="ones", name="skip")
        self.down_proj = layers.Dense(width, use_bias=False, name=f"{self.name}_down_proj")
        self.down_proj.build((None, inner))

    def _split_heads(self, x):
        return ops.reshape(x, (*lead_shape(x), self.heads, x.shape[-1] // self.heads))

    def _project(self, x, conv_out):
        """Queries, keys (scaled), values `(..., heads, head_dim)` and the gate pre-activations `(..., heads)`."""
        c = ops.silu(conv_out)
        q, k, v = headwise(c, self.q_kernel), headwise(c, self.k_kernel), headwise(x, self.v_kernel)
        qkv = ops.concatenate([q, k, v], axis=-1)
        i_pre = self.input_gate(qkv)
        log_f = -ops.softplus(-self.forget_gate(qkv))  # log sigmoid
        scale = 1.0 / math.sqrt(q.shape[-1] // self.heads)
        return c, self._split_heads(q), self._split_heads(k) * scale, self._split_heads(v), i_pre, log_f

    def _finish(self, h, c, z):
        h = head_norm(h, self.norm_weight) + c * ops.cast(self.skip, c.dtype)
        return self.down_proj(h * ops.silu(z))

    def call(self, inputs, mask=None):
        x, z = ops.split(self.up_proj(inputs), 2, axis=-1)
        c, q, k, v, i_pre, log_f = self._project(x, self.conv(x, mask=mask))
        if mask is not None:
            keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
            i_pre = ops.where(keep, i_pre, NEG)
            log_f = ops.where(keep, log_f, 0.0)
        # (batch, heads, time, ...) from here
        q, k, v = (ops.transpose(t, (0, 2, 1, 3)) for t in (q, k, v))
        i_pre, log_f = (ops.transpose(t, (0, 2, 1)) for t in (i_pre, log_f))
        time = q.shape[2]
        if self.chunk_size is None or (time is not None and time <= self.chunk_size):
            h = self._quadratic(q, k, v, i_pre, log_f)
        else:
            h = self._chunkwise(q, k, v, i_pre, log_f)
        return self._finish(ops.transpose(h, (0, 2, 1, 3)), c, z)

    @staticmethod
    def _quadratic(q, k, v, i_pre, log_f):
        """The parallel form over the whole sequence: `(batch, heads, time, ...)` -> h."""
        cum = ops.cumsum(log_f, axis=-1)
        log_d = ops.expand_dims(cum, -1) - ops.expand_dims(cum, -2) + ops.expand_dims(i_pre, -2)
        time = ops.shape(q)[2]
        causal = ops.greater_equal(ops.expand_dims(ops.arange(time), 1), ops.expand_dims(ops.arange(time), 0))
        log_d = ops.where(causal, log_d, NEG)
        m = ops.max(log_d, axis=-1, keepdims=True)
        weights = ops.matmul(q, ops.swapaxes(k, -1, -2)) * ops.exp(log_d - m)
        normaliser = ops.maximum(ops.abs(ops.sum(weights, axis=-1, keepdims=True)), ops.exp(-m)) + 1e-6
        return ops.matmul(weights / normaliser, v)  # (batch, heads, time, head_dim)

    def _chunkwise(self, q, k, v, i_pre, log_f):
        """The chunkwise-parallel form: the quadratic form within chunks of `chunk_size`
        steps, the memory carried across chunks. `(batch, heads, time, ...)` -> h."""
        size = self.chunk_size
        batch, time = ops.shape(q)[0], ops.shape(q)[2]
        pad = (size - time % size) % size  # padded steps: i = 0, f = 1, like masked ones
        chunks = None if q.shape[2] is None else -(-q.shape[2] // size)

        def chunked(t, fill=0.0):  # (batch, heads, chunks, size, ...)
            widths = [[0, 0]] * len(t.shape)
            widths[2] = [0, pad]
            t = ops.pad(t, widths, constant_values=fill)
            return ops.reshape(t, (batch, self.heads, -1, size, *t.shape[3:]))

        # Values with a 1 appended: one memory [C; n] of (head_dim + 1, head_dim) carries both.
        q, k = chunked(q), chunked(k)
        v = chunked(ops.concatenate([v, ops.ones_like(v[..., :1])], axis=-1))
        i_pre, b = chunked(i_pre, NEG), ops.cumsum(chunked(log_f), axis=-1)  # b: log-decay since the chunk began
        total = b[..., -1]  # (batch, heads, chunks)
        to_end = ops.expand_dims(total, -1) - b + i_pre  # log-weight of each step in the chunk's final memory
        m_local = ops.max(to_end, axis=-1)
        local = ops.matmul(ops.swapaxes(v * ops.expand_dims(ops.exp(to_end - ops.expand_dims(m_local, -1)), -1),
                                        -1, -2), k)  # (batch, heads, chunks, head_dim + 1, head_dim)

        # One stacked input per chunk: keras' TensorFlow scan fails on several of unknown length.
        dim = k.shape[-1]
        stacked = ops.concatenate([ops.reshape(local, (batch, self.heads, -1, (dim + 1) * dim)),
                                   ops.stack([m_local, total], axis=-1)], axis=-1)

        def carry(state, item):  # the recurrent form, one chunk at a time: the state entering each chunk
            memory, m = state
            local = ops.reshape(item[..., :-2], (-1, self.heads, dim + 1, dim))
            m_local, total = item[..., -2], item[..., -1]
            m_new = ops.maximum(total + m, m_local)
            scale = lambda log: ops.expand_dims(ops.exp(log - m_new), (-1, -2))  # noqa: E731
            return (scale(total + m) * memory + scale(m_local) * local, m_new), (memory, m)

        state = (ops.zeros_like(local[:, :, 0]), ops.full_like(m_local[:, :, 0], NEG))
        items = ops.moveaxis(stacked, 2, 0)
        if not self.unroll:
            _, (entering, m_entering) = ops.scan(carry, state, items)
        else:  # no while loop: LiteRT converts it
            if chunks is None:
                raise ValueError("MLSTMMixer: unroll=True needs a known sequence length "
                                 "(build the model with a fixed seq_len, or leave unroll=False)")
            outs = []
            for chunk in range(chunks):
                state, out = carry(state, items[chunk])
                outs.append(out)
            entering, m_entering = (ops.stack(t, axis=0) for t in zip(*outs))
        entering, m_entering = ops.moveaxis(entering, 0, 2), ops.moveaxis(m_entering, 0, 2)

        carried = b + ops.expand_dims(m_entering, -1)  # log-scale of the entering memory at each step
        log_d = ops.expand_dims(b, -1) - ops.expand_dims(b, -2) + ops.expand_dims(i_pre, -2)
        causal = np.tril(np.ones((size, size), bool))
        log_d = ops.where(causal, log_d, NEG)
        m = ops.maximum(carried, ops.max(log_d, axis=-1))  # the recurrent stabiliser m_t
        weights = ops.matmul(q, ops.swapaxes(k, -1, -2)) * ops.exp(log_d - ops.expand_dims(m, -1))
        out = ops.matmul(weights, v) + ops.expand_dims(ops.exp(carried - m), -1) * ops.matmul(
            q, ops.swapaxes(entering, -1, -2))
        normaliser = ops.maximum(ops.abs(out[..., -1:]), ops.exp(-ops.expand_dims(m, -1))) + 1e-6
        h = ops.reshape(out[..., :-1] / normaliser, (batch, self.heads, -1, out.shape[-1] - 1))
        return h[:, :, :time]

    def compute_output_shape(self, input_shape):
        return input_shape

    def initial_state(self, batch_size):
        dim = int(self.norm_weight.shape[0]) // self.heads
        zeros = lambda *shape: ops.zeros((batch_size, self.heads, *shape), dtype=self.compute_dtype)  # noqa: E731
        return [*self.conv.initial_state(batch_size), zeros(dim, dim), zeros(dim),
                ops.full((batch_size, self.heads), NEG, dtype=self.compute_dtype)]

    def step(self, inputs, states, mask=None):
        """One step: `inputs` `(batch, width)`; `states` = `[conv window, C, n, m]`."""
        x, z = ops.split(self.up_proj(inputs), 2, axis=-1)
        conv_out, conv_states = self.conv.step(x, states[:1], mask=mask)
        c, q, k, v, i_pre, log_f = self._project(x, conv_out)
        memory, norm, m = states[1:]
        m_new = ops.maximum(log_f + m, i_pre)
        f = ops.expand_dims(ops.exp(log_f + m - m_new), -1)
        i = ops.expand_dims(ops.exp(i_pre - m_new), -1)
        norm = f * norm + i * k
        memory = ops.expand_dims(f, -1) * memory + ops.expand_dims(i, -1) * (
            ops.expand_dims(v, -1) * ops.expand_dims(k, -2))
        numerator = ops.sum(memory * ops.expand_dims(q, -2), axis=-1)
        denominator = ops.maximum(ops.abs(ops.sum(norm * q, axis=-1, keepdims=True)),
                                  ops.exp(-ops.expand_dims(m_new, -1))) + 1e-6
        y = self._finish(numerator / denominator, c, z)
        return y, [*conv_states, *keep_where(mask, [memory, norm, m_new], states[1:])]

    def get_config(self):
        config = super().get_config()
        config.update({"heads": self.heads, "expand": self.expand, "conv_width": self.conv_width,
                       "qkv_blocksize": self.qkv_blocksize, "chunk_size": self.chunk_size,
                       "unroll": self.unroll})
        return config
