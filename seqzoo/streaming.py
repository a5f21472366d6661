"""Step-by-step inference with carried state: streaming and generation.

A model trained on whole sequences can run one time step at a time when every
layer that mixes time has a *step form*. `Streamer(model)` walks the model's
functional graph once per step and calls, for each layer:

- a **step layer** (any layer with `initial_state(batch_size)` and
  `step(inputs, states, mask=None) -> (outputs, new_states)`, e.g. the
  parallel-scan recurrences of `seqzoo.layers`) with its own carried state;
- an **adapter** for Keras layers that mix time: `SimpleRNN`/`LSTM`/`GRU` step
  their cell, the pooling layers keep a running last / max / mean;
- a **pointwise** layer (`Dense`, `Embedding`, `LayerNormalization`,
  `Dropout`, `Add`, ...) on the one step as it is;
- any layer after the summary (the head) as it is.

Anything else (self-attention, a bidirectional layer, a centred convolution,
per-window normalisation) reads more than the past, so the model cannot
stream: `Streamer` says which layer stops it.

The state is a flat list of tensors; a masked step (token id 0) carries every
state unchanged, as the parallel form does for right padding. At the end of a
sequence the streamed output equals the whole-sequence output.

Example:

>>> import numpy as np, seqzoo
>>> model = seqzoo.build("gru", units=8, vocab_size=50, embed_dim=4)
>>> streamer = Streamer(model)
>>> ids = np.array([[5, 7, 9, 3]], "int32")
>>> outputs = streamer.run(ids)                      # (batch, time, 1): a score after every step
>>> bool(np.allclose(outputs[:, -1], model(ids), atol=1e-5))
True
"""

from __future__ import annotations

from typing import Any, Callable

import keras
from keras import ops

from seqzoo import _compat
from seqzoo.layers import LastTimestep, MaskedMaxPooling1D
from seqzoo.layers._masking import keep_where

__all__ = ["StreamingError", "Streamer", "POINTWISE", "ADAPTERS", "keep_where"]


class StreamingError(ValueError):
    """The model has a layer that reads more than the past, or no step form."""


# Layers that act on each time step on its own: applied to one step as they are.
POINTWISE: tuple[type, ...] = (
    keras.layers.InputLayer,
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.layers.Embedding,
    keras.layers.LayerNormalization,
    keras.layers.RMSNormalization,
    keras.layers.Dropout,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
)


# ----------------------------------------------------------------------------- adapters


class _Adapter:
    """Step form of a Keras layer: `initial_state(layer, batch)`, `step(layer, x, states, mask)`;
    `reduces(layer)`: the layer turns a sequence into one summary (pooling, a final state)."""

    def check(self, layer) -> str | None:
        """Why `layer` cannot stream, or None."""
        return None

    def reduces(self, layer) -> bool:
        return False

    def initial_state(self, layer, batch_size: int) -> list:
        raise NotImplementedError

    def step(self, layer, x, states, mask):
        raise NotImplementedError


class _RecurrentAdapter(_Adapter):
    """SimpleRNN / LSTM / GRU: one call of the layer's cell."""

    def check(self, layer) -> str | None:
        if layer.go_backwards:
            return "runs backwards (go_backwards=True)"
        return None

    def reduces(self, layer) -> bool:
        return not layer.return_sequences

    def initial_state(self, layer, batch_size):
        sizes = layer.cell.state_size if isinstance(layer.cell.state_size, (list, tuple)) else [layer.cell.state_size]
        return [ops.zeros((batch_size, int(size)), dtype=layer.compute_dtype) for size in sizes]

    def step(self, layer, x, states, mask):
        # The cell's `call`, not `__call__`: no mask bookkeeping, and the step model
        # gets the cell's ops inline (several cells may share one name).
        output, new_states = layer.cell.call(x, states if len(states) > 1 else states[0], training=False)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        new_states = keep_where(mask, new_states, states)
        if layer.return_sequences:
            return output, new_states
        return new_states[0], new_states  # the final output: the last valid step's


