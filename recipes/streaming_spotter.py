"""Streaming keyword spotting: audio chunks in, a score per chunk, state carried.

`StreamingSpotter(spotter)` runs the raw-audio model of
`recipes.data.audio.export_model` (`keyword_spotter.keras`: log-mel/MFCC front
end, training normalisation, classifier) on a stream. Each `process(chunk)`
(e.g. 20 ms: `spotter.chunk_samples(20)` samples) appends the chunk to the
leftover samples of the previous ones, computes the feature frames the chunk
completes, steps the classifier's `seqzoo.streaming.Streamer` over them and
returns the class probabilities given the audio so far. `finish()` ends the
clip and returns what the whole-clip model gives for the samples streamed.

Equal to the whole-clip model (to float round-off) because the whole-clip path
holds nothing a stream cannot know:

- The front end is a centred STFT (`keras.layers.MelSpectrogram`; the stream
  calls its own mel and dB steps, via `seqzoo._compat.mel_from_magnitude`): frame `t`
  covers samples `[t*hop - fft/2, t*hop + fft/2)` of the clip reflect-padded
  by `fft/2` at both ends. The stream keeps the signal in those padded
  coordinates: the left pad is the reflection of samples `1..fft/2`, known
  once `fft/2 + 1` samples have arrived; a frame is computed as soon as its
  last sample is in (so a score lags the audio by `fft/2` samples, 16 ms at
  16 kHz with the default 25 ms window); the right pad (a reflection of the
  clip's last samples) exists only once the clip ends, so `finish()` adds it
  and computes the last `fft/2 // hop` or so frames. The frame count is the
  whole clip's, `1 + samples // hop`.
- There is no per-clip normalisation: the dB floor is absolute (`top_db` is
  off), the per-band normalisation holds fixed training statistics, and the
  DCT of MFCCs acts on each frame alone.
- Padding: the whole-clip model takes exactly `clip_samples` samples; a
  shorter recording is zero-padded (centred) by `recipes.data.audio.fix_length`
  before it. Stream the fixed-length clip (`fix_length(samples, clip_samples)`)
  to reproduce that output; a live stream has no such padding and sees the raw
  samples, which is a different input, not an approximation of it.

Only causal classifiers stream (rnn, lstm, gru, their deep variants and the
causal revival models: every model `seqzoo.streaming.Streamer` accepts).
Bidirectional, attention and centred-convolution models are refused with a
`seqzoo.streaming.StreamingError` naming the layer that reads the future.

Example:

>>> import numpy as np, seqzoo
>>> from recipes.data import audio
>>> features = audio.FeatureConfig(sample_rate=8000, clip_seconds=0.25, n_mels=16)
>>> classifier = seqzoo.build("gru", inputs="frames", seq_len=features.num_frames,
...                           features=16, num_classes=3, units=8)
>>> model = audio.raw_audio_model(classifier, features, np.zeros(16), np.ones(16))
>>> stream = StreamingSpotter(model)
>>> clip = np.random.default_rng(0).uniform(-0.5, 0.5, (1, 2000)).astype("float32")
>>> chunk = stream.chunk_samples(20)                       # 160 samples at 8 kHz
>>> scores = [stream.process(clip[:, i:i + chunk]) for i in range(0, 2000, chunk)]
>>> final = stream.finish()
>>> bool(np.allclose(final, model(clip), atol=1e-4)), scores[-1].shape
(True, (1, 3))
"""

from __future__ import annotations

import time
from typing import Any, Callable

import keras
import numpy as np
from keras import ops

from seqzoo import _compat
from seqzoo.streaming import POINTWISE, Streamer, StreamingError

_NO_TOP_DB = 1e6  # a MelSpectrogram top_db at least this large never clips (dB values are >= its floor)
# Layers of the front end / normalisation that act on each frame alone.
_FRAME_WISE = (*POINTWISE, keras.layers.Normalization)


