"""Deep Speech 2: a convolutional front end and a deep bidirectional GRU stack."""

import keras

from seqzoo.layers import MaskedConv1D
from seqzoo.models._recurrent import recurrent_params, recurrent_stack
from seqzoo.models._summary import returning_sequences
from seqzoo.params import Int, ParamError
from seqzoo.registry import register

_PARAMS = recurrent_params(units=128, depth=3, pool="max")
_PARAMS.update(
    conv_layers=Int(2, low=0, high=8, search=(1, 3), help="convolution layers"),
    filters=Int(128, low=1, high=4096, search=(32, 256), sampling="log", help="channels per convolution"),
    kernel_size=Int(11, low=1, high=64, search=(3, 15), help="convolution width in steps"),
    stride=Int(2, low=1, high=8, help="time stride of the first convolution"),
)


@register(
    year=2015,
    authors="Amodei et al. 2015 (Baidu Research)",
    paper="Deep Speech 2: End-to-End Speech Recognition in English and Mandarin",
    family="hybrid",
    solved="End-to-end speech recognition at scale: strided convolutions shorten the "
    "sequence, then a deep batch-normalised bidirectional GRU stack models it.",
    params=_PARAMS,
    tags=("gated", "bidirectional"),
)
def deepspeech2(x, *, conv_layers, filters, kernel_size, stride, **recurrent):
    if returning_sequences() and conv_layers and stride > 1:
        raise ParamError(
            f"deepspeech2 with stride={stride} shortens time, so its outputs do not line up with "
            "the input steps; pass stride=1 for per-step outputs"
        )
    for i in range(conv_layers):
        x = MaskedConv1D(filters, kernel_size, strides=stride if i == 0 else 1, name=f"conv_{i + 1}")(x)
        x = keras.layers.BatchNormalization(name=f"conv_bn_{i + 1}")(x)
        x = keras.layers.Activation("relu", name=f"conv_relu_{i + 1}")(x)
    return recurrent_stack(x, cell="gru", bidirectional=True, **recurrent)
