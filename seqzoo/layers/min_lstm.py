from keras import ops, saving

from seqzoo.layers._input_gated import InputGatedRecurrence


@saving.register_keras_serializable(package="seqzoo")
class MinLSTM(InputGatedRecurrence):
    """minLSTM (Feng et al. 2024): an LSTM whose gates read only the input, normalised.

    `f_t = sigmoid(W_f x_t)`, `i_t = sigmoid(W_i x_t)`, `h~_t = W_h x_t`; the
    normalised gates `f'_t = f_t / (f_t + i_t)` and `i'_t = i_t / (f_t + i_t)`
    sum to one, so the state stays on the scale of the candidates (no cell
    state, no output gate): `h_t = f'_t h_{t-1} + i'_t h~_t`. Since
    `i'_t = sigmoid(log i_t - log f_t)` and `f'_t = sigmoid(-(log i_t - log f_t))`,
    that is `seqzoo.scan.gated_scan` with the gate pre-activation
    `softplus(-W_f x_t) - softplus(-W_i x_t)` (no division, stable for saturated gates). A masked step
    carries the state; `step` runs one step with the state `[h]`.

    Args:
        units: state (and output) size.
        use_bias: bias in the input projection.
        kernel_initializer: initialiser of the `(channels, 3 * units)` projection.

    Example:

    >>> import numpy as np
    >>> layer = MinLSTM(8)
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 8)
    """

    projections = 3

    def gate_and_candidate(self, slices):
        forget, keep_in, candidate = slices
        return ops.softplus(-forget) - ops.softplus(-keep_in), candidate  # log i - log f
