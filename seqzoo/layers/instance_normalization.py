from keras import layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class InstanceNormalization(layers.Layer):
    """Normalise each variable of each window by its own mean and deviation.

    `(x - mean_t x) / sqrt(var_t x + epsilon)` per example and channel, the
    first half of reversible instance normalisation (RevIN, Kim et al. 2022):
    it removes the level shifts between training and test windows that hurt
    forecasting. `InstanceDenormalization` undoes it on the forecast.

    Args:
        epsilon: added to the variance.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0], [3.0]]], "float32")
    >>> InstanceNormalization(epsilon=0.0)(x).numpy().ravel().tolist()
    [-1.0, 1.0]
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.supports_masking = True

    def call(self, inputs):
        mean = ops.mean(inputs, axis=1, keepdims=True)
        var = ops.var(inputs, axis=1, keepdims=True)
        return (inputs - mean) / ops.sqrt(var + self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
