"""`linear_scan`: the recurrence h_t = a_t * h_{t-1} + b_t over time, computed in chunks.

Every linear recurrence of the 2020s revival (minGRU, LRU, S5, Mamba, RG-LRU,
mLSTM, RWKV) reduces to this elementwise recurrence, where `a_t` and `b_t` do
not depend on the state. Because it is linear in `h`, it can be evaluated
without a step-by-step loop over all T steps:

1. the time axis is cut into chunks of `chunk_size` steps, laid out as
   `chunk_size` slices `(batch, chunks, *channels)` (step i of every chunk;
   by default the chunks are sized so a slice holds about 4096 elements per
   sequence, which kept it in cache here);
   a loop of `chunk_size` vectorised steps (unrolled in the graph) gives each
   chunk's end state from a zero state and the product of its decays;
2. the state entering each chunk comes from a short scan over the chunk ends
   (a log-depth doubling scan when the number of chunks is static,
   `keras.ops.scan` otherwise);
3. a second loop of `chunk_size` steps runs every chunk from its entering
   state and gives all states.

That is exact (no logarithms, any sign, complex numbers as (real, imaginary)
pairs) and costs O(T) elementwise work with about 2 * chunk_size + log(T)
sequential steps. The gradient is written by hand (`keras.ops.custom_gradient`):
it is the same scan run backwards over the upstream gradient,
g_t = dL/dh_t + conj(a_{t+1}) g_{t+1}, with dL/db_t = g_t and
dL/da_t = g_t conj(h_{t-1}), instead of differentiating the unrolled loops; its
chunk decay products reuse the forward's (the product of a chunk's decays after
its first step).

`gated_scan(k, v)` is the same recurrence given the gate pre-activation:
h_t = sigmoid(-k_t) h_{t-1} + sigmoid(k_t) v_t (minGRU, and minLSTM with
k = log i - log f); the gate algebra and its gradient run on the step slices
inside the loops (1 - z is never formed). On this 2-core CPU it costs about
what `linear_scan` of precomputed gates costs (`benchmarks/revival.py`
measures both): what dominates is moving the sequence into and out of the step
slices, and the number of small operations. `gated_projection_scan(x, project)`
is `gated_scan(*project(x))` for a position-wise projection (minGRU's, minLSTM's
input projection): it lays `x` out step-major, `(chunk_size, batch, chunks,
channels)`, before projecting, so the steps of `k` and `v` are contiguous slabs
that the scan reads without copying them (only the usually narrower `x` moves),
and the two sigmoids run once on the whole gate tensor.

Measured on this project's 2-core CPU (TensorFlow backend, batch 16,
T = 1024, 128 channels, forward + backward of a minGRU-style gate and scan),
before the hand-written gradient: chunked 43 ms; a log-space cumulative sum in
chunks 156 ms; `keras.ops.scan` over every step 322 ms;
`keras.ops.associative_scan` 347 ms (benchmarks/RESULTS.md has the comparison
and the current numbers). Then the backward's reuse of the forward's chunk
products, `gated_projection_scan` and the default chunk sized by time x
channels took a minGRU layer's training step (Adam, `train_on_batch`, batch 16,
T = 1024, 64 features; CPU time, interleaved in one process, 2026-12-06, the
machine loaded by other jobs, load average 4.7) from 38.3 to 33.7 ms at 128
units (its Dense(2 * units) floor 12.7 ms) and from 88.8 to 61.7 ms at 256
units (floor 21.8 ms); `linear_scan` alone on (16, 1024, 256) forward +
backward went from 32.1 to 19.0 ms CPU (chunks of 64 instead of 32; load 8.1).

Example:

>>> import numpy as np
>>> a = np.full((1, 5, 1), 0.5, "float32"); b = np.ones((1, 5, 1), "float32")
>>> np.round(np.asarray(linear_scan(a, b))[0, :, 0], 4).tolist()
[1.0, 1.5, 1.75, 1.875, 1.9375]
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
from keras import ops

__all__ = ["linear_scan", "gated_scan", "gated_projection_scan"]

DEFAULT_CHUNK = 32
MAX_DEFAULT_CHUNK = 128
SLICE_ELEMENTS = 4096  # the default chunk keeps a step slice near this many elements per sequence
_SATURATED = 1e4  # a gate pre-activation whose sigmoid is exactly 1 (masked steps of gated_scan)


def _default_chunk(static_time, channels):
    """DEFAULT_CHUNK, doubled (up to MAX_DEFAULT_CHUNK) while a step slice would hold more
    than SLICE_ELEMENTS elements per sequence (chunks x channels): on this project's CPU
    the scan is fastest with slices of about 4096 x 16 floats (256 KiB at batch 16)."""
    size = DEFAULT_CHUNK
    while static_time is not None and size < MAX_DEFAULT_CHUNK and static_time * channels > size * SLICE_ELEMENTS:
        size *= 2
    return size


def _is_pair(x: Any) -> bool:
    return isinstance(x, (tuple, list))


def _mul(x, y):
    """Elementwise product of reals or (re, im) pairs."""
    if _is_pair(x):
        return (x[0] * y[0] - x[1] * y[1], x[0] * y[1] + x[1] * y[0])
    return x * y


def _add(x, y):
    if _is_pair(x):
        return (x[0] + y[0], x[1] + y[1])
    return x + y


def _map(fn, x):
    return tuple(fn(p) for p in x) if _is_pair(x) else fn(x)


def _first(x):
    return x[0] if _is_pair(x) else x


# Internally every value is a tuple of parts: (real,) or (real, imag).


def _pmul(x, y, conj=False):
    """x * y, or conj(x) * y, for part tuples."""
    if len(x) == 1:
        return (x[0] * y[0],)
    if conj:
        return (x[0] * y[0] + x[1] * y[1], x[0] * y[1] - x[1] * y[0])
    return (x[0] * y[0] - x[1] * y[1], x[0] * y[1] + x[1] * y[0])


def _conj(x):
    """The conjugate of a part tuple (None stays None)."""
    return x if x is None or len(x) == 1 else (x[0], -x[1])


def _padd(x, y):
    return tuple(p + q for p, q in zip(x, y))


class _Layout:
    """How a `(batch, time, *rest)` sequence is cut into `size` step slices `(batch, chunks, *rest)`."""

    def __init__(self, ref, chunk_size, channels=None):
        self.rest = tuple(ref.shape[2:])
        if any(d is None for d in self.rest):
            raise ValueError(f"linear_scan needs static channel dimensions, got {tuple(ref.shape)}")
        static_time = ref.shape[1]
        size = chunk_size or _default_chunk(static_time, channels or math.prod(self.rest))
        if static_time is not None and static_time <= size:
            size = max(1, int(static_time))
        self.size = size
        self.batch, self.time = ops.shape(ref)[0], ops.shape(ref)[1]
        self.pad = (size - self.time % size) % size
        self.needs_pad = static_time is None or static_time % size != 0
        self.chunks = (self.time + self.pad) // size
        self.static_chunks = None if static_time is None else -(-int(static_time) // size)

    def chunked(self, x, fill=0.0):
        """`x` `(batch, time, *rest)` -> `(batch, chunks, size, *rest)` (padded with `fill`)."""
        rest = tuple(x.shape[2:])
        if self.needs_pad:
            x = ops.pad(x, [[0, 0], [0, self.pad]] + [[0, 0]] * len(rest), constant_values=fill)
        return ops.reshape(x, (self.batch, self.chunks, self.size, *rest))

    def steps(self, x, fill=0.0):
        """`x` `(batch, time, *rest)` -> `size` slices `(batch, chunks, *rest)` (padded with `fill`)."""
        return ops.unstack(self.chunked(x, fill), num=self.size, axis=2)

    def time_major(self, x, fill=0.0):
        """`x` `(batch, time, *rest)` -> `(size, batch, chunks, *rest)`: step i of every chunk is
        one contiguous slab (an unstack along axis 0 copies nothing)."""
        return ops.moveaxis(self.chunked(x, fill), 2, 0)

    def parts(self, x, fills=(1.0, 0.0)):
        """A part tuple -> list over steps of part tuples."""
        per_part = [self.steps(p, fill) for p, fill in zip(x, fills)]
        return [tuple(s[i] for s in per_part) for i in range(self.size)]

    def sequence(self, steps):
        """`size` slices `(batch, chunks, *rest)` -> `(batch, time, *rest)`."""
        rest = tuple(steps[0].shape[2:])
        x = ops.reshape(ops.stack(steps, axis=2), (self.batch, self.chunks * self.size, *rest))
        return x[:, :self.time] if self.needs_pad else x

    def sequences(self, steps):
        return tuple(self.sequence([s[k] for s in steps]) for k in range(len(steps[0])))


def _shift_chunks(x, entering, reverse):
    """Slices `(batch, chunks, *rest)` moved one chunk later (earlier if `reverse`),
    `entering` `(batch, *rest)` filling the vacated end."""
    entering = ops.expand_dims(entering, 1)
    if reverse:
        return ops.concatenate([x[:, 1:], entering], axis=1)
    return ops.concatenate([entering, x[:, :-1]], axis=1)


def _scan_steps(a, b, h0, layout, reverse, rest=None):
    """All states from step lists `a`, `b` (part tuples `(batch, chunks, *rest)`) and `h0`,
    and the product of each chunk's decays after its first step (`rest`; None for one-step
    chunks). A given `rest` is used instead of multiplying it out again (the backward scan's
    decays are the forward's, one step later)."""
    order = list(range(layout.size))[::-1] if reverse else list(range(layout.size))
    end = b[order[0]]
    for i in order[1:]:  # 1. every chunk from a zero state: its end state ...
        end = _padd(_pmul(a[i], end), b[i])
    if rest is None and len(order) > 1:  # ... and its decay product
        rest = a[order[1]]
        for i in order[2:]:
            rest = _pmul(rest, a[i])
    prod = a[order[0]] if rest is None else _pmul(a[order[0]], rest)
    entering = _chunk_starts(prod, end, h0, layout.static_chunks, reverse)  # 2.
    h, states = entering, [None] * layout.size
    for i in order:  # 3. every chunk from its entering state
        h = _padd(_pmul(a[i], h), b[i])
        states[i] = h
    return states, rest


def _chunk_starts(prod, end, h0, static_chunks, reverse):
    """`(batch, chunks, *rest)` states entering each chunk: s_first = h0, s_next = prod * s + end."""
    if static_chunks is not None:
        # Fold h0 into the first chunk's end, then an inclusive doubling scan over the chunks.
        first = static_chunks - 1 if reverse else 0
        hot = ops.reshape(ops.one_hot(first, static_chunks, dtype=end[0].dtype),
                          (1, static_chunks) + (1,) * (len(end[0].shape) - 2))
        start = _pmul(tuple(p[:, first] for p in prod), h0)
        end = tuple(e + hot * ops.expand_dims(s, 1) for e, s in zip(end, start))
        step = 1
        while step < static_chunks:
            earlier = tuple(_shift_by(p, step, 0.0, reverse) for p in end)
            new_end = _padd(end, _pmul(prod, earlier))
            if 2 * step < static_chunks:
                prod = _pmul(prod, (_shift_by(prod[0], step, 1.0, reverse),
                                    *(_shift_by(p, step, 0.0, reverse) for p in prod[1:])))
            end, step = new_end, 2 * step
        return tuple(_shift_chunks(e, s, reverse) for e, s in zip(end, h0))
    # A number of chunks unknown while tracing: keras.ops.scan over the chunk ends, one
    # stacked tensor (Keras' TensorFlow `scan` fails on several inputs of unknown length).
    n = len(end)
    stacked = ops.stack([ops.moveaxis(p, 1, 0) for p in (*prod, *end)], axis=1)

    def carry(state, items):
        items = ops.unstack(items, num=2 * n, axis=0)
        return list(_padd(_pmul(tuple(items[:n]), tuple(state)), tuple(items[n:]))), list(state)

    _, entering = ops.scan(carry, list(h0), stacked, reverse=reverse)
    return tuple(ops.moveaxis(p, 0, 1) for p in entering)


def _shift_by(x, k, fill, reverse):
    """`x` along axis 1 moved `k` later (earlier if `reverse`), `fill` entering."""
    widths = [[0, 0], [0, k] if reverse else [k, 0]] + [[0, 0]] * (len(x.shape) - 2)
    return ops.pad(x[:, k:] if reverse else x[:, :-k], widths, constant_values=fill)


def _backward_inputs(a, h, h0, reverse):
    """For the gradient scan: the decays one step later (earlier if `reverse`) and the
    states one step earlier (later), as step lists."""
    if reverse:
        ones = (ops.ones_like(a[-1][0][:, :1]),) + tuple(ops.zeros_like(p[:, :1]) for p in a[-1][1:])
        a_next = [tuple(ops.concatenate([o, p[:, :-1]], axis=1) for o, p in zip(ones, a[-1]))] + a[:-1]
        h_prev = h[1:] + [tuple(_shift_chunks(p, s, True) for p, s in zip(h[0], h0))]
    else:
        ones = (ops.ones_like(a[0][0][:, :1]),) + tuple(ops.zeros_like(p[:, :1]) for p in a[0][1:])
        a_next = a[1:] + [tuple(ops.concatenate([p[:, 1:], o], axis=1) for o, p in zip(ones, a[0]))]
        h_prev = [tuple(_shift_chunks(p, s, False) for p, s in zip(h[-1], h0))] + h[:-1]
    if len(a[0]) == 2:
        a_next = [(p[0], -p[1]) for p in a_next]
    return a_next, h_prev


def _first_step(steps, reverse):
    """The part tuple `(batch, *rest)` of the first step the recurrence takes (padding included)."""
    return tuple(p[:, -1] for p in steps[-1]) if reverse else tuple(p[:, 0] for p in steps[0])


def _with_gradient(forward):
    """`keras.ops.custom_gradient`, except on PyTorch: its custom-gradient bridge passes the
    inputs and one upstream tensor to the gradient, so there autograd differentiates the
    forward scan instead (same values, more memory)."""
    import keras

    if keras.backend.backend() == "torch":
        return lambda *args: forward(*args)[0]
    return ops.custom_gradient(forward)


def _linear(a, b, h0, chunk_size, reverse):
    """`linear_scan` on part tuples, with its gradient."""
    n = len(b)

    @_with_gradient
    def run(*flat):
        a_, b_, h0_ = flat[:n], flat[n:2 * n], flat[2 * n:]
        layout = _Layout(b_[0], chunk_size)
        a_steps = layout.parts(a_)
        h, rest = _scan_steps(a_steps, layout.parts(b_, (0.0, 0.0)), h0_, layout, reverse)

        def grad(*upstream, **unused):
            if len(upstream) == 1 and isinstance(upstream[0], (tuple, list)):
                upstream = tuple(upstream[0])  # JAX passes the cotangents of a tuple output as one tuple
            a_next, h_prev = _backward_inputs(a_steps, h, h0_, reverse)
            zero = tuple(ops.zeros_like(p) for p in h0_)
            g, _ = _scan_steps(a_next, layout.parts(upstream, (0.0, 0.0)), zero, layout, not reverse,
                               _conj(rest))
            grad_a = [_pmul(p, q, conj=True) for p, q in zip(h_prev, g)]
            grad_h0 = _pmul(_first_step(a_steps, reverse), _first_step(g, reverse), conj=True)
            return (*layout.sequences(grad_a), *layout.sequences(g), *grad_h0)

        return layout.sequences(h), grad

    return tuple(run(*a, *b, *h0))


def _gated(k, v, h0, layout, reverse, time_major=False):
    """`gated_scan` on tensors `(batch, time, *rest)`, or laid out `(size, batch, chunks, *rest)`
    (`time_major`, padding included), with its gradient (in the layout of `k` and `v`)."""
    if time_major:
        split = lambda x, fill=0.0: ops.unstack(x, num=layout.size, axis=0)  # noqa: E731
        merge = lambda steps: ops.stack(steps, axis=0)  # noqa: E731
    else:
        split, merge = layout.steps, layout.sequence

    @_with_gradient
    def run(k_, v_, h0_):
        if time_major:  # contiguous (padding set already): the gates of all steps at once, then free slices
            decay, update = split(ops.sigmoid(-k_)), split(ops.sigmoid(k_))  # 1 - z, without forming 1 - z
        else:
            gates = split(k_, -_SATURATED)  # padding: sigmoid(-k) = 1, the state is carried
            decay = [ops.sigmoid(-x) for x in gates]  # 1 - z, without forming 1 - z
            update = [ops.sigmoid(x) for x in gates]
        values = split(v_)
        b = [(z * x,) for z, x in zip(update, values)]
        a = [(d,) for d in decay]
        h, rest = _scan_steps(a, b, (h0_,), layout, reverse)

        def grad(upstream, **unused):
            a_next, h_prev = _backward_inputs(a, h, (h0_,), reverse)
            zero = (ops.zeros_like(h0_),)
            g, _ = _scan_steps(a_next, [(u,) for u in layout.steps(upstream)], zero, layout, not reverse, rest)
            # a = sigmoid(-k), b = sigmoid(k) v:  dL/dv = z g,  dL/dk = z (1 - z) g (v - h_prev) = dL/dv a (v - h_prev)
            grad_v = [z * gi[0] for z, gi in zip(update, g)]
            grad_k = [gv * d * (x - hp[0]) for gv, d, x, hp in zip(grad_v, decay, values, h_prev)]
            grad_h0 = _first_step(a, reverse)[0] * _first_step(g, reverse)[0]
            return merge(grad_k), merge(grad_v), grad_h0

        return layout.sequence([s[0] for s in h]), grad

    return run(k, v, h0)


def _carried(keep, k, v):
    """`k`, `v` of `gated_scan` where the steps outside `keep` carry the state:
    sigmoid(-k) = 1, sigmoid(k) = 0."""
    return ops.where(keep, k, -_SATURATED), ops.where(keep, v, 0.0)


def _keep_mask(mask, ndim):
    keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
    for _ in range(ndim - 3):
        keep = ops.expand_dims(keep, -1)
    return keep


def linear_scan(a, b, *, initial=None, mask=None, reverse: bool = False, chunk_size: int | None = None):
    """All states of h_t = a_t * h_{t-1} + b_t along axis 1 (time).

    Args:
        a: decay, `(batch, time, *channels)`; or a pair `(real, imag)` of such
            tensors for a complex recurrence. Must have the shape of `b`
            (broadcast a time-invariant decay first).
        b: input, `(batch, time, *channels)` (a pair for complex).
        initial: the state before the first step, `(batch, *channels)` (a pair
            for complex); default zeros.
        mask: optional `(batch, time)` booleans; a masked step carries the state
            unchanged (a = 1, b = 0), so right padding leaves the final state as
            it was after the last real step.
        reverse: run from the last step to the first (a backward recurrence).
        chunk_size: steps per chunk (default 32, doubled up to 128 while
            time x channels exceeds 4096 x chunk_size, i.e. while a step slice
            would hold more than 4096 elements per sequence; or the whole
            sequence when it is shorter); any value gives the same result up
            to rounding.

    Returns:
        `(batch, time, *channels)` states h_1..h_T (a pair for complex).

    Example:

    >>> import numpy as np
    >>> a = np.random.rand(2, 7, 3).astype("float32"); b = np.random.randn(2, 7, 3).astype("float32")
    >>> h = np.zeros((2, 3)); states = []
    >>> for t in range(7):
    ...     h = a[:, t] * h + b[:, t]; states.append(h)
    >>> np.allclose(linear_scan(a, b), np.stack(states, 1), atol=1e-5)
    True
    """
    if keras.backend.is_keras_tensor(_first(b)):  # functional-model construction: the shape is b's
        return _map(lambda t: keras.KerasTensor(t.shape, dtype=t.dtype), b)
    pair = _is_pair(b)
    a = tuple(ops.convert_to_tensor(p) for p in (a if pair else (a,)))
    b = tuple(ops.convert_to_tensor(p) for p in (b if pair else (b,)))
    if mask is not None:
        keep = _keep_mask(mask, len(b[0].shape))
        a = (ops.where(keep, a[0], 1.0),) + tuple(ops.where(keep, p, 0.0) for p in a[1:])
        b = tuple(ops.where(keep, p, 0.0) for p in b)
    if initial is None:
        h0 = tuple(ops.zeros_like(p[:, 0]) for p in b)
    else:
        h0 = tuple(ops.cast(ops.convert_to_tensor(p), b[0].dtype) for p in (initial if pair else (initial,)))
    states = _linear(a, b, h0, chunk_size, reverse)
    return states if pair else states[0]


def gated_scan(k, v, *, initial=None, mask=None, reverse: bool = False, chunk_size: int | None = None):
    """All states of h_t = sigmoid(-k_t) * h_{t-1} + sigmoid(k_t) * v_t along axis 1.

    The convex-combination recurrence of minGRU (`k` the gate pre-activation,
    `v` the candidate) and minLSTM (`k = log i - log f`), given the gate's
    pre-activation: the same result as `linear_scan(sigmoid(-k), sigmoid(k) * v)`,
    with the gate algebra and its gradient inside the scan's step loops (no
    `1 - z`, no division for minLSTM's normalised gates).

    Args:
        k: gate pre-activation, `(batch, time, *channels)` (real).
        v: candidate values, the shape of `k`.
        initial: the state before the first step, `(batch, *channels)`; default zeros.
        mask: optional `(batch, time)` booleans; a masked step carries the state.
        reverse: run from the last step to the first.
        chunk_size: steps per chunk (see `linear_scan`).

    Returns:
        `(batch, time, *channels)` states.

    Example:

    >>> import numpy as np
    >>> k = np.zeros((1, 3, 1), "float32"); v = np.ones((1, 3, 1), "float32")
    >>> np.asarray(gated_scan(k, v))[0, :, 0].tolist()
    [0.5, 0.75, 0.875]
    """
    if keras.backend.is_keras_tensor(v):
        return keras.KerasTensor(v.shape, dtype=v.dtype)
    k, v = ops.convert_to_tensor(k), ops.convert_to_tensor(v)
    if mask is not None:
        k, v = _carried(_keep_mask(mask, len(v.shape)), k, v)
    h0 = ops.zeros_like(v[:, 0]) if initial is None else ops.cast(ops.convert_to_tensor(initial), v.dtype)
    return _gated(k, v, h0, _Layout(v, chunk_size), reverse)


def gated_projection_scan(x, project, *, initial=None, mask=None, reverse: bool = False,
                          chunk_size: int | None = None):
    """`gated_scan(*project(x))` for a position-wise `project` (an input projection).

    The same result as `gated_scan(k, v)` with `k, v = project(x)`, but `x` is
    laid out step-major, `(chunk_size, batch, chunks, channels)`, before
    `project` runs, so the scan reads each step of `k` and `v` as a contiguous
    slab instead of copying both into step slices (`x` is usually the narrower
    tensor), and their gradients come back in that layout.

    Args:
        x: `(batch, time, channels)` input.
        project: `x -> (k, v)`, acting on the last axis only (any leading axes),
            e.g. a matmul and bias, written with `keras.ops` (it is also called
            on a symbolic `keras.KerasTensor`, for the channels of `v`).
        initial, mask, reverse, chunk_size: as in `gated_scan`.

    Returns:
        `(batch, time, *channels of v)` states.

    Example:

    >>> import numpy as np
    >>> x = np.ones((1, 3, 1), "float32")
    >>> np.asarray(gated_projection_scan(x, lambda t: (t * 0, t)))[0, :, 0].tolist()
    [0.5, 0.75, 0.875]
    """
    if keras.backend.is_keras_tensor(x):
        v = project(x)[1]
        return keras.KerasTensor(v.shape, dtype=v.dtype)
    x = ops.convert_to_tensor(x)
    # The default chunk is sized by the channels of v, read from a symbolic call (no computation).
    channels = math.prod(project(keras.KerasTensor((None, *x.shape[1:]), dtype=x.dtype))[1].shape[2:])
    layout = _Layout(x, chunk_size, channels)
    k, v = project(layout.time_major(x))
    if mask is not None or layout.needs_pad:  # masked or padding steps carry the state
        keep = ops.ones_like(x[:, :, :1]) if mask is None else ops.cast(_keep_mask(mask, 3), x.dtype)
        keep = ops.cast(layout.time_major(keep), "bool")
        for _ in range(len(v.shape) - 4):  # (size, batch, chunks, 1, ...) against v's channels
            keep = ops.expand_dims(keep, -1)
        k, v = _carried(keep, k, v)
    h0 = ops.zeros_like(v[0, :, 0]) if initial is None else ops.cast(ops.convert_to_tensor(initial), v.dtype)
    return _gated(k, v, h0, layout, reverse, time_major=True)


def sequential_scan(a, b, *, initial=None):
    """The same recurrence one step at a time (reference for tests; slow)."""
    a = _map(ops.convert_to_tensor, a)
    b = _map(ops.convert_to_tensor, b)
    state = initial if initial is not None else _map(lambda t: ops.zeros_like(t[:, 0]), b)
    steps: Sequence[Any] = []
    for t in range(_first(b).shape[1]):
        state = _add(_mul(_map(lambda x: x[:, t], a), state), _map(lambda x: x[:, t], b))
        steps.append(state)
    if _is_pair(b):
        return tuple(ops.stack([s[k] for s in steps], axis=1) for k in range(2))
    return ops.stack(steps, axis=1)
