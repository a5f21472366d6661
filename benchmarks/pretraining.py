"""Pre-train, then fine-tune on IMDB: the from-scratch against pretrained table (issue 16).

For each model: one `recipes.pretrain` run on `unsup.csv` + `train.csv` (the
held-out perplexity or masked-token accuracy and the pre-training wall time),
then `recipes.imdb --init` from it, once per seed (test accuracy on the 25,000
test reviews), next to the from-scratch rows of `accuracy.json` (same recipe
defaults, no `--init`). Every row is a recipe command as a user types it, and a
run directory that holds a complete run is read, not retrained (`--rerun`), so
an interrupted benchmark continues where it stopped; `recipes.pretrain` itself
resumes an unfinished run from its last epoch.

    python benchmarks/pretraining.py --models lstm --seeds 42,1,2
    python benchmarks/pretraining.py --models bert,gpt --scratch   # + from scratch at the same 512 tokens
    python benchmarks/pretraining.py --quick                 # smoke: 300 documents, 1 epoch each

What each model pre-trains on (`PLAN`): recurrent models read windows of 128
tokens from the whole corpus (one epoch); bert and gpt learn their position
embeddings only up to the pre-training `--seq-len`, and `--init` refuses longer
reviews, so they pre-train and fine-tune at 512 tokens (batches of 16 windows:
the same 8,192 tokens a step) on a `--limit` of the documents that fits the
2-core budget. Writes `benchmarks/pretraining.json`, merged by run label.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accuracy  # noqa: E402
from _common import DEFAULT_DATA, HERE, ROOT  # noqa: E402

# model -> (pre-training flags, fine-tuning flags); chosen for the time budget, not tuned on test.
PLAN: dict[str, tuple[list[str], list[str]]] = {
    "lstm": ([], []),
    "gru": ([], []),
    "bert": (["--seq-len", "512", "--batch-size", "16", "--limit", "30000"], ["--seq-len", "512"]),
    "gpt": (["--seq-len", "512", "--batch-size", "16", "--limit", "20000"], ["--seq-len", "512"]),
}
QUICK = (["--limit", "300", "--epochs", "1"], ["--limit", "300", "--epochs", "1"])


def planned(models: list[str], seeds: list[int], quick: bool, runs_dir: str,
            scratch: bool = False) -> list[tuple[str, str, list[str]]]:
    """(label, module, extra argv): each model's pre-training run, then its fine-tuning runs;
    with `scratch`, also the same fine-tuning runs without `--init` (`imdb-M-scratch`) for the
    models whose fine-tuning flags differ from the recipe's defaults (the others' from-scratch
    rows are the recipe defaults of `accuracy.py`)."""
    out = []
    for model in models:
        pre, fine = PLAN[model]
        if quick:
            pre, fine = [*pre, *QUICK[0]], [*fine, *QUICK[1]]
        suffix = "-quick" if quick else ""
        pre_label = f"pretrain-{model}{suffix}"
        out.append((pre_label, "recipes.pretrain", ["--model", model, *pre]))
        init = ["--init", os.path.join(runs_dir, pre_label)]
        out += accuracy.seeded([(f"imdb-{model}-init{suffix}", "recipes.imdb", ["--model", model, *init, *fine])], seeds)
        if scratch and PLAN[model][1]:
            out += accuracy.seeded([(f"imdb-{model}-scratch{suffix}", "recipes.imdb", ["--model", model, *fine])], seeds)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lstm,bert,gpt", help="comma-separated, from: " + ", ".join(PLAN))
    parser.add_argument("--seeds", default="42", help="fine-tuning seeds (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="300 documents, 1 epoch: a smoke run, not a result")
    parser.add_argument("--data-dir", default=DEFAULT_DATA, help="folder with imdb/ (default: %(default)s)")
    parser.add_argument("--runs-dir", default=os.path.join(ROOT, "runs", "benchmarks"),
                        help="where the run directories go (default: %(default)s)")
    parser.add_argument("--scratch", action="store_true",
                        help="also fine-tune without --init at the same flags (bert, gpt: 512 tokens)")
    parser.add_argument("--rerun", action="store_true", help="train again even where a complete run exists")
    parser.add_argument("--json", default=os.path.join(HERE, "pretraining.json"))
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in PLAN]
    if unknown:
        parser.error(f"--models: no plan for {', '.join(unknown)}; choose from {', '.join(PLAN)}")
    try:
        seeds = [int(v) for v in args.seeds.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r}: expected comma-separated integers, e.g. 42,1,2")
    start = time.perf_counter()
    rows = []
    for label, module, extra in planned(models, seeds, args.quick, args.runs_dir, args.scratch):
        rows.append(accuracy.run_one(label, module, extra, args))
        if "error" in rows[-1] and module == "recipes.pretrain":
            break  # nothing to fine-tune from
    wall = round(time.perf_counter() - start, 1)
    return accuracy.write_rows(args.json, rows, wall, benchmark="pretraining")


if __name__ == "__main__":
    sys.exit(main())
