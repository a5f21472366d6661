"""Text classification data: read the common layouts, split, vectorise, batch.

Layouts a `--data-dir` may hold (checked in this order):

- CSV: `train.csv` and `test.csv` with columns `text,label` (integer labels
  `0..C-1`), as in the shared IMDB copy;
- folders: `train/<class>/*.txt` and `test/<class>/*.txt` (the aclImdb layout;
  `DIR/aclImdb/` is also found), read with `keras.utils.text_dataset_from_directory`;
- a TFDS data directory holding the prepared dataset (`DIR/<tfds name>/`).

Vectorisation is a Keras `TextVectorization` fitted on the training split only,
inside a `tf.data` pipeline (parallel map, cache, prefetch).

Example:

>>> from recipes.data import text
>>> splits = text.read_splits("data/imdb", class_names=["neg", "pos"])   # doctest: +SKIP
>>> vectorizer = text.fit_vectorizer(splits.train_texts, max_tokens=20000)  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
import string
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from recipes.data import DataError, first_line, load_tfds

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass
class TextSplits:
    """Raw texts and integer labels of the train and test splits."""

    train_texts: np.ndarray  # object array of str/bytes
    train_labels: np.ndarray  # int32
    test_texts: np.ndarray
    test_labels: np.ndarray
    source: str  # e.g. "csv:/path", "folders:/path", "tfds:imdb_reviews"


def standardize(text: tf.Tensor) -> tf.Tensor:
    """Lower-case, drop HTML line breaks (`<br />`) and apostrophes, punctuation -> space."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
    text = tf.strings.regex_replace(text, "'", "")
    return tf.strings.regex_replace(text, "[%s]" % re.escape(string.punctuation), " ")


# ----------------------------------------------------------------------------- readers


def read_csv_splits(folder: str, num_classes: int) -> TextSplits:
    """`train.csv` + `test.csv` with columns `text,label`."""
    import pandas as pd

    out = []
    for split in ("train", "test"):
        path = os.path.join(folder, f"{split}.csv")
        try:
            frame = pd.read_csv(path, dtype={"text": str}, keep_default_na=False, na_values=[""])
        except pd.errors.EmptyDataError:
            raise DataError(f"{path} is empty; expected a CSV with columns text,label") from None
        except (pd.errors.ParserError, UnicodeDecodeError, OSError) as error:
            raise DataError(f"{path} is not a readable CSV ({first_line(error)})") from None
        missing = [c for c in ("text", "label") if c not in frame.columns]
        if missing:
            raise DataError(
                f"{path} lacks column(s) {', '.join(missing)} (has {', '.join(map(str, frame.columns))}); "
                "expected columns text,label"
            )
        if frame.empty:
            raise DataError(f"{path} has no rows; expected a CSV with columns text,label")
        bad = frame["text"].isna() | frame["label"].isna()
        if bad.any():
            raise DataError(f"{path}: row {int(np.argmax(bad.to_numpy())) + 2} has an empty text or label")
        labels = pd.to_numeric(frame["label"], errors="coerce")
        invalid = labels.isna() | (labels % 1 != 0) | (labels < 0) | (labels >= num_classes)
        if invalid.any():
            row = int(np.argmax(invalid.to_numpy()))
            raise DataError(
                f"{path}: row {row + 2} has label {str(frame['label'].iloc[row])!r}; "
                f"labels must be integers 0..{num_classes - 1}"
            )
        out += [frame["text"].to_numpy(dtype=object), labels.to_numpy(dtype=np.int32)]
    return TextSplits(*out, source=f"csv:{os.path.abspath(folder)}")


def read_folder_splits(folder: str, class_names: Sequence[str]) -> TextSplits:
    """`train/<class>/*.txt` and `test/<class>/*.txt`, via `keras.utils.text_dataset_from_directory`."""
    out = []
    for split in ("train", "test"):
        root = os.path.join(folder, split)
        missing = [c for c in class_names if not os.path.isdir(os.path.join(root, c))]
        if missing:
            raise DataError(
                f"{root} lacks the class folder(s) {', '.join(missing)}; expected "
                f"{split}/{'|'.join(class_names)}/*.txt"
            )
        try:
            dataset = keras.utils.text_dataset_from_directory(
                root, class_names=list(class_names), batch_size=None, shuffle=False, verbose=False
            )
        except ValueError as error:
            raise DataError(f"{root}: {first_line(error)}") from None
        texts, labels = [], []
        for text, label in dataset.as_numpy_iterator():
            texts.append(text)
            labels.append(label)
        if not texts:
            raise DataError(f"{root} holds no .txt files in {', '.join(class_names)}")
        out += [np.array(texts, dtype=object), np.array(labels, dtype=np.int32)]
    return TextSplits(*out, source=f"folders:{os.path.abspath(folder)}")


