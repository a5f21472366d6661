"""recipes.data.audio: Speech Commands folders, TFDS, fixed-length clips, features, augmentation."""

import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import recipes.data
from recipes.data import DataError
from recipes.data import audio

TONES = {"high": 1500.0, "low": 300.0, "mid": 700.0}  # label -> tone frequency (Hz)


def tone(hz, seconds, rate, amplitude=0.5):
    t = np.arange(int(round(seconds * rate))) / rate
    return amplitude * np.sin(2 * np.pi * hz * t)


def make_folder(root, rate=8000, takes=4, seconds=(0.3, 0.6, 1.4, 0.8), noise=False, rates=None):
    """Speech Commands layout: <label>/<spk>_nohash_<take>.wav; take 0 -> test, take 1 -> val."""
    root.mkdir(parents=True, exist_ok=True)
    val, test = [], []
    for label, hz in TONES.items():
        (root / label).mkdir()
        for take in range(takes):
            rel = f"{label}/spk_nohash_{take}.wav"
            file_rate = (rates or {}).get(rel, rate)
            audio.write_wav(root / rel, tone(hz, seconds[take % len(seconds)], file_rate), file_rate)
            (test if take == 0 else val if take == 1 else []).append(rel)
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    if noise:
        (root / audio.NOISE_FOLDER).mkdir()
        audio.write_wav(root / audio.NOISE_FOLDER / "hum.wav", 0.3 * np.random.default_rng(0).standard_normal(3 * rate), rate)
    return root


def collect(ds):
    waves, labels = zip(*ds.as_numpy_iterator())
    return np.stack(waves), np.array(labels)


def dominant_hz(wave, rate):
    spectrum = np.abs(np.fft.rfft(wave))
    return np.argmax(spectrum) * rate / len(wave)


# ----------------------------------------------------------------------------- layout and splits


def test_splits_follow_the_list_files(tmp_path):
    root = make_folder(tmp_path / "sc", noise=True)
    files, labels, noise, notes = audio.scan_folder(root)
    assert labels == sorted(TONES)  # _background_noise_ is not a label
    assert [os.path.basename(p) for p in noise] == ["hum.wav"]
    assert notes == []
    val = set((root / "validation_list.txt").read_text().split())
    test = set((root / "testing_list.txt").read_text().split())
    assert {rel for rel, _ in files["val"]} == val
    assert {rel for rel, _ in files["test"]} == test
    train = {rel for rel, _ in files["train"]}
    assert len(train) == 3 * 2 and not train & (val | test)
    for split in files.values():
        for rel, label in split:
            assert labels[label] == rel.split("/")[0]
    splits = audio.load_folder(root)
    assert splits.sizes == {"train": 6, "val": 3, "test": 3}
    assert splits.noise is not None and len(splits.noise) == 3 * 8000


def test_missing_list_files_use_the_speech_commands_hashing_rule(tmp_path):
    root = tmp_path / "sc"
    for label, hz in TONES.items():
        (root / label).mkdir(parents=True)
        for speaker in range(30):
            audio.write_wav(root / label / f"s{speaker}_nohash_0.wav", tone(hz, 0.1, 8000), 8000)
    files, _, _, notes = audio.scan_folder(root)
    assert len(notes) == 2 and "hashing rule" in notes[0]
    for split, items in files.items():
        assert items, split
        assert all(audio.hash_split(rel) == split for rel, _ in items)
    # one speaker's files stay in one split, whatever the label
    assert audio.hash_split("low/s7_nohash_0.wav") == audio.hash_split("high/s7_nohash_3.wav")


def test_limit_takes_a_seeded_subset_of_every_split(tmp_path):
    root = make_folder(tmp_path / "sc")
    a = audio.load_folder(root, limit=2, seed=1)
    b = audio.load_folder(root, limit=2, seed=1)
    assert a.sizes == {"train": 2, "val": 2, "test": 2}
    np.testing.assert_array_equal(collect(a.train)[0], collect(b.train)[0])


# ----------------------------------------------------------------------------- fixed length, rates


def test_fix_length_pads_and_crops_centred():
    np.testing.assert_array_equal(audio.fix_length(np.arange(1, 4, dtype="float32"), 7).numpy(), [0, 0, 1, 2, 3, 0, 0])
    np.testing.assert_array_equal(audio.fix_length(np.arange(7, dtype="float32"), 3).numpy(), [2, 3, 4])
    np.testing.assert_array_equal(audio.fix_length(np.arange(3, dtype="float32"), 3).numpy(), [0, 1, 2])


