"""`recipes.streaming_litert`: the streaming LiteRT keyword spotter (one chunk + state in, scores +
state out) equals the Python `StreamingSpotter` chunk by chunk, with builtin ops only."""

import os

import keras
import numpy as np
import pytest
from test_streaming_spotter import clips, spotter

import seqzoo
from recipes.data import audio
from recipes.speech_commands import LITERT_STREAMING_FILE, export_streaming_litert
from recipes.streaming_litert import LiteRTStreamingSpotter, calibration_inputs, chunk_model, streaming_litert
from recipes.streaming_spotter import StreamingSpotter
from seqzoo.export import LiteRTExportError, interpreter, to_litert

# 8 kHz: 256-point FFT (h = 128), hop 80; 20 ms = 160 samples = 2 hops; r = (-128) mod 80 = 32,
# tail = 256 - 80 + 32 = 208 samples. 1,920 samples = 12 chunks.
SAMPLES = 1920


def varied(n, seed):
    """`n` clips of SAMPLES: tones of random pitch and loudness in noise of random level."""
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLES) / 8000
    hz, amplitude, noise = rng.uniform(150, 3000, (n, 1)), rng.uniform(0.05, 0.6, (n, 1)), rng.uniform(0.01, 0.3, (n, 1))
    return (amplitude * np.sin(2 * np.pi * hz * t) + noise * rng.uniform(-1, 1, (n, SAMPLES))).astype("float32")


def builtin_only(path):
    ops = {op["op_name"] for op in interpreter(path)._get_ops_details()}
    return bool(ops) and not any(op.startswith("Flex") or op == "CUSTOM" for op in ops)


@pytest.mark.parametrize("name,kwargs,n_mfcc,states", [
    ("gru", dict(units=4), 0, [(4,)]),
    ("lstm", dict(units=4, pool="max"), 5, [(4,), (4,), (4,)]),  # h, c, the max pool's running max
    ("mingru", dict(width=4), 0, None),
])
def test_streamed_file_equals_the_python_streaming_spotter_chunk_by_chunk(tmp_path, name, kwargs, n_mfcc, states):
    model, _ = spotter(name, n_mfcc, **kwargs)
    path = streaming_litert(model, tmp_path / "stream.tflite")
    stream = LiteRTStreamingSpotter(path, batch_size=2)
    assert stream.chunk_samples == 160
    shapes = [tuple(d["shape"][1:]) for d in stream.state_details]
    assert [d["name"] for d in stream.state_details][:2] == ["serving_default_tail:0", "serving_default_started:0"]
    assert shapes[:2] == [(208,), (1,)]
    python = StreamingSpotter(model)
    assert len(shapes) == 2 + len(python.streamer.initial_state(1))
    if states is not None:
        assert shapes[2:] == states
    x = clips()[:, :SAMPLES]
    expected, _ = python.run(x, 160)
    got, _ = stream.run(x)
    assert got.shape == expected.shape == (2, 12, 3) and not np.isnan(got).any()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    # run() resets the state: the second clip alone streams as it did beside the first.
    np.testing.assert_allclose(stream.run(x[1:])[0], expected[1:], atol=1e-4)
    assert builtin_only(path)  # no Flex (SELECT_TF_OPS) or custom op in the file


def whole_chunk_spotter(name, hop_ms=10.0, **kwargs):
    """A spotter whose clip is SAMPLES long (a whole number of chunks), as 16 kHz 1 s clips are of 20 ms."""
    features = audio.FeatureConfig(sample_rate=8000, clip_seconds=SAMPLES / 8000, n_mels=8, hop_ms=hop_ms)
    classifier = seqzoo.build(name, inputs="frames", seq_len=features.num_frames, features=8, num_classes=3, **kwargs)
    rng = np.random.default_rng(1)
    return audio.raw_audio_model(classifier, features, rng.normal(-40.0, 5.0, 8), rng.uniform(50.0, 200.0, 8))


