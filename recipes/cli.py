"""The recipes' command line: flags -> a typed config (`recipes.config`) -> a run or a `--tune` search.

Each recipe module ends with

    if __name__ == "__main__":
        sys.exit(main(MyRecipe()))

`main` parses the flags (`build_parser`: the shared flags, the recipe's own
group, the search group of `recipes.tuning`), fills the recipe's config
dataclass (`parse`: defaults < `config_by_model[model]` < the flags given) and
hands it to `recipes.runner.run` or, with `--tune`, to `recipes.tuning.run`.
This module imports both; neither imports it (no import circle).

Bad input: one line `<prog>: error: ... (see --help)` on stderr, exit code 2,
nothing written.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Sequence

from recipes import config as run_config
from recipes import flags, runner, tuning
from recipes.data import DataError
from recipes.rundir import UsageError
from seqzoo import distribute

__all__ = ["build_parser", "main", "parse"]


def build_parser(recipe: runner.Recipe) -> argparse.ArgumentParser:
    """The command-line parser: the shared flags, the recipe's own group, the search flags.

    Every flag's `dest` is a field of `recipe.config_class`; the help shows the
    dataclass defaults (and `config_by_model`'s exceptions where a flag's help asks).
    """
    parser = flags.Parser(
        prog=f"python -m recipes.{recipe.name}",
        description=recipe.description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Rerun the same command with the same --out to resume an interrupted run.\n"
            "Hyperparameters of a model: python -m seqzoo info MODEL.\n"
            "Exit codes: 0 done, 2 bad input (nothing written), 130 interrupted (resumable)."
        ),
    )
    shared = parser.add_argument_group("shared flags (every recipe)")
    shared.add_argument("--model", help="any registered seqzoo model (default: %(default)s)")
    shared.add_argument("--epochs", type=flags.positive_int,
                        help="training epochs " + recipe.default_text("epochs"))
    shared.add_argument("--batch-size", type=flags.positive_int,
                        help="GLOBAL batch size, split across the strategy's replicas "
                        + recipe.default_text("batch_size"))
    shared.add_argument("--learning-rate", type=flags.positive_float,
                        help="Adam learning rate " + recipe.default_text("learning_rate"))
    shared.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="model hyperparameter or embed_dim/token_dropout/normalize/linear_skip, repeatable, "
                        "e.g. --set units=128 --set dropout=0.2 (values: int, float, "
                        "true/false, none, or text)")
    shared.add_argument("--data-dir", help="local copy of the data (layouts: see below); default: download")
    shared.add_argument("--out", help="run directory (default: runs/<recipe>-<model>-<timestamp>)")
    shared.add_argument("--overwrite", action="store_true",
                        help="start over in an --out that holds a run (complete or not); removes only the run's own files")
    shared.add_argument("--seed", type=flags.seed,
                        help="random seed for splits, shuffling and weights (default: %(default)s)")
    shared.add_argument("--no-determinism", action="store_true",
                        help="skip tf.config.experimental.enable_op_determinism (faster on GPU; "
                        "runs are then not bit-for-bit repeatable)")
    shared.add_argument("--limit", type=flags.positive_int, metavar="N",
                        help="cap the examples of every split at N (smoke runs)")
    shared.add_argument("--strategy", choices=distribute.STRATEGIES,
                        help="tf.distribute strategy (default: %(default)s: mirrored on "
                        "several GPUs, else default)")
    shared.add_argument("--mixed-precision", action="store_true",
                        help="mixed precision (float16 on GPU, bfloat16 on CPU/TPU)")
    shared.add_argument("--quiet", action="store_true", help="no progress bar or summary; errors only")
    recipe.add_arguments(parser.add_argument_group(f"{recipe.name} flags"))
    tuning.add_arguments(parser)
    # The defaults live in the config dataclass; argparse shows them in --help only.
    parser.set_defaults(**run_config.defaults(recipe.config_class))
    return parser


_UNSET = object()  # a flag that was not given


def parse(recipe: runner.Recipe, argv: Sequence[str],
          parser: argparse.ArgumentParser | None = None) -> run_config.RunConfig:
    """`argv` -> `recipe.config_class`: its defaults < `recipe.config_by_model[model]` < the flags given.

    Bad flags exit 2 with one line (argparse). A flag without a config field, or
    a field without a flag, is the recipe author's mistake (`TypeError`).

    Example:

    >>> from recipes.imdb import ImdbRecipe
    >>> parse(ImdbRecipe(), ["--model", "hopfield"]).ngrams  # doctest: +SKIP
    2
    """
    cls = recipe.config_class
    parser = parser or build_parser(recipe)
    lists = {k for k, v in run_config.defaults(cls).items() if isinstance(v, list)}
    # Prefilled names are not given their argparse default, so the ones still _UNSET were not given.
    prefill = {name: [] if name in lists else _UNSET for name in run_config.flag_names(cls)}
    namespace = parser.parse_args(list(argv), namespace=argparse.Namespace(**prefill))
    dests = {a.dest for a in parser._actions if argparse.SUPPRESS not in (a.dest, a.default)}  # noqa: SLF001
    stray, missing = sorted(dests - set(prefill)), sorted(set(prefill) - dests)
    if stray or missing:
        raise TypeError(f"recipes.{recipe.name}: the flags and {cls.__name__} disagree: "
                        + "; ".join(([f"flags without a field: {', '.join(stray)}"] if stray else [])
                                    + ([f"fields without a flag: {', '.join(missing)}"] if missing else []))
                        + "; declare each option once as a field and once as a flag with dest=<field>")
    given = {k: v for k, v in vars(namespace).items() if v is not _UNSET and not (k in lists and v == [])}
    return run_config.resolve(cls, given, recipe.config_by_model, recipe_name=recipe.name)


def main(recipe: runner.Recipe, argv: Sequence[str] | None = None) -> int:
    """Run `recipe` with command-line `argv` (default `sys.argv[1:]`); returns the exit code.

    Example:

    >>> from recipes.imdb import ImdbRecipe
    >>> main(ImdbRecipe(), ["--data-dir", "data/imdb", "--limit", "256", "--epochs", "1"])  # doctest: +SKIP
    0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.getLogger("absl").setLevel(logging.ERROR)  # TFDS's absl warnings are not for users
    parser = build_parser(recipe)
    try:
        config = parse(recipe, argv, parser)
        if tuning.requested(config):  # --tune: search, then train the best (recipes/tuning.py)
            tuning.run(recipe, config, argv)
        else:
            runner.run(recipe, config, argv)
    except (UsageError, DataError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; rerun the same command to resume from the last finished epoch",
              file=sys.stderr)
        return 130
    return 0
