from keras import saving

from seqzoo.layers._input_gated import InputGatedRecurrence


@saving.register_keras_serializable(package="seqzoo")
class MinGRU(InputGatedRecurrence):
    """minGRU (Feng et al. 2024): a GRU whose gate and candidate read only the input.

    `z_t = sigmoid(k_t)`, `k_t = W_z x_t`, `h~_t = W_h x_t`,
    `h_t = (1 - z_t) h_{t-1} + z_t h~_t`. Nothing in a step reads `h_{t-1}`
    except the decay, so all states come from one linear recurrence
    (`seqzoo.scan.gated_scan`, which takes the gate pre-activation `k_t` and
    forms `1 - z_t = sigmoid(-k_t)` inside its step loops) over the whole
    sequence. One fused input projection gives `k_t` and the candidate. A masked (right-padded)
    step carries the state unchanged; `step` runs one step with the state
    `[h]` (streaming).

    Args:
        units: state (and output) size.
        use_bias: bias in the input projection.
        kernel_initializer: initialiser of the `(channels, 2 * units)` projection.

    Example:

    >>> import numpy as np
    >>> layer = MinGRU(8)
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 8)
    """

    projections = 2

    def gate_and_candidate(self, slices):
        return slices  # k_t, h~_t