def test_clips_are_padded_or_cropped_to_clip_seconds(tmp_path):
    root = make_folder(tmp_path / "sc", seconds=(0.3, 0.6, 1.4, 0.8))
    splits = audio.load_folder(root, clip_seconds=1.0)
    assert splits.clip_samples == 8000 and splits.sample_rate == 8000
    waves, labels = collect(splits.test)  # take 0: 0.3 s, padded
    assert waves.shape == (3, 8000) and waves.dtype == np.float32
    original, _ = audio.read_wav(root / "high/spk_nohash_0.wav")
    start = (8000 - 2400) // 2
    np.testing.assert_allclose(waves[list(labels).index(0)][start : start + 2400], original, atol=1e-6)
    assert not waves[:, :start].any() and not waves[:, start + 2400 :].any()
    train, _ = collect(splits.train)  # takes 2 (1.4 s: cropped) and 3 (0.8 s: padded)
    assert train.shape == (6, 8000)
    assert (np.abs(train) > 0.1).mean(axis=1).max() > 0.5  # the cropped clip fills the window
    short = audio.load_folder(root, clip_seconds=0.25)
    assert collect(short.val)[0].shape == (3, 2000)


def test_any_sample_rate_is_parametrised_or_resampled(tmp_path):
    # a 16 kHz dataset works at 16 kHz; a stray 8 kHz file in it is resampled
    root = make_folder(tmp_path / "sc16", rate=16000, rates={"high/spk_nohash_0.wav": 8000})
    splits = audio.load_folder(root)
    assert splits.sample_rate == 16000 and splits.clip_samples == 16000
    waves, labels = collect(splits.test)
    for wave, label in zip(waves, labels):
        assert dominant_hz(wave, 16000) == pytest.approx(TONES[splits.labels[label]], abs=3)
    # --sample-rate 8000 resamples everything down
    down = audio.load_folder(root, sample_rate=8000)
    waves, labels = collect(down.val)
    assert waves.shape == (3, 8000)
    for wave, label in zip(waves, labels):
        assert dominant_hz(wave, 8000) == pytest.approx(TONES[down.labels[label]], abs=3)


def test_resample_keeps_the_tone():
    wave = tone(440, 0.5, 8000).astype("float32")
    up = audio.resample(wave, 8000, 16000).numpy()
    assert up.shape == (8000,)
    assert dominant_hz(up, 16000) == pytest.approx(440, abs=2)
    np.testing.assert_allclose(up[::2], wave, atol=0.02)


# ----------------------------------------------------------------------------- features


@pytest.mark.parametrize("rate, n_mfcc, frames, features", [(8000, 0, 101, 40), (16000, 0, 101, 40), (16000, 13, 51, 13)])
def test_feature_shapes(rate, n_mfcc, frames, features):
    hop = 20.0 if n_mfcc else 10.0
    config = audio.FeatureConfig(sample_rate=rate, clip_seconds=1.0, n_mels=40, n_mfcc=n_mfcc, hop_ms=hop)
    assert (config.num_frames, config.num_features) == (frames, features)
    assert config.frame_length == rate // 40 and config.fft_length >= config.frame_length
    out = config.front_end()(tone(1000, 1.0, rate)[None].astype("float32"))
    assert tuple(out.shape) == (1, frames, features)
    assert np.isfinite(np.asarray(out)).all()


def test_log_mel_of_a_tone_peaks_in_its_band_and_mfcc_is_its_dct():
    config = audio.FeatureConfig(sample_rate=8000, n_mels=40)
    low, high = (np.asarray(config.front_end()(tone(hz, 1.0, 8000)[None].astype("float32")))[0] for hz in (300, 1500))
    assert low.mean(axis=0).argmax() < high.mean(axis=0).argmax()
    assert low.min() >= config.floor_db - 1e-3
    mfcc = audio.FeatureConfig(sample_rate=8000, n_mels=40, n_mfcc=13).front_end()
    expected = low @ audio.dct_matrix(40, 13)
    np.testing.assert_allclose(np.asarray(mfcc(tone(300, 1.0, 8000)[None].astype("float32")))[0], expected, rtol=1e-4, atol=1e-2)
    # the DCT is orthonormal
    full = audio.dct_matrix(40, 40)
    np.testing.assert_allclose(full.T @ full, np.eye(40), atol=1e-5)