@pytest.mark.parametrize("name,kwargs,chunk_ms,hop_ms,tail", [
    ("gru", dict(units=4), 20, 10, 208),  # 2 hops a call, 2 frames read the right pad: the finishing call's
    ("lstm", dict(units=4, pool="max"), 30, 10, 208),  # 3 hops a call, 2 right-pad frames: 1 masked
    ("mingru", dict(width=4), 20, 20, 129),  # hop 160 > h = 128: 1 right-pad frame; the tail holds h + 1
])
def test_finish_ends_each_clip_on_the_whole_clip_model(tmp_path, name, kwargs, chunk_ms, hop_ms, tail):
    model = whole_chunk_spotter(name, hop_ms, **kwargs)
    path = streaming_litert(model, tmp_path / "stream.tflite", chunk_ms=chunk_ms)
    stream = LiteRTStreamingSpotter(path, batch_size=3)
    assert stream.state_details[0]["shape"][-1] == tail
    x = varied(3, seed=5)
    scores, final = stream.run(x)
    whole = np.asarray(model(x))
    np.testing.assert_allclose(final, whole, atol=1e-4)
    assert np.abs(scores[:, -1] - whole).max() > 1e-3  # the last chunk alone is not the whole clip's output
    assert stream.finish() is final  # idempotent
    with pytest.raises(ValueError, match=r"the clip has ended \(finish\(\) was called\); call reset\(\)"):
        stream.process(x[:, : stream.chunk_samples])
    stream.reset()
    with pytest.raises(ValueError, match="finish\\(\\) needs at least one processed chunk"):
        stream.finish()
    for i in range(0, SAMPLES, stream.chunk_samples):  # by hand: process, process, ..., finish
        stream.process(x[:, i : i + stream.chunk_samples])
    np.testing.assert_allclose(stream.finish(), whole, atol=1e-4)


def test_the_recipe_agreement_is_measured_after_finish(tmp_path):
    model = whole_chunk_spotter("gru", units=4)
    metrics = export_streaming_litert(model, str(tmp_path), test=varied(16, seed=6))
    assert metrics["litert_streaming_test_clips"] == 16 and metrics["litert_streaming_agreement"] == 1.0


def test_int8_file_is_smaller_builtin_only_and_ends_clips_as_the_float_file_does(tmp_path):
    # 64 units: the classifier's weights outweigh the float front end (mel matrix), so int8 must be smaller.
    model, _ = spotter("gru", units=64)
    float_path = streaming_litert(model, tmp_path / "stream.tflite")
    path = streaming_litert(model, tmp_path / "stream_int8.tflite", scheme="int8", representative=varied(16, seed=1))
    assert builtin_only(path) and os.path.getsize(path) < 0.7 * os.path.getsize(float_path)
    tensors = interpreter(path).get_tensor_details()
    assert sum(t["dtype"] == np.int8 for t in tensors) > 10  # the classifier is quantised,
    front = [t["dtype"] for t in tensors if "/front_end/" in t["name"]]  # the audio path (buffer, STFT, mel,
    assert np.float32 in front and np.int8 not in front  # dB, normalisation) is not
    # The carried audio passes through exactly (an int8 tail would round quiet samples away).
    x = varied(1, seed=4) * 0.02
    out = interpreter(path).get_signature_runner()(audio=x[:, :160], tail=x[:, 160:368], started=np.ones((1, 1), "float32"),
                                                   state_0=np.zeros((1, 64), "float32"))
    np.testing.assert_array_equal(out["new_tail"], np.concatenate([x[:, 320:368], x[:, :160]], axis=1))
    # Float inputs and outputs: the same runner runs both files.
    stream, reference = LiteRTStreamingSpotter(path, batch_size=16), LiteRTStreamingSpotter(float_path, batch_size=16)
    assert [d["dtype"] for d in stream.state_details] == [np.float32] * 3
    x = varied(16, seed=2)
    got, expected = stream.run(x)[1], reference.run(x)[1]  # finished
    assert len(set(expected.argmax(-1))) > 1  # the clips are not all one class
    assert np.mean(got.argmax(-1) == expected.argmax(-1)) >= 15 / 16 and np.abs(got - expected).max() < 0.1
    with pytest.raises(LiteRTExportError, match=r"scheme='int8' needs representative clips \(clips, samples\)"):
        streaming_litert(model, tmp_path / "no.tflite", scheme="int8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stream.tflite", "stream_int8.tflite"]


