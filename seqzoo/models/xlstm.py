"""xLSTM: a residual stack of mLSTM and sLSTM blocks (Beck et al. 2024)."""

import math

import keras

from seqzoo.layers import MLSTMMixer, SLSTMMixer
from seqzoo.models._attention import to_width
from seqzoo.models._prenorm import prenorm_residual, stack_params
from seqzoo.models._summary import summarize
from seqzoo.params import Divides, Int
from seqzoo.registry import register

_PARAMS = stack_params(
    "xLSTM blocks",
    "units",
    heads=Int(4, low=1, high=64, search=(1, 8), sampling="log",
              help="heads of both cell types; must divide units"),
    mlstm_per_slstm=Int(1, low=0, high=64, search=(0, 7),
                        help="a in the paper's xLSTM[a:1]: every (a+1)-th block is sLSTM, the rest mLSTM "
                        "(0: all sLSTM; >= depth: all mLSTM)"),
    expand=Int(2, low=1, high=8, search=(1, 4), help="mLSTM up-projection factor"),
    conv_width=Int(4, low=1, high=32, help="steps the causal convolutions read"),
    # Speed only (the outputs do not depend on it), so not searched.
    chunk_size=Int(64, low=1, high=8192, allow_none=True,
                   help="mLSTM steps per chunk of the chunkwise-parallel form (None: quadratic in time)"),
)


def is_slstm(block: int, mlstm_per_slstm: int) -> bool:
    """Whether block `block` (0-based) is sLSTM in xLSTM[mlstm_per_slstm:1]."""
    return (block + 1) % (mlstm_per_slstm + 1) == 0


def _gated_ffn(width, name):
    """The sLSTM block's feed-forward: a GELU-gated up-projection by 4/3 and back."""

    def apply(h):
        ff = math.ceil(4 * width / 3)
        up = keras.layers.Dense(ff, name=f"{name}_up")(h)
        gate = keras.layers.Dense(ff, activation="gelu", name=f"{name}_gate")(h)
        return keras.layers.Dense(width, name=f"{name}_down")(keras.layers.Multiply(name=f"{name}_gated")([up, gate]))

    return apply


# Tagged "gated": input and forget gates (exponential, stabilised) decide what both memories keep.
@register(
    year=2024,
    authors="Beck, Poppel, Spanring, Auer, Prudnikova, Kopp, Klambauer, Brandstetter & Hochreiter 2024",
    paper="xLSTM: Extended Long Short-Term Memory",
    family="recurrent",
    solved="The LSTM extended: exponential gating revises storage decisions, and a matrix memory "
    "(mLSTM) with no recurrence through the output trains in parallel like attention; "
    "scalar-memory sLSTM blocks keep state tracking.",
    params=_PARAMS,
    constraints=(Divides("heads", "units"),),
    tags=("parallel_scan", "causal", "gated"),
)
def xlstm(x, *, units, depth, heads, mlstm_per_slstm, expand, conv_width, chunk_size, dropout, pool):
    norm = keras.layers.LayerNormalization
    x = to_width(x, units)
    for i in range(depth):
        name = f"block_{i + 1}"
        if not is_slstm(i, mlstm_per_slstm):  # mLSTM: pre-up-projection block
            mixer = MLSTMMixer(heads=heads, expand=expand, conv_width=conv_width, chunk_size=chunk_size,
                               qkv_blocksize=math.gcd(4, expand * units), name=f"{name}_mlstm")
            x = prenorm_residual(x, mixer, norm=norm, dropout=dropout, name=name)
            continue
        # sLSTM: post-up-projection block: the cell, then a gated feed-forward
        mixer = SLSTMMixer(heads=heads, conv_width=conv_width, name=f"{name}_slstm")
        x = prenorm_residual(x, mixer, norm=norm, dropout=dropout, name=name)
        x = prenorm_residual(x, _gated_ffn(units, f"{name}_ffn"), norm=norm, dropout=dropout, name=f"{name}_ffn")
    x = norm(epsilon=1e-5, name="final_norm")(x)
    return summarize(x, pool)