class StreamingSpotter:
    """A raw-audio keyword spotter run chunk by chunk with carried state.

    Args:
        spotter: the raw-audio model of `recipes.data.audio.export_model`
            (`keyword_spotter.keras`): input `(batch, clip_samples)`, a
            front-end sub-model holding a `keras.layers.MelSpectrogram`,
            frame-wise layers (normalisation), then the classifier.
        batch_size: streams run side by side (one chunk of each per call).
        compile: trace the per-chunk computation with `tf.function` (TensorFlow
            backend); `False` runs it eagerly.

    Raises:
        StreamingError: the classifier reads the future (one line naming the
            layer), or the spotter is not a raw-audio model of that shape.

    Example:

    A model that reads the future (the module docstring shows a causal one):

    >>> import numpy as np, seqzoo; from recipes.data import audio
    >>> f = audio.FeatureConfig(sample_rate=8000, clip_seconds=0.25, n_mels=8)
    >>> bigru = seqzoo.build("bigru", inputs="frames", seq_len=f.num_frames, features=8, num_classes=2)
    >>> StreamingSpotter(audio.raw_audio_model(bigru, f, np.zeros(8), np.ones(8)))
    Traceback (most recent call last):
    ...
    seqzoo.streaming.StreamingError: streaming keyword spotting needs a causal classifier: bigru cannot stream: layer 'bigru_1' (Bidirectional) mixes time steps and has no step form (it may read the future)
    """

    def __init__(self, spotter: keras.Model, *, batch_size: int = 1, compile: bool = True):
        self.spotter = spotter
        self._mel, self._frame_layers, classifier = _parts(spotter)
        try:
            self.streamer = Streamer(classifier)
        except StreamingError as error:
            raise StreamingError(f"streaming keyword spotting needs a causal classifier: {error}") from None
        self.sample_rate = int(self._mel.sampling_rate)
        self.fft_length = int(self._mel.fft_length)
        self.hop = int(self._mel.sequence_stride)
        self.half = self.fft_length // 2
        self.clip_samples = spotter.inputs[0].shape[-1]
        self._advance: Callable[..., Any] = self._frames_and_steps
        if compile and keras.backend.backend() == "tensorflow":
            import tensorflow as tf  # noqa: PLC0415

            self._advance = tf.function(self._frames_and_steps)
        self.reset(batch_size)

    # -- state

    def chunk_samples(self, ms: float = 20.0) -> int:
        """Samples in a chunk of `ms` milliseconds at the spotter's rate (20 ms at 16 kHz: 320)."""
        return max(1, int(round(ms * self.sample_rate / 1000)))

    def reset(self, batch_size: int | None = None) -> None:
        """Start new clips (zero model state, no samples)."""
        self.batch_size = self.batch_size if batch_size is None else int(batch_size)
        self.states = self.streamer.initial_state(self.batch_size)
        self.samples = 0  # samples received
        self.frames = 0  # frames computed
        self._head = np.zeros((self.batch_size, 0), "float32")  # first samples, until the left pad is known
        self._buffer: np.ndarray | None = None  # padded-coordinate samples from the next frame's start
        self._recent = np.zeros((self.batch_size, 0), "float32")  # the last fft/2 + 1 samples (right pad)
        self.score = np.full((self.batch_size, self._classes()), np.nan, "float32")
        self._finished = False

    def _classes(self) -> int:
        return int(self.streamer.model.outputs[0].shape[-1])

    # -- chunks

    def process(self, chunk: Any) -> np.ndarray:
        """Append `chunk` (`(batch, samples)`, or `(samples,)` for one stream; float in [-1, 1], any length)
        and return the probabilities `(batch, classes)` given every frame completed so far
        (NaN until the first frame, which needs `fft_length // 2 + 1` samples)."""
        if self._finished:
            raise ValueError("the clip has ended (finish() was called); call reset() to stream a new one")
        chunk = float_audio(chunk, "a chunk")
        if chunk.shape[0] != self.batch_size:
            raise ValueError(f"a chunk must be (batch={self.batch_size}, samples), got shape {chunk.shape}")
        self.samples += chunk.shape[1]
        self._recent = np.concatenate([self._recent, chunk], axis=1)[:, -(self.half + 1):]
        if self._buffer is None:
            self._head = np.concatenate([self._head, chunk], axis=1)
            if self._head.shape[1] <= self.half:
                return self.score
            # The centred STFT's left pad: samples fft/2 .. 1, reflected.
            self._buffer = np.concatenate([self._head[:, self.half:0:-1], self._head], axis=1)
            self._head = self._head[:, :0]
        else:
            self._buffer = np.concatenate([self._buffer, chunk], axis=1)
        return self._emit()

    def finish(self) -> np.ndarray:
        """End the clip: add the right pad (the last samples reflected), compute the last
        frames and return the final probabilities, equal to the whole-clip model's on the
        samples streamed."""
        if self._buffer is None:
            raise ValueError(
                f"a clip needs more than {self.half} samples (half the {self.fft_length}-point FFT) "
                f"for the centred STFT; got {self.samples}"
            )
        if not self._finished:
            self._buffer = np.concatenate([self._buffer, self._recent[:, -2::-1][:, : self.half]], axis=1)
            self._emit()
            self._finished = True
        return self.score

    def run(self, waveform: Any, chunk_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """Stream whole clips `(batch, samples)` in chunks of `chunk_samples` (the last may be
        shorter); returns `(scores (batch, chunks, classes), final (batch, classes))`."""
        waveform = float_audio(waveform, "a waveform")
        self.reset(waveform.shape[0])
        scores = [self.process(waveform[:, i : i + chunk_samples]) for i in range(0, waveform.shape[1], chunk_samples)]
        return np.stack(scores, axis=1), self.finish()

    def _emit(self) -> np.ndarray:
        available = self._buffer.shape[1]
        if available < self.fft_length:
            return self.score
        count = 1 + (available - self.fft_length) // self.hop
        segment = self._buffer[:, : self.fft_length + (count - 1) * self.hop]
        score, states = self._advance(segment, self.states)
        self.states = list(states)
        self.score = np.asarray(score)
        self.frames += count
        self._buffer = self._buffer[:, count * self.hop :]
        return self.score

    # -- the computation (traced once per frame count)

    def _frames_and_steps(self, segment, states):
        """Features of the frames of `segment` (padded coordinates, a whole number of frames),
        then one classifier step per frame."""
        frames = self.features(segment)
        score = None
        for t in range(frames.shape[1]):
            score, states = self.streamer.step(frames[:, t], states)
        return score, states

    def features(self, segment):
        """The front end and normalisation on already-padded frames: `MelSpectrogram.call`
        with `center=False` (the layer's own mel and dB steps), time-major."""
        mel = self._mel
        real, imag = ops.stft(
            ops.convert_to_tensor(segment, "float32"),
            sequence_length=mel.sequence_length,
            sequence_stride=mel.sequence_stride,
            fft_length=mel.fft_length,
            window=mel.window,
            center=False,
        )
        x = _compat.mel_from_magnitude(mel, ops.sqrt(ops.square(real) + ops.square(imag)))
        for layer in self._frame_layers:
            x = layer(x)
        return x


def float_audio(samples: Any, what: str) -> np.ndarray:
    """`samples` as float32 `(batch, samples)` (`(samples,)` is one stream); integer PCM and
    other ranks are refused: a spotter reads float samples in [-1, 1], and int16 samples would
    stream unscaled, as garbage (`what` names the argument in the error)."""
    samples = np.asarray(samples)
    if samples.dtype.kind in "iub":
        scale = f"divide by {2 ** (8 * samples.dtype.itemsize - 1)}" if samples.dtype.kind == "i" else "convert it"
        raise ValueError(f"{what} of {samples.dtype} samples: pass float samples in [-1, 1] ({scale})")
    if samples.ndim not in (1, 2):
        raise ValueError(f"{what} must be (samples,) or (batch, samples), got shape {samples.shape}")
    samples = samples.astype("float32", copy=False)
    return samples[None] if samples.ndim == 1 else samples


def _parts(spotter: keras.Model) -> tuple[keras.layers.MelSpectrogram, list, keras.Model]:
    """`(mel layer, frame-wise layers after it, classifier)` of a raw-audio spotter."""
    layers = [layer for layer in spotter.layers if not isinstance(layer, keras.layers.InputLayer)]
    shape = "a raw-audio spotter of recipes.data.audio.export_model (front end, normalisation, classifier)"
    if len(layers) < 2 or not isinstance(layers[-1], keras.Model) or not isinstance(layers[0], keras.Model):
        raise StreamingError(f"{spotter.name} is not {shape}")
    front_layers = [layer for layer in layers[0].layers if not isinstance(layer, keras.layers.InputLayer)]
    if not front_layers or not isinstance(front_layers[0], keras.layers.MelSpectrogram):
        raise StreamingError(f"{spotter.name}: its front end does not start with a MelSpectrogram; expected {shape}")
    mel, frame_layers = front_layers[0], []
    if mel.power_to_db and mel.top_db < _NO_TOP_DB:
        raise StreamingError(
            f"{spotter.name}: its MelSpectrogram clips at top_db={mel.top_db} dB below the maximum of the "
            "whole batch, which a stream cannot know; build the front end without it (top_db=1e9, as "
            "recipes.data.audio.FeatureConfig does)"
        )
    for layer in [*front_layers[1:], *layers[1:-1]]:
        if isinstance(layer, keras.layers.Permute) and tuple(layer.dims) == (2, 1):
            continue  # (mels, frames) -> (frames, mels): the stream's frames are time-major already
        if not isinstance(layer, _FRAME_WISE):
            raise StreamingError(
                f"{spotter.name}: front-end layer {layer.name!r} ({type(layer).__name__}) does not act on "
                "each frame alone, so it cannot stream"
            )
        frame_layers.append(layer)
    return mel, frame_layers, layers[-1]


def stream_metrics(spotter: keras.Model, waveforms: Any, *, chunk_ms: float = 20.0, timed_clips: int = 20) -> dict:
    """Stream `waveforms` `(clips, clip_samples)` through `spotter` in `chunk_ms` chunks and
    compare with the whole-clip model.

    Returns:
        `streaming_*` metrics: the clips, chunk samples, the largest difference between the
        final streamed probabilities and the whole-clip model's (all clips streamed side by
        side), top-1 agreement, and the median / 95th-percentile milliseconds of one
        `process` call (one stream, batch 1, over `timed_clips` clips after an untimed one).

    Example:

    >>> import numpy as np, seqzoo
    >>> from recipes.data import audio
    >>> features = audio.FeatureConfig(sample_rate=8000, clip_seconds=0.25, n_mels=8)
    >>> gru = seqzoo.build("gru", inputs="frames", seq_len=features.num_frames, features=8,
    ...                    num_classes=2, units=4)
    >>> model = audio.raw_audio_model(gru, features, np.zeros(8), np.ones(8))
    >>> clips = np.random.default_rng(0).uniform(-1, 1, (3, 2000)).astype("float32")
    >>> metrics = stream_metrics(model, clips, timed_clips=1)
    >>> metrics["streaming_chunk_samples"], metrics["streaming_max_abs_diff"] < 1e-4
    (160, True)
    """
    waveforms = np.asarray(waveforms, "float32")
    stream = StreamingSpotter(spotter)
    chunk = stream.chunk_samples(chunk_ms)
    whole = np.asarray(spotter.predict(waveforms, verbose=0))
    _, final = stream.run(waveforms, chunk)
    top1 = (lambda p: p.argmax(-1) if p.shape[-1] > 1 else (p[:, 0] > 0.5).astype(int))  # noqa: E731
    seconds = []
    for i, clip in enumerate([waveforms[0], *waveforms[: max(1, timed_clips)]]):
        stream.reset(1)  # clip 0 runs twice: first untimed, to trace every chunk shape
        for begin in range(0, clip.shape[0], chunk):
            start = time.perf_counter()
            stream.process(clip[None, begin : begin + chunk])
            if i:
                seconds.append(time.perf_counter() - start)
        stream.finish()
    ms = 1000 * np.asarray(seconds)
    return {
        "streaming_test_clips": int(len(waveforms)),
        "streaming_chunk_samples": int(chunk),
        "streaming_max_abs_diff": float(np.max(np.abs(final - whole))),
        "streaming_agreement": float(np.mean(top1(final) == top1(whole))),
        "streaming_ms_per_chunk_p50": float(np.percentile(ms, 50)),
        "streaming_ms_per_chunk_p95": float(np.percentile(ms, 95)),
    }