def test_bad_feature_settings_raise_one_line_errors():
    with pytest.raises(DataError, match="n_mfcc"):
        audio.FeatureConfig(sample_rate=8000, n_mels=10, n_mfcc=20)
    with pytest.raises(DataError, match="clip"):
        audio.FeatureConfig(sample_rate=8000, clip_seconds=0.01)
    # the library names Python arguments, not the recipe's flags
    with pytest.raises(DataError) as error:
        audio.FeatureConfig(sample_rate=8000, n_mels=0)
    assert "--" not in str(error.value) and "n_mels" in str(error.value)


@pytest.mark.parametrize(
    "rate, clip_seconds, hop_ms",
    [(100, 1.0, 10.0), (16000, 0.999938, 10.0), (8000, 1.0, 10.0), (100, 1.0, 20.0), (16000, 1.0, 10.0), (8000, 0.5, 12.5)],
)
def test_feature_frames_are_counted_one_way(rate, clip_seconds, hop_ms):
    """Issue 14 #8: at 100 Hz the data had 101 frames and the spotter expected 102.
    A setting is either refused, or its static frame count is the computed one."""
    try:
        config = audio.FeatureConfig(sample_rate=rate, clip_seconds=clip_seconds, hop_ms=hop_ms, window_ms=25.0, n_mels=8)
    except DataError as error:
        assert "hop_ms" in str(error) and "\n" not in str(error)
        assert (rate, hop_ms) == (100, 10.0) or rate * clip_seconds % 1  # 1-sample hop, or one sample short
        return
    front_end = config.front_end()
    computed = front_end(np.zeros((1, config.clip_samples), "float32")).shape[1]
    assert front_end.output_shape[1] == computed == config.num_frames


