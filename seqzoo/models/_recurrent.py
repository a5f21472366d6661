"""The recurrent stack shared by every RNN/LSTM/GRU builder (private).

cuDNN: on a GPU, `LSTM` and `GRU` run the fused cuDNN kernel with these
defaults (tanh/sigmoid activations, `recurrent_dropout=0`, `unroll=False`,
`use_bias=True`, GRU `reset_after=True`, right-padded masks). Setting
`recurrent_dropout > 0` falls back to the generic kernel, several times slower.
`dropout` is applied between layers (a `Dropout` layer) and keeps cuDNN.
"""

from __future__ import annotations

import keras

from seqzoo.layers import MaskedMaxPooling1D
from seqzoo.models._summary import returning_sequences, summarize
from seqzoo.params import Choice, Float, Int

CELLS = {
    "rnn": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}

POOLS = {
    "last": None,  # the final state: the recurrent layer's own output
    "mean": keras.layers.GlobalAveragePooling1D,
    "max": MaskedMaxPooling1D,
}


def recurrent_params(units: int = 128, depth: int = 1, pool: str = "last", dropout: float = 0.0) -> dict:
    """The hyperparameters every recurrent builder shares, with its defaults."""
    return {
        "units": Int(units, low=1, high=8192, search=(32, 512), sampling="log",
                     help="hidden (gate) size of each recurrent layer, per direction"),
        "depth": Int(depth, low=1, high=16, search=(1, 4), help="stacked recurrent layers"),
        "dropout": Float(dropout, low=0.0, high=1.0, high_inclusive=False, search=(0.0, 0.5),
                         help="dropout between layers and on the summary"),
        "recurrent_dropout": Float(0.0, low=0.0, high=1.0, high_inclusive=False,
                                   help="dropout on the recurrent state; > 0 loses cuDNN"),
        "pool": Choice(pool, tuple(POOLS), search=tuple(POOLS),
                       help="summary: final state, masked mean or masked max over time"),
    }


def recurrent_stack(x, *, cell, units, depth, dropout, recurrent_dropout, pool, bidirectional=False, prefix=None):
    """`depth` stacked recurrent layers on `x`, summarised by `pool` (see `_summary.summarize`).

    With `pool="last"` the last layer returns its final state, except inside
    `sequence_outputs()`, where it returns every step's output.
    """
    prefix = prefix or ("bi" if bidirectional else "") + cell
    for i in range(depth):
        return_sequences = i < depth - 1 or pool != "last" or returning_sequences()
        layer = CELLS[cell](
            units,
            return_sequences=return_sequences,
            recurrent_dropout=recurrent_dropout,
            name=f"{cell}_{i + 1}",
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"{prefix}_{i + 1}")
        x = layer(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i + 1}")(x)
    if POOLS[pool] is None:  # the recurrent layer's final state (or, in sequence mode, every step)
        return x
    return summarize(x, pool)
