"""Unlabelled text for self-supervised pre-training: read, fit a vocabulary, pack, mask.

Layouts a `--data-dir` may hold (checked in this order; labels are ignored):

- CSV: `unsup.csv` and/or `train.csv` with a `text` column (both are read when
  both exist: IMDB's unlabelled reviews plus its training reviews; never
  `test.csv`, whose reviews the fine-tuned model is tested on);
- aclImdb folders: `train/unsup/*.txt` (+ `train/pos`, `train/neg`), also
  found under `DIR/aclImdb/`;
- a TFDS data directory holding `imdb_reviews/` (its `unsupervised` and
  `train` splits);
- any folder of `.txt` files (searched recursively), one document per file.

Without a data dir: TFDS `imdb_reviews` (offline and not prepared: `DataError`).

Token streams: each split's documents are vectorised (the classification
recipes' `standardize`) and concatenated, then cut into windows of `seq_len`
ids (`seq_len + 1` for next-token prediction), as BERT and GPT pre-train: no
padding except in a split's last window, and no cost on padded steps.

Objectives (`make_examples`):

- `"clm"` (next token): inputs `w[:-1]`, targets `w[1:]`, the inputs shifted by one.
- `"mlm"` (masked tokens, Devlin et al. 2018): 15 % of each window's real
  tokens (never padding) are chosen; 80 % of those become `[MASK]`, 10 % a
  random word, 10 % stay. The inputs are `{"tokens", "positions"}` (the chosen
  steps, padded with 0 to `ceil(0.15 * seq_len)`), the targets the original
  ids there (0 in the padded slots). The masks are drawn once per run from
  the seed (static masking, as the original BERT).

Every example carries a sample weight `targets != 0`, so padded targets count
neither in the loss nor in the accuracy.
"""

from __future__ import annotations

import dataclasses
import glob
import os

import numpy as np
import tensorflow as tf

from recipes.data import DataError, first_line, load_tfds
from recipes.data import text as text_data

MASK_TOKEN = "[MASK]"
FIRST_WORD_ID = 2  # 0 = padding, 1 = out of vocabulary
CSV_FILES = ("unsup.csv", "train.csv")


@dataclasses.dataclass
class Corpus:
    """Unlabelled documents and where they came from."""

    texts: np.ndarray  # object array of str/bytes
    source: str


# ----------------------------------------------------------------------------- readers


def _read_csv(path: str) -> np.ndarray:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype={"text": str}, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; expected a CSV with a text column") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as error:
        raise DataError(f"{path} is not a readable CSV ({first_line(error)})") from None
    if "text" not in frame.columns:
        raise DataError(f"{path} has no column text (has {', '.join(map(str, frame.columns))})")
    return frame["text"].to_numpy(dtype=object)


def _read_txt(paths: list[str]) -> np.ndarray:
    texts = []
    for path in sorted(paths):
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(
                f"{path} is not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start}); "
                "convert it, e.g. iconv -f latin1 -t utf-8"
            ) from None
        texts.append(data)
    return np.array(texts, dtype=object)


def _read_tfds(name: str, data_dir: str | None, hint: str) -> Corpus:
    texts = []
    for dataset in load_tfds(name, ["unsupervised", "train"], data_dir=data_dir, hint=hint):
        texts += [text for text, _ in dataset.as_numpy_iterator()]
    return Corpus(np.array(texts, dtype=object), f"tfds:{name}" + (f":{os.path.abspath(data_dir)}" if data_dir else ""))


def read_corpus(data_dir: str | None, *, tfds_name: str = "imdb_reviews", hint: str = "") -> Corpus:
    """Every document of `data_dir` in the first layout found (see the module docstring)."""
    if data_dir is None:
        return _read_tfds(tfds_name, None, hint)
    if not os.path.isdir(data_dir):
        raise DataError(f"--data-dir {data_dir!r} is not a folder")
    csvs = [os.path.join(data_dir, name) for name in CSV_FILES if os.path.isfile(os.path.join(data_dir, name))]
    if csvs:
        texts = np.concatenate([_read_csv(path) for path in csvs])
        corpus = Corpus(texts, "csv:" + ",".join(os.path.abspath(p) for p in csvs))
    else:
        corpus = None
        for folder in (data_dir, os.path.join(data_dir, "aclImdb")):
            if os.path.isdir(os.path.join(folder, "train", "unsup")):
                paths = glob.glob(os.path.join(folder, "train", "*", "*.txt"))
                corpus = Corpus(_read_txt(paths), f"folders:{os.path.abspath(folder)}/train")
                break
        if corpus is None and os.path.isdir(os.path.join(data_dir, tfds_name)):
            corpus = _read_tfds(tfds_name, data_dir, hint)
        if corpus is None:
            paths = glob.glob(os.path.join(data_dir, "**", "*.txt"), recursive=True)
            if not paths:
                raise DataError(
                    f"--data-dir {data_dir!r} holds no known layout: expected unsup.csv or train.csv "
                    f"(a text column), aclImdb's train/unsup/, a TFDS data dir with {tfds_name}/, "
                    "or .txt files"
                )
            corpus = Corpus(_read_txt(paths), f"txt:{os.path.abspath(data_dir)}")
    if not len(corpus.texts):
        raise DataError(f"{corpus.source} holds no documents")
    return corpus