def test_normalisation_statistics_come_from_the_training_split_only(tmp_path):
    root = make_folder(tmp_path / "sc")
    # make the test clips much louder: they must not move the statistics
    for label, hz in TONES.items():
        audio.write_wav(root / label / "spk_nohash_0.wav", tone(hz, 0.5, 8000, amplitude=0.99), 8000)
    splits = audio.load_folder(root)
    config = audio.FeatureConfig(sample_rate=8000)
    data = audio.make_datasets(splits, config, batch_size=4)
    train_waves, _ = collect(splits.train)
    train_features = np.asarray(config.front_end()(train_waves)).reshape(-1, 40)
    np.testing.assert_allclose(data.mean, train_features.mean(axis=0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(data.variance, train_features.var(axis=0), rtol=1e-3, atol=1e-2)
    every = np.concatenate([np.asarray(config.front_end()(collect(s)[0])).reshape(-1, 40) for s in (splits.train, splits.val, splits.test)])
    assert np.abs(every.mean(axis=0) - data.mean).max() > 1.0
    normalised = np.concatenate([x for x, _ in data.train.as_numpy_iterator()]).reshape(-1, 40)
    np.testing.assert_allclose(normalised.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(normalised.std(axis=0), 1, atol=1e-2)
    front = data.front_end_config()
    assert front["normalization_mean"] == pytest.approx(data.mean.tolist())
    assert front["labels"] == sorted(TONES) and front["num_frames"] == 101


def test_features_are_batched_shuffled_and_repeatable(tmp_path):
    splits = audio.load_folder(make_folder(tmp_path / "sc"))
    config = audio.FeatureConfig(sample_rate=8000)
    a = audio.make_datasets(splits, config, batch_size=4, seed=3)
    b = audio.make_datasets(splits, config, batch_size=4, seed=3)
    ya = np.concatenate([y for _, y in a.train.as_numpy_iterator()])
    yb = np.concatenate([y for _, y in b.train.as_numpy_iterator()])
    np.testing.assert_array_equal(ya, yb)
    assert sorted(ya) == sorted(collect(splits.train)[1])
    x, y = next(iter(a.val))
    assert x.shape == (3, 101, 40) and y.dtype == tf.int32


# ----------------------------------------------------------------------------- augmentation


def test_augment_waveform_shifts_and_mixes_noise():
    wave = np.zeros(8000, "float32")
    wave[3000:5000] = 0.5
    shifted = audio.augment_waveform(wave, audio.Augment(shift_ms=100, noise_probability=0), 8000, seed=[0, 1]).numpy()
    offset = np.argmax(shifted > 0) - 3000
    assert 0 < abs(offset) <= 800 and shifted.sum() == pytest.approx(wave.sum())
    np.testing.assert_array_equal(shifted, audio.augment_waveform(wave, audio.Augment(shift_ms=100, noise_probability=0), 8000, seed=[0, 1]))
    noise = np.ones(20000, "float32")
    noisy = audio.augment_waveform(wave, audio.Augment(shift_ms=0, noise_probability=1, noise_volume=0.1), 8000, noise, seed=[0, 2]).numpy()
    gain = noisy[0]
    assert 0 < gain <= 0.1
    np.testing.assert_allclose(noisy, wave + gain, atol=1e-6)


def test_augmentation_changes_features_not_labels_and_redraws_every_epoch(tmp_path):
    splits = audio.load_folder(make_folder(tmp_path / "sc", noise=True))
    config = audio.FeatureConfig(sample_rate=8000)
    plain = audio.make_datasets(splits, config, batch_size=32, seed=5)
    aug = audio.make_datasets(splits, config, batch_size=32, seed=5, augment=audio.Augment())
    np.testing.assert_allclose(aug.mean, plain.mean, rtol=1e-5)  # statistics from clean clips
    (xp, yp), = plain.train.as_numpy_iterator()
    epoch1, epoch2 = [next(iter(aug.train.as_numpy_iterator())) for _ in range(2)]
    # same shuffle seed: the same clips in the same order, with the same labels
    np.testing.assert_array_equal(epoch1[1], yp)
    assert np.abs(epoch1[0] - xp).mean() > 0.05
    assert np.abs(epoch2[0] - epoch1[0]).mean() > 0.05  # new draw every epoch
    again = audio.make_datasets(splits, config, batch_size=32, seed=5, augment=audio.Augment())
    np.testing.assert_allclose(next(iter(again.train.as_numpy_iterator()))[0], epoch1[0], atol=1e-5)
    # training only: validation and test features are those of the clean clips
    for split in ("val", "test"):
        for (xa, ya), (xc, yc) in zip(getattr(aug, split).as_numpy_iterator(), getattr(plain, split).as_numpy_iterator()):
            np.testing.assert_array_equal(xa, xc)
            np.testing.assert_array_equal(ya, yc)


def test_spec_augment_zeroes_bounded_spans_of_frames_and_features():
    x = np.ones((4, 50, 20), "float32")
    settings = audio.Augment(time_masks=1, time_mask_ms=100, freq_masks=1, freq_mask_bands=4)
    out = audio.mask_features(x, settings, 10.0, [7, 8]).numpy()
    assert set(np.unique(out)) <= {0.0, 1.0}
    np.testing.assert_array_equal(out, audio.mask_features(x, settings, 10.0, [7, 8]))  # stateless: repeatable
    masked_frames = (out == 0).all(axis=2)  # (clips, frames): every feature of the frame is zero
    masked_bands = (out == 0).all(axis=1)  # (clips, features)
    for frames, bands in zip(masked_frames, masked_bands):
        assert frames.sum() <= 10 and bands.sum() <= 4  # 100 ms at a 10 ms hop; 4 features
        for span in (frames, bands):  # one mask each: one contiguous span
            assert span.sum() == 0 or np.ptp(np.flatnonzero(span)) + 1 == span.sum()
    assert masked_frames.sum() + masked_bands.sum() > 0
    assert not np.array_equal(out, audio.mask_features(x, settings, 10.0, [7, 9]))
    off = audio.Augment(time_masks=0, freq_masks=0)
    np.testing.assert_array_equal(audio.mask_features(x, off, 10.0, [7, 8]), x)


# ----------------------------------------------------------------------------- export


def test_exported_model_reads_raw_audio_and_matches_the_classifier(tmp_path):
    splits = audio.load_folder(make_folder(tmp_path / "sc"))
    config = audio.FeatureConfig(sample_rate=8000, n_mfcc=13)
    data = audio.make_datasets(splits, config, batch_size=8)
    inputs = keras.Input((config.num_frames, config.num_features))
    classifier = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling1D()(inputs)))
    spotter = audio.export_model(classifier, data)
    path = str(tmp_path / "spotter.keras")
    spotter.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    waves, _ = collect(splits.test)
    x, _ = next(iter(data.test))
    np.testing.assert_allclose(loaded.predict(waves, verbose=0), classifier.predict(x, verbose=0), atol=1e-5)


# ----------------------------------------------------------------------------- bad input


def _zero_hz(wav: bytes) -> bytes:
    """The same wav with 0 in the header's sample-rate (and byte-rate) fields."""
    assert wav[12:16] == b"fmt "
    return wav[:24] + bytes(8) + wav[32:]


def _write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda root: audio.write_wav(root / "low/bad.wav", np.zeros(100), 8000, sample_width=1), "16-bit"),
        (lambda root: _write(root / "low/bad.wav", b"this is not a wav file"), "not a readable PCM wav"),
        (lambda root: _write(root / "low/bad.wav", (root / "low/spk_nohash_2.wav").read_bytes()[:-100]), "truncated"),
        (lambda root: audio.write_wav(root / "low/bad.wav", np.zeros(0), 8000), "no samples"),
        (lambda root: _write(root / "low/bad.wav", _zero_hz((root / "low/spk_nohash_2.wav").read_bytes())), "0 Hz"),
    ],
    ids=["8-bit", "garbage", "truncated", "empty", "0-hz"],
)
def test_bad_wav_files_fail_with_one_line_errors(tmp_path, breakage, message):
    root = make_folder(tmp_path / "sc")
    breakage(root)
    with pytest.raises(DataError, match=message) as error:
        audio.load_folder(root)
    assert "\n" not in str(error.value) and "bad.wav" in str(error.value)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda root: root.rename(root.with_name("gone")), "no such folder"),
        (lambda root: [os.remove(p) for p in root.glob("*/*.wav")], "no label folders holding .wav"),
        (lambda root: [p.rename(p.with_suffix(".mp3")) for p in root.glob("*/*.wav")], "no label folders holding .wav"),
        (lambda root: (root / "testing_list.txt").write_text("low/missing_nohash_0.wav\n"), "line 1 names 'low/missing_nohash_0.wav'"),
        (lambda root: (root / "testing_list.txt").write_text("low/spk_nohash_1.wav\n"), "named by both"),
        (lambda root: (root / "testing_list.txt").write_text(""), "test split has no files"),
    ],
    ids=["no-folder", "no-wavs", "wrong-extension", "list-names-missing-file", "file-in-both-lists", "empty-test-list"],
)
def test_bad_layouts_fail_with_one_line_errors(tmp_path, breakage, message):
    root = make_folder(tmp_path / "sc")
    breakage(root)
    with pytest.raises(DataError, match=message) as error:
        audio.load_folder(root)
    assert "\n" not in str(error.value)