def read_tfds_splits(name: str, *, data_dir: str | None, hint: str) -> TextSplits:
    """The `train` and `test` splits of a TFDS text dataset `(text, label)`."""
    out = []
    for dataset in load_tfds(name, ["train", "test"], data_dir=data_dir, hint=hint):
        texts, labels = [], []
        for text, label in dataset.as_numpy_iterator():
            texts.append(text)
            labels.append(label)
        out += [np.array(texts, dtype=object), np.array(labels, dtype=np.int32)]
    if not len(out[0]) or not len(out[2]):
        raise DataError(f"TFDS dataset {name!r} has an empty train or test split; {hint}")
    return TextSplits(*out, source=f"tfds:{name}" + (f":{os.path.abspath(data_dir)}" if data_dir else ""))


def read_splits(
    data_dir: str | None,
    *,
    class_names: Sequence[str],
    tfds_name: str,
    hint: str,
) -> TextSplits:
    """Read train/test from `data_dir` in any supported layout, or from TFDS when `None`.

    Raises `DataError` with the expected layouts when `data_dir` holds none of them.
    """
    if data_dir is None:
        return read_tfds_splits(tfds_name, data_dir=None, hint=hint)
    if not os.path.isdir(data_dir):
        raise DataError(f"--data-dir {data_dir!r} is not a folder")
    if os.path.isfile(os.path.join(data_dir, "train.csv")) or os.path.isfile(os.path.join(data_dir, "test.csv")):
        for split in ("train", "test"):
            if not os.path.isfile(os.path.join(data_dir, f"{split}.csv")):
                raise DataError(f"--data-dir {data_dir!r} has no {split}.csv; expected train.csv and test.csv")
        return read_csv_splits(data_dir, len(class_names))
    for folder in (data_dir, os.path.join(data_dir, "aclImdb")):
        if os.path.isdir(os.path.join(folder, "train")) and os.path.isdir(os.path.join(folder, "test")):
            return read_folder_splits(folder, class_names)
    if os.path.isdir(os.path.join(data_dir, tfds_name)):
        return read_tfds_splits(tfds_name, data_dir=data_dir, hint=hint)
    raise DataError(
        f"--data-dir {data_dir!r} holds no known layout: expected train.csv+test.csv (text,label), "
        f"train/ and test/ with {'/'.join(class_names)} subfolders of .txt files (aclImdb), "
        f"or a TFDS data dir with {tfds_name}/"
    )


# ----------------------------------------------------------------------------- splits


def split_and_limit(
    splits: TextSplits, *, val_split: float, seed: int, limit: int | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Shuffle with `seed`, take the validation split from TRAIN, cap every split at `limit`.

    Returns `{"train": (texts, labels), "val": ..., "test": ...}`.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(splits.train_texts))
    n_val = max(1, int(round(len(order) * val_split)))
    if len(order) - n_val < 1:
        raise DataError(f"the training split has {len(order)} examples; too few to hold out a validation split")
    val_idx, train_idx = order[:n_val], order[n_val:]
    test_idx = rng.permutation(len(splits.test_texts))
    if limit:
        train_idx, val_idx, test_idx = train_idx[:limit], val_idx[:limit], test_idx[:limit]
    return {
        "train": (splits.train_texts[train_idx], splits.train_labels[train_idx]),
        "val": (splits.train_texts[val_idx], splits.train_labels[val_idx]),
        "test": (splits.test_texts[test_idx], splits.test_labels[test_idx]),
    }


# ----------------------------------------------------------------------------- vectorise


def fit_vectorizer(
    train_texts: np.ndarray, *, max_tokens: int, ngrams: int = 1
) -> keras.layers.TextVectorization:
    """A `TextVectorization` (int ids, `standardize` above) adapted on `train_texts` only.

    Portable to every Keras backend: `standardize` runs in the `tf.data` graph
    before the layer (off the TensorFlow backend Keras would hand a callable
    `standardize` NumPy arrays), so `vectorize` applies it; the layer's output is
    ragged on the TensorFlow backend, elsewhere dense with id 0 padding that
    `vectorize` strips (`ragged=True` is TensorFlow-only).

    With `ngrams=N > 1` the vocabulary holds the most frequent 1..N-grams and a
    text of `w` words becomes its `w` word ids followed by its `w - 1` bigram
    ids, ... (a bag of n-grams for order-free models, fastText-style).
    """
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=None, output_mode="int",
        ragged=keras.backend.backend() == "tensorflow",
        ngrams=ngrams if ngrams > 1 else None,
    )
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(_as_strings(train_texts)).batch(1024).map(standardize))
    return vectorizer


