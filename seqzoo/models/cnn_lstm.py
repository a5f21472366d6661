"""Convolution + LSTM hybrid (CLDNN-style)."""

from seqzoo.layers import MaskedConv1D
from seqzoo.models._recurrent import recurrent_params, recurrent_stack
from seqzoo.params import Int
from seqzoo.registry import register

_PARAMS = recurrent_params(units=128, depth=1, pool="last")
_PARAMS.update(
    conv_layers=Int(1, low=1, high=8, search=(1, 3), help="convolution layers"),
    filters=Int(128, low=1, high=4096, search=(32, 256), sampling="log", help="channels per convolution"),
    kernel_size=Int(5, low=1, high=64, search=(3, 9), help="convolution width in steps"),
)


@register(
    year=2015,
    authors="Sainath, Vinyals, Senior & Sak 2015",
    paper="Convolutional, Long Short-Term Memory, Fully Connected Deep Neural Networks",
    family="hybrid",
    solved="Complementary modelling: convolutions reduce local spectral/temporal "
    "variation before LSTMs model the longer structure (CLDNN).",
    params=_PARAMS,
    tags=("gated",),
)
def cnn_lstm(x, *, conv_layers, filters, kernel_size, **recurrent):
    for i in range(conv_layers):
        x = MaskedConv1D(filters, kernel_size, activation="relu", name=f"conv_{i + 1}")(x)
    return recurrent_stack(x, cell="lstm", **recurrent)
