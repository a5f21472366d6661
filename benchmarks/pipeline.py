"""Input pipeline: each recipe's real `tf.data` pipeline against the same batches held in memory.

For each recipe (IMDB, Speech Commands on FSDD, ETTh1) the recipe's own `load`
builds the training pipeline exactly as `python -m recipes.<name>` does
(`cli.parse` + `recipe.load`, op determinism on, as the runner sets
it), and the recipe's model is built and compiled by `runner.build_model`.
Two training epochs are then timed INTERLEAVED with `model.fit(..., epochs=1)`:

- `pipeline`: `data.train`, the real pipeline (shuffle, bucketing, padding,
  feature or window extraction, prefetch), a fresh epoch each time;
- `memory`: `data.train.cache()` filled once beforehand: one epoch of the
  pipeline's own batches held in memory, replayed as they are.

Both go through the same `fit` path (`tf.data` iterator inside the train
function); the ratio `pipeline / memory` of the fastest epoch times (noise on
a shared machine only adds time) is the pipeline's cost per step. Target <= 1.05. With bucketing (IMDB) every epoch
groups reviews differently, so the padded work per epoch differs a little
between the two: the ratio then carries that noise. `pipeline_alone_ms` is one
epoch of the pipeline iterated without training, per batch: how much of a
training step it could take at most.

    python benchmarks/pipeline.py --quick     # the recipes' default models, small caps, 3 rounds
    python benchmarks/pipeline.py             # + one fast model per recipe (the strictest case), 5 rounds

IMDB is capped at `--imdb-limit` training reviews (default 4,000; --quick
1,500) to keep an epoch short; the pipeline code is unchanged. Writes
`benchmarks/pipeline.json`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import DEFAULT_DATA, HERE, command_line, fit_seconds, interleaved, machine, now, write_json  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from recipes import cli, runner  # noqa: E402
from recipes.ett import EttRecipe  # noqa: E402
from recipes.imdb import ImdbRecipe  # noqa: E402
from recipes.speech_commands import SpeechCommandsRecipe  # noqa: E402

RECIPES = {
    "imdb": (ImdbRecipe, "imdb", ["hopfield"]),
    "speech_commands": (SpeechCommandsRecipe, "fsdd", ["cnn_lstm"]),
    "ett": (EttRecipe, "ett", ["lstm"]),
}


def measure(recipe_name: str, model_name: str | None, args) -> dict:
    cls, subdir, _ = RECIPES[recipe_name]
    recipe = cls()
    argv = ["--data-dir", os.path.join(args.data_dir, subdir), "--quiet"]
    if model_name:
        argv += ["--model", model_name]
    if recipe_name == "imdb":
        argv += ["--limit", str(args.imdb_limit)]
    flags = cli.parse(recipe, argv)  # the model-dependent defaults resolved, as the command line does
    recipe.check_args(flags)
    keras.utils.clear_session()
    keras.utils.set_random_seed(flags.seed)
    tf.config.experimental.enable_op_determinism()
    start = time.perf_counter()
    data = recipe.load(flags)
    load_seconds = time.perf_counter() - start
    hparams = runner.resolve_hyperparameters(recipe, flags.model, {})
    model = runner.build_model(recipe, flags, data, hparams, tf.distribute.get_strategy())
    memory = data.train.cache()
    steps = sum(1 for _ in memory)  # fills the cache: one epoch of the pipeline's batches
    sources = {"pipeline": data.train, "memory": memory}
    seconds = interleaved({k: (lambda d=d: fit_seconds(model, d)) for k, d in sources.items()}, args.reps)
    start = time.perf_counter()
    produced = sum(1 for _ in data.train)  # the pipeline alone, no training: its own cost per batch
    alone_ms = 1000 * (time.perf_counter() - start) / max(produced, 1)
    step = {k: min(v) / steps for k, v in seconds.items()}  # noise only adds time: fastest round
    row = {
        "recipe": recipe_name,
        "model": flags.model,
        "command_flags": " ".join(argv),
        "steps_per_epoch": steps,
        "batch_size": flags.batch_size,
        "load_seconds": round(load_seconds, 1),
        "pipeline_step_ms": round(1000 * step["pipeline"], 2),
        "memory_step_ms": round(1000 * step["memory"], 2),
        "ratio": round(step["pipeline"] / step["memory"], 3),
        "pipeline_alone_ms_per_batch": round(alone_ms, 2),
        "seconds": {k: [round(s, 3) for s in v] for k, v in seconds.items()},
    }
    print(f"{recipe_name:16s} {flags.model:12s} {steps:4d} steps  pipeline {row['pipeline_step_ms']:8.2f} ms/step"
          f"  memory {row['memory_step_ms']:8.2f} ms/step  ratio {row['ratio']:.3f}"
          f"  (pipeline alone {alone_ms:.2f} ms/batch)", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="default models only, 3 rounds, IMDB capped at 1,500")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated (default: %(default)s)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA, help="folder with imdb/, fsdd/, ett/ (default: %(default)s)")
    parser.add_argument("--reps", type=int, default=None, help="timed rounds (default: 5; --quick 3)")
    parser.add_argument("--imdb-limit", type=int, default=None, help="IMDB training reviews (default: 4000; --quick 1500)")
    parser.add_argument("--json", default=os.path.join(HERE, "pipeline.json"))
    args = parser.parse_args(argv)
    args.reps = args.reps or (3 if args.quick else 5)
    args.imdb_limit = args.imdb_limit or (1500 if args.quick else 4000)
    names = [r.strip() for r in args.recipes.split(",") if r.strip()]
    bad = [n for n in names if n not in RECIPES]
    if bad:
        parser.error(f"unknown recipe {', '.join(bad)}; choose from {', '.join(RECIPES)}")
    start = time.perf_counter()
    rows = []
    for name in names:
        for model in [None, *([] if args.quick else RECIPES[name][2])]:
            rows.append(measure(name, model, args))
    wall = time.perf_counter() - start
    worst = max(r["ratio"] for r in rows)
    print(f"worst ratio {worst:.3f} (target <= 1.05); wall {wall:.0f} s", flush=True)
    write_json(args.json, {
        "benchmark": "pipeline", "date": now(), "command": command_line(), "machine": machine(),
        "settings": {"quick": args.quick, "reps": args.reps, "imdb_limit": args.imdb_limit},
        "wall_seconds": round(wall, 1), "summary": {"worst_ratio": worst, "target": 1.05}, "rows": rows,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