class _LastAdapter(_Adapter):
    def reduces(self, layer) -> bool:
        return True

    def initial_state(self, layer, batch_size):
        return [ops.zeros((batch_size, int(layer.output.shape[-1])), dtype=layer.compute_dtype)]

    def step(self, layer, x, states, mask):
        new = keep_where(mask, [x], states)
        return new[0], new


class _MaxAdapter(_Adapter):
    def reduces(self, layer) -> bool:
        return True

    def initial_state(self, layer, batch_size):
        return [ops.full((batch_size, int(layer.output.shape[-1])), -1e9, dtype=layer.compute_dtype)]

    def step(self, layer, x, states, mask):
        new = keep_where(mask, [ops.maximum(states[0], x)], states)
        return new[0], new


class _MeanAdapter(_Adapter):
    def reduces(self, layer) -> bool:
        return True

    def initial_state(self, layer, batch_size):
        width = int(layer.output.shape[-1])
        return [ops.zeros((batch_size, width), dtype=layer.compute_dtype),
                ops.zeros((batch_size, 1), dtype=layer.compute_dtype)]

    def step(self, layer, x, states, mask):
        total, count = states
        new = keep_where(mask, [total + x, count + 1.0], states)
        return new[0] / ops.maximum(new[1], 1.0), new


class _LayerAdapter(_Adapter):
    """A layer with its own `initial_state` / `step` (the step-layer protocol)."""

    def reduces(self, layer) -> bool:
        return bool(getattr(layer, "reduces_time", False))

    def initial_state(self, layer, batch_size):
        return list(layer.initial_state(batch_size))

    def step(self, layer, x, states, mask):
        output, new_states = layer.step(x, states, mask=mask)
        return output, list(new_states)


ADAPTERS: dict[type, _Adapter] = {
    keras.layers.SimpleRNN: _RecurrentAdapter(),
    keras.layers.LSTM: _RecurrentAdapter(),
    keras.layers.GRU: _RecurrentAdapter(),
    LastTimestep: _LastAdapter(),
    MaskedMaxPooling1D: _MaxAdapter(),
    keras.layers.GlobalMaxPooling1D: _MaxAdapter(),
    keras.layers.GlobalAveragePooling1D: _MeanAdapter(),
}


def _adapter(layer) -> _Adapter | None:
    if callable(getattr(layer, "step", None)) and callable(getattr(layer, "initial_state", None)):
        return _LayerAdapter()
    for cls in type(layer).__mro__:
        if cls in ADAPTERS:
            return ADAPTERS[cls]
    return None


def _is_pointwise(layer) -> bool:
    if getattr(layer, "pointwise", False):
        return True
    if isinstance(layer, keras.layers.Concatenate):
        return layer.axis == -1
    return isinstance(layer, POINTWISE)


# ----------------------------------------------------------------------------- the streamer


