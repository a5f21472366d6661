from keras import layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class GatherPositions(layers.Layer):
    """The steps at given positions: `[(batch, time, dim), (batch, k) int] -> (batch, k, dim)`.

    A masked language model scores only its masked positions (about 15 % of
    the steps); gathering them before the vocabulary projection cuts the
    softmax cost by the same factor (BERT's `gather_indexes`). Positions
    beyond a row's masked ones are padding: any index (e.g. 0) with target 0.

    Example:

    >>> import numpy as np
    >>> x = np.arange(12, dtype="float32").reshape(1, 3, 4)
    >>> GatherPositions()([x, np.array([[2, 0]])]).numpy().tolist()
    [[[8.0, 9.0, 10.0, 11.0], [0.0, 1.0, 2.0, 3.0]]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        x, positions = inputs
        index = ops.expand_dims(ops.cast(positions, "int32"), -1)
        index = ops.broadcast_to(index, (ops.shape(x)[0], ops.shape(index)[1], ops.shape(x)[2]))
        return ops.take_along_axis(x, index, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        (batch, _, dim), (_, k) = input_shape
        return (batch, k, dim)
