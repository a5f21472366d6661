from keras import layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class ReversibleEmbedding(layers.Embedding):
    """A token embedding that also projects vectors back onto the vocabulary (tied weights).

    `layer(ids)` is `keras.layers.Embedding`: `(batch, time) -> (batch, time, dim)`.
    `layer(h, reverse=True)` scores every token with the same matrix,
    `h @ embeddings.T + output_bias`: `(..., dim) -> (..., vocab)` float32
    logits (Press & Wolf 2017, "Using the Output Embedding to Improve Language
    Models"; BERT and GPT tie them too). Tying saves `vocab * dim` parameters
    and the output layer's separate gradient; the only extra weight is the
    `(vocab,)` output bias. The embedding weight keeps the name and shape of a
    plain `Embedding`'s (`embeddings`), so a classifier's `Embedding` can load it.

    Args:
        input_dim: vocabulary size.
        output_dim: embedding width.
        output_bias: learn a per-token bias for the reverse projection.
        **kwargs: `keras.layers.Embedding` arguments (`mask_zero`, ...).

    Example:

    >>> import numpy as np
    >>> layer = ReversibleEmbedding(10, 4, mask_zero=True)
    >>> h = layer(np.array([[3, 1, 0]]))
    >>> tuple(layer(h, reverse=True).shape)
    (1, 3, 10)
    """

    def __init__(self, input_dim, output_dim, output_bias=True, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        self.output_bias = output_bias

    def build(self, input_shape=None):
        super().build(input_shape)
        self.bias = (
            self.add_weight(shape=(self.input_dim,), initializer="zeros", name="output_bias")
            if self.output_bias else None
        )

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        kernel = ops.cast(self.embeddings, inputs.dtype)
        logits = ops.cast(ops.matmul(inputs, ops.transpose(kernel)), "float32")
        if self.bias is not None:
            logits = logits + ops.cast(self.bias, "float32")
        return logits

    def compute_mask(self, inputs, mask=None):
        # Keras passes no call keywords here: float inputs are the reverse call,
        # whose steps keep the incoming mask.
        if "float" in str(inputs.dtype):
            return mask
        return super().compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.input_dim)
        return super().compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, reverse=False):
        if reverse:
            from keras import KerasTensor

            return KerasTensor(self.compute_output_shape(inputs.shape, reverse=True), dtype="float32")
        return super().compute_output_spec(inputs)

    @property
    def variable_serialization_spec(self):
        spec = dict(super().variable_serialization_spec)
        if self.output_bias:  # saved after the embeddings, in every mode
            spec = {mode: [*names, "bias"] for mode, names in spec.items()}
        return spec

    def get_config(self):
        config = super().get_config()
        config.update({"output_bias": self.output_bias})
        return config
