import math

from keras import layers, ops, saving

from seqzoo.layers._hopfield import retrieve


@saving.register_keras_serializable(package="seqzoo")
class HopfieldRetrieval(layers.Layer):
    """Modern continuous Hopfield association of a sequence with itself.

    Every step is a state pattern `xi = x_t W_Q` and the whole (unpadded)
    sequence is the memory `K = X W_K` (Ramsauer et al. 2020, "Hopfield
    Networks is All You Need"). The energy
    `E(xi) = -lse(beta, K xi) + xi^T xi / 2 + const` is lowered by the update
    `xi <- K^T softmax(beta K xi)`, run `update_steps` times; the fixed point
    is then read out as `softmax(beta K xi)^T K W_V`, projected back to the
    input width. With `update_steps=0` this is one attention step whose values
    are derived from the keys, as in the paper's Hopfield layer (eq. 10).

    Args:
        heads: independent associative memories.
        key_dim: width of each memory's patterns.
        beta: inverse temperature; `None` = `1 / sqrt(key_dim)`. Large beta
            retrieves single stored patterns, small beta averages them
            (metastable states).
        update_steps: Hopfield updates before the read-out.

    Example:

    >>> import numpy as np
    >>> tuple(HopfieldRetrieval(heads=2, key_dim=8)(np.ones((2, 5, 16), "float32")).shape)
    (2, 5, 16)
    """

    def __init__(self, heads=4, key_dim=32, beta=None, update_steps=0, **kwargs):
        super().__init__(**kwargs)
        self.heads = int(heads)
        self.key_dim = int(key_dim)
        self.beta = None if beta is None else float(beta)
        self.update_steps = int(update_steps)
        self.supports_masking = True

    def _beta(self):
        return self.beta if self.beta is not None else 1.0 / math.sqrt(self.key_dim)

    def build(self, input_shape):
        self._build_projections(input_shape[-1], query=True)

    def _build_projections(self, dim, *, query):
        inner = self.heads * self.key_dim
        if query:
            self.w_q = self.add_weight(shape=(dim, inner), initializer="glorot_uniform", name="w_q")
        self.w_k = self.add_weight(shape=(dim, inner), initializer="glorot_uniform", name="w_k")
        self.w_v = self.add_weight(
            shape=(self.heads, self.key_dim, self.key_dim), initializer="glorot_uniform", name="w_v"
        )
        self.w_o = self.add_weight(shape=(inner, dim), initializer="glorot_uniform", name="w_o")

    def _split(self, x):
        batch, time = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, time, self.heads, self.key_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    def _merge(self, z):
        batch, time = ops.shape(z)[0], ops.shape(z)[2]
        z = ops.transpose(z, (0, 2, 1, 3))
        return ops.reshape(z, (batch, time, self.heads * self.key_dim))

    def _values(self, stored):
        return ops.einsum("bhkd,hde->bhke", stored, ops.cast(self.w_v, stored.dtype))

    def call(self, inputs, mask=None):
        state = self._split(ops.matmul(inputs, self.w_q))
        stored = self._split(ops.matmul(inputs, self.w_k))
        z = retrieve(state, stored, self._values, self._beta(), self.update_steps, mask)
        return ops.matmul(self._merge(z), self.w_o)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "heads": self.heads,
                "key_dim": self.key_dim,
                "beta": self.beta,
                "update_steps": self.update_steps,
            }
        )
        return config
