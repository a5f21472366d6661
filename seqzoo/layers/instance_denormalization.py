from keras import layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class InstanceDenormalization(layers.Layer):
    """Undo `InstanceNormalization` on a forecast of the last `targets` variables.

    Called on `[forecast, window]`: the forecast `(batch, horizon, targets)`
    is scaled by the deviation and shifted by the mean of the last `targets`
    variables of the raw input `window` `(batch, lookback, variables)`.

    Args:
        targets: how many trailing variables the forecast covers.
        epsilon: must match the `InstanceNormalization` it undoes.

    Example:

    >>> import numpy as np
    >>> window = np.array([[[1.0], [3.0]]], "float32")
    >>> forecast = np.array([[[1.0]]], "float32")
    >>> InstanceDenormalization(1, epsilon=0.0)([forecast, window]).numpy().ravel().tolist()
    [3.0]
    """

    def __init__(self, targets, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.targets = int(targets)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        forecast, window = inputs
        window = ops.cast(window[:, :, -self.targets :], forecast.dtype)
        mean = ops.mean(window, axis=1, keepdims=True)
        std = ops.sqrt(ops.var(window, axis=1, keepdims=True) + self.epsilon)
        return forecast * std + mean

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        config = super().get_config()
        config.update({"targets": self.targets, "epsilon": self.epsilon})
        return config