def token_statistics(texts: np.ndarray, *, ngrams: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """What `fit_vectorizer` would see: the count of every distinct 1..`ngrams`-gram of the
    texts (after `standardize`, split on whitespace) and the number of words of each text.

    >>> counts, words = token_statistics(np.array(["a b a", "b"]), ngrams=2)
    >>> sorted(counts.tolist()), words.tolist()   # a, b; (a b), (b a)
    ([1, 1, 2, 2], [3, 1])
    """
    counter: collections.Counter = collections.Counter()
    words = []
    batches = tf.data.Dataset.from_tensor_slices(_as_strings(texts)).batch(1024).map(standardize)
    for batch in batches.as_numpy_iterator():
        for item in batch:
            tokens = item.split()
            words.append(len(tokens))
            counter.update(tokens)
            for n in range(2, ngrams + 1):
                counter.update(zip(*(tokens[i:] for i in range(n))))
    return np.fromiter(counter.values(), np.int64, len(counter)), np.asarray(words, np.int64)


def vectorize(
    texts: np.ndarray,
    labels: np.ndarray,
    vectorizer: keras.layers.TextVectorization,
    *,
    seq_len: int,
    truncate: str = "end",
) -> tuple[tf.data.Dataset, np.ndarray]:
    """Vectorise in parallel and cache: unbatched `(ids (length,) int32, label int32)` and the lengths.

    A text longer than `seq_len` tokens keeps its last (`truncate="end"`) or
    first (`"start"`) `seq_len` tokens; a text with no token becomes one
    out-of-vocabulary id, so no sequence is empty. Computing the lengths fills
    the cache, so every later pass reads token ids from memory.
    """
    keep_end = truncate == "end"

    def to_ids(text, label):
        ids = vectorizer(standardize(text))  # ragged (batch, None) on TensorFlow
        if not isinstance(ids, tf.RaggedTensor):  # other backends: dense, id 0 = padding only
            ids = tf.RaggedTensor.from_tensor(ids, padding=0)
        return (ids[:, -seq_len:] if keep_end else ids[:, :seq_len]), label

    def non_empty(ids, label):
        ids = tf.cast(ids, tf.int32)
        return tf.concat([ids, tf.ones([1 - tf.minimum(tf.size(ids), 1)], tf.int32)], 0), label

    dataset = tf.data.Dataset.from_tensor_slices((_as_strings(texts), np.asarray(labels, np.int32)))
    dataset = dataset.batch(256).map(to_ids, num_parallel_calls=AUTOTUNE).unbatch()
    dataset = dataset.map(non_empty, num_parallel_calls=AUTOTUNE)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(texts))).cache()
    lengths = dataset.map(lambda ids, label: tf.shape(ids)[0]).batch(8192).as_numpy_iterator()
    return dataset, np.concatenate(list(lengths)) if len(texts) else np.zeros([0], np.int32)


def bucket_boundaries(seq_len: int, buckets: int = 8) -> list[int]:
    """`buckets - 1` evenly spaced length boundaries below `seq_len` (e.g. 50, 100, ... for 400)."""
    step = max(1, -(-seq_len // buckets))
    return list(range(step, seq_len, step))


def batch_examples(
    examples: tf.data.Dataset,
    lengths: np.ndarray,
    *,
    batch_size: int,
    seq_len: int,
    bucketing: bool = True,
    shuffle_seed: int | None = None,
) -> tf.data.Dataset:
    """Batch vectorised examples, padding with 0 at the end; optionally shuffled and bucketed.

    Args:
        bucketing: group texts of similar length (`bucket_by_sequence_length`),
            each batch padded to its longest text: recurrent models run about
            twice as fast on IMDB. Off: every batch is `(batch, seq_len)`.
        shuffle_seed: reshuffle every epoch with this seed (training data).
    """
    if shuffle_seed is not None:
        examples = examples.shuffle(len(lengths), seed=shuffle_seed, reshuffle_each_iteration=True)
    if not bucketing:
        batched = examples.padded_batch(batch_size, padded_shapes=([seq_len], []))
        return batched.prefetch(AUTOTUNE)
    boundaries = bucket_boundaries(seq_len)
    counts = np.bincount(np.searchsorted(boundaries, lengths, side="right"), minlength=len(boundaries) + 1)
    num_batches = int(sum(-(-int(c) // batch_size) for c in counts))
    batched = examples.bucket_by_sequence_length(
        element_length_func=lambda ids, label: tf.shape(ids)[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
    )
    return batched.apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(AUTOTUNE)


def make_dataset(
    texts: np.ndarray,
    labels: np.ndarray,
    vectorizer: keras.layers.TextVectorization,
    *,
    seq_len: int,
    batch_size: int,
    truncate: str = "end",
    bucketing: bool = True,
    shuffle_seed: int | None = None,
) -> tf.data.Dataset:
    """`vectorize` then `batch_examples`: batched `(ids (batch, time) int32, labels (batch,) int32)`."""
    examples, lengths = vectorize(texts, labels, vectorizer, seq_len=seq_len, truncate=truncate)
    return batch_examples(
        examples, lengths, batch_size=batch_size, seq_len=seq_len, bucketing=bucketing, shuffle_seed=shuffle_seed
    )


def _as_strings(texts: np.ndarray) -> np.ndarray:
    return np.array([t if isinstance(t, bytes) else str(t).encode("utf-8") for t in texts], dtype=object)

