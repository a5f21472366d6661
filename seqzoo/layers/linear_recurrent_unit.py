import math

from keras import ops, random, saving

from seqzoo.layers._complex_diagonal import ComplexDiagonalRecurrence, constant


@saving.register_keras_serializable(package="seqzoo")
class LinearRecurrentUnit(ComplexDiagonalRecurrence):
    """The Linear Recurrent Unit (Orvieto et al. 2023): a complex diagonal linear recurrence.

    `h_t = lambda * h_{t-1} + gamma * (B x_t)` with complex `h`, `B`, `C` and
    `lambda = exp(-exp(nu) + i exp(theta))` (exponential parametrisation:
    `|lambda| < 1` for every `nu`, so the recurrence stays stable throughout
    training); `gamma = sqrt(1 - |lambda|^2)` at initialisation, then learned
    (its log is a weight), keeps the state's scale when `|lambda|` is near 1.
    Output `y_t = Re(C h_t) + D * x_t` (real, the input's width).
    Initialisation: `|lambda|` uniform on the ring `r_min <= |lambda| <= r_max`
    (uniform in area), phases uniform in `[0, max_phase]`; `B`, `C` complex
    normals scaled by fan-in.

    The whole sequence is one `linear_scan` of (real, imaginary) pairs; a
    masked step carries the state; `step` runs one step with the state
    `[h_real, h_imag]`.

    Args:
        state_size: number of complex state dimensions N.
        r_min, r_max: the ring of initial `|lambda|` (`0 <= r_min < r_max < 1`).
        max_phase: largest initial phase of `lambda` (radians).
        seed: seed of the initialisation.

    Example:

    >>> import numpy as np
    >>> layer = LinearRecurrentUnit(16)
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 3)
    """

    def __init__(self, state_size, r_min=0.4, r_max=0.99, max_phase=math.pi, seed=None, **kwargs):
        super().__init__(state_size, seed=seed, **kwargs)
        if not 0.0 <= r_min < r_max < 1.0:
            raise ValueError(f"LinearRecurrentUnit needs 0 <= r_min < r_max < 1, got r_min={r_min}, r_max={r_max}")
        self.r_min, self.r_max, self.max_phase = float(r_min), float(r_max), float(max_phase)

    def build_decay(self, n):
        seed = random.SeedGenerator(self.seed)
        u1, u2 = random.uniform((n,), seed=seed), random.uniform((n,), seed=seed)
        radius = ops.sqrt(u1 * (self.r_max ** 2 - self.r_min ** 2) + self.r_min ** 2)
        self.nu_log = self.add_weight(shape=(n,), initializer=constant(ops.log(-ops.log(radius))), name="nu_log")
        self.theta_log = self.add_weight(shape=(n,), initializer=constant(ops.log(ops.maximum(u2 * self.max_phase, 1e-6))),
                                         name="theta_log")
        self.gamma_log = self.add_weight(shape=(n,), initializer=constant(0.5 * ops.log(1.0 - radius ** 2)),
                                         name="gamma_log")

    def coefficients(self, dtype):
        radius = ops.exp(-ops.exp(ops.cast(self.nu_log, dtype)))
        phase = ops.exp(ops.cast(self.theta_log, dtype))
        return (radius * ops.cos(phase), radius * ops.sin(phase)), ops.exp(ops.cast(self.gamma_log, dtype))

    def get_config(self):
        config = super().get_config()
        config.update({"r_min": self.r_min, "r_max": self.r_max, "max_phase": self.max_phase})
        return config
