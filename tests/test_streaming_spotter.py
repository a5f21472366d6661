"""`recipes.streaming_spotter.StreamingSpotter`: chunked raw audio with carried state equals the
whole-clip keyword spotter at the clip's end, and each chunk's score is the model's on the frames
completed so far."""

import numpy as np
import pytest

import seqzoo
from recipes.data import audio
from recipes.streaming_spotter import StreamingSpotter
from seqzoo.streaming import Streamer, StreamingError

RATE, SECONDS = 8000, 0.25  # 2,000 samples; 25 ms window = 200 samples, 256-point FFT, hop 80


def spotter(name, n_mfcc=0, **kwargs):
    features = audio.FeatureConfig(sample_rate=RATE, clip_seconds=SECONDS, n_mels=8, n_mfcc=n_mfcc)
    classifier = seqzoo.build(name, inputs="frames", seq_len=features.num_frames,
                              features=features.num_features, num_classes=3, **kwargs)
    rng = np.random.default_rng(1)
    mean = rng.normal(-40.0, 5.0, features.num_features)
    variance = rng.uniform(50.0, 200.0, features.num_features)
    return audio.raw_audio_model(classifier, features, mean, variance), features


def clips(batch=2):
    t = np.arange(int(RATE * SECONDS)) / RATE
    tone = 0.4 * np.sin(2 * np.pi * 440 * t) * np.linspace(0, 1, t.size)
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, (batch, t.size))
    return (tone + noise).astype("float32")


@pytest.mark.parametrize("name,kwargs,n_mfcc", [
    ("gru", dict(units=4), 0),
    ("lstm", dict(units=4, pool="max"), 5),
    ("mingru", dict(width=4), 0),
])
def test_stream_ends_equal_to_the_whole_clip_and_scores_track_the_frames(name, kwargs, n_mfcc):
    model, features = spotter(name, n_mfcc, **kwargs)
    stream = StreamingSpotter(model)
    x = clips()
    whole = np.asarray(model(x))
    chunk = stream.chunk_samples(20)
    assert chunk == 160 and x.shape[1] % chunk != 0  # 20 ms at 8 kHz; the last chunk is short
    scores, final = stream.run(x, chunk)
    assert scores.shape == (2, 13, 3) and stream.frames == features.num_frames
    np.testing.assert_allclose(final, whole, atol=1e-4)
    # Each chunk's score: the classifier after the frames whose window the stream has received
    # (frame t is centred on sample t * hop and reaches fft/2 = 128 samples ahead).
    frames = np.asarray(features.front_end()(x))
    frames = (frames - model.get_layer("normalization").mean.numpy().reshape(-1)) / np.sqrt(
        model.get_layer("normalization").variance.numpy().reshape(-1))
    prefix = np.asarray(Streamer(model.layers[-1]).run(frames.astype("float32")))
    for c in range(scores.shape[1]):
        received = min((c + 1) * chunk, x.shape[1])
        done = (received - 1 - 128) // 80 + 1
        np.testing.assert_allclose(scores[:, c], prefix[:, done - 1], atol=1e-4)


def test_uneven_chunks_short_clip_and_reuse():
    model, _ = spotter("gru", units=4)
    stream = StreamingSpotter(model, batch_size=2)
    x = clips()
    whole = np.asarray(model(x))
    with pytest.raises(ValueError, match=r"a chunk must be \(batch=2, samples\), got shape \(1, 100\)"):
        stream.process(x[0, :100])
    with pytest.raises(ValueError, match=r"a waveform of int16 samples: pass float samples in \[-1, 1\] \(divide by 32768\)"):
        stream.run((x * 32767).astype("int16"), 100)  # streamed unscaled before: wrong scores, no error
    assert np.isnan(stream.process(x[:, :100])).all()  # no frame yet: 129 samples needed
    for start, stop in [(100, 101), (101, 777), (777, 2000)]:
        stream.process(x[:, start:stop])
    np.testing.assert_allclose(stream.finish(), whole, atol=1e-4)
    with pytest.raises(ValueError, match="call reset"):
        stream.process(x[:, :10])
    stream.reset(batch_size=1)
    with pytest.raises(ValueError, match="more than 128 samples"):
        stream.process(x[0, :128]) is not None and stream.finish()
    _, final = stream.run(x[1], 333)  # reused for a new clip, 1-D input
    np.testing.assert_allclose(final, whole[1:], atol=1e-4)


def test_a_model_that_reads_the_future_is_refused_in_one_line():
    model, _ = spotter("bigru", units=4)
    with pytest.raises(StreamingError) as error:
        StreamingSpotter(model)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("streaming keyword spotting needs a causal classifier: bigru cannot stream: "
                              "layer 'bigru_1' (Bidirectional)")


def test_module_docstring_examples_run():
    import doctest

    import recipes.streaming_spotter

    failures, _ = doctest.testmod(recipes.streaming_spotter)
    assert failures == 0


def test_a_front_end_clipping_relative_to_the_batch_maximum_is_refused():
    model, _ = spotter("gru", units=4)
    model.get_layer("front_end").get_layer("log_mel").top_db = 80.0
    with pytest.raises(StreamingError, match="clips at top_db=80.0 dB below the maximum of the whole batch"):
        StreamingSpotter(model)
