"""RWKV-4's layer-dependent initialisation and its running maximum (private)."""

import numpy as np
from keras import ops


def mix_ratios(block: int, depth: int) -> tuple[float, float]:
    """`(ratio_0_to_1, ratio_1_to_almost_0)` of block `block` (0-based) in a stack of `depth`."""
    return block / max(depth - 1, 1), 1.0 - block / depth


def channel_ramp(channels: int) -> np.ndarray:
    """`i / channels` for every channel: the base of the token-shift mixing coefficients."""
    return np.arange(channels, dtype="float64") / channels


def add_vector(layer, name: str, values: np.ndarray):
    """A per-channel weight of `layer` initialised to `values`."""

    def init(shape, dtype=None):
        return ops.cast(np.reshape(values, shape), dtype or "float32")

    return layer.add_weight(shape=values.shape, initializer=init, name=name)


def running_max(x, fill, chunk: int = 16):
    """`max(x_1..x_t)` along axis 1 of `(batch, time, channels)`, in chunks: a loop of `chunk`
    vectorised maxima inside every chunk, one short `keras.ops.scan` over the chunk ends."""
    batch, time, channels = ops.shape(x)[0], ops.shape(x)[1], x.shape[-1]
    pad = (chunk - time % chunk) % chunk
    x = ops.pad(x, [[0, 0], [0, pad], [0, 0]], constant_values=fill)
    chunks = (time + pad) // chunk
    steps = ops.unstack(ops.reshape(x, (batch, chunks, chunk, channels)), num=chunk, axis=2)
    running = [steps[0]]
    for s in steps[1:]:
        running.append(ops.maximum(running[-1], s))
    local = ops.stack(running, axis=2)
    ends = ops.moveaxis(running[-1], 1, 0)  # (chunks, batch, channels)
    start = ops.full((batch, channels), fill, dtype=x.dtype)
    _, entering = ops.scan(lambda carry, end: (ops.maximum(carry, end), carry), start, ends)
    out = ops.maximum(local, ops.expand_dims(ops.moveaxis(entering, 0, 1), 2))
    return ops.reshape(out, (batch, chunks * chunk, channels))[:, :time]
