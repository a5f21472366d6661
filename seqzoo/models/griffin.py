"""Griffin (De et al. 2024): Hawk's residual blocks interleaved with local multi-query attention.

The same residual blocks as `hawk` (RMSNorm -> temporal mixing -> residual;
RMSNorm -> gated MLP -> residual), with the temporal mixing of every
`attention_every`-th block a local (sliding-window) multi-query attention
(`seqzoo.layers.LocalAttention`, RoPE positions) and the others RG-LRU
recurrent blocks: the paper's pattern is two recurrent blocks, then one
attention block (`attention_every=3`). Attention reads only the last `window`
steps, so the state stays bounded: at inference every attention layer keeps a
rolling buffer of `window` keys and values and an absolute step counter, every
RG-LRU its state, and the model streams (`seqzoo.streaming.Streamer`).

Not the paper's: dense gate weights by default (`gate_blocks=1`); RoPE rotates
all of each head's channels (RecurrentGemma rotates half); the RG-LRU width is
`rnn_expansion * units` (default 1); the window is small by default (128; the
paper's 1024-2048 is for language modelling at 2k-8k tokens).
"""

from seqzoo.layers import LocalAttention, MaskedRMSNormalization
from seqzoo.models._attention import to_width
from seqzoo.models._griffin import block_params, recurrent_mixer, residual_block, rnn_width
from seqzoo.models._summary import pool_param, summarize
from seqzoo.params import Divides, Int, ParamError
from seqzoo.registry import register

_PARAMS = block_params(units=128, depth=3)
_PARAMS.update({
    "heads": Int(4, low=1, high=128, search=(1, 8), sampling="log",
                 help="query heads of the local attention (one shared key/value head); must divide units"),
    "window": Int(128, low=1, high=65536, search=(16, 256), sampling="log",
                  help="steps each local-attention position reads (itself included)"),
    "attention_every": Int(3, low=1, high=48, help="every n-th block is local attention, the others "
                           "recurrent (the paper's 3: two recurrent blocks, then one attention block)"),
    "pool": pool_param("last"),
})


@register(
    year=2024,
    authors="De, Smith, Fernando, Botev, Cristian-Muraru, Gu, Haroun, Berrada, Chen, Srinivasan, "
            "Desjardins, Doucet, Budden, Teh, Pascanu, De Freitas & Gulcehre 2024",
    paper="Griffin: Mixing Gated Linear Recurrences with Local Attention for Efficient Language Models",
    family="hybrid",
    solved="Recurrence and attention in one model at bounded cost: gated linear recurrences carry the "
           "long-range state, local attention recalls the recent past exactly, and both train in "
           "parallel and infer with a fixed-size state.",
    params=_PARAMS,
    constraints=(Divides("heads", "units"),),
    # the recurrence trains with a scan; attention is local and causal. gated: as in hawk,
    # the RG-LRU's recurrence and input gates decide what its state keeps.
    tags=("parallel_scan", "causal", "gated"),
)
def griffin(x, *, units, depth, rnn_expansion, gate_blocks, conv_width, mlp_expansion, dropout, heads, window,
            attention_every, pool):
    if (units // heads) % 2:
        raise ParamError(f"units/heads = {units // heads} must be even (RoPE rotates pairs of channels); "
                         f"choose units={units} and heads={heads} to fit")
    rnn_units = rnn_width(units, rnn_expansion, gate_blocks)
    x = to_width(x, units)

    def recurrent(y, name):
        return recurrent_mixer(y, units=rnn_units, width=units, conv_width=conv_width, gate_blocks=gate_blocks,
                               name=name)

    def attention(y, name):
        return LocalAttention(heads, window, name=f"{name}_local_attention")(y)

    for i in range(depth):
        mixer = attention if (i + 1) % attention_every == 0 else recurrent
        x = residual_block(x, mixer, width=units, mlp_expansion=mlp_expansion, dropout=dropout,
                           name=f"block_{i + 1}")
    x = MaskedRMSNormalization(epsilon=1e-6, name="final_norm")(x)
    return summarize(x, pool)
