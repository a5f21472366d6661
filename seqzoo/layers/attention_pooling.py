from keras import layers, ops, saving

from seqzoo.layers._masking import last_valid, masked_logits


@saving.register_keras_serializable(package="seqzoo")
class AttentionPooling(layers.Layer):
    """Additive (Bahdanau) attention that pools a sequence into one vector.

    `e_t = v^T tanh(W h_t + U q)`, `a = softmax(e)` over the valid steps,
    output `sum_t a_t h_t`. The query `q` is the last valid step of the
    sequence (the recurrent encoder's final state), as in the attention
    models for keyword spotting of de Andrade et al. (2018).

    Args:
        units: width of the scoring layer (`W`, `U`).

    Example:

    >>> import numpy as np
    >>> tuple(AttentionPooling(16)(np.ones((2, 7, 8), "float32")).shape)
    (2, 8)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.supports_masking = True

    def build(self, input_shape):
        dim = input_shape[-1]
        self.w = self.add_weight(shape=(dim, self.units), initializer="glorot_uniform", name="w")
        self.u = self.add_weight(shape=(dim, self.units), initializer="glorot_uniform", name="u")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
        self.v = self.add_weight(shape=(self.units, 1), initializer="glorot_uniform", name="v")

    def call(self, inputs, mask=None):
        query = last_valid(inputs, mask)  # (batch, dim)
        hidden = ops.tanh(
            ops.matmul(inputs, self.w) + ops.expand_dims(ops.matmul(query, self.u), 1) + self.b
        )
        scores = ops.squeeze(ops.matmul(hidden, self.v), -1)  # (batch, time)
        scores = masked_logits(scores, mask)
        weights = ops.softmax(scores, axis=-1)
        return ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config
