"""Mask helpers shared by the layers (private)."""

from keras import ops


def last_valid(x, mask=None):
    """`x[b, last valid step of b]` for right-padded `x` of shape `(batch, time, dim)`."""
    if mask is None:
        return x[:, -1, :]
    lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
    index = ops.maximum(lengths - 1, 0)
    index = ops.reshape(index, (-1, 1, 1))
    picked = ops.take_along_axis(x, ops.broadcast_to(index, (ops.shape(x)[0], 1, ops.shape(x)[2])), axis=1)
    return ops.squeeze(picked, axis=1)


def masked_logits(logits, mask, axis=-1):
    """Set `logits` to a large negative value where `mask` (broadcastable) is False."""
    if mask is None:
        return logits
    very_negative = -3e4 if logits.dtype in ("float16", "bfloat16") else -1e9
    return ops.where(mask, logits, ops.cast(very_negative, logits.dtype))


def zero_masked(x, mask):
    """`x` with the masked time steps set to zero."""
    if mask is None:
        return x
    return x * ops.cast(ops.expand_dims(mask, -1), x.dtype)


def keep_where(mask, new: list, old: list) -> list:
    """Step forms: the `new` states where `mask` `(batch,)` is True, the `old` ones where it
    is False (a masked step carries the state unchanged); `mask=None` keeps all `new`."""
    if mask is None:
        return list(new)
    out = []
    for n, o in zip(new, old):
        keep = ops.reshape(ops.cast(mask, "bool"), (-1,) + (1,) * (len(n.shape) - 1))
        out.append(ops.where(keep, n, o))
    return out
