from keras import ops, saving

from seqzoo.layers._hopfield import retrieve
from seqzoo.layers.hopfield_retrieval import HopfieldRetrieval


@saving.register_keras_serializable(package="seqzoo")
class HopfieldPooling(HopfieldRetrieval):
    """Pool a sequence with learned Hopfield state patterns.

    Like `HopfieldRetrieval`, but the state patterns are `num_queries`
    trainable vectors (the paper's "HopfieldPooling"): each retrieves one
    summary of the stored sequence. `(batch, time, dim) -> (batch, num_queries * dim)`.

    Args:
        num_queries: learned state patterns (summaries).
        heads, key_dim, beta, update_steps: as in `HopfieldRetrieval`.

    Example:

    >>> import numpy as np
    >>> tuple(HopfieldPooling(num_queries=2, heads=2, key_dim=8)(np.ones((3, 5, 16), "float32")).shape)
    (3, 32)
    """

    def __init__(self, num_queries=1, heads=4, key_dim=32, beta=None, update_steps=0, **kwargs):
        super().__init__(heads=heads, key_dim=key_dim, beta=beta, update_steps=update_steps, **kwargs)
        self.num_queries = int(num_queries)

    def build(self, input_shape):
        # The state patterns live in key space already: no query projection.
        self._build_projections(input_shape[-1], query=False)
        self.state_patterns = self.add_weight(
            shape=(1, self.heads, self.num_queries, self.key_dim),
            initializer="glorot_uniform",
            name="state_patterns",
        )

    def call(self, inputs, mask=None):
        batch = ops.shape(inputs)[0]
        state = ops.broadcast_to(
            ops.cast(self.state_patterns, inputs.dtype),
            (batch, self.heads, self.num_queries, self.key_dim),
        )
        stored = self._split(ops.matmul(inputs, self.w_k))
        z = retrieve(state, stored, self._values, self._beta(), self.update_steps, mask)
        z = ops.matmul(self._merge(z), self.w_o)  # (batch, num_queries, dim)
        return ops.reshape(z, (batch, self.num_queries * ops.shape(inputs)[-1]))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_queries * input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"num_queries": self.num_queries})
        return config
