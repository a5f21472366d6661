"""Hawk (De et al. 2024): residual blocks of RG-LRU recurrent blocks and gated MLPs.

Each block: RMSNorm -> recurrent block -> residual; RMSNorm -> gated MLP
(GeLU(linear) * linear -> linear, expansion 3) -> residual; a final RMSNorm.
The recurrent block has two branches, GeLU(linear) and linear -> causal
depthwise convolution (width 4) -> RG-LRU, multiplied, then a linear output.
The RG-LRU (`seqzoo.layers.RGLRU`) is a gated diagonal linear recurrence
trained with `seqzoo.scan.linear_scan` and run step by step at inference.

Not the paper's: the gate weights are dense by default (`gate_blocks=1`; the
paper uses block-diagonal ones, `gate_blocks=heads`); the RG-LRU width is
`rnn_expansion * units` with default 1 (RecurrentGemma's; the Hawk paper uses
4/3); the input front end is seqzoo's shared one (no sqrt(width) embedding scale).
"""

from seqzoo.layers import MaskedRMSNormalization
from seqzoo.models._attention import to_width
from seqzoo.models._griffin import block_params, recurrent_mixer, residual_block, rnn_width
from seqzoo.models._summary import pool_param, summarize
from seqzoo.registry import register

_PARAMS = block_params(units=128, depth=2)
_PARAMS["pool"] = pool_param("last")


@register(
    year=2024,
    authors="De, Smith, Fernando, Botev, Cristian-Muraru, Gu, Haroun, Berrada, Chen, Srinivasan, "
            "Desjardins, Doucet, Budden, Teh, Pascanu, De Freitas & Gulcehre 2024",
    paper="Griffin: Mixing Gated Linear Recurrences with Local Attention for Efficient Language Models",
    family="recurrent",
    solved="A recurrence that trains like a Transformer: the RG-LRU's gates depend only on the input, "
           "so the gated diagonal recurrence trains with a parallel scan and still runs in constant "
           "memory per step at inference.",
    params=_PARAMS,
    # gated: the recurrence gate r_t sets how much of the state each step keeps (a_t = a^(c r_t))
    # and the input gate i_t how much of the input enters it.
    tags=("parallel_scan", "causal", "gated"),
)
def hawk(x, *, units, depth, rnn_expansion, gate_blocks, conv_width, mlp_expansion, dropout, pool):
    rnn_units = rnn_width(units, rnn_expansion, gate_blocks)
    x = to_width(x, units)

    def mixer(y, name):
        return recurrent_mixer(y, units=rnn_units, width=units, conv_width=conv_width, gate_blocks=gate_blocks,
                               name=name)

    for i in range(depth):
        x = residual_block(x, mixer, width=units, mlp_expansion=mlp_expansion, dropout=dropout,
                           name=f"block_{i + 1}")
    x = MaskedRMSNormalization(epsilon=1e-6, name="final_norm")(x)
    return summarize(x, pool)
