"""Helpers shared by the xLSTM layers (private): per-head projections and norms."""

from keras import ops

# A large finite negative log-gate: exp() of it is 0 without the infinities that make
# gradients NaN (a masked step's input gate; the stabiliser before the first step).
NEG = -1e30


def lead_shape(x, drop: int = 1) -> tuple:
    """`x`'s shape without its last `drop` axes, with -1 for the one unknown (batch) size,
    so that a reshape also works on the symbolic tensors of `Streamer.step_model`."""
    return tuple(-1 if d is None else d for d in ops.shape(x)[:len(x.shape) - drop])


def headwise(x, kernel):
    """Block-diagonal projection: `x` `(..., blocks * d_in)`, `kernel` `(blocks, d_in, d_out)`
    -> `(..., blocks * d_out)` (each block of channels mixes only within itself)."""
    blocks, d_in, d_out = kernel.shape
    lead = lead_shape(x)
    parts = ops.reshape(x, (*lead, blocks, d_in))
    out = ops.einsum("...gi,gio->...go", parts, ops.cast(kernel, x.dtype))
    return ops.reshape(out, (*lead, blocks * d_out))


def head_norm(h, weight, epsilon=1e-5):
    """Layer normalisation of every head on its own (xLSTM's group norm): `h` `(..., heads, dim)`
    -> `(..., heads * dim)`, scaled by `weight` `(heads * dim,)`."""
    mean = ops.mean(h, axis=-1, keepdims=True)
    var = ops.mean(ops.square(h - mean), axis=-1, keepdims=True)
    h = (h - mean) * ops.rsqrt(var + epsilon)
    flat = ops.reshape(h, (*lead_shape(h, 2), h.shape[-2] * h.shape[-1]))
    return flat * ops.cast(weight, h.dtype)
