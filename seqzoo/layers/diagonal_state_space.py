import math

import numpy as np
from keras import ops, random, saving

from seqzoo.layers._complex_diagonal import ComplexDiagonalRecurrence, constant


def hippo_n_eigenvalues(state_size: int) -> np.ndarray:
    """The `state_size` eigenvalues (non-negative imaginary parts) of the normal part of the
    HiPPO-LegS matrix of size `2 * state_size`: real parts -1/2, imaginary parts from the
    skew-symmetric part (S5's HiPPO-N initialisation, one of each conjugate pair)."""
    size = 2 * state_size
    n = np.arange(size)
    outer = np.sqrt(2 * n + 1)[:, None] * np.sqrt(2 * n + 1)[None, :]
    skew = 0.5 * outer * (np.tril(np.ones((size, size)), -1) * -1 + np.triu(np.ones((size, size)), 1))
    imag = np.linalg.eigvalsh(-1j * skew)  # skew is real skew-symmetric: i * eigvalsh(-i S)
    imag = np.sort(imag)[::-1][:state_size]
    return np.stack([np.full(state_size, -0.5), np.maximum(imag, 0.0)]).astype("float32")


@saving.register_keras_serializable(package="seqzoo")
class DiagonalStateSpace(ComplexDiagonalRecurrence):
    """The S5 layer (Smith, Warrington & Linderman 2023): a diagonal complex state-space model.

    Continuous time: `h'(t) = Lambda h(t) + B x(t)`, `y = Re(C h) + D x`, with
    a diagonal complex `Lambda` (one multi-input multi-output system for all
    channels), discretised by zero-order hold with a learned step `Delta` per
    state: `Lambda_bar = exp(Lambda Delta)`, `B_bar = (Lambda_bar - 1) / Lambda * B`.
    The recurrence `h_t = Lambda_bar h_{t-1} + B_bar x_t` is one `linear_scan`
    of (real, imaginary) pairs. `Lambda` starts at the HiPPO-N eigenvalues (the
    normal part of HiPPO-LegS, one of each conjugate pair; real part kept
    negative by the parametrisation `-exp(log_neg_real)`), `Delta` log-uniform in
    `[step_min, step_max]`; `B` and `C` complex normals (S5 projects random
    real matrices onto the eigenvectors; for the unitary eigenvectors of the
    normal part a complex normal has the same scale). A masked step carries
    the state; `step` runs one step with the state `[h_real, h_imag]`.

    Args:
        state_size: number of complex states P.
        step_min, step_max: range of the initial discretisation step `Delta`.
        seed: seed of the initialisation.

    Example:

    >>> import numpy as np
    >>> layer = DiagonalStateSpace(16)
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 3)
    """

    def __init__(self, state_size, step_min=0.001, step_max=0.1, seed=None, **kwargs):
        super().__init__(state_size, seed=seed, **kwargs)
        if not 0.0 < step_min <= step_max:
            raise ValueError(f"DiagonalStateSpace needs 0 < step_min <= step_max, got {step_min}, {step_max}")
        self.step_min, self.step_max = float(step_min), float(step_max)

    def build_decay(self, n):
        eigenvalues = hippo_n_eigenvalues(n)
        log_step = math.log(self.step_min) + random.uniform((n,), seed=random.SeedGenerator(self.seed)) * (
            math.log(self.step_max) - math.log(self.step_min))
        self.log_neg_real = self.add_weight(shape=(n,), initializer=constant(np.log(-eigenvalues[0])),
                                            name="log_neg_real")
        self.imag = self.add_weight(shape=(n,), initializer=constant(eigenvalues[1]), name="imag")
        self.log_step = self.add_weight(shape=(n,), initializer=constant(log_step), name="log_step")

    def coefficients(self, dtype):
        """`Lambda_bar` and `(Lambda_bar - 1) / Lambda`, both (real, imag) pairs."""
        real = -ops.exp(ops.cast(self.log_neg_real, dtype))
        imag = ops.cast(self.imag, dtype)
        step = ops.exp(ops.cast(self.log_step, dtype))
        radius = ops.exp(real * step)
        lam_r, lam_i = radius * ops.cos(imag * step), radius * ops.sin(imag * step)
        norm = real * real + imag * imag  # (lam_bar - 1) / lam = (lam_bar - 1) conj(lam) / |lam|^2
        scale = (((lam_r - 1.0) * real + lam_i * imag) / norm, (lam_i * real - (lam_r - 1.0) * imag) / norm)
        return (lam_r, lam_i), scale

    def get_config(self):
        config = super().get_config()
        config.update({"step_min": self.step_min, "step_max": self.step_max})
        return config
