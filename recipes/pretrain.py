"""Self-supervised pre-training of any token model on unlabelled text, for `--init` fine-tuning.

    python -m recipes.pretrain --model gpt --data-dir ../shared/data/imdb          # next-token
    python -m recipes.pretrain --model bert --data-dir ../shared/data/imdb         # masked tokens
    python -m recipes.pretrain --model lstm --data-dir DIR --limit 2000 --epochs 1  # smoke run
    python -m recipes.imdb --model gpt --data-dir ../shared/data/imdb --init RUN_DIR  # fine-tune

Data (`--data-dir`, see `recipes.data.corpus`): `unsup.csv` + `train.csv`
(a `text` column; labels ignored; never `test.csv`), aclImdb's `train/unsup`,
a TFDS data dir with `imdb_reviews/` (unsupervised + train splits), or any
folder of `.txt` files; without `--data-dir`, TFDS `imdb_reviews`.
`--held-out` of the documents each for validation and test.

Objective: from the model's registry tags (`seqzoo.factory.objective_for`):
next-token prediction (`clm`) for models tagged `causal` (gpt, rnn, lstm, gru,
deep_*, ...), masked-token prediction (`mlm`: 15 %, 80/10/10) for the others
(bert, transformer, the bidirectional models). `--lm-objective mlm` also trains
a causal model; `--lm-objective clm` on a non-causal model is refused (it would
see the token it must predict). Test metrics: `test_perplexity` (exp of the
mean next-token cross-entropy) for clm, `test_masked_accuracy` for mlm (and
`test_loss`, `test_accuracy` for both).

The output softmax and what keeps it affordable on a 2-core CPU. A softmax
over V words costs `time x embed_dim x V` multiply-adds per sequence, more
than the backbone itself at IMDB sizes (an LSTM with 64 units spends about
`time x 4 x 64 x 128`; the softmax over 10,000 words with 64-wide embeddings
is about `time x 640,000`: 15 times more). What we chose:
- tied input/output embeddings (`seqzoo.layers.ReversibleEmbedding`): no
  separate `V x d` output matrix to learn or update, the output scored in the
  (narrow) embedding width, and the same vocabulary the fine-tuning side uses;
- masked-token models score only the masked 15 % of the steps
  (`seqzoo.layers.GatherPositions` before the projection): 6.7x less softmax;
- a 10,000-word vocabulary (`--max-tokens`, the IMDB recipe's default, so the
  fine-tuning vocabulary is the same) and windows of 128 tokens
  (`--seq-len`; BERT pre-trained 90 % of its steps at 128) packed from the
  concatenated text, so no step is spent on padding.
Sampled or adaptive softmax would cut the clm cost further but need a
custom training step and a different evaluation; not done.

The run directory is the shared runner's (resume, metrics.json, curves) plus
`vocabulary.txt` (one token a line: padding "", "[UNK]", the words, "[MASK]").
`model.keras` is the whole language model; `--init` loads its front end and
backbone by layer name (the `lm_*` layers and the output bias stay behind).
The architecture defaults are the IMDB recipe's, so `recipes.imdb --init`
builds the same shapes without any `--set`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys

import numpy as np
import tensorflow as tf

from recipes import flags
from recipes.artifacts import write_text_atomic
from recipes.data import corpus
from recipes.imdb import ImdbRecipe
from recipes.cli import main
from recipes.config import RunConfig
from recipes.runner import Recipe, TaskData, UsageError
from seqzoo import registry
from seqzoo.factory import objective_for
from seqzoo.params import ParamError
from seqzoo.task import OBJECTIVES

OFFLINE_HINT = "use a local copy: --data-dir DIR with unsup.csv/train.csv (a text column), aclImdb, or .txt files"


@dataclasses.dataclass
class PretrainConfig(RunConfig):
    """The pre-training recipe's settings.

    Args:
        lm_objective: `"clm"`, `"mlm"` or None (from the model's registry tags; `check_args` resolves it).
        max_tokens: vocabulary size incl. padding, OOV and [MASK].
        seq_len: tokens per training window.
        held_out: fraction of the documents held out for validation, and as much for test.
    """

    model: str = "lstm"
    epochs: int = 1
    batch_size: int = 64
    learning_rate: float = 1e-3
    lm_objective: str | None = None
    max_tokens: int = 10000
    seq_len: int = 128
    held_out: float = 0.02


class PretrainRecipe(Recipe):
    """Language-model pre-training (next-token or masked-token) of any seqzoo token model."""

    name = "pretrain"
    description = "Self-supervised pre-training (next-token or masked-token) on unlabelled text."
    config_class = PretrainConfig
    # The fine-tuning recipe's architecture, so that `recipes.imdb --init` matches it.
    model_defaults = ImdbRecipe.model_defaults
    artifacts = ("vocabulary.txt",)

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--lm-objective", dest="lm_objective", choices=OBJECTIVES,
                           help="clm: next token; mlm: masked tokens (default: from the model's "
                           "registry tags: clm for causal models, else mlm)")
        group.add_argument("--max-tokens", type=flags.positive_int,
                           help="vocabulary size incl. padding, OOV and [MASK] (default: %(default)s)")
        group.add_argument("--seq-len", type=flags.positive_int,
                           help="tokens per training window (default: %(default)s)")
        group.add_argument("--held-out", type=flags.fraction,
                           help="fraction of the documents held out for validation, and as much "
                           "for test (default: %(default)s)")

    def check_args(self, args: PretrainConfig) -> None:
        if args.max_tokens < 4:
            raise UsageError("--max-tokens must be at least 4 (padding, OOV, [MASK] and one word)")
        try:
            args.lm_objective = objective_for(registry.get(args.model), args.lm_objective)
        except ParamError as error:
            raise UsageError(f"--lm-objective: {error}") from None

    def load(self, args: PretrainConfig) -> TaskData:
        documents = corpus.read_corpus(args.data_dir, hint=OFFLINE_HINT)
        splits = corpus.split_documents(documents.texts, held_out=args.held_out, seed=args.seed, limit=args.limit)
        vocabulary = corpus.fit_vocabulary(splits["train"], max_tokens=args.max_tokens)
        mask_id = len(vocabulary) - 1
        examples, streams = {}, {}
        for offset, (split, texts) in enumerate(splits.items()):
            streams[split] = corpus.token_stream(texts, vocabulary)
            examples[split] = corpus.make_examples(
                streams[split], objective=args.lm_objective, seq_len=args.seq_len, mask_id=mask_id, seed=args.seed + offset
            )
        datasets = {
            split: corpus.to_dataset(examples[split], batch_size=args.batch_size,
                                     shuffle_seed=args.seed if split == "train" else None)
            for split in ("train", "val", "test")
        }
        return TaskData(
            **datasets,
            model_kwargs={"inputs": "tokens", "vocab_size": len(vocabulary), "head": "language_model",
                          "objective": args.lm_objective},
            info={
                "source": documents.source,
                "objective": args.lm_objective,
                "vocab_size": len(vocabulary),
                "seq_len": args.seq_len,
                "held_out": args.held_out,
                "documents": {split: int(len(texts)) for split, texts in splits.items()},
                "tokens": {split: int(len(stream)) for split, stream in streams.items()},
            },
            sizes={split: int(len(examples[split][1])) for split in examples},
            extras={"vocabulary": vocabulary},
        )

    def evaluate(self, model, data: TaskData, args: PretrainConfig, run_dir: str) -> dict:
        write_text_atomic(os.path.join(run_dir, "vocabulary.txt"), "\n".join(data.extras["vocabulary"]) + "\n")
        return evaluate_language_model(model, data.test, args.lm_objective)


def evaluate_language_model(model, test, objective: str) -> dict:
    """Exact token-level test metrics: mean cross-entropy and accuracy over the targets of weight 1.

    `test_perplexity` (clm) is `exp(test_loss)`; `test_masked_accuracy` (mlm) the
    accuracy on the masked tokens.
    """
    total, correct, count = 0.0, 0, 0
    for x, y, weight in test:  # (batch, time, vocab) logits: kept in TensorFlow, one batch at a time
        logits = model(x, training=False)
        cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(y, tf.int32), logits).numpy()
        keep = weight.numpy() > 0
        total += float(cross_entropy[keep].astype(np.float64).sum())
        correct += int((tf.argmax(logits, -1, output_type=tf.int32).numpy() == y.numpy())[keep].sum())
        count += int(keep.sum())
    loss = total / max(count, 1)
    metrics = {"test_loss": loss, "test_accuracy": correct / max(count, 1), "test_targets": count}
    if objective == "clm":
        metrics["test_perplexity"] = float(math.exp(min(loss, 700.0)))
    else:
        metrics["test_masked_accuracy"] = metrics["test_accuracy"]
    return metrics


def read_vocabulary(path: str) -> list[str]:
    """A run's `vocabulary.txt` as written by `PretrainRecipe.evaluate` (first entry "")."""
    with open(path, encoding="utf-8") as handle:
        return handle.read().split("\n")[:-1]


if __name__ == "__main__":
    sys.exit(main(PretrainRecipe()))
