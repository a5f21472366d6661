"""Keyword-spotting audio: Speech Commands folders or TFDS, log-mel/MFCC features.

The pipeline the speech recipe uses, each step usable on its own:

1. `load_folder` reads a folder in the Speech Commands layout:
   `<label>/*.wav`, `validation_list.txt` and `testing_list.txt` (paths relative
   to the root; every other wav is training data) and an optional
   `_background_noise_/` (not a label: noise for augmentation; `_silence_/`
   and `_unknown_/` are labels). With `keywords`, `map_keywords` reduces the
   words to the 12-label protocol (keywords + `_unknown_` + `_silence_`,
   silence cut from the noise by `silence_clips`). Every wav header
   is checked up front (16-bit PCM, readable, not truncated), so a bad file
   fails with a one-line `DataError` before anything is trained or written.
   `load_tfds` reads TFDS `speech_commands` instead (12 classes: 10 words,
   `_silence_`, `_unknown_`).
2. Both give `AudioSplits`: `tf.data` datasets of fixed-length float waveforms
   in [-1, 1] and integer labels. Any sample rate works: the features are
   parametrised by the rate, and files at another rate than the chosen one are
   resampled (band-limited, FFT). Clips are padded or cropped to
   `clip_seconds`, centred.
3. `FeatureConfig` describes the feature front end (log-mel in dB, or MFCC)
   and builds it from Keras layers (`keras.layers.MelSpectrogram`, plus a fixed
   DCT for MFCC), so the same front end computes the training features and
   ships inside the exported raw-audio model.
4. `make_datasets` computes the features once (parallel map, cache), fits the
   per-channel normalisation on the **training** split only
   (`keras.layers.Normalization.adapt`) and, with `Augment`, re-computes the
   training features on the fly from cached waveforms with a random time shift
   and background noise, then SpecAugment time/feature masks (`mask_features`;
   training only, never in a model). `export_model` wraps a trained feature classifier
   into a model that takes raw waveforms.

Example:

>>> import numpy as np, os, tempfile
>>> root = tempfile.mkdtemp()
>>> for label, hz in [("low", 300), ("high", 1200)]:
...     os.makedirs(os.path.join(root, label))
...     for take in range(3):
...         tone = 0.5 * np.sin(2 * np.pi * hz * np.arange(4000) / 8000)
...         write_wav(os.path.join(root, label, f"s_nohash_{take}.wav"), tone, 8000)
>>> with open(os.path.join(root, "testing_list.txt"), "w") as f:
...     _ = f.write("low/s_nohash_0.wav\\nhigh/s_nohash_0.wav\\n")
>>> with open(os.path.join(root, "validation_list.txt"), "w") as f:
...     _ = f.write("low/s_nohash_1.wav\\nhigh/s_nohash_1.wav\\n")
>>> splits = load_folder(root, clip_seconds=1.0)
>>> splits.labels, splits.sample_rate, splits.sizes
(['high', 'low'], 8000, {'train': 2, 'val': 2, 'test': 2})
>>> features = FeatureConfig(sample_rate=8000, clip_seconds=1.0, n_mels=40)
>>> data = make_datasets(splits, features, batch_size=2)
>>> x, y = next(iter(data.train))
>>> x.shape, features.num_frames, features.num_features
(TensorShape([2, 101, 40]), 101, 40)
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import math
import os
import re
import wave
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from recipes.data import DataError, load_tfds as _load_tfds

SPLITS = ("train", "val", "test")
LIST_FILES = {"val": "validation_list.txt", "test": "testing_list.txt"}
NOISE_FOLDER = "_background_noise_"
LAYOUT = "<label>/*.wav, validation_list.txt, testing_list.txt (Speech Commands layout)"
TFDS_NAME = "speech_commands"
TFDS_SPLITS = {"train": "train", "val": "validation", "test": "test"}
# TFDS speech_commands ClassLabel names (its builder's WORDS + [SILENCE, UNKNOWN]).
TFDS_LABELS = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "_silence_", "_unknown_"]
TFDS_SAMPLE_RATE = 16000
TFDS_SILENCE = "_silence_"
SILENCE = "_silence_"  # label folders read as such; with `keywords` also generated / mapped to
UNKNOWN = "_unknown_"

# --------------------------------------------------------------------------- wav files


@dataclasses.dataclass(frozen=True)
class WavInfo:
    """A checked wav header: sample rate, channels and length in frames."""

    sample_rate: int
    channels: int
    frames: int


def read_wav_info(path: str | os.PathLike) -> WavInfo:
    """Check that `path` is a readable, complete 16-bit PCM wav and return its header.

    Args:
        path: the wav file.

    Raises:
        DataError: unreadable, not PCM, not 16-bit, empty, truncated or a
            sample rate of 0 Hz in the header.

    Example:

    >>> import os, tempfile, wave
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> with wave.open(path, "wb") as w:
    ...     w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    ...     w.writeframes(b"\\0\\0" * 160)
    >>> read_wav_info(path)
    WavInfo(sample_rate=16000, channels=1, frames=160)
    """
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, frames = w.getsampwidth(), w.getnchannels(), w.getnframes()
            if width != 2:
                raise DataError(
                    f"{path}: {8 * width}-bit samples; only 16-bit PCM wav is supported "
                    "(convert it, e.g. `sox in.wav -b 16 out.wav`)"
                )
            if frames == 0:
                raise DataError(f"{path}: the wav file holds no samples; remove it")
            if w.getframerate() <= 0:
                raise DataError(
                    f"{path}: the wav header gives a sample rate of {w.getframerate()} Hz; "
                    "re-export it with its true rate or remove it"
                )
            w.setpos(frames - 1)
            if len(w.readframes(1)) != width * channels:
                raise DataError(
                    f"{path}: truncated wav (the header promises {frames} samples); "
                    "re-export or remove it"
                )
            return WavInfo(w.getframerate(), channels, frames)
    except DataError:
        raise
    except (wave.Error, EOFError, OSError, RuntimeError, ValueError) as error:
        reason = str(error) or type(error).__name__
        raise DataError(f"{path}: not a readable PCM wav file ({reason}); re-export or remove it") from None


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A checked wav file as float32 samples in [-1, 1] (channels averaged) and its rate."""
    info = read_wav_info(path)
    with wave.open(str(path), "rb") as w:
        pcm = np.frombuffer(w.readframes(info.frames), dtype="<i2")
    samples = pcm.reshape(-1, info.channels).mean(axis=1) / 32768.0
    return samples.astype("float32"), info.sample_rate