def split_documents(
    texts: np.ndarray, *, held_out: float, seed: int, limit: int | None = None
) -> dict[str, np.ndarray]:
    """Shuffle with `seed`; `held_out` of the documents each for `val` and `test`, the rest `train`.

    Documents (not windows) are split, so no held-out text is seen in training.
    `limit` caps the documents of every split.
    """
    order = np.random.default_rng(seed).permutation(len(texts))
    n_held = max(1, int(round(len(texts) * held_out)))
    if len(texts) - 2 * n_held < 1:
        raise DataError(
            f"--held-out {held_out:g} of {len(texts)} documents leaves none for training: "
            f"pass a smaller --held-out (validation and test take {n_held} documents each)"
        )
    parts = {"val": order[:n_held], "test": order[n_held:2 * n_held], "train": order[2 * n_held:]}
    return {split: texts[index[:limit] if limit else index] for split, index in parts.items()}


# ----------------------------------------------------------------------------- vocabulary


def fit_vocabulary(train_texts: np.ndarray, *, max_tokens: int) -> list[str]:
    """`["", "[UNK]", words by frequency..., "[MASK]"]`: `max_tokens` ids, the last one `[MASK]`.

    Fitted on the training documents only; `[MASK]` cannot occur in text
    (standardisation removes brackets), so every vocabulary has the same
    layout whatever the objective and the fine-tuning side reads it as is.
    """
    vectorizer = text_data.fit_vectorizer(train_texts, max_tokens=max_tokens - 1)
    vocabulary = [str(word) for word in vectorizer.get_vocabulary()] + [MASK_TOKEN]
    if len(vocabulary) <= 3:
        raise DataError("the training documents contain no words")
    return vocabulary


def vectorizer_for(vocabulary: list[str]):
    """A `TextVectorization` (ragged ids, the recipes' standardisation) with a fixed vocabulary."""
    import keras

    if vocabulary[:2] != ["", "[UNK]"]:
        raise DataError("a vocabulary must start with the padding ('') and '[UNK]' entries")
    return keras.layers.TextVectorization(
        vocabulary=vocabulary[2:], standardize=text_data.standardize, output_mode="int", ragged=True
    )


def token_stream(texts: np.ndarray, vocabulary: list[str]) -> np.ndarray:
    """Every document's ids, concatenated in order: `(total tokens,)` int32."""
    vectorizer = vectorizer_for(vocabulary)
    dataset = tf.data.Dataset.from_tensor_slices(text_data._as_strings(texts)).batch(512)
    pieces = [ids.flat_values.numpy() for ids in dataset.map(vectorizer)]
    return np.concatenate(pieces).astype(np.int32) if pieces else np.zeros([0], np.int32)


def windows(stream: np.ndarray, length: int, overlap: int = 0) -> np.ndarray:
    """`stream` cut into rows of `length` ids starting every `length - overlap` ids, the last
    one right-padded with 0: `(n, length)`. Next-token rows overlap by one id, so that every
    transition of the stream is a target once."""
    step = length - overlap
    rows = max(1, -(-(len(stream) - overlap) // step))
    padded = np.zeros(rows * step + overlap, np.int32)
    padded[: len(stream)] = stream
    return padded[np.arange(rows)[:, None] * step + np.arange(length)[None, :]]


# ----------------------------------------------------------------------------- objectives


def shift_targets(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Next-token prediction: inputs `rows[:, :-1]`, targets `rows[:, 1:]` (step t predicts t + 1)."""
    return rows[:, :-1], rows[:, 1:]


def mask_tokens(
    rows: np.ndarray, *, mask_id: int, rng: np.random.Generator, rate: float = 0.15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BERT's masking of `rows` `(n, time)` (0 = padding, never chosen).

    Chooses `round(rate * real tokens)` steps per row (at least one when the
    row has a token); of those, 80 % become `mask_id`, 10 % a random word id
    in `[2, mask_id)`, 10 % keep their token.

    Returns:
        `(inputs (n, time), positions (n, k), targets (n, k))` with
        `k = ceil(rate * time)`; unused slots hold position 0 and target 0.
    """
    n, time = rows.shape
    k = max(1, int(np.ceil(rate * time)))
    real = rows != 0
    counts = np.minimum(np.where(real.any(1), np.maximum(1, np.round(rate * real.sum(1))), 0), k).astype(int)
    keys = np.where(real, rng.random(rows.shape), np.inf)  # padding sorts last: never chosen
    chosen = np.argsort(keys, axis=1, kind="stable")[:, :k]
    used = np.arange(k)[None, :] < counts[:, None]
    positions = np.where(used, chosen, 0).astype(np.int32)
    targets = np.where(used, np.take_along_axis(rows, chosen, axis=1), 0).astype(np.int32)
    draw = rng.random((n, k))
    replacement = np.where(draw < 0.8, mask_id, np.where(draw < 0.9, rng.integers(FIRST_WORD_ID, mask_id, (n, k)), -1))
    inputs = rows.copy()
    row_index = np.broadcast_to(np.arange(n)[:, None], (n, k))
    change = used & (replacement >= 0)
    inputs[row_index[change], chosen[change]] = replacement[change]
    return inputs.astype(np.int32), positions, targets


def make_examples(
    stream: np.ndarray, *, objective: str, seq_len: int, mask_id: int, seed: int
) -> tuple[object, np.ndarray, np.ndarray]:
    """`(x, targets, sample_weight)` arrays for `objective` ("clm" or "mlm") from a token stream."""
    if objective == "clm":
        x, y = shift_targets(windows(stream, seq_len + 1, overlap=1))
    else:
        inputs, positions, y = mask_tokens(windows(stream, seq_len), mask_id=mask_id, rng=np.random.default_rng(seed))
        x = {"tokens": inputs, "positions": positions}
    return x, y, (y != 0).astype(np.float32)


def to_dataset(examples, *, batch_size: int, shuffle_seed: int | None = None) -> tf.data.Dataset:
    """Batched `(x, y, sample_weight)`; shuffled every epoch with `shuffle_seed` (training)."""
    x, y, weight = examples
    dataset = tf.data.Dataset.from_tensor_slices((x, y, weight))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(y), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
