"""Overhead: every registered model against the same architecture written directly in Keras.

Each seqzoo model (`seqzoo.build`, its default hyperparameters, token inputs)
is trained next to a hand-written functional Keras model with the same layers
and the same sizes (the parameter counts are checked to be equal). The two are
timed INTERLEAVED in one process: one warm-up epoch each (tracing), then
`--reps` rounds of one epoch each, the order alternating every round, over the
same in-memory batches (`tf.data` from tensors, cached). The figure of merit is
`ratio`: the median over rounds of `direct seconds / seqzoo seconds` (> 1:
seqzoo faster); each round times both back to back, so both see the same
machine state. The ratio of the fastest rounds is kept as well. Target >= 0.98.

The direct models use plain Keras layers (`Embedding`, `LSTM`, `GRU`,
`SimpleRNN`, `Bidirectional`, `MultiHeadAttention`, `LayerNormalization`,
`Dense`, `Dropout`, `Add`, `GlobalAveragePooling1D`, `BatchNormalization`)
and, where Keras has no equivalent, the same seqzoo layer classes:
`MaskedMaxPooling1D` (masked max pooling), `MaskedConv1D` (mask-propagating
causal convolution), `AttentionPooling`, `HopfieldRetrieval`/`HopfieldPooling`,
`SinusoidalPositionEncoding`, `PositionEmbedding`, `ClassToken`, `LastTimestep`.
seqzoo's `TransformerBlock` is compared against the block written out with
`MultiHeadAttention` + `Dense` + `LayerNormalization` layers.

`--controls` (default lstm, transformer; --quick lstm) adds A/A rows: seqzoo timed against a
second copy of itself. How far those stray from 1.0 is the noise floor of the
machine at that moment; read the other ratios against it.

    python benchmarks/overhead.py --quick      # 7 models (one or two per family), 5 rounds
    python benchmarks/overhead.py              # all 18 models, 9 rounds

Writes `benchmarks/overhead.json` (`--json` to change).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import HERE, command_line, fit_seconds, interleaved, machine, median, now, write_json  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import seqzoo  # noqa: E402
from seqzoo import registry  # noqa: E402
from seqzoo.layers import (  # noqa: E402
    AttentionPooling,
    ClassToken,
    HopfieldPooling,
    HopfieldRetrieval,
    LastTimestep,
    MaskedConv1D,
    MaskedMaxPooling1D,
    PositionEmbedding,
    SinusoidalPositionEncoding,
)

L = keras.layers
QUICK_MODELS = ["lstm", "bilstm", "cnn_lstm", "transformer", "bert", "gpt", "hopfield"]


# ----------------------------------------------------------------------------- direct Keras


def _recurrent(x, cell, units, depth, dropout, recurrent_dropout, pool, bidirectional=False):
    cls = {"rnn": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}[cell]
    for i in range(depth):
        layer = cls(units, return_sequences=i < depth - 1 or pool != "last", recurrent_dropout=recurrent_dropout)
        x = (L.Bidirectional(layer) if bidirectional else layer)(x)
        if dropout:
            x = L.Dropout(dropout)(x)
    if pool == "max":
        x = MaskedMaxPooling1D()(x)  # Keras' GlobalMaxPooling1D ignores the mask
    elif pool == "mean":
        x = L.GlobalAveragePooling1D()(x)
    return x


def _block(x, heads, ff_dim, dropout, activation="relu", norm_first=False, causal=False, epsilon=1e-6):
    """The Transformer layer written out with Keras layers (same maths as seqzoo's TransformerBlock)."""
    width = x.shape[-1]
    attention = L.MultiHeadAttention(heads, width // heads, dropout=dropout)
    norm1, norm2 = L.LayerNormalization(epsilon=epsilon), L.LayerNormalization(epsilon=epsilon)
    h = norm1(x) if norm_first else x
    h = attention(h, h, use_causal_mask=causal)
    x = L.Add()([x, L.Dropout(dropout)(h)])
    if not norm_first:
        x = norm1(x)
    h = norm2(x) if norm_first else x
    h = L.Dense(width)(L.Dense(ff_dim, activation=activation)(h))
    x = L.Add()([x, L.Dropout(dropout)(h)])
    if not norm_first:
        x = norm2(x)
    return x


def _width(x, width):
    return x if x.shape[-1] == width else L.Dense(width)(x)


def d_rnn(x, p, cell="rnn", bi=False):
    return _recurrent(x, cell, p["units"], p["depth"], p["dropout"], p["recurrent_dropout"], p["pool"], bi)


def d_cnn_lstm(x, p):
    for _ in range(p["conv_layers"]):
        x = MaskedConv1D(p["filters"], p["kernel_size"], activation="relu")(x)
    return d_rnn(x, p, "lstm")


def d_deepspeech2(x, p):
    for i in range(p["conv_layers"]):
        x = MaskedConv1D(p["filters"], p["kernel_size"], strides=p["stride"] if i == 0 else 1)(x)
        x = L.Activation("relu")(L.BatchNormalization()(x))
    return d_rnn(x, p, "gru", bi=True)


def d_attention_rnn(x, p):
    for _ in range(p["depth"]):
        x = L.Bidirectional(L.LSTM(p["units"], return_sequences=True, recurrent_dropout=p["recurrent_dropout"]))(x)
        if p["dropout"]:
            x = L.Dropout(p["dropout"])(x)
    return AttentionPooling(p["attention_units"])(x)


def d_transformer(x, p):
    x = L.Dropout(p["dropout"])(SinusoidalPositionEncoding()(_width(x, p["width"])))
    for _ in range(p["depth"]):
        x = _block(x, p["heads"], p["ff_dim"], p["dropout"])
    return L.GlobalAveragePooling1D()(x)


def d_bert(x, p):
    x = PositionEmbedding(p["max_len"])(ClassToken()(_width(x, p["width"])))
    x = L.Dropout(p["dropout"])(L.LayerNormalization(epsilon=1e-12)(x))
    for _ in range(p["depth"]):
        x = _block(x, p["heads"], p["ff_dim"], p["dropout"], activation="gelu", epsilon=1e-12)
    return L.Dense(p["width"], activation="tanh")(x[:, 0, :])


def d_gpt(x, p):
    x = L.Dropout(p["dropout"])(PositionEmbedding(p["max_len"])(_width(x, p["width"])))
    for _ in range(p["depth"]):
        x = _block(x, p["heads"], p["ff_dim"], p["dropout"], activation="gelu", norm_first=True, causal=True)
    return LastTimestep()(L.LayerNormalization(epsilon=1e-5)(x))


def d_hopfield(x, p):
    x = _width(x, p["width"])
    kw = dict(beta=p["beta"], update_steps=p["update_steps"])
    for _ in range(p["depth"]):
        h = L.Dropout(p["dropout"])(HopfieldRetrieval(p["heads"], p["key_dim"], **kw)(x))
        x = L.LayerNormalization()(L.Add()([x, h]))
    x = HopfieldPooling(p["num_queries"], p["heads"], p["key_dim"], **kw)(x)
    return L.Dropout(p["dropout"])(x)


def d_transformer_rnn(x, p):
    cell = {"lstm": L.LSTM, "gru": L.GRU}[p["cell"]]
    x = L.Bidirectional(cell(p["units"], return_sequences=True))(x)
    for _ in range(p["depth"]):
        x = _block(x, p["heads"], p["ff_dim"], p["dropout"])
    return L.GlobalAveragePooling1D()(x)


DIRECT = {
    "rnn": lambda x, p: d_rnn(x, p, "rnn"),
    "deep_rnn": lambda x, p: d_rnn(x, p, "rnn"),
    "lstm": lambda x, p: d_rnn(x, p, "lstm"),
    "deep_lstm": lambda x, p: d_rnn(x, p, "lstm"),
    "gru": lambda x, p: d_rnn(x, p, "gru"),
    "deep_gru": lambda x, p: d_rnn(x, p, "gru"),
    "birnn": lambda x, p: d_rnn(x, p, "rnn", bi=True),
    "bilstm": lambda x, p: d_rnn(x, p, "lstm", bi=True),
    "bigru": lambda x, p: d_rnn(x, p, "gru", bi=True),
    "deep_bilstm": lambda x, p: d_rnn(x, p, "lstm", bi=True),
    "cnn_lstm": d_cnn_lstm,
    "deepspeech2": d_deepspeech2,
    "attention_rnn": d_attention_rnn,
    "transformer": d_transformer,
    "bert": d_bert,
    "gpt": d_gpt,
    "hopfield": d_hopfield,
    "transformer_rnn": d_transformer_rnn,
}


def build_direct(name: str, params: dict, *, seq_len: int, vocab: int, embed: int) -> keras.Model:
    ids = keras.Input((seq_len,), dtype="int32")
    x = L.Embedding(vocab, embed, mask_zero=True)(ids)
    x = DIRECT[name](x, params)
    return keras.Model(ids, L.Dense(1, activation="sigmoid", dtype="float32")(x))


# ----------------------------------------------------------------------------- timing


def make_data(n: int, seq_len: int, vocab: int, batch: int, seed: int = 0) -> tf.data.Dataset:
    """Right-padded token ids of random lengths (seq_len/4 .. seq_len), random binary labels."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(seq_len // 4, seq_len + 1, n)
    ids = rng.integers(1, vocab, (n, seq_len)).astype("int32")
    ids[np.arange(seq_len)[None, :] >= lengths[:, None]] = 0
    labels = rng.integers(0, 2, n).astype("int32")
    return tf.data.Dataset.from_tensor_slices((ids, labels)).batch(batch).cache()


def compare(name: str, args, control: bool = False) -> dict:
    """One interleaved comparison; `control=True` times seqzoo against a second copy of
    itself (an A/A run: how far from 1.0 the ratio strays by noise alone)."""
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    params = {k: spec.default for k, spec in registry.get(name).params.items()}
    task = dict(inputs="tokens", seq_len=args.seq_len, vocab_size=args.vocab, embed_dim=args.embed)
    models = {
        "seqzoo": seqzoo.build(name, **task),
        "direct": (seqzoo.build(name, **task) if control
                   else build_direct(name, params, seq_len=args.seq_len, vocab=args.vocab, embed=args.embed)),
    }
    for model in models.values():
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    data = make_data(args.batches * args.batch_size, args.seq_len, args.vocab, args.batch_size)
    n = args.batches * args.batch_size
    seconds = interleaved({k: (lambda m=m: fit_seconds(m, data)) for k, m in models.items()}, args.reps)
    # Each round times both models back to back, so a round's ratio sees the same machine
    # state twice: the median of the per-round ratios is the figure of merit. The ratio of
    # the fastest rounds (timeit's rule) is kept too; it swings with single lucky rounds.
    eps = {k: n / median(v) for k, v in seconds.items()}
    paired = [d / z for z, d in zip(seconds["seqzoo"], seconds["direct"])]
    fastest = min(seconds["direct"]) / min(seconds["seqzoo"])
    counts = {k: int(m.count_params()) for k, m in models.items()}
    row = {
        "model": name + (" (A/A control)" if control else ""),
        "params_seqzoo": counts["seqzoo"],
        "params_direct": counts["direct"],
        "params_match": counts["seqzoo"] == counts["direct"],
        "seqzoo_examples_per_s": round(eps["seqzoo"], 1),
        "direct_examples_per_s": round(eps["direct"], 1),
        "ratio": round(median(paired), 3),
        "ratio_fastest_rounds": round(fastest, 3),
        "seconds": {k: [round(s, 4) for s in v] for k, v in seconds.items()},
    }
    print(f"{row['model']:16s} params {counts['seqzoo']:>9,d} {'==' if row['params_match'] else '!='} {counts['direct']:>9,d}"
          f"  seqzoo {eps['seqzoo']:8.1f}/s  direct {eps['direct']:8.1f}/s  ratio {row['ratio']:.3f}"
          f" (fastest rounds {row['ratio_fastest_rounds']:.3f})", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK_MODELS)}; 5 rounds")
    parser.add_argument("--models", default=None, help="comma-separated models (default: all registered)")
    parser.add_argument("--reps", type=int, default=None, help="timed rounds (default: 9; --quick 5)")
    parser.add_argument("--batches", type=int, default=None, help="batches per epoch (default: 24; --quick 16)")
    parser.add_argument("--controls", default=None,
                        help="models also timed against a copy of themselves, the noise floor "
                        "(default: lstm,transformer; --quick: lstm)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=10000)
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--json", default=os.path.join(HERE, "overhead.json"))
    args = parser.parse_args(argv)
    args.reps = args.reps or (5 if args.quick else 9)
    args.controls = args.controls if args.controls is not None else ("lstm" if args.quick else "lstm,transformer")
    args.batches = args.batches or (16 if args.quick else 24)
    names = args.models.split(",") if args.models else (QUICK_MODELS if args.quick else seqzoo.list_models())
    missing = [n for n in names if n not in DIRECT]
    if missing:
        parser.error(f"no direct Keras version of {', '.join(missing)}; add one to DIRECT")
    start = time.perf_counter()
    rows = [compare(name, args) for name in names]
    controls = [compare(name, args, control=True) for name in args.controls.split(",") if name]
    wall = time.perf_counter() - start
    ratios = [r["ratio"] for r in rows]
    summary = {"min_ratio": min(ratios), "median_ratio": median(ratios), "target": 0.98,
               "all_params_match": all(r["params_match"] for r in rows),
               "control_ratios": [r["ratio"] for r in controls]}
    print(f"median ratio {summary['median_ratio']:.3f}, min {summary['min_ratio']:.3f} "
          f"(target >= 0.98); A/A controls {summary['control_ratios']}; wall {wall:.0f} s", flush=True)
    write_json(args.json, {
        "benchmark": "overhead", "date": now(), "command": command_line(), "machine": machine(),
        "settings": {k: getattr(args, k) for k in ("quick", "reps", "batches", "batch_size", "seq_len", "vocab", "embed")},
        "wall_seconds": round(wall, 1), "summary": summary, "rows": rows, "controls": controls,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