class Streamer:
    """Run `model` one time step at a time, carrying each layer's state.

    Args:
        model: a functional `keras.Model` whose time-mixing layers all have a
            step form (see the module docstring); its input is `(batch, time)`
            token ids or `(batch, time, features)`.

    Raises:
        StreamingError: naming the first layer that reads the future or has no
            step form.

    Example:

    >>> import numpy as np, seqzoo
    >>> model = seqzoo.build("lstm", inputs="frames", features=3, units=4, num_classes=3)
    >>> streamer = Streamer(model)
    >>> state = streamer.initial_state(batch_size=2)
    >>> y, state = streamer.step(np.zeros((2, 3), "float32"), state)   # one frame in, scores out
    >>> tuple(y.shape)
    (2, 3)
    """

    def __init__(self, model: keras.Model):
        if not isinstance(model, keras.Model) or not hasattr(model, "inputs") or len(model.inputs) != 1:
            raise StreamingError("Streamer needs a functional keras.Model with one input")
        self.model = model
        self._tokens = "int" in str(model.inputs[0].dtype)
        self._layers: list[tuple[Any, _Adapter]] = []
        timed = {id(model.inputs[0])}  # tensors that still have a time axis
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            inputs = keras.tree.flatten(layer.input)
            outputs = keras.tree.flatten(layer.output)
            if not any(id(t) in timed for t in inputs):
                continue  # after the summary (the head): runs as it is
            adapter = _adapter(layer)
            if adapter is not None:
                reason = adapter.check(layer)
                if reason:
                    raise StreamingError(f"{model.name} cannot stream: layer {layer.name!r} {reason}")
                self._layers.append((layer, adapter))
                if not adapter.reduces(layer):
                    timed.update(id(t) for t in outputs)
            elif _is_pointwise(layer):
                timed.update(id(t) for t in outputs)
            else:
                raise StreamingError(
                    f"{model.name} cannot stream: layer {layer.name!r} ({type(layer).__name__}) mixes "
                    "time steps and has no step form (it may read the future)"
                )

    # -- state

    def initial_state(self, batch_size: int) -> list:
        """The zero state of every stateful layer, as one flat list."""
        states = []
        for layer, adapter in self._layers:
            states.extend(adapter.initial_state(layer, batch_size))
        return states

    def _split(self, states: list) -> dict[int, list]:
        out, start = {}, 0
        for layer, adapter in self._layers:
            count = len(adapter.initial_state(layer, 1))
            out[id(layer)] = list(states[start:start + count])
            start += count
        if start != len(states):
            raise StreamingError(f"expected {start} state tensors, got {len(states)}")
        return out

    # -- one step

    def step(self, x_t, states: list, mask=None):
        """One time step: `x_t` is `(batch,)` token ids or `(batch, features)`.

        `mask` (optional, `(batch,)` bool): where False the step is skipped, every
        state carried unchanged (as a padding token id 0 is).

        Returns `(outputs, new_states)`; outputs are the model's outputs after
        this step (e.g. class probabilities given the sequence so far).
        """
        x_t = ops.convert_to_tensor(x_t)
        if self._tokens:
            tokens = ops.not_equal(x_t, 0)
            mask = tokens if mask is None else ops.logical_and(ops.cast(mask, "bool"), tokens)
        by_layer = self._split(list(states))
        new_by_layer: dict[int, list] = {}
        adapters = {id(layer): adapter for layer, adapter in self._layers}

        def call(op, *args, **kwargs):
            adapter = adapters.get(id(op))
            if adapter is None:
                kwargs.pop("mask", None)
                kwargs.pop("training", None)
                return op(*args, training=False, **kwargs) if _accepts_training(op) else op(*args, **kwargs)
            y, new = adapter.step(op, args[0], by_layer[id(op)], mask)
            new_by_layer[id(op)] = new
            return y

        outputs = _compat.run_through_graph(self.model, x_t, call)
        flat = []
        for layer, _ in self._layers:
            flat.extend(new_by_layer.get(id(layer), by_layer[id(layer)]))
        return outputs, flat

    def run(self, x, states: list | None = None):
        """Every step of `x` (`(batch, time[, features])`); returns the outputs after each step,
        stacked on axis 1."""
        x = ops.convert_to_tensor(x)
        states = self.initial_state(int(x.shape[0])) if states is None else states
        outputs = []
        for t in range(int(x.shape[1])):
            y, states = self.step(x[:, t], states)
            outputs.append(y)
        return ops.stack(outputs, axis=1)

    def step_model(self) -> keras.Model:
        """A Keras model `[x_t, *states] -> [outputs, *new_states]` for one step (e.g. for export)."""
        shape = tuple(self.model.inputs[0].shape[2:])
        x_t = keras.Input(shape=shape, batch_size=None, dtype=self.model.inputs[0].dtype, name="step_input")
        state_inputs = [
            keras.Input(shape=tuple(s.shape[1:]), dtype=s.dtype, name=f"state_{i}")
            for i, s in enumerate(self.initial_state(1))
        ]
        outputs, new_states = self.step(x_t, state_inputs)
        return keras.Model([x_t, *state_inputs], [outputs, *new_states], name=f"{self.model.name}_step")


def _accepts_training(op) -> bool:
    import inspect

    call: Callable = getattr(op, "call", None)
    try:
        return call is not None and "training" in inspect.signature(call).parameters
    except (TypeError, ValueError):
        return False