def test_a_file_is_only_a_wav_path():
    with pytest.raises(DataError, match="no such folder"):
        audio.scan_folder(__file__)


# ----------------------------------------------------------------------------- TFDS


def test_tfds_speech_commands_through_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(recipes.data, "network_available", lambda *a, **k: True)  # mock: no download
    with tfds.testing.mock_data(num_examples=6):
        splits = audio.load_tfds(data_dir=str(tmp_path / "tfds"), limit=5, noise=True)
        waves, labels = collect(splits.train)
    assert splits.labels == audio.TFDS_LABELS and len(splits.labels) == 12
    assert splits.sample_rate == 16000 and waves.shape == (5, 16000)
    assert splits.sizes == {"train": 5, "val": 5, "test": 5}
    assert labels.min() >= 0 and labels.max() < 12
    assert np.abs(waves).max() <= 1.0


def test_tfds_offline_fails_fast_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(recipes.data, "network_available", lambda *a, **k: False)
    start = time.monotonic()
    with pytest.raises(DataError, match=r"load_folder\(root\)") as error:  # the library names its API, not a flag
        audio.load_tfds(data_dir=str(tmp_path / "tfds"))
    assert time.monotonic() - start < 30 and "\n" not in str(error.value)
    assert not (tmp_path / "tfds" / "speech_commands").exists() or not any((tmp_path / "tfds").rglob("*.tfrecord*"))


# ----------------------------------------------------------------------------- keywords, _silence_, _unknown_

WORDS = {"yes": 300.0, "no": 500.0, "up": 700.0, "down": 900.0, "left": 1100.0, "right": 1300.0}


