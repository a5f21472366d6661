from keras import initializers, layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class PositionEmbedding(layers.Layer):
    """Add a learned embedding of each position (BERT, GPT) to a sequence.

    Args:
        max_len: the longest sequence it can embed.
        initializer: initialiser of the `(max_len, dim)` table.

    Example:

    >>> import numpy as np
    >>> tuple(PositionEmbedding(max_len=16)(np.zeros((2, 5, 8), "float32")).shape)
    (2, 5, 8)
    """

    def __init__(self, max_len, initializer="truncated_normal", **kwargs):
        super().__init__(**kwargs)
        self.max_len = int(max_len)
        self.initializer = initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[1] is not None and input_shape[1] > self.max_len:
            raise ValueError(
                f"sequence length {input_shape[1]} exceeds max_len={self.max_len}; "
                "raise max_len or truncate the input"
            )
        self.table = self.add_weight(
            shape=(self.max_len, input_shape[-1]), initializer=self.initializer, name="table"
        )

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        positions = ops.cast(self.table[:length], inputs.dtype)
        return inputs + ops.expand_dims(positions, 0)

    def compute_output_shape(self, input_shape):
        # Declared, not inferred: JAX and PyTorch infer shapes by running `call` on a
        # stand-in length, which can exceed `max_len` when the length is variable.
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"max_len": self.max_len, "initializer": initializers.serialize(self.initializer)}
        )
        return config
