"""The shared machinery of minGRU and minLSTM (private): gates from the input only."""

from keras import initializers, layers, ops

from seqzoo.layers._masking import keep_where
from seqzoo.scan import gated_projection_scan


class InputGatedRecurrence(layers.Layer):
    """`h_t = sigmoid(-k_t) h_{t-1} + sigmoid(k_t) v_t`, `(k_t, v_t)` from one projection of `x_t`.

    Subclasses set `projections` (how many `units`-wide slices the fused input
    projection has) and `gate_and_candidate(slices) -> (k, v)`: the gate
    pre-activation and the candidate. The parallel form is one
    `seqzoo.scan.gated_projection_scan` (`gated_scan` with the gate algebra fused
    into the scan, the projection run on the step-major input); `step` is
    the same update on one step (state `[h]`).
    """

    projections = 2

    def __init__(self, units, use_bias=True, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        width = self.projections * self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], width), initializer=self.kernel_initializer,
                                      name="kernel")
        self.bias = self.add_weight(shape=(width,), initializer="zeros", name="bias") if self.use_bias else None

    def gate_and_candidate(self, slices):
        raise NotImplementedError

    def _recurrence(self, x):
        # One matmul per slice of the fused kernel: no split copies of the projected sequence.
        kernel = ops.cast(self.kernel, x.dtype)
        slices = []
        for i in range(self.projections):
            part = slice(i * self.units, (i + 1) * self.units)
            y = ops.matmul(x, kernel[:, part])
            slices.append(y if self.bias is None else y + ops.cast(self.bias[part], x.dtype))
        return self.gate_and_candidate(slices)

    def call(self, inputs, mask=None):
        # The projection runs on the step-major input: the scan's step slices are contiguous.
        return gated_projection_scan(inputs, self._recurrence, mask=mask)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def initial_state(self, batch_size):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def step(self, inputs, states, mask=None):
        """One step: `inputs` `(batch, channels)`, `states` `[h]`; returns `(h, [h])`."""
        gate, candidate = self._recurrence(inputs)
        new = keep_where(mask, [ops.sigmoid(-gate) * states[0] + ops.sigmoid(gate) * candidate], states)
        return new[0], new

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
        })
        return config