def make_words(root, takes=6, rate=8000, noise=True, extra=()):
    """A many-word folder: <word>/s<take>_nohash_0.wav; take 0 in the test list, take 1 in val."""
    root.mkdir(parents=True)
    lists = {"val": [], "test": []}
    for word, hz in [*WORDS.items(), *extra]:
        (root / word).mkdir()
        for take in range(takes):
            rel = f"{word}/s{take}_nohash_0.wav"
            audio.write_wav(root / rel, tone(hz, 0.25, rate), rate)
            if take < 2:
                lists["test" if take == 0 else "val"].append(rel)
    (root / "validation_list.txt").write_text("\n".join(lists["val"]) + "\n")
    (root / "testing_list.txt").write_text("\n".join(lists["test"]) + "\n")
    if noise:
        (root / audio.NOISE_FOLDER).mkdir()
        audio.write_wav(root / audio.NOISE_FOLDER / "hum.wav", 0.5 * np.random.default_rng(0).standard_normal(2 * rate), rate)
    return root


def test_keywords_map_other_words_to_unknown_and_add_silence_from_the_noise(tmp_path):
    root = make_words(tmp_path / "sc")
    splits = audio.load_folder(root, clip_seconds=0.25, keywords=["yes", "no"], unknown_percent=50, silence_percent=25)
    assert splits.labels == ["_silence_", "_unknown_", "yes", "no"]
    # train: 4 takes x 2 keywords = 8 keyword clips -> ceil(8 * 50%) = 4 unknown, ceil(8 * 25%) = 2 silence
    assert splits.sizes == {"train": 14, "val": 4, "test": 4}
    waves, labels = collect(splits.train)
    assert sorted(np.bincount(labels).tolist()) == [2, 4, 4, 4] and np.bincount(labels)[:2].tolist() == [2, 4]
    unknown_hz = sorted({round(dominant_hz(w, 8000)) for w in waves[labels == 1]})
    assert set(unknown_hz) <= {700, 900, 1100, 1300} and len(unknown_hz) >= 2  # sampled from the other words
    assert {round(dominant_hz(w, 8000)) for w in waves[labels == 2]} == {300}
    silence = waves[labels == 0]
    assert silence.shape == (2, 2000) and (np.abs(silence).max(axis=1) > 0).all()  # cut from the noise
    assert not np.allclose(silence[0], silence[1])
    # val/test: 2 keyword clips each -> 1 unknown, 1 silence; repeatable with the same seed
    again = audio.load_folder(root, clip_seconds=0.25, keywords=["yes", "no"], unknown_percent=50, silence_percent=25)
    np.testing.assert_array_equal(collect(again.train)[0], waves)


def test_generated_silence_is_zeros_without_background_noise(tmp_path):
    root = make_words(tmp_path / "sc", noise=False)
    splits = audio.load_folder(root, clip_seconds=0.25, keywords=["up"], unknown_percent=0, silence_percent=100)
    waves, labels = collect(splits.test)
    assert splits.labels == ["_silence_", "_unknown_", "up"] and labels.tolist() == [2, 0]
    assert not waves[1].any()


def test_silence_and_unknown_folders_are_read_as_those_labels(tmp_path):
    root = make_words(tmp_path / "sc", noise=False, extra=[("_silence_", 50.0), ("_unknown_", 1700.0)])
    # as the official test archive: the special folders are labels, named in the lists like the words
    splits = audio.load_folder(root, clip_seconds=0.25)
    assert splits.labels == ["_silence_", "_unknown_", *sorted(WORDS)]
    assert splits.sizes == {"train": 32, "val": 8, "test": 8}
    # with keywords, their files are kept whole; _unknown_ is topped up from the other words
    mapped = audio.load_folder(root, clip_seconds=0.25, keywords=["yes"], unknown_percent=200, silence_percent=10)
    _, labels = collect(mapped.train)
    assert np.bincount(labels, minlength=3).tolist() == [4, 8, 4]  # 4 silence files (no top-up needed), 4 + 4 unknown
    waves, labels = collect(mapped.test)
    assert sorted(labels.tolist()) == [0, 1, 1, 2] and abs(dominant_hz(waves[labels == 0][0], 8000) - 50) < 5


@pytest.mark.parametrize(
    "keywords, message",
    [(["yes", "maybe"], "'maybe' has no label folder"), (["yes", "yes"], "yes is named twice"),
     (["_unknown_"], "added by itself"), ([], "keywords is empty")],
)
def test_bad_keywords_raise_one_line_errors(tmp_path, keywords, message):
    root = make_words(tmp_path / "sc", takes=3, noise=False)
    with pytest.raises(DataError, match=message) as error:
        audio.load_folder(root, keywords=keywords)
    assert "\n" not in str(error.value) and "--" not in str(error.value)
