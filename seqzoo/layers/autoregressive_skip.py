from keras import layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class AutoregressiveSkip(layers.Layer):
    """A linear map from the lookback window to the forecast, per target variable.

    LSTNet's "highway" autoregressive component (Lai et al. 2018), shared
    across variables as in DLinear (Zeng et al. 2023): the last `targets`
    variables of `(batch, lookback, variables)` are mapped over time to
    `(batch, horizon, targets)` by one `(lookback, horizon)` matrix and bias.
    Added to a neural forecast, it keeps the linear scale-following part of
    the signal that deep models fit poorly.

    Args:
        horizon: forecast steps.
        targets: trailing variables to forecast.

    Example:

    >>> import numpy as np
    >>> tuple(AutoregressiveSkip(horizon=4, targets=2)(np.ones((3, 10, 5), "float32")).shape)
    (3, 4, 2)
    """

    def __init__(self, horizon, targets, **kwargs):
        super().__init__(**kwargs)
        self.horizon = int(horizon)
        self.targets = int(targets)

    def build(self, input_shape):
        lookback = input_shape[1]
        if lookback is None:
            raise ValueError("AutoregressiveSkip needs a fixed lookback (seq_len)")
        self.kernel = self.add_weight(
            shape=(lookback, self.horizon),
            initializer=_UniformAverage(lookback),
            name="kernel",
        )
        self.bias = self.add_weight(shape=(self.horizon,), initializer="zeros", name="bias")

    def call(self, inputs):
        window = inputs[:, :, -self.targets :]
        kernel = ops.cast(self.kernel, window.dtype)
        out = ops.einsum("btc,th->bhc", window, kernel)
        return out + ops.cast(self.bias, window.dtype)[None, :, None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, self.targets)

    def get_config(self):
        config = super().get_config()
        config.update({"horizon": self.horizon, "targets": self.targets})
        return config


def _UniformAverage(lookback):  # noqa: N802
    """DLinear's initialisation: every output starts as the window mean."""
    from keras import initializers

    return initializers.Constant(1.0 / lookback)
