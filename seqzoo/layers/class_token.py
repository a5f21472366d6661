from keras import initializers, layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class ClassToken(layers.Layer):
    """Prepend a learned summary vector ("[CLS]", Devlin et al. 2018) to a sequence.

    `(batch, time, dim) -> (batch, time + 1, dim)`; the mask gains a leading
    `True`, so attention layers see the token and ignore the padding.

    Example:

    >>> import numpy as np
    >>> tuple(ClassToken()(np.zeros((2, 5, 8), "float32")).shape)
    (2, 6, 8)
    """

    def __init__(self, initializer="truncated_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.token = self.add_weight(
            shape=(1, 1, input_shape[-1]), initializer=self.initializer, name="token"
        )

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        token = ops.broadcast_to(ops.cast(self.token, inputs.dtype), (batch, 1, ops.shape(inputs)[2]))
        return ops.concatenate([token, inputs], axis=1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        first = ops.ones_like(mask[:, :1])
        return ops.concatenate([first, mask], axis=1)

    def compute_output_shape(self, input_shape):
        time = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], time, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"initializer": initializers.serialize(self.initializer)})
        return config
