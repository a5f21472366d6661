import math

import numpy as np
from keras import initializers, layers, ops, saving

from seqzoo.layers._masking import keep_where
from seqzoo.layers._xlstm import NEG, head_norm, headwise, lead_shape
from seqzoo.layers.causal_depthwise_conv1d import CausalDepthwiseConv1D


def _forget_bias_initializer(shape, dtype=None):
    """Input, forget, cell and output biases per head `(heads, 4 * head_dim)`: forget biases
    spread over [3, 6] within every head (long memory at first), the others zero."""
    heads, four_dim = shape
    dim = four_dim // 4
    bias = np.zeros((heads, 4, dim))
    bias[:, 1] = np.linspace(3.0, 6.0, dim)
    return ops.cast(bias.reshape(shape), dtype or "float32")


@saving.register_keras_serializable(package="seqzoo")
class SLSTMMixer(layers.Layer):
    """xLSTM's sLSTM cell (Beck et al. 2024): scalar memory with exponential gating.

    `(batch, time, width) -> (batch, time, width)`, `heads` heads of
    `width / heads` cells. Per step, with block-diagonal (per-head) recurrent
    weights R on the previous output h:

        i~, f~, z~, o~ = W x_t + R h_{t-1} + b
        m_t = max(log sigmoid(f~) + m_{t-1}, i~)          (stabiliser)
        i = exp(i~ - m_t),  f = exp(log sigmoid(f~) + m_{t-1} - m_t)
        c_t = f c_{t-1} + i tanh(z~),  n_t = f n_{t-1} + i,  h_t = sigmoid(o~) c_t / n_t

    The input and forget gates read the input through a causal depthwise
    convolution and SiLU, the cell input and output gates read it directly
    (block-diagonal input weights too), and the outputs are normalised per
    head. The recurrence through h is not linear, so training runs it step by
    step (`keras.ops.scan`); `step` is the same cell with the state
    `[conv window, c, n, m, h]`. A masked step carries the state.

    Args:
        heads: heads (diagonal blocks of the recurrent weights); must divide
            the width.
        conv_width: steps the gate convolution reads; 0: no convolution.

    Example:

    >>> import numpy as np
    >>> mixer = SLSTMMixer(heads=2)
    >>> tuple(mixer(np.ones((2, 10, 8), "float32")).shape)
    (2, 10, 8)
    """

    def __init__(self, heads=4, conv_width=4, **kwargs):
        super().__init__(**kwargs)
        self.heads = int(heads)
        self.conv_width = int(conv_width)
        self.supports_masking = True

    def build(self, input_shape):
        width = int(input_shape[-1])
        if width % self.heads:
            raise ValueError(f"SLSTMMixer: heads={self.heads} must divide the width {width}")
        dim = width // self.heads
        self._dim = dim
        if self.conv_width:
            self.conv = CausalDepthwiseConv1D(self.conv_width, name=f"{self.name}_conv")
            self.conv.build((None, None, width))
        std = initializers.RandomNormal(stddev=1.0 / math.sqrt(dim))
        self.gate_kernel = self.add_weight(shape=(self.heads, dim, 2 * dim), initializer=std, name="gate_kernel")
        self.cell_kernel = self.add_weight(shape=(self.heads, dim, 2 * dim), initializer=std, name="cell_kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.heads, dim, 4 * dim), initializer=std,
                                                name="recurrent_kernel")
        self.bias = self.add_weight(shape=(self.heads, 4 * dim), initializer=_forget_bias_initializer,
                                    name="bias")
        self.norm_weight = self.add_weight(shape=(width,), initializer="ones", name="norm_weight")

    def _inputs(self, x, conv_out):
        """`W x + b` as `(..., heads, 4 * head_dim)`: [input | forget | cell | output] per head."""
        gates = headwise(ops.silu(conv_out) if self.conv_width else x, self.gate_kernel)
        cells = headwise(x, self.cell_kernel)
        split = lambda t: ops.reshape(t, (*lead_shape(t), self.heads, 2 * self._dim))  # noqa: E731
        return ops.concatenate([split(gates), split(cells)], axis=-1) + ops.cast(self.bias, x.dtype)

    def _cell(self, pre, c, n, m, h):
        raw = pre + ops.einsum("bhd,hde->bhe", h, ops.cast(self.recurrent_kernel, h.dtype))
        i_raw, f_raw, z_raw, o_raw = ops.split(raw, 4, axis=-1)
        log_f = -ops.softplus(-f_raw) + m
        m_new = ops.maximum(log_f, i_raw)
        i = ops.exp(i_raw - m_new)
        f = ops.exp(log_f - m_new)
        c = f * c + i * ops.tanh(z_raw)
        n = f * n + i
        return [c, n, m_new, ops.sigmoid(o_raw) * c / n]

    def call(self, inputs, mask=None):
        conv_out = self.conv(inputs, mask=mask) if self.conv_width else None
        pre = self._inputs(inputs, conv_out)  # (batch, time, heads, 4 * dim)
        keep = ops.ones_like(pre[..., :1]) if mask is None else ops.cast(
            ops.reshape(mask, (*ops.shape(mask), 1, 1)), pre.dtype) * ops.ones_like(pre[..., :1])
        # One stacked input (keras' TensorFlow scan dislikes several of unknown length).
        stacked = ops.moveaxis(ops.concatenate([pre, keep], axis=-1), 1, 0)
        initial = self.initial_state(ops.shape(inputs)[0])[1 if self.conv_width else 0:]

        def one_step(states, item):
            new = self._cell(item[..., :-1], *states)
            kept = keep_where(ops.greater(item[:, 0, -1], 0.5), new, states)
            return kept, kept  # keras' TensorFlow scan needs the outputs shaped like the carry

        _, every_state = ops.scan(one_step, initial, stacked)
        return head_norm(ops.moveaxis(every_state[-1], 0, 1), self.norm_weight)

    def compute_output_shape(self, input_shape):
        return input_shape

    def initial_state(self, batch_size):
        zeros = ops.zeros((batch_size, self.heads, self._dim), dtype=self.compute_dtype)
        conv = self.conv.initial_state(batch_size) if self.conv_width else []
        return [*conv, zeros, zeros, ops.full((batch_size, self.heads, self._dim), NEG, self.compute_dtype), zeros]

    def step(self, inputs, states, mask=None):
        """One step: `inputs` `(batch, width)`; `states` = `[conv window, c, n, m, h]`."""
        conv_states, cell_states = (states[:1], states[1:]) if self.conv_width else ([], states)
        conv_out = None
        if self.conv_width:
            conv_out, conv_states = self.conv.step(inputs, conv_states, mask=mask)
        new = self._cell(self._inputs(inputs, conv_out), *cell_states)
        return head_norm(new[-1], self.norm_weight), [*conv_states, *keep_where(mask, new, cell_states)]

    def get_config(self):
        config = super().get_config()
        config.update({"heads": self.heads, "conv_width": self.conv_width})
        return config
