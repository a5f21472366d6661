"""The pre-norm residual sub-block and the hyperparameters shared by the revival stacks (private)."""

import keras

from seqzoo.models._summary import pool_param
from seqzoo.params import Float, Int


def stack_params(blocks: str, size: str = "width", **extra) -> dict:
    """The model width (named `size`: `"units"` for the recurrent family, as lstm/gru name it),
    `depth` (of `blocks`), the model's own `extra` parameters, `dropout` and `pool`."""
    return {
        size: Int(64, low=1, high=8192, search=(32, 256), sampling="log", help="model width (embedding dim)"),
        "depth": Int(2, low=1, high=64, search=(1, 6), help=f"stacked {blocks}"),
        **extra,
        "dropout": Float(0.0, low=0.0, high=1.0, high_inclusive=False, search=(0.0, 0.3),
                         help="dropout on every block's output before the residual sum"),
        "pool": pool_param("last"),
    }


def prenorm_residual(x, layer, *, norm, dropout: float, name: str):
    """`x + dropout(layer(norm(x)))`, with Keras layers named after `name`.

    `norm` is a normalisation layer class (`keras.layers.LayerNormalization`,
    `MaskedRMSNormalization`); every layer here keeps the padding mask.
    """
    h = norm(epsilon=1e-5, name=f"{name}_norm")(x)
    h = keras.layers.Dropout(dropout, name=f"{name}_dropout")(layer(h))
    return keras.layers.Add(name=f"{name}_residual")([x, h])
