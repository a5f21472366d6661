"""A LiteRT keyword spotter that streams: one chunk of audio and the carried state in, scores and
the new state out.

`streaming_litert(spotter, path)` writes the raw-audio spotter of
`recipes.data.audio.export_model` (`keyword_spotter.keras`) as a LiteRT file
(float32, builtin ops only) that computes what `recipes.streaming_spotter.StreamingSpotter`
computes per `process` call, and its `finish()`, with the state as explicit tensors, so a
phone or microcontroller can run it with any LiteRT interpreter and a few buffers.
`streaming_litert(spotter, path, scheme="int8", representative=clips)` writes a quantised
variant (`seqzoo.export.SCHEMES`): in int8 the classifier quantised, calibrated on the calls a
float stream of the training `clips` makes (chunk and carried state, `calibration_inputs`),
the audio path (tail, STFT, mel, dB, normalisation) float32; `"weights_int8"` the classifier's
weights (float activations, the audio path float32 too); `"int16x8"` (int16 activations) the
whole graph. The file's inputs and
outputs stay float32, so the same runner runs every file. `LiteRTStreamingSpotter(path)` runs
such a file from Python, carrying the state.

The file (`signature "serving_default"`; `F` = FFT length, `H` = hop,
`h = F // 2`, `C` = chunk samples, a whole number `k = C / H` of hops and more
than `h`; `r = (-h) mod H`; `L = max(F - H + r, h + 1)`):

    input   audio      (batch, C)       float32   the next C samples, in [-1, 1]
    input   tail       (batch, L)       float32   state: the last L samples (zeros at the start)
    input   started    (batch, 1)       float32   0 before the first chunk, 1 after (state);
                                                  2: finish the clip (`audio` is not read)
    input   state_i    (batch, ...)     float32   state: the classifier's carried tensors, in
                                                  `seqzoo.streaming.Streamer` order (zeros at the
                                                  start: the first call sets the classifier's own
                                                  initial state, e.g. a max pool's -1e9)
    output  scores     (batch, classes) float32   probabilities given the audio so far
    output  new_tail, new_started, new_state_i: the state for the next call (same shapes)

Each call computes the `k` STFT frames the chunk completes (frame `t` is centred
on sample `t * H` and reaches `h` samples ahead, so a score lags the audio by `h`
samples) and steps the classifier over them. On the first call (`started = 0`)
the tail is replaced by the centred STFT's left pad (samples `1..h` of the chunk,
reflected) and the frames before frame 0 are masked (the classifier state is
carried through them). So after every chunk the file's scores equal
`StreamingSpotter.process`'s on the same chunks (to float round-off), which is the
whole-clip model's classifier run on the frames completed so far. The whole-clip
model has `(h + r) / H` frames more (at most `k`): they read the right pad, the clip's
last samples reflected, which a live stream has only once the clip ends. A finishing
call (`started = 2`, `LiteRTStreamingSpotter.finish`) builds that pad from its tail,
computes those frames and masks the rest, so its scores equal the whole-clip model's
on the samples streamed (a whole number of chunks; to float round-off).

Example:

>>> import numpy as np, os, tempfile, seqzoo
>>> from recipes.data import audio
>>> from recipes.streaming_spotter import StreamingSpotter
>>> features = audio.FeatureConfig(sample_rate=8000, clip_seconds=0.24, n_mels=8)   # 1,920 samples
>>> gru = seqzoo.build("gru", inputs="frames", seq_len=features.num_frames, features=8,
...                    num_classes=3, units=4)
>>> spotter = audio.raw_audio_model(gru, features, np.zeros(8), np.ones(8))
>>> path = streaming_litert(spotter, os.path.join(tempfile.mkdtemp(), "stream.tflite"))
>>> stream = LiteRTStreamingSpotter(path)
>>> stream.chunk_samples, [d["shape"].tolist() for d in stream.state_details][:2]
(160, [[1, 208], [1, 1]])
>>> clip = np.random.default_rng(0).uniform(-0.5, 0.5, (1, 1920)).astype("float32")
>>> scores, final = stream.run(clip)            # every chunk's scores; finish()'s
>>> python, _ = StreamingSpotter(spotter).run(clip, 160)
>>> bool(np.allclose(scores, python, atol=1e-4)), scores.shape
(True, (1, 12, 3))
>>> bool(np.allclose(final, spotter(clip), atol=1e-4))         # the whole-clip model's output
True

The int8 file: `streaming_litert(spotter, path, scheme="int8", representative=train_clips)`
(`tests/test_streaming_litert.py` runs it).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from recipes.streaming_spotter import StreamingSpotter, float_audio
from seqzoo.export import CALIBRATED, KEEP_FLOAT, LiteRTExportError, interpreter, to_litert
from seqzoo.streaming import StreamingError

AUDIO, TAIL, STARTED, STATE = "audio", "tail", "started", "state"
# The name scope of the chunk model's audio path (tail buffer, front end, normalisation): the
# whole-clip spotter's front-end sub-model has the same name, so one `keep_float` list
# (`recipes.speech_commands.FLOAT_LAYERS`) fits both files.
FRONT_END = "front_end"


def chunk_model(spotter: keras.Model, chunk_ms: float = 20.0) -> keras.Model:
    """The Keras model of one streaming call: `[audio, tail, started, *states] ->
    {"scores", "new_tail", "new_started", "new_state_i"}` (see the module docstring).

    Raises:
        LiteRTExportError: the classifier reads the future, or the chunk is not a whole
            number of hops longer than half the FFT (one line, with the fix).
    """
    try:
        stream = StreamingSpotter(spotter, compile=False)
    except StreamingError as error:
        raise LiteRTExportError(f"no streaming LiteRT file: {error}") from None
    chunk_samples = stream.chunk_samples(chunk_ms)
    fft, hop, half = stream.fft_length, stream.hop, stream.half
    if chunk_samples % hop or chunk_samples <= half:
        raise LiteRTExportError(
            f"a streaming chunk must be a whole number of {hop}-sample hops and more than {half} samples "
            f"(half the {fft}-point FFT); chunk_ms={chunk_ms} gives {chunk_samples}: choose another chunk_ms"
        )
    hops = chunk_samples // hop
    r = (-half) % hop
    # The tail: the samples before the chunk that the chunk's first frame reads (F - H + r), and at
    # least the h + 1 last samples whose reflection is the right pad of the finishing call.
    tail_len = max(fft - hop + r, half + 1)
    # Frame i of a call is valid on the first call only if it is frame >= 0 of the clip.
    first_valid = [i >= hops - 1 - (chunk_samples - half) // hop for i in range(hops)]

    audio = keras.Input((chunk_samples,), name=AUDIO)
    tail = keras.Input((tail_len,), name=TAIL)
    started = keras.Input((1,), name=STARTED)
    states = [keras.Input(tuple(s.shape[1:]), dtype=s.dtype, name=f"{STATE}_{i}")
              for i, s in enumerate(stream.streamer.initial_state(1))]
    # The whole clip has `(h + r) / H` frames more than the calls computed (those reading the right
    # pad); no more than `hops`, as the chunk is longer than h: one finishing call computes them.
    end_frames = (half + r) // hop
    step = _ChunkStep(stream, chunk_samples, tail_len, hops, first_valid, end_frames, name="chunk_step")
    outputs = step([audio, tail, started, *states])
    return keras.Model([audio, tail, started, *states], outputs, name=f"{spotter.name}_streaming")


class _ChunkStep(keras.layers.Layer):
    """The streaming call as one layer (the front end's ops are TensorFlow's, not symbolic)."""

    def __init__(self, stream, chunk_samples, tail_len, hops, first_valid, end_frames, **kwargs):
        super().__init__(**kwargs)
        self.stream, self.chunk_samples, self.tail_len = stream, chunk_samples, tail_len
        self.hops, self.first_valid, self.end_frames = hops, first_valid, end_frames

    def call(self, inputs):
        audio, tail, started, *states = inputs
        stream, half, hop = self.stream, self.stream.half, self.stream.hop
        # The audio path (flags, buffer, tail, features) runs in one name scope, which an int8 file
        # keeps float (streaming_litert's keep_float).
        with keras.name_scope(FRONT_END):
            running = ops.greater(started, 0.5)  # (batch, 1): not the first call
            ending = ops.greater(started, 1.5)  # (batch, 1): the finishing call (started = 2)
            # First call: the centred STFT's left pad (samples h..1 reflected) right before sample 0.
            left_pad = ops.flip(audio[:, 1 : half + 1], axis=1)
            first_tail = ops.concatenate([ops.zeros_like(tail[:, : self.tail_len - half]), left_pad], axis=1)
            # Finishing call: the right pad (the clip's samples N-2 .. N-1-h, the tail's end reflected)
            # in place of the audio, then zeros that only masked frames read.
            right_pad = ops.flip(tail[:, self.tail_len - 1 - half : self.tail_len - 1], axis=1)
            end_audio = ops.concatenate([right_pad, ops.zeros_like(audio[:, half:])], axis=1)
            audio = ops.where(ending, end_audio, audio)
            buffer = ops.concatenate([ops.where(running, tail, first_tail), audio], axis=1)  # samples n - L .. n + C
            new_tail = buffer[:, self.chunk_samples :]
            start = self.tail_len - (stream.fft_length - hop + (-half) % hop)  # 0 unless the tail holds h + 1
            frames = stream.features(buffer[:, start : start + (self.hops - 1) * hop + stream.fft_length])
        initial = stream.streamer.initial_state(1)  # the classifier's start (zeros, a max pool's -1e9)
        carried = [
            ops.where(ops.reshape(running, (-1,) + (1,) * (len(s.shape) - 1)), s, ops.cast(init, s.dtype))
            for s, init in zip(states, initial)
        ]
        scores = []
        for i in range(self.hops):
            mask = None if self.first_valid[i] else running[:, 0]
            if i >= self.end_frames:  # past the clip's last frame on the finishing call
                not_ending = ops.logical_not(ending[:, 0])
                mask = not_ending if mask is None else ops.logical_and(mask, not_ending)
            score, carried = stream.streamer.step(frames[:, i], carried, mask=mask)
            scores.append(score)
        # A masked step's output is not the carried one: the finishing call reports its last valid frame's.
        score = ops.where(ending, scores[self.end_frames - 1], scores[-1])
        outputs = {"scores": score, f"new_{TAIL}": new_tail,
                   f"new_{STARTED}": ops.ones_like(started)}
        outputs.update({f"new_{STATE}_{i}": s for i, s in enumerate(carried)})
        return outputs


def streaming_litert(
    spotter: keras.Model,
    path: str | os.PathLike,
    *,
    chunk_ms: float = 20.0,
    scheme: str = "float32",
    representative: Any = None,
    keep_float: Sequence[str] = (FRONT_END, "normalization"),
    max_calibration_calls: int = 2000,
) -> str:
    """Write `spotter` as a streaming LiteRT file (builtin ops only; module docstring).

    Args:
        spotter: the raw-audio model of `recipes.data.audio.export_model` with a causal
            classifier (those `seqzoo.streaming.Streamer` accepts).
        path: the `.tflite` to write (atomically).
        chunk_ms: audio per call, milliseconds: a whole number of hops, more than half the
            FFT window (20 ms with the default 10 ms hop and 25 ms window).
        scheme: a `seqzoo.export.SCHEMES` name: `"float32"`; `"int8"` (the classifier's
            weights and activations; the `keep_float` scopes stay float32); `"int16x8"`
            (int16 activations, int8 weights, the whole graph); `"weights_int8"` (the
            classifier's weights int8, float activations; `keep_float` scopes float32). The inputs and outputs stay float32 in every
            scheme, so `LiteRTStreamingSpotter` runs any of them.
        representative: for `"int8"` and `"int16x8"`: training clips `(clips, samples)` at
            the spotter's rate. They are streamed through the float chunk model and the
            `(audio, tail, started, state_i)` inputs of its calls (each clip's finishing call
            included) calibrate the quantisation (`calibration_inputs`).
        keep_float: for `"int8"` and `"weights_int8"`: layer or scope names whose ops stay
            float32 (default: the feature front end and the normalisation, as the whole-clip
            quantised files keep them; here the whole audio path runs in the `FRONT_END`
            scope). The carried audio (`new_tail`) always stays float32 in an int8 file: int8
            samples would bury quiet speech in rounding.
        max_calibration_calls: at most this many of those calls calibrate (evenly spaced
            over the clips' chunks, first calls included).

    Returns:
        `str(path)`.

    Raises:
        LiteRTExportError: the classifier reads the future, a bad chunk, an op without a
            builtin kernel, an unknown scheme, or a calibrated scheme without
            `representative` clips.
    """
    step = chunk_model(spotter, chunk_ms)
    if scheme not in CALIBRATED:  # float32, weight-only int8 (or an unknown name, which to_litert refuses)
        return to_litert(step, path, scheme=scheme, keep_float=keep_float if scheme in KEEP_FLOAT else ())
    if representative is None:
        raise LiteRTExportError(
            f"scheme={scheme!r} needs representative clips (clips, samples) to calibrate the quantisation")
    inputs = calibration_inputs(step, representative, max_calls=max_calibration_calls)
    keep = (*keep_float, f"new_{TAIL}") if scheme == "int8" else ()
    return to_litert(step, path, scheme=scheme, representative_data=[inputs], keep_float=keep)


def calibration_inputs(step: keras.Model, clips: Any, *, max_calls: int | None = None) -> dict[str, np.ndarray]:
    """The inputs of every call of the chunk model `step` (`chunk_model`) streaming `clips`.

    Args:
        step: the chunk model.
        clips: float waveforms `(clips, samples)`, cut to a whole number of chunks
            (at least one).
        max_calls: keep at most this many calls, evenly spaced over all of them.

    Returns:
        `{input name: (calls, ...) float32}`, the realistic streaming inputs (carried
        state included, each clip's finishing call last) to calibrate an int8 file with.
    """
    clips = float_audio(clips, "representative clips")
    chunk = int(step.inputs[0].shape[-1])
    chunks = clips.shape[1] // chunk
    if chunks == 0:
        raise LiteRTExportError(f"representative clips of {clips.shape[1]} samples hold no {chunk}-sample chunk")
    names = [tensor.name for tensor in step.inputs]  # audio, tail, started, state_0, ...
    state = [np.zeros((len(clips), *t.shape[1:]), "float32") for t in step.inputs[1:]]
    calls: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for i in range(chunks):
        inputs = [clips[:, i * chunk : (i + 1) * chunk], *state]
        for name, value in zip(names, inputs):
            calls[name].append(np.asarray(value))
        outputs = step(inputs, training=False)
        state = [np.asarray(outputs[f"new_{name}"]) for name in names[1:]]
    # The finishing call (`LiteRTStreamingSpotter.finish`): started = 2, the audio unused.
    finishing = [np.zeros_like(clips[:, :chunk]), state[0], np.full_like(state[1], 2.0), *state[2:]]
    for name, value in zip(names, finishing):
        calls[name].append(value)
    stacked = {name: np.concatenate(values).astype("float32") for name, values in calls.items()}
    total = len(stacked[names[0]])
    if max_calls is not None and total > max_calls:
        keep = np.linspace(0, total - 1, max_calls).round().astype(int)
        stacked = {name: values[keep] for name, values in stacked.items()}
    return stacked


class LiteRTStreamingSpotter:
    """Run a streaming LiteRT file of `streaming_litert` chunk by chunk, carrying its state.

    Args:
        path: the `.tflite` file.
        batch_size: streams run side by side.

    Attributes:
        chunk_samples: samples per `process` call (the file's `audio` input width).
        state_details: the interpreter's details of the state inputs (`tail`,
            `started`, `state_0`, ...), in order.

    Example: see the module docstring.
    """

    def __init__(self, path: str | os.PathLike, *, batch_size: int = 1):
        self.path = str(path)
        self._interpreter = interpreter(self.path)
        self._runner = self._interpreter.get_signature_runner()
        details = self._runner.get_input_details()
        if AUDIO not in details or TAIL not in details or STARTED not in details:
            raise LiteRTExportError(f"{self.path} is not a streaming keyword spotter (inputs: {sorted(details)})")
        self.chunk_samples = int(details[AUDIO]["shape"][-1])
        count = sum(1 for name in details if name.startswith(f"{STATE}_"))
        self._state_names = [TAIL, STARTED, *(f"{STATE}_{i}" for i in range(count))]
        self.state_details = [details[name] for name in self._state_names]
        self.reset(batch_size)

    def reset(self, batch_size: int | None = None) -> None:
        """Start new clips: every state tensor zero (the file sets the classifier's own
        initial state, e.g. a max pool's -1e9, on the first call)."""
        self.batch_size = getattr(self, "batch_size", 1) if batch_size is None else int(batch_size)
        self.state = {}
        for name, detail in zip(self._state_names, self.state_details):
            self.state[name] = np.zeros((self.batch_size, *detail["shape"][1:]), detail["dtype"])
        self.score: np.ndarray | None = None
        self._finished = False

    def process(self, chunk: Any) -> np.ndarray:
        """One chunk `(batch, chunk_samples)` (or `(chunk_samples,)`); returns the scores
        `(batch, classes)` given the audio so far."""
        if self._finished:
            raise ValueError("the clip has ended (finish() was called); call reset() to stream a new one")
        chunk = float_audio(chunk, "a chunk")
        if chunk.shape != (self.batch_size, self.chunk_samples):
            raise ValueError(
                f"a chunk must be (batch={self.batch_size}, samples={self.chunk_samples}), got shape {chunk.shape}; "
                "pad the last one with zeros"
            )
        return self._call(chunk, self.state[STARTED])

    def finish(self) -> np.ndarray:
        """End the clips: one more call (`started = 2`) in which the file reads the clips' reflected
        ends (the centred STFT's right pad) from its tail and computes the whole-clip model's last
        frames; returns the final scores `(batch, classes)`, equal to the whole-clip model's on the
        samples streamed. Idempotent until `reset()`."""
        if not self._finished:
            if self.score is None:
                raise ValueError("finish() needs at least one processed chunk")
            silent = np.zeros((self.batch_size, self.chunk_samples), "float32")
            self._call(silent, np.full_like(self.state[STARTED], 2.0))
            self._finished = True
        return self.score

    def _call(self, chunk: np.ndarray, started: np.ndarray) -> np.ndarray:
        outputs = self._runner(**{AUDIO: chunk}, **{**self.state, STARTED: started})
        self.state = {name: outputs[f"new_{name}"] for name in self._state_names}
        self.score = np.asarray(outputs["scores"])
        return self.score

    def run(self, waveform: Any) -> tuple[np.ndarray, np.ndarray]:
        """Stream clips `(batch, samples)` (a whole number of chunks) from a reset state and
        finish them; returns `(scores after each chunk (batch, chunks, classes), final
        (batch, classes))`, as `StreamingSpotter.run`."""
        waveform = float_audio(waveform, "a waveform")
        if waveform.shape[1] == 0 or waveform.shape[1] % self.chunk_samples:
            raise ValueError(
                f"{waveform.shape[1]} samples are not a whole number of {self.chunk_samples}-sample chunks"
            )
        self.reset(waveform.shape[0])
        step = self.chunk_samples
        scores = [self.process(waveform[:, i : i + step]) for i in range(0, waveform.shape[1], step)]
        return np.stack(scores, axis=1), self.finish()