def test_weight_only_streaming_file_is_smaller_and_finishes_as_the_float_one_and_16x8_is_refused(tmp_path):
    model = whole_chunk_spotter("gru", units=64)
    float_path = streaming_litert(model, tmp_path / "stream.tflite")
    path = streaming_litert(model, tmp_path / "weights.tflite", scheme="weights_int8")
    assert builtin_only(path) and os.path.getsize(path) < 0.7 * os.path.getsize(float_path)
    x = varied(8, seed=2)
    got, expected = (LiteRTStreamingSpotter(p, batch_size=8).run(x)[1] for p in (path, float_path))
    # ~3e-3 (the classifier's int8 weights). The front end keeps its float32 weights (keep_float): a hybrid
    # kernel would quantise each frame's power spectrum to int8 on the fly (0.14 on one of these clips).
    assert np.abs(got - expected).max() < 0.01
    # TensorFlow 2.21's 16x8 quantiser pairs the int16 `started` flag with a float constant in a GREATER,
    # which the interpreter cannot prepare: refused in one line (the recipe's fallback goes on), no file.
    with pytest.raises(LiteRTExportError, match=r"^the int16x8 file of .* does not run in the LiteRT interpreter: .*GREATER"):
        streaming_litert(model, tmp_path / "int16x8.tflite", scheme="int16x8", representative=varied(8, seed=1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stream.tflite", "weights.tflite"]


def test_calibration_inputs_are_the_calls_of_a_stream(tmp_path):
    model, _ = spotter("gru", units=4)
    step = chunk_model(model)
    x = varied(3, seed=3)[:, :500]  # 3 whole chunks of 160 (the rest is dropped)
    calls = calibration_inputs(step, x)
    assert {k: v.shape for k, v in calls.items()} == {"audio": (12, 160), "tail": (12, 208), "started": (12, 1),
                                                       "state_0": (12, 4)}
    # chunk-major, then each clip's finishing call (started = 2), which reads the tail, not the audio
    np.testing.assert_array_equal(calls["started"][:, 0], [0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2])
    last = step([calls[k][6:9] for k in ["audio", "tail", "started", "state_0"]])
    np.testing.assert_allclose(calls["state_0"][9:], last["new_state_0"], atol=1e-6)
    np.testing.assert_array_equal(calls["tail"][9:], last["new_tail"])
    np.testing.assert_array_equal(calls["audio"][3:6], x[:, 160:320])
    first = step([calls[k][:3] for k in ["audio", "tail", "started", "state_0"]])
    np.testing.assert_allclose(calls["state_0"][3:6], first["new_state_0"], atol=1e-6)  # the carried state
    np.testing.assert_allclose(calls["tail"][3:6], first["new_tail"])
    few = calibration_inputs(step, x, max_calls=4)
    assert len(few["audio"]) == 4 and few["started"][0, 0] == 0 and few["started"][-1, 0] == 2
    with pytest.raises(LiteRTExportError, match="representative clips of 100 samples hold no 160-sample chunk"):
        calibration_inputs(step, x[:, :100])


def test_signature_names_and_the_runner_refusals(tmp_path):
    model, _ = spotter("gru", units=4)
    keras_step = chunk_model(model)
    assert [tuple(t.shape) for t in keras_step.inputs] == [(None, 160), (None, 208), (None, 1), (None, 4)]
    path = streaming_litert(model, tmp_path / "stream.tflite")
    runner = interpreter(path).get_signature_runner()
    assert sorted(runner.get_input_details()) == ["audio", "started", "state_0", "tail"]
    assert sorted(runner.get_output_details()) == ["new_started", "new_state_0", "new_tail", "scores"]
    stream = LiteRTStreamingSpotter(path)
    with pytest.raises(ValueError, match=r"a chunk must be \(batch=1, samples=160\), got shape \(1, 100\); pad"):
        stream.process(np.zeros(100, "float32"))
    with pytest.raises(ValueError, match="not a whole number of 160-sample chunks"):
        stream.run(np.zeros(1000, "float32"))
    with pytest.raises(ValueError, match="0 samples are not a whole number"):
        stream.run(np.zeros((1, 0), "float32"))
    with pytest.raises(ValueError, match=r"a waveform of int16 samples: pass float samples in \[-1, 1\] \(divide by 32768\)"):
        stream.run(np.zeros(320, "int16"))
    with pytest.raises(ValueError, match=r"a chunk must be \(samples,\) or \(batch, samples\), got shape \(1, 1, 160\)"):
        stream.process(np.zeros((1, 1, 160)))
    assert stream.run(np.zeros(320, "float64"))[0].shape == (1, 2, 3)  # float64 is fine
    with pytest.raises(LiteRTExportError, match="chunk_ms=10 gives 80: choose another chunk_ms"):
        streaming_litert(model, tmp_path / "short.tflite", chunk_ms=10)  # 80 samples < h = 128
    with pytest.raises(LiteRTExportError, match="whole number of 80-sample hops"):
        streaming_litert(model, tmp_path / "odd.tflite", chunk_ms=25)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stream.tflite"]
    waveform = keras.Input((16,), name="waveform")  # a whole-clip file: no state inputs
    other = to_litert(keras.Model(waveform, keras.layers.Dense(2)(waveform)), tmp_path / "whole.tflite")
    with pytest.raises(LiteRTExportError, match=r"whole.tflite is not a streaming keyword spotter \(inputs: \['waveform'\]\)"):
        LiteRTStreamingSpotter(other)


def test_a_model_that_reads_the_future_gets_a_one_line_reason_and_no_file(tmp_path):
    model, _ = spotter("bigru", units=4)
    with pytest.raises(LiteRTExportError) as error:
        streaming_litert(model, tmp_path / "stream.tflite")
    assert "\n" not in str(error.value)
    assert str(error.value).startswith("no streaming LiteRT file: streaming keyword spotting needs a causal "
                                       "classifier: bigru cannot stream: layer 'bigru_1' (Bidirectional)")
    # The recipe's --export litert: skipped with the reason, not a failed run.
    metrics = export_streaming_litert(model, str(tmp_path), test=clips(), representative=clips())
    assert list(metrics) == ["litert_streaming_skipped"]
    assert "bigru cannot stream" in metrics["litert_streaming_skipped"]
    assert not (tmp_path / LITERT_STREAMING_FILE).exists() and not list(tmp_path.iterdir())


def test_a_failed_int8_conversion_keeps_the_float_file_and_records_why(tmp_path, monkeypatch):
    import recipes.streaming_litert

    write = recipes.streaming_litert.streaming_litert

    def no_int8(spotter, path, **kwargs):
        if kwargs.get("scheme", "float32") != "float32":
            raise LiteRTExportError("keyword_spotter_streaming does not convert to LiteRT builtin ops: 'tf.Foo' op")
        return write(spotter, path, **kwargs)

    monkeypatch.setattr(recipes.streaming_litert, "streaming_litert", no_int8)
    model, _ = spotter("gru", units=4)
    metrics = export_streaming_litert(model, str(tmp_path), test=clips(), representative=clips())
    skipped = metrics["litert_streaming_int8_skipped"]  # every scheme tried, each reason said
    assert skipped.startswith("no quantisation scheme converts (int8: keyword_spotter_streaming does not convert")
    assert "; int16x8: " in skipped and "; weights_int8: " in skipped and skipped.endswith("'tf.Foo' op)")
    assert not [key for key in metrics if key.startswith("litert_streaming_int8_") and not key.endswith("skipped")]
    assert metrics["litert_streaming_bytes"] > 0 and sorted(p.name for p in tmp_path.iterdir()) == [LITERT_STREAMING_FILE]


def test_module_docstring_examples_run():
    import doctest

    import recipes.streaming_litert

    failures, _ = doctest.testmod(recipes.streaming_litert)
    assert failures == 0
