"""Modern Hopfield network: associative memory as a trainable layer."""

import keras

from seqzoo.layers import HopfieldPooling, HopfieldRetrieval
from seqzoo.models._attention import to_width
from seqzoo.models._summary import returning_sequences
from seqzoo.params import Float, Int
from seqzoo.registry import register

_PARAMS = {
    "width": Int(128, low=1, high=8192, search=(64, 512), sampling="log", help="pattern width"),
    "depth": Int(1, low=0, high=16, search=(0, 3),
                 help="self-association layers before pooling (0 = pooling only)"),
    "heads": Int(4, low=1, high=64, search=(1, 8), sampling="log", help="independent memories"),
    "key_dim": Int(32, low=1, high=1024, search=(16, 128), sampling="log", help="pattern width per memory"),
    "beta": Float(None, low=0.0, low_inclusive=False, allow_none=True,
                  help="inverse temperature; None = 1/sqrt(key_dim)"),
    "update_steps": Int(1, low=0, high=10, search=(0, 3), help="Hopfield updates before read-out"),
    "num_queries": Int(2, low=1, high=64, search=(1, 8), help="learned state patterns pooling the sequence"),
    "dropout": Float(0.1, low=0.0, high=1.0, high_inclusive=False, search=(0.0, 0.5),
                     help="dropout after each association"),
}


@register(
    year=1982,
    authors="Hopfield 1982; modern continuous form: Ramsauer et al. 2020",
    paper="Neural networks and physical systems with emergent collective computational "
    "abilities / Hopfield Networks is All You Need",
    family="memory",
    solved="Content-addressable memory: a state relaxes to the stored pattern it most "
    "resembles; the modern form stores exponentially many patterns and retrieves in one update.",
    params=_PARAMS,
    tags=("order_free",),
)
def hopfield(x, *, width, depth, heads, key_dim, beta, update_steps, num_queries, dropout):
    x = to_width(x, width)
    for i in range(depth):
        h = HopfieldRetrieval(heads, key_dim, beta=beta, update_steps=update_steps,
                              name=f"hopfield_{i + 1}")(x)
        h = keras.layers.Dropout(dropout, name=f"dropout_{i + 1}")(h)
        x = keras.layers.Add(name=f"residual_{i + 1}")([x, h])
        x = keras.layers.LayerNormalization(name=f"norm_{i + 1}")(x)
    if returning_sequences():  # per-step outputs: the pooling memory is the summary
        return x
    x = HopfieldPooling(num_queries, heads, key_dim, beta=beta, update_steps=update_steps,
                        name="hopfield_pooling")(x)
    return keras.layers.Dropout(dropout, name="pool_dropout")(x)
