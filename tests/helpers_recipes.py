"""Tiny generated data and a toy recipe for the runner and recipe tests (no network, no ../shared)."""

from __future__ import annotations

import dataclasses
import json
import os

import keras
import numpy as np
import tensorflow as tf

from recipes.config import RunConfig
from recipes.runner import DataError, Recipe, TaskData

POSITIVE = ["great", "wonderful", "superb", "loved", "brilliant"]
NEGATIVE = ["awful", "boring", "terrible", "hated", "dull"]
FILLER = ["the", "movie", "film", "plot", "actor", "scene", "story", "it", "was", "a"]


def reviews(n: int, seed: int = 0, extra_word: str | None = None) -> tuple[list[str], list[int]]:
    """`n` short reviews with a learnable signal, half positive; `<br />` inside every one."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(FILLER, size=int(rng.integers(3, 12))))
        words += list(rng.choice(POSITIVE if label else NEGATIVE, size=2))
        rng.shuffle(words)
        text = " ".join(words[:3]) + ".<br /><br />" + " ".join(words[3:]) + "!"
        if extra_word:
            text += f" {extra_word}"
        texts.append(text.capitalize())
        labels.append(label)
    return texts, labels


def write_imdb_csv(folder, n_train: int = 48, n_test: int = 24) -> str:
    """`train.csv`/`test.csv` (`text,label`); the word `testonlyword` appears only in test."""
    import pandas as pd

    os.makedirs(folder, exist_ok=True)
    for split, n, seed, extra in (("train", n_train, 1, None), ("test", n_test, 2, "testonlyword")):
        texts, labels = reviews(n, seed, extra)
        pd.DataFrame({"text": texts, "label": labels}).to_csv(os.path.join(folder, f"{split}.csv"), index=False)
    return str(folder)


def write_aclimdb(folder, n_train: int = 24, n_test: int = 12) -> str:
    """The aclImdb layout: `train|test/pos|neg/<id>_<rating>.txt`, plus an `unsup/` to ignore."""
    for split, n, seed in (("train", n_train, 3), ("test", n_test, 4)):
        texts, labels = reviews(n, seed)
        for i, (text, label) in enumerate(zip(texts, labels)):
            sub = os.path.join(folder, split, "pos" if label else "neg")
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, f"{i}_{8 if label else 2}.txt"), "w") as handle:
                handle.write(text)
    os.makedirs(os.path.join(folder, "train", "unsup"), exist_ok=True)
    with open(os.path.join(folder, "train", "unsup", "0_0.txt"), "w") as handle:
        handle.write("unlabelled review")
    return str(folder)


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


@dataclasses.dataclass
class ToyConfig(RunConfig):
    model: str = "gru"
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 1e-2


class ToyRecipe(Recipe):
    """Three-class classification of random `(6, 3)` frames (class from two channel means)."""

    name = "toy"
    description = "toy frames classification"
    config_class = ToyConfig
    model_defaults = {"*": {"units": 4}}

    def __init__(self, callbacks=(), fail_load: str | None = None):
        self._callbacks = list(callbacks)
        self._fail_load = fail_load
        self.loads = 0

    def load(self, args):
        self.loads += 1
        if self._fail_load:
            raise DataError(self._fail_load)
        rng = np.random.default_rng(args.seed)
        n = args.limit or 48
        x = rng.normal(size=(3 * n, 6, 3)).astype("float32")
        y = ((x[:, :, 0].mean(1) > 0).astype("int32") + (x[:, :, 1].mean(1) > 0)).astype("int32")
        parts = [(x[i * n:(i + 1) * n], y[i * n:(i + 1) * n]) for i in range(3)]

        def batched(xs, ys, shuffle):
            dataset = tf.data.Dataset.from_tensor_slices((xs, ys)).cache()
            if shuffle:
                dataset = dataset.shuffle(len(xs), seed=args.seed)
            return dataset.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)

        return TaskData(
            train=batched(*parts[0], True),
            val=batched(*parts[1], False),
            test=batched(*parts[2], False),
            model_kwargs={"inputs": "frames", "features": 3, "seq_len": 6, "num_classes": 3},
            class_names=["low", "mid", "high"],
            info={"generator": "toy"},
            sizes={"train": n, "val": n, "test": n},
        )

    def callbacks(self, args, data):
        return list(self._callbacks)


class StopAfterEpoch(keras.callbacks.Callback):
    """Simulates Ctrl-C once epoch index `epoch` has ended (backed up): raises KeyboardInterrupt
    as the next epoch begins."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch + 1:
            raise KeyboardInterrupt


class CountEpochs(keras.callbacks.Callback):
    """Records the epoch indices this session trained."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