def write_wav(path: str | os.PathLike, samples: Any, sample_rate: int, *, sample_width: int = 2) -> None:
    """Write float samples in [-1, 1] (`(n,)` mono or `(n, channels)`) as a PCM wav.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> write_wav(path, np.sin(np.arange(800) / 3), 8000)
    >>> read_wav_info(path)
    WavInfo(sample_rate=8000, channels=1, frames=800)
    """
    samples = np.asarray(samples, dtype="float64")
    samples = samples[:, None] if samples.ndim == 1 else samples
    scale = 2 ** (8 * sample_width - 1) - 1
    pcm = np.clip(np.round(samples * scale), -scale - 1, scale)
    data = (pcm + 128).astype("u1") if sample_width == 1 else pcm.astype(f"<i{sample_width}")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(sample_width)
        w.setframerate(int(sample_rate))
        w.writeframes(data.tobytes())


# --------------------------------------------------------------------------- waveform ops


def resample(waveform: Any, rate_in: Any, rate_out: int) -> tf.Tensor:
    """Band-limited resampling of a 1-D waveform by FFT (as `scipy.signal.resample`).

    Args:
        waveform: `(samples,)` float.
        rate_in: its sample rate (int or scalar tensor).
        rate_out: the wanted sample rate.

    Example:

    >>> tone = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000).astype("float32")
    >>> resample(tone, 8000, 16000).shape
    TensorShape([16000])
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    rate_in = tf.cast(rate_in, tf.float64)
    n = tf.shape(waveform)[0]
    n_out = tf.cast(tf.round(tf.cast(n, tf.float64) * rate_out / rate_in), tf.int32)
    n_out = tf.maximum(n_out, 1)
    spectrum = tf.signal.rfft(waveform)
    keep = n_out // 2 + 1
    spectrum = spectrum[:keep]
    spectrum = tf.pad(spectrum, [[0, keep - tf.shape(spectrum)[0]]])
    out = tf.signal.irfft(spectrum, fft_length=tf.reshape(n_out, [1]))
    return out * tf.cast(n_out, tf.float32) / tf.cast(n, tf.float32)


def fix_length(waveform: Any, length: int) -> tf.Tensor:
    """Pad with zeros or crop a 1-D waveform to `length` samples, keeping it centred.

    Example:

    >>> fix_length(np.ones(3, "float32"), 7).numpy().tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    >>> fix_length(np.arange(6, dtype="float32"), 2).numpy().tolist()
    [2.0, 3.0]
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    n = tf.shape(waveform)[0]
    start = tf.maximum(n - length, 0) // 2
    waveform = waveform[start : start + length]
    pad = length - tf.shape(waveform)[0]
    waveform = tf.pad(waveform, [[pad // 2, pad - pad // 2]])
    return tf.ensure_shape(waveform, [length])


def decode_wav_file(path: Any, sample_rate: int, length: int) -> tf.Tensor:
    """Read a wav (graph op), average channels, resample to `sample_rate`, fix the length."""
    audio, rate = tf.audio.decode_wav(tf.io.read_file(path))
    waveform = tf.reduce_mean(audio, axis=-1)
    waveform = tf.cond(
        tf.equal(rate, sample_rate),
        lambda: waveform,
        lambda: resample(waveform, rate, sample_rate),
    )
    return fix_length(waveform, length)


# --------------------------------------------------------------------------- sources


@dataclasses.dataclass
class AudioSplits:
    """Fixed-length waveforms per split, ready for `make_datasets`.

    Args:
        train, val, test: unbatched `tf.data` datasets of
            `(waveform float32 (clip_samples,), label int32)`.
        labels: class names; label `i` is `labels[i]`.
        sample_rate: the waveforms' sample rate.
        clip_samples: the waveforms' length.
        sizes: examples per split.
        noise: background noise at `sample_rate`, 1-D float32, or `None`.
        source: where the data came from (for logs and `config.json`).
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    labels: list[str]
    sample_rate: int
    clip_samples: int
    sizes: dict[str, int]
    noise: np.ndarray | None = None
    source: str = ""

    def split(self, name: str) -> tf.data.Dataset:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def clip_samples_for(clip_seconds: float, sample_rate: int) -> int:
    """Samples in a clip of `clip_seconds` at `sample_rate` (at least 1)."""
    if not clip_seconds > 0:
        raise DataError(f"clip_seconds must be > 0, got {clip_seconds}")
    return max(1, int(round(clip_seconds * sample_rate)))


def hash_split(relpath: str, validation_percent: float = 10.0, testing_percent: float = 10.0) -> str:
    """The Speech Commands hashing rule: the split of a file when no list names it.

    Files of one speaker (the part before `_nohash_`) always land in one split.

    Example:

    >>> hash_split("yes/0a7c2a8d_nohash_0.wav") == hash_split("no/0a7c2a8d_nohash_3.wav")
    True
    """
    name = re.sub(r"_nohash_.*$", "", os.path.basename(relpath))
    digest = int(hashlib.sha1(name.encode("utf-8")).hexdigest(), 16)
    max_per_class = 2**27 - 1  # as in the dataset's own `which_set` (Warden 2018)
    percent = (digest % (max_per_class + 1)) * (100.0 / max_per_class)
    if percent < validation_percent:
        return "val"
    if percent < validation_percent + testing_percent:
        return "test"
    return "train"


def _read_list(root: Path, split: str, wavs: set[str]) -> set[str] | None:
    path = root / LIST_FILES[split]
    if not path.exists():
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: unreadable list file ({error}); it must hold one relative wav path per line") from None
    named = set()
    for number, line in enumerate(lines, 1):
        entry = line.strip().replace("\\", "/")
        if not entry:
            continue
        if entry not in wavs:
            raise DataError(
                f"{path} line {number} names {entry!r}, which is not a wav in a label folder of "
                f"{root}; fix the list or restore the file"
            )
        named.add(entry)
    return named


def scan_folder(root: str | os.PathLike) -> tuple[dict[str, list[tuple[str, int]]], list[str], list[str], list[str]]:
    """Find the labelled wavs of a Speech Commands folder and split them.

    Returns:
        `(files, labels, noise_files, notes)`: `files[split]` is a list of
        `(relative path, label index)`, `labels` the sorted label folder
        names, `noise_files` the wavs of `_background_noise_/`, `notes` lines
        to log (e.g. that a list file is missing and the hashing rule was used).

    Raises:
        DataError: no such folder, no label folder with wavs, a list naming a
            missing file or a file named by both lists.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"no such folder: {root}; the data must be a folder in the layout {LAYOUT}")
    folders = sorted(
        d for d in root.iterdir()
        if d.is_dir() and (d.name in (SILENCE, UNKNOWN) or not d.name.startswith(("_", ".")))
    )
    by_label = {d.name: sorted(f.name for f in d.iterdir() if f.suffix.lower() == ".wav" and f.is_file()) for d in folders}
    labels = [name for name, files in by_label.items() if files]
    if not labels:
        raise DataError(f"{root} has no label folders holding .wav files; expected the layout {LAYOUT}")
    if len(labels) < 2:
        raise DataError(f"{root} has one label folder ({labels[0]}); keyword spotting needs at least 2 labels")
    relpaths = {f"{label}/{name}": i for i, label in enumerate(labels) for name in by_label[label]}
    notes = []
    lists = {split: _read_list(root, split, set(relpaths)) for split in LIST_FILES}
    both = (lists["val"] or set()) & (lists["test"] or set())
    if both:
        raise DataError(
            f"{sorted(both)[0]} is named by both {LIST_FILES['val']} and {LIST_FILES['test']}; "
            "a file belongs to one split"
        )
    for split, named in lists.items():
        if named is None:
            notes.append(f"{root / LIST_FILES[split]} is missing: {split} files chosen by the Speech Commands hashing rule (10%)")

    def which(rel: str) -> str:
        for name in ("val", "test"):
            if lists[name] is not None and rel in lists[name]:
                return name
        hashed = hash_split(rel)
        return hashed if hashed != "train" and lists[hashed] is None else "train"

    files: dict[str, list[tuple[str, int]]] = {split: [] for split in SPLITS}
    for rel, label in sorted(relpaths.items()):
        files[which(rel)].append((rel, label))
    for split in SPLITS:
        if not files[split]:
            where = LIST_FILES.get(split)
            hint = f"name some files in {where}" if where else "leave some wavs out of the list files"
            raise DataError(f"{root}: the {split} split has no files; {hint}")
    noise_dir = root / NOISE_FOLDER
    noise = sorted(str(f) for f in noise_dir.glob("*.wav")) if noise_dir.is_dir() else []
    return files, labels, noise, notes


def map_keywords(
    files: dict[str, list[tuple[str, int]]],
    labels: list[str],
    keywords: list[str],
    *,
    unknown_percent: float = 10.0,
    silence_percent: float = 10.0,
    seed: int = 0,
) -> tuple[dict[str, list[tuple[str, int]]], list[str]]:
    """Reduce a many-word folder to `keywords` + `_unknown_` + `_silence_` (Warden 2018's protocol).

    As TensorFlow's reference `speech_commands` input pipeline does, per split:
    the keyword files stay; `_unknown_` gets `ceil(keyword files * unknown_percent
    / 100)` clips, first the files of an `_unknown_/` folder (all of them), then a
    seeded random sample of the other word folders; `_silence_` keeps the files of
    a `_silence_/` folder and is topped up to `ceil(keyword files *
    silence_percent / 100)` with clips to generate (entries with an empty path;
    `load_folder` cuts them from the background noise, zeros without it).

    Args:
        files: `files[split]` = `[(relative path, label index)]` (from `scan_folder`).
        labels: the folder labels the indices refer to.
        keywords: the words to keep, in output order.
        unknown_percent, silence_percent: the shares, percent of the keyword files.
        seed: the sampling seed.

    Returns:
        `(files, labels)`: labels are `["_silence_", "_unknown_", *keywords]`.

    Raises:
        DataError: a keyword with no folder, a repeated keyword, or a keyword
            that is one of the two special labels.

    Example:

    >>> files = {"train": [("yes/a.wav", 0), ("no/a.wav", 1), ("up/a.wav", 2), ("up/b.wav", 2)]}
    >>> mapped, labels = map_keywords(files, ["yes", "no", "up"], ["yes", "no"], unknown_percent=50, silence_percent=50)
    >>> labels, sorted(label for _, label in mapped["train"])
    (['_silence_', '_unknown_', 'yes', 'no'], [0, 1, 2, 3])
    """
    if not keywords:
        raise DataError("keywords is empty; name at least one word folder")
    special = [word for word in keywords if word in (SILENCE, UNKNOWN)]
    repeated = sorted({word for word in keywords if keywords.count(word) > 1})
    missing = [word for word in keywords if word not in labels]
    if special or repeated or missing:
        what = (f"{special[0]} is added by itself, not a keyword" if special
                else f"{repeated[0]} is named twice" if repeated
                else f"{missing[0]!r} has no label folder with wavs")
        words = ", ".join(label for label in labels if label not in (SILENCE, UNKNOWN))
        raise DataError(f"keywords: {what}; the word folders are: {words}")
    new_labels = [SILENCE, UNKNOWN, *keywords]
    index = {word: new_labels.index(word) for word in keywords}
    mapped: dict[str, list[tuple[str, int]]] = {}
    for i, (split, items) in enumerate(files.items()):
        rng = np.random.default_rng([seed, i])
        kept, unknown, others, silence = [], [], [], []
        for rel, label in items:
            name = labels[label]
            if name in index:
                kept.append((rel, index[name]))
            elif name == SILENCE:
                silence.append((rel, 0))
            elif name == UNKNOWN:
                unknown.append((rel, 1))
            else:
                others.append((rel, 1))
        want_unknown = math.ceil(len(kept) * unknown_percent / 100)
        extra = max(0, min(len(others), want_unknown - len(unknown)))
        unknown += [others[j] for j in sorted(rng.choice(len(others), extra, replace=False))] if extra else []
        want_silence = math.ceil(len(kept) * silence_percent / 100)
        silence += [("", 0)] * max(0, want_silence - len(silence))
        mapped[split] = kept + unknown + silence
    return mapped, new_labels


def silence_clips(noise: np.ndarray | None, count: int, length: int, seed: int = 0) -> np.ndarray:
    """`count` clips of `length` samples cut from `noise` at random places, each at a random
    gain in [0, 1]; zeros when `noise` is `None` or shorter than a clip.

    Example:

    >>> silence_clips(None, 2, 5).tolist()
    [[0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]]
    >>> clips = silence_clips(np.ones(100, "float32"), 3, 10, seed=1)
    >>> clips.shape, bool((clips <= 1).all() and (np.ptp(clips, axis=1) == 0).all())
    ((3, 10), True)
    """
    clips = np.zeros((count, length), dtype="float32")
    if noise is None or len(noise) < length or count == 0:
        return clips
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(noise) - length + 1, size=count)
    gains = rng.uniform(0.0, 1.0, size=count)
    for row, (start, gain) in enumerate(zip(starts, gains)):
        clips[row] = gain * noise[start : start + length]
    return clips


def _limit(items: list, limit: int | None, seed: int) -> list:
    """A seeded random subset of at most `limit` items, in a seeded random order."""
    order = np.random.default_rng(seed).permutation(len(items))
    if limit is not None:
        order = order[:limit]
    return [items[i] for i in order]


def load_folder(
    root: str | os.PathLike,
    *,
    clip_seconds: float = 1.0,
    sample_rate: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    log: Any = None,
    keywords: list[str] | None = None,
    unknown_percent: float = 10.0,
    silence_percent: float = 10.0,
) -> AudioSplits:
    """Load a Speech Commands layout folder as fixed-length waveforms.

    `_silence_/` and `_unknown_/` folders are labels like the word folders
    (the official Speech Commands test archive is laid out so). With
    `keywords`, the labels become `_silence_`, `_unknown_` and the keywords
    (see `map_keywords`); generated `_silence_` clips are cut from the
    background noise (`silence_clips`), zeros without one.

    Args:
        root: the folder: `<label>/*.wav`, `validation_list.txt`,
            `testing_list.txt` (paths relative to `root`; every other wav is
            training data; a missing list falls back to the Speech Commands
            hashing rule), optional `_background_noise_/*.wav`.
        clip_seconds: every clip is padded or cropped (centred) to this length.
        sample_rate: the rate to work at; `None` takes the most common rate of
            the training files. Files at another rate are resampled.
        limit: at most this many examples per split (a seeded random subset).
        seed: the seed of that subset.
        log: `fn(str)` for notes (e.g. resampling); `None` is silent.
        keywords: `None` keeps every label folder; a list of words keeps
            those and maps every other word to `_unknown_`.
        unknown_percent, silence_percent: with `keywords`, the `_unknown_`
            and `_silence_` shares, percent of the keyword clips of each split.

    Raises:
        DataError: no such folder, wrong layout, a bad wav or list file, a
            keyword without a folder.
    """
    log = log or (lambda message: None)
    files, labels, noise_files, notes = scan_folder(root)
    for note in notes:
        log(note)
    if keywords is not None:
        files, labels = map_keywords(
            files, labels, list(keywords), unknown_percent=unknown_percent, silence_percent=silence_percent, seed=seed
        )
    files = {split: _limit(items, limit, seed + i) for i, (split, items) in enumerate(files.items())}
    root = Path(root)
    rates: dict[str, collections.Counter] = {}
    for split, items in files.items():
        rates[split] = collections.Counter(read_wav_info(root / rel).sample_rate for rel, _ in items if rel)
    if sample_rate is None:
        sample_rate = (rates["train"] or rates["val"] or rates["test"]).most_common(1)[0][0]
    elif sample_rate < 1:
        raise DataError(f"sample_rate must be a positive rate in Hz, got {sample_rate}")
    others = sorted({rate for counter in rates.values() for rate in counter} - {sample_rate})
    if others:
        log(f"resampling files at {', '.join(map(str, others))} Hz to {sample_rate} Hz")
    length = clip_samples_for(clip_seconds, sample_rate)

    noise = None
    if noise_files:
        pieces = []
        for path in noise_files:
            samples, rate = read_wav(path)
            if rate != sample_rate:
                samples = resample(samples, rate, sample_rate).numpy()
            pieces.append(samples)
        noise = np.concatenate(pieces).astype("float32")
        if len(noise) < length:
            log(f"{root / NOISE_FOLDER} holds less than one clip of audio: noise augmentation is off")
            noise = None

    def dataset(items: list[tuple[str, int]], split_seed: int) -> tf.data.Dataset:
        read = [(rel, label) for rel, label in items if rel]
        paths = [str(root / rel) for rel, _ in read]
        label_ids = np.array([label for _, label in read], dtype="int32")
        ds = tf.data.Dataset.from_tensor_slices((tf.constant(paths, tf.string), label_ids)).map(
            lambda path, label: (decode_wav_file(path, sample_rate, length), label),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        generated = [label for rel, label in items if not rel]
        if generated:
            clips = silence_clips(noise, len(generated), length, seed=split_seed)
            ds = ds.concatenate(tf.data.Dataset.from_tensor_slices((clips, np.array(generated, dtype="int32"))))
        return ds

    if keywords is not None and noise is None and any(not rel for items in files.values() for rel, _ in items):
        log(f"no background noise ({root / NOISE_FOLDER}): the generated {SILENCE} clips are zeros")
    return AudioSplits(
        train=dataset(files["train"], seed),
        val=dataset(files["val"], seed + 1),
        test=dataset(files["test"], seed + 2),
        labels=labels,
        sample_rate=int(sample_rate),
        clip_samples=length,
        sizes={split: len(items) for split, items in files.items()},
        noise=noise,
        source=str(root),
    )


def load_tfds(
    *,
    clip_seconds: float = 1.0,
    sample_rate: int | None = None,
    limit: int | None = None,
    data_dir: str | None = None,
    noise: bool = False,
    hint: str = f"or read a local copy in the layout {LAYOUT} with load_folder(root)",
) -> AudioSplits:
    """TFDS `speech_commands` (v0.02, 12 classes) as fixed-length waveforms.

    Uses a prepared copy under `data_dir` (default: TFDS's own,
    `~/tensorflow_datasets`); otherwise downloads and prepares it (2.4 GB;
    preparing needs `pip install pydub`). Offline with no prepared copy it fails
    at once with a `DataError` that ends with `hint`.

    Args:
        clip_seconds: clips are padded or cropped (centred) to this length.
        sample_rate: `None` keeps 16 kHz; another rate resamples.
        limit: at most this many examples per split (`take`; TFDS files are shuffled).
        data_dir: TFDS data directory.
        noise: collect the training `_silence_` clips (1 s slices of the
            background noise recordings) as the noise for augmentation.
        hint: how to use a local copy instead, for the offline error.
    """
    raw = dict(zip(TFDS_SPLITS, _load_tfds(TFDS_NAME, list(TFDS_SPLITS.values()), hint=hint, data_dir=data_dir)))
    rate = sample_rate or TFDS_SAMPLE_RATE
    if rate < 1:
        raise DataError(f"sample_rate must be a positive rate in Hz, got {rate}")
    length = clip_samples_for(clip_seconds, rate)

    def waveform(audio: tf.Tensor) -> tf.Tensor:
        samples = tf.cast(audio, tf.float32) / 32768.0
        if rate != TFDS_SAMPLE_RATE:
            samples = resample(samples, TFDS_SAMPLE_RATE, rate)
        return fix_length(samples, length)

    splits, sizes = {}, {}
    for split, ds in raw.items():
        if limit is not None:
            ds = ds.take(limit)
        splits[split] = ds.map(
            lambda audio, label: (waveform(audio), tf.cast(label, tf.int32)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        count = int(splits[split].cardinality())
        sizes[split] = count if count >= 0 else int(splits[split].reduce(0, lambda n, _: n + 1))
        if sizes[split] == 0:
            raise DataError(f"TFDS {TFDS_NAME} has no {split} examples; re-prepare it ({hint})")
    noise_samples = None
    if noise:
        silence = TFDS_LABELS.index(TFDS_SILENCE)
        clips = [w for w, _ in splits["train"].filter(lambda w, y: tf.equal(y, silence)).as_numpy_iterator()]
        noise_samples = np.concatenate(clips).astype("float32") if clips else None
    return AudioSplits(
        train=splits["train"], val=splits["val"], test=splits["test"],
        labels=list(TFDS_LABELS), sample_rate=int(rate), clip_samples=length, sizes=sizes,
        noise=noise_samples, source=f"tfds:{TFDS_NAME}",
    )


# --------------------------------------------------------------------------- features


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """The feature front end: log-mel energies in dB, or MFCCs of them.

    Frames are `window_ms` long every `hop_ms` (centred STFT, Hann window); a
    clip of `clip_samples` gives `1 + clip_samples // hop` frames.

    Args:
        sample_rate: the waveforms' rate, Hz.
        clip_seconds: the clip length, seconds.
        n_mels: mel bands.
        n_mfcc: `0` for log-mel features; else the number of MFCCs (a DCT-II
            of the log-mel bands, `<= n_mels`).
        window_ms: analysis window, milliseconds.
        hop_ms: frame step, milliseconds.
        fmin: lowest mel band edge, Hz.
        fmax: highest band edge, Hz; `None` is the Nyquist frequency.
        floor_db: power floor in dB (silence and zero padding sit here).

    Example:

    >>> config = FeatureConfig(sample_rate=16000, clip_seconds=1.0, n_mels=40)
    >>> config.frame_length, config.frame_step, config.fft_length, config.num_frames
    (400, 160, 512, 101)
    >>> tuple(config.front_end()(np.zeros((2, 16000), "float32")).shape)
    (2, 101, 40)
    """

    sample_rate: int
    clip_seconds: float = 1.0
    n_mels: int = 40
    n_mfcc: int = 0
    window_ms: float = 25.0
    hop_ms: float = 10.0
    fmin: float = 20.0
    fmax: float | None = None
    floor_db: float = -100.0

    def __post_init__(self):
        checks = {
            "n_mels": self.n_mels >= 1,
            "n_mfcc": 0 <= self.n_mfcc <= self.n_mels,
            "window_ms": self.frame_length >= 1,
            "hop_ms": self.frame_step >= 1,
            "clip_seconds": self.clip_samples >= self.frame_length,
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise DataError(
                f"invalid feature setting {wrong[0]} (n_mels={self.n_mels}, n_mfcc={self.n_mfcc}, "
                f"window_ms={self.window_ms}, hop_ms={self.hop_ms}, clip_seconds={self.clip_seconds} at "
                f"sample_rate={self.sample_rate}): need n_mels >= 1, 0 <= n_mfcc <= n_mels, window and hop "
                ">= 1 sample, clip >= window"
            )
        # Keras' MelSpectrogram declares (clip + hop + 1) // hop frames and computes
        # 1 + clip // hop: where they differ the front end's static shape is wrong and
        # no model on these features can be wired behind it. Refuse such a setting.
        declared = self._mel_layer().compute_output_shape((None, self.clip_samples))[2]
        if declared != self.num_frames:
            raise DataError(
                f"hop_ms={self.hop_ms} ({self.frame_step} samples) and clip_seconds={self.clip_seconds} "
                f"({self.clip_samples} samples) at sample_rate={self.sample_rate}: Keras' MelSpectrogram "
                f"would declare {declared} frames but compute {self.num_frames}; use a hop of at least 2 "
                "samples and a clip that is not one sample short of a whole number of hops "
                "(e.g. a higher sample_rate or another clip_seconds)"
            )

    @property
    def clip_samples(self) -> int:
        return clip_samples_for(self.clip_seconds, self.sample_rate)

    @property
    def frame_length(self) -> int:
        return int(round(self.window_ms * self.sample_rate / 1000))

    @property
    def frame_step(self) -> int:
        return int(round(self.hop_ms * self.sample_rate / 1000))

    @property
    def fft_length(self) -> int:
        return 1 << max(self.frame_length - 1, 1).bit_length()

    @property
    def num_frames(self) -> int:
        return 1 + self.clip_samples // self.frame_step

    @property
    def num_features(self) -> int:
        return self.n_mfcc or self.n_mels

    @property
    def kind(self) -> str:
        return "mfcc" if self.n_mfcc else "log-mel"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> "FeatureConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in fields})

    def front_end(self) -> keras.Model:
        """Keras model: waveforms `(batch, clip_samples)` -> features `(batch, frames, features)`."""
        waveform = keras.Input((self.clip_samples,), name="waveform")
        x = self._mel_layer()(waveform)
        x = keras.layers.Permute((2, 1), name="time_major", dtype="float32")(x)  # (batch, frames, mels)
        if self.n_mfcc:
            dct = keras.layers.Dense(self.n_mfcc, use_bias=False, trainable=False, name="mfcc_dct", dtype="float32")
            x = dct(x)
            dct.set_weights([dct_matrix(self.n_mels, self.n_mfcc)])
        return keras.Model(waveform, x, name="front_end")

    def _mel_layer(self) -> keras.layers.MelSpectrogram:
        return keras.layers.MelSpectrogram(
            fft_length=self.fft_length,
            sequence_stride=self.frame_step,
            sequence_length=self.frame_length,
            window="hann",
            sampling_rate=self.sample_rate,
            num_mel_bins=self.n_mels,
            min_freq=self.fmin,
            max_freq=self.fmax,
            power_to_db=True,
            top_db=1e9,  # no clipping relative to the (batch-wide) maximum: a fixed floor instead
            min_power=10.0 ** (self.floor_db / 10.0),
            name="log_mel",
            dtype="float32",
        )


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """The orthonormal DCT-II as an `(n_in, n_out)` matrix (MFCCs = log-mel @ matrix)."""
    k = np.arange(n_out)[None, :]
    n = np.arange(n_in)[:, None]
    matrix = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    matrix[:, 0] *= np.sqrt(0.5)
    return matrix.astype("float32")


@dataclasses.dataclass(frozen=True)
class Augment:
    """On-the-fly training augmentation: waveforms (as in the TF speech commands tutorial),
    then SpecAugment masks on the normalised features (Park et al. 2019, without time warping).

    Training only: `make_datasets` applies it to the training split; nothing of it is
    in the classifier or the exported raw-audio model.

    Args:
        shift_ms: random time shift in `[-shift_ms, shift_ms]`, zero filled.
        noise_probability: chance that a clip gets background noise.
        noise_volume: the noise gain is uniform in `[0, noise_volume]`.
        time_masks: SpecAugment time masks per clip (0: none; the default, like `freq_masks`).
        time_mask_ms: each time mask covers a uniform `[0, time_mask_ms]` of frames.
        freq_masks: SpecAugment feature (mel band / MFCC) masks per clip.
        freq_mask_bands: each feature mask covers a uniform `[0, freq_mask_bands]` features.
    """

    shift_ms: float = 100.0
    noise_probability: float = 0.8
    noise_volume: float = 0.1
    time_masks: int = 0  # SpecAugment off unless asked, as in the speech recipe (it lowered
    time_mask_ms: float = 50.0  # validation accuracy on mini_speech_commands; RESULTS.md)
    freq_masks: int = 0
    freq_mask_bands: int = 5

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def augment_waveform(waveform: Any, augment: Augment, sample_rate: int, noise: Any = None, seed: Any = None) -> tf.Tensor:
    """Randomly shift one waveform in time and mix in background noise.

    Args:
        waveform: `(samples,)` float32.
        augment: the `Augment` settings.
        sample_rate: the waveform's rate (for `shift_ms`).
        noise: 1-D noise at the same rate, at least `samples` long, or `None`
            (no noise mixing).
        seed: a stateless seed `(2,)` int; `None` draws from the global generator.

    Example:

    >>> wave = np.ones(8000, "float32")
    >>> out = augment_waveform(wave, Augment(shift_ms=100), 8000, seed=[1, 2])
    >>> out.shape, float(out.numpy().sum()) < 8000
    (TensorShape([8000]), True)
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    length = waveform.shape[0] or tf.shape(waveform)[0]
    if seed is None:
        seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
    max_shift = int(round(augment.shift_ms * sample_rate / 1000))
    if max_shift > 0:
        shift = tf.random.stateless_uniform([], seeds[0], -max_shift, max_shift + 1, dtype=tf.int32)
        padded = tf.pad(waveform, [[max_shift, max_shift]])
        waveform = tf.ensure_shape(padded[max_shift - shift : max_shift - shift + length], waveform.shape)
    if noise is not None and augment.noise_probability > 0 and augment.noise_volume > 0:
        noise = tf.convert_to_tensor(noise, tf.float32)
        start = tf.random.stateless_uniform(
            [], seeds[1], 0, tf.shape(noise)[0] - length + 1, dtype=tf.int32
        )
        volume = tf.random.stateless_uniform([], seeds[2], 0.0, augment.noise_volume)
        use = tf.cast(tf.random.stateless_uniform([], seeds[3]) < augment.noise_probability, tf.float32)
        waveform = waveform + use * volume * noise[start : start + length]
        waveform = tf.clip_by_value(waveform, -1.0, 1.0)
    return waveform


def _mask_axis(batch: int, size: int, masks: int, width: int, seed: Any) -> tf.Tensor:
    """`(batch, size)` float: 0 inside `masks` random spans of `[0, width]` positions, else 1."""
    if masks <= 0 or width <= 0:
        return tf.ones([batch, size])
    width = min(width, size)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    widths = tf.random.stateless_uniform([batch, masks, 1], seeds[0], 0, width + 1, dtype=tf.int32)
    starts = tf.cast(
        tf.random.stateless_uniform([batch, masks, 1], seeds[1]) * tf.cast(size - widths + 1, tf.float32), tf.int32
    )
    positions = tf.range(size)[None, None, :]
    inside = (positions >= starts) & (positions < starts + widths)
    return 1.0 - tf.cast(tf.reduce_any(inside, axis=1), tf.float32)


def mask_features(features: Any, augment: Augment, hop_ms: float, seed: Any) -> tf.Tensor:
    """SpecAugment time and feature masks on a batch of normalised features.

    Masked values become 0: the training mean after normalisation.

    Args:
        features: `(batch, frames, features)` float32, normalised.
        augment: the `Augment` settings (`time_masks`, `time_mask_ms`, `freq_masks`,
            `freq_mask_bands`).
        hop_ms: the frame step (turns `time_mask_ms` into frames).
        seed: a stateless seed `(2,)` int.

    Example:

    >>> x = np.ones((2, 100, 40), "float32")
    >>> out = mask_features(x, Augment(time_masks=1, time_mask_ms=100, freq_masks=0), 10.0, [3, 4])
    >>> out.shape, bool((out.numpy() == 0).any(axis=-1).sum() <= 2 * 10)
    (TensorShape([2, 100, 40]), True)
    """
    features = tf.convert_to_tensor(features, tf.float32)
    batch, frames, bands = tf.shape(features)[0], features.shape[1], features.shape[2]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    time_width = int(round(augment.time_mask_ms / hop_ms))
    keep_time = _mask_axis(batch, frames, augment.time_masks, time_width, seeds[0])
    keep_bands = _mask_axis(batch, bands, augment.freq_masks, augment.freq_mask_bands, seeds[1])
    return features * keep_time[:, :, None] * keep_bands[:, None, :]


@dataclasses.dataclass
class FeatureData:
    """Batched feature datasets and what a user needs to reproduce the features.

    Args:
        train, val, test: batched `(features (batch, frames, features), label)`,
            normalised with the training statistics. `train` is shuffled each
            epoch (and augmented when asked).
        mean, variance: per-feature normalisation statistics, `(features,)`,
            fitted on the training split only.
        features: the `FeatureConfig`.
        labels: class names.
        sizes: examples per split.
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    mean: np.ndarray
    variance: np.ndarray
    features: FeatureConfig
    labels: list[str]
    sizes: dict[str, int]
    augment: Augment | None = None

    def normalization(self) -> keras.layers.Normalization:
        """A `Normalization` layer holding the training statistics."""
        return normalization_layer(self.mean, self.variance)

    def front_end_config(self) -> dict[str, Any]:
        """Everything needed to compute the model's input from raw audio (for `config.json`)."""
        return {
            **self.features.to_dict(),
            "kind": self.features.kind,
            "clip_samples": self.features.clip_samples,
            "num_frames": self.features.num_frames,
            "num_features": self.features.num_features,
            "padding": "centred: zero-pad both sides or crop the middle to clip_samples",
            "waveform_scale": "16-bit PCM / 32768, channels averaged",
            "normalization_mean": [float(v) for v in self.mean],
            "normalization_variance": [float(v) for v in self.variance],
            "labels": list(self.labels),
        }


def make_datasets(
    splits: AudioSplits,
    features: FeatureConfig,
    *,
    batch_size: int = 64,
    augment: Augment | None = None,
    seed: int = 0,
    cache: str = "",
) -> FeatureData:
    """Features for every split: computed once and cached, normalised with training statistics.

    Args:
        splits: `AudioSplits` from `load_folder` or `load_tfds`.
        features: the front end; its `sample_rate` and `clip_samples` must
            match `splits`.
        batch_size: the (global) batch size.
        augment: `Augment` settings for the training split, or `None`. With it,
            the training *waveforms* are cached and the features recomputed
            from an augmented copy every epoch; without it, features are
            computed once.
        seed: the shuffle and augmentation seed (repeatable runs).
        cache: `""` caches in memory; a path prefix caches to files.
    """
    if features.sample_rate != splits.sample_rate or features.clip_samples != splits.clip_samples:
        raise ValueError(
            f"feature front end expects {features.clip_samples} samples at {features.sample_rate} Hz, "
            f"the data has {splits.clip_samples} at {splits.sample_rate} Hz"
        )
    front_end = features.front_end()
    chunk = 256
    autotune = tf.data.AUTOTUNE

    def to_features(ds: tf.data.Dataset, split: str) -> tf.data.Dataset:
        # `unbatch` forgets the size; Keras then meets the end of every first epoch unannounced
        # and warns "Your input ran out of data". The split sizes are exact: assert them.
        return ds.batch(chunk).map(
            lambda w, y: (front_end(w), y), num_parallel_calls=autotune, deterministic=True
        ).unbatch().apply(tf.data.experimental.assert_cardinality(splits.sizes[split]))

    def cached(ds: tf.data.Dataset, name: str) -> tf.data.Dataset:
        return ds.cache(f"{cache}_{name}" if cache else "")

    if augment is None:
        train_features = cached(to_features(splits.train, "train"), "train_features")
    else:  # cache waveforms; the statistics come from the un-augmented features
        train_waveforms = cached(splits.train, "train_waveforms")
        train_features = to_features(train_waveforms, "train")
    normalization = keras.layers.Normalization(axis=-1)
    normalization.adapt(train_features.map(lambda x, y: x).batch(chunk))
    mean = np.asarray(normalization.mean).reshape(-1).astype("float32")
    variance = np.asarray(normalization.variance).reshape(-1).astype("float32")
    scale = 1.0 / np.sqrt(np.maximum(variance, keras.config.epsilon() ** 2)).astype("float32")

    def normalize(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return (x - mean) * scale, y

    def evaluation(ds: tf.data.Dataset, name: str) -> tf.data.Dataset:
        ds = cached(to_features(ds, name), f"{name}_features")
        return ds.batch(batch_size).map(normalize, num_parallel_calls=autotune).prefetch(autotune)

    shuffle = min(max(splits.sizes["train"], 1), 10_000)
    if augment is None:
        train = train_features.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True)
        train = train.batch(batch_size).map(normalize, num_parallel_calls=autotune)
    else:
        noise = splits.noise
        waveforms = train_waveforms.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True)
        # One stateless seed per (epoch, example): repeatable with `seed`, different every epoch.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        rate = splits.sample_rate

        def augmented(pair: tuple[tf.Tensor, tf.Tensor], example_seed: tf.Tensor):
            w, y = pair
            return augment_waveform(w, augment, rate, noise, seed=example_seed), y

        train = tf.data.Dataset.zip((waveforms, seeds)).map(augmented, num_parallel_calls=autotune, deterministic=True)
        batch_seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)

        def batch_features(pair: tuple[tf.Tensor, tf.Tensor], batch_seed: tf.Tensor):
            x, y = normalize(front_end(pair[0]), pair[1])
            return mask_features(x, augment, features.hop_ms, batch_seed), y

        train = tf.data.Dataset.zip((train.batch(batch_size), batch_seeds)).map(
            batch_features, num_parallel_calls=autotune, deterministic=True
        )
    return FeatureData(
        train=train.prefetch(autotune),
        val=evaluation(splits.val, "val"),
        test=evaluation(splits.test, "test"),
        mean=mean,
        variance=variance,
        features=features,
        labels=list(splits.labels),
        sizes=dict(splits.sizes),
        augment=augment,
    )


def export_model(classifier: keras.Model, data: FeatureData, name: str = "keyword_spotter") -> keras.Model:
    """The trained feature classifier behind the front end and normalisation: raw audio in.

    Input: waveforms `(batch, clip_samples)` float32 in [-1, 1] at the
    training sample rate (pad or crop with `fix_length`). Output: the
    classifier's probabilities. Every layer is a built-in Keras layer, so the
    saved file loads with `keras.saving.load_model(path)` (safe mode).
    """
    return raw_audio_model(classifier, data.features, data.mean, data.variance, name=name)


def raw_audio_model(
    classifier: keras.Model, features: FeatureConfig, mean: Any, variance: Any, name: str = "keyword_spotter"
) -> keras.Model:
    """`export_model` from its parts: the front end of `features`, a `Normalization` with
    `mean` / `variance` (per feature), then `classifier`.

    Example:

    >>> import seqzoo
    >>> features = FeatureConfig(sample_rate=8000, clip_seconds=0.25, n_mels=8)
    >>> classifier = seqzoo.build("gru", inputs="frames", seq_len=features.num_frames, features=8,
    ...                           num_classes=2, units=4)
    >>> raw_audio_model(classifier, features, np.zeros(8), np.ones(8)).input_shape
    (None, 2000)
    """
    waveform = keras.Input((features.clip_samples,), name="waveform")
    x = features.front_end()(waveform)
    x = normalization_layer(mean, variance)(x)
    return keras.Model(waveform, classifier(x), name=name)


def normalization_layer(mean: Any, variance: Any) -> keras.layers.Normalization:
    """The per-feature `Normalization` of the raw-audio model, holding fixed statistics."""
    return keras.layers.Normalization(axis=-1, mean=mean, variance=variance, name="normalization", dtype="float32")
