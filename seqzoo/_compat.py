"""Every private API of TensorFlow, Keras and KerasTuner that seqzoo relies on, in one place (private).

seqzoo's runtime code reaches a private attribute of a third-party object only
through a function of this module, and `tests/test_compat.py` holds one canary
test per function: the private thing still exists and behaves as assumed. An
upgrade that moves one of them fails there, loudly and in one place, instead
of deep inside a training run. The versions they were checked against are the
upper bounds in `pyproject.toml`.

| function | private API | used by | why |
|---|---|---|---|
| `gradient_registry` | TensorFlow `ops._gradient_registry._registry` | `seqzoo.tuning` | drop the custom gradients each trial registers (KerasTuner #395/#873: memory) |
| `tuner_is_worker` | KerasTuner `BaseTuner._is_worker()` | `seqzoo.tuning` | a distributed worker records no trials |
| `TunerSpaceHook` | KerasTuner `BaseTuner._populate_initial_space()` | `seqzoo.tuning` | declare the space once instead of building a model per conditional scope |
| `retry_queue`, `set_retry_queue` | KerasTuner `Oracle._retry_queue` | `seqzoo.tuning` | a reloaded search never reruns a finished trial |
| `FirstDrawHook` | KerasTuner `Oracle._random_values()` | `seqzoo.tuning` | the first configuration every oracle draws is the defaults |
| `symbolic_build` | Keras `Trainer._symbolic_build(data_batch=)` | `seqzoo._multiworker` | create metric and optimizer state before the distributed step, as `fit` does |
| `initial_epoch`, `reset_initial_epoch` | Keras `Trainer._initial_epoch` | `seqzoo._multiworker` | the epoch `BackupAndRestore` restored |
| `run_through_graph` | Keras `Function._run_through_graph(inputs, operation_fn, call_fn)` | `seqzoo.streaming` | run a functional model's graph with a custom call per layer |
| `mel_from_magnitude` | Keras `MelSpectrogram._melscale`, `._dbscale` | `recipes.streaming_spotter` | the layer's mel and dB steps on frames framed by the caller (a stream's frames) |
"""

from __future__ import annotations

from typing import Any, Callable

import keras

# ----------------------------------------------------------------------------- TensorFlow


def gradient_registry() -> dict | None:
    """TensorFlow's global gradient registry (`op type name -> entry`); None on another backend or version.

    `tf.custom_gradient` registers a gradient function under a fresh name
    (`CustomGradient-<n>`) on every trace and never removes it.
    """
    if keras.backend.backend() != "tensorflow":
        return None
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry
    except (ImportError, AttributeError):
        return None
    return registry if isinstance(registry, dict) else None


# ----------------------------------------------------------------------------- KerasTuner


def tuner_is_worker(tuner: Any) -> bool:
    """Whether `tuner` runs trials for a remote (chief) oracle in a distributed search."""
    return bool(tuner._is_worker())


class TunerSpaceHook:
    """Mixed in before a KerasTuner tuner class: routes KerasTuner's private hook that fills the
    oracle's search space before the first trial to `populate_space()`.

    `populate_space()` returns True when it declared the space itself; False
    falls back to KerasTuner's own (which builds the model once per
    conditional scope).
    """

    def populate_space(self) -> bool:
        return False

    def _populate_initial_space(self) -> None:
        if not self.populate_space():
            super()._populate_initial_space()  # type: ignore[misc]


class FirstDrawHook:
    """Mixed in before a KerasTuner oracle class: routes the first configuration it draws to
    `first_values()`.

    KerasTuner's random, Bayesian (initial points) and Hyperband (new bracket)
    oracles all draw a fresh configuration through the private
    `Oracle._random_values()`. While the oracle holds no trial, this hook asks
    `first_values()` instead; `None` falls back to the random draw.
    """

    def first_values(self) -> dict | None:
        return None

    def _random_values(self) -> dict | None:
        if not self.trials:  # type: ignore[attr-defined]
            values = self.first_values()
            if values is not None:
                return values
        return super()._random_values()  # type: ignore[misc]


def retry_queue(oracle: Any) -> list | None:
    """The trial ids a reloaded KerasTuner oracle will run again first (None if it keeps no such queue)."""
    queue = getattr(oracle, "_retry_queue", None)
    return queue if isinstance(queue, list) else None


def set_retry_queue(oracle: Any, queue: list) -> None:
    """Replace the oracle's retry queue (see `retry_queue`)."""
    oracle._retry_queue = list(queue)


# ----------------------------------------------------------------------------- Keras


def symbolic_build(model: keras.Model, data_batch: Any) -> None:
    """Create the compiled loss's and metrics' state and the optimizer's variables for batches like
    `data_batch` (a batch or its `tf.TensorSpec` structure), as `model.fit` does before its first step."""
    model._symbolic_build(data_batch=data_batch)


def initial_epoch(model: keras.Model) -> int | None:
    """The epoch a `keras.callbacks.BackupAndRestore` restored in `on_train_begin` (None: nothing restored)."""
    return model._initial_epoch


def reset_initial_epoch(model: keras.Model) -> None:
    """Forget a restored epoch (before `on_train_begin`, and once it has been used)."""
    model._initial_epoch = None


def run_through_graph(model: keras.Model, inputs: Any, call_fn: Callable[..., Any]) -> Any:
    """Run a functional `model`'s graph on `inputs`, computing every layer's outputs as
    `call_fn(layer, *args, **kwargs)` (the layer's arguments as recorded in the graph).

    Example:

    >>> import numpy as np
    >>> x = keras.Input((2,)); model = keras.Model(x, keras.layers.Dense(1)(x))
    >>> seen = []
    >>> out = run_through_graph(model, np.ones((1, 2), "float32"),
    ...                         lambda layer, *a, **k: seen.append(layer.name) or layer(*a, **k))
    >>> seen == [model.layers[1].name], tuple(out.shape)
    (True, (1, 1))
    """
    return model._run_through_graph(inputs, operation_fn=lambda op: op, call_fn=call_fn)


def mel_from_magnitude(layer: keras.layers.MelSpectrogram, magnitude: Any) -> Any:
    """`layer`'s output for frames the caller framed itself: its magnitude exponent, mel
    weighting (`_melscale`) and dB scaling (`_dbscale`) applied to an STFT magnitude
    `(..., frames, fft_length // 2 + 1)`; time-major `(..., frames, mels)`.

    Example:

    >>> import numpy as np
    >>> layer = keras.layers.MelSpectrogram(fft_length=64, sequence_stride=16, sequence_length=64,
    ...                                     num_mel_bins=8, sampling_rate=8000)
    >>> x = np.random.default_rng(0).normal(size=(1, 256)).astype("float32")
    >>> real, imag = keras.ops.stft(x, 64, 16, 64, center=True)
    >>> mel = mel_from_magnitude(layer, keras.ops.sqrt(real ** 2 + imag ** 2))
    >>> bool(np.allclose(mel, keras.ops.swapaxes(layer(x), -1, -2), atol=1e-4))
    True
    """
    x = layer._melscale(keras.ops.power(magnitude, layer.mag_exp))
    return layer._dbscale(x) if layer.power_to_db else x
