"""Recurrent encoder with additive attention pooling."""

import keras

from seqzoo.layers import AttentionPooling
from seqzoo.models._recurrent import recurrent_params
from seqzoo.models._summary import returning_sequences
from seqzoo.params import Int
from seqzoo.registry import register

_PARAMS = {
    key: spec
    for key, spec in recurrent_params(units=64, depth=2).items()
    if key != "pool"  # attention is the pooling
}
_PARAMS["attention_units"] = Int(128, low=1, high=4096, search=(32, 256), sampling="log",
                                 help="width of the additive attention scorer")


@register(
    year=2014,
    authors="Bahdanau, Cho & Bengio 2014; for speech commands: de Andrade et al. 2018",
    paper="Neural Machine Translation by Jointly Learning to Align and Translate",
    family="attention",
    solved="The fixed-size bottleneck: attention lets the output look back at every "
    "encoder state, weighted by relevance, instead of only the last one.",
    params=_PARAMS,
    tags=("gated", "bidirectional"),
)
def attention_rnn(x, *, units, depth, dropout, recurrent_dropout, attention_units):
    for i in range(depth):
        x = keras.layers.Bidirectional(
            keras.layers.LSTM(units, return_sequences=True, recurrent_dropout=recurrent_dropout,
                              name=f"lstm_{i + 1}"),
            name=f"bilstm_{i + 1}",
        )(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i + 1}")(x)
    if returning_sequences():  # per-step outputs: attention pooling is the summary
        return x
    return AttentionPooling(attention_units, name="attention_pooling")(x)
