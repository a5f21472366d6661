"""The modern continuous Hopfield update shared by the Hopfield layers (private)."""

from keras import ops

from seqzoo.layers._masking import masked_logits


def retrieve(state, stored, value_projection, beta, update_steps, mask=None):
    """Retrieve from `stored` patterns with `state` patterns.

    Shapes: `state (batch, heads, queries, d)`, `stored (batch, heads, keys, d)`.
    Runs `update_steps` updates `xi <- softmax(beta xi K^T) K` (Ramsauer et al.
    2020, eq. 3, the keys acting as stored patterns), then one last association
    whose result is read out through `value_projection(K)`.
    """
    key_mask = None if mask is None else ops.reshape(ops.cast(mask, "bool"), (-1, 1, 1, ops.shape(mask)[1]))
    beta = ops.cast(beta, state.dtype)
    for _ in range(update_steps):
        logits = masked_logits(beta * ops.einsum("bhqd,bhkd->bhqk", state, stored), key_mask)
        state = ops.einsum("bhqk,bhkd->bhqd", ops.softmax(logits, axis=-1), stored)
    logits = masked_logits(beta * ops.einsum("bhqd,bhkd->bhqk", state, stored), key_mask)
    return ops.einsum("bhqk,bhkd->bhqd", ops.softmax(logits, axis=-1), value_projection(stored))
