"""The command line: `python -m recipes.history [--quick] [--models ...] [--claims ...] [--seed N] [--out DIR]`.

argparse fills a typed `HistorySettings` (`check_args`); bad flags and output folders get the
recipes' one-line errors (`recipes.rundir.UsageError`, exit code 2) and nothing is written.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import warnings
from typing import Sequence

import tensorflow as tf

from recipes.history.claims import ALL_CLAIMS, CLAIMS, DEFAULT_MODELS, run
from recipes.flags import Parser
from recipes.history.config import HistorySettings
from recipes.rundir import UsageError
from seqzoo import registry

PROG = "python -m recipes.history"


def _claim_numbers() -> str:
    numbers = sorted(CLAIMS)
    contiguous = numbers == list(range(numbers[0], numbers[-1] + 1))
    return f"{numbers[0]}-{numbers[-1]}" if contiguous else ",".join(map(str, numbers))


def build_parser() -> argparse.ArgumentParser:
    """The parser of `python -m recipes.history` (one-line errors, exit code 2)."""
    claims = "\n".join(f"  {n}. {c.title}" for n, c in CLAIMS.items())
    uses = "\n".join(f"  {n}  {c.uses}" for n, c in CLAIMS.items())
    parser = Parser(
        prog=PROG,
        description="Generate the classic diagnostic tasks and measure the history's claims on the "
        "registered architectures (no data, no download).",
        epilog=f"claims:\n{claims}\n\n"
        "which models each claim uses (from --models; roles come from the registry's tags and variant_of, "
        "see python -m seqzoo info MODEL):\n"
        f"{uses}\n"
        "A claim whose models are missing is reported as 'not measured'.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short lengths and budgets (~3 min on 2 cores)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help=f"comma-separated registered models (default: {','.join(DEFAULT_MODELS)})")
    parser.add_argument("--claims", default=",".join(map(str, ALL_CLAIMS)),
                        help=f"comma-separated claim numbers {_claim_numbers()} (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")
    parser.add_argument("--out", default=None, help="run directory (default runs/history-<timestamp>)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def _parse_list(text: str, flag: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise UsageError(f"{flag} is empty; give a comma-separated list")
    return list(dict.fromkeys(items))


def check_args(args: argparse.Namespace) -> HistorySettings:
    """The parsed flags as `HistorySettings`; raise `UsageError` (one line) on bad input. Reads only."""
    models = _parse_list(args.models, "--models")
    for m in models:
        try:
            registry.get(m)
        except registry.UnknownModelError as error:
            raise UsageError(f"--models: {error}") from None
    claims = []
    for c in _parse_list(args.claims, "--claims"):
        if not c.isdigit() or int(c) not in CLAIMS:
            raise UsageError(f"--claims {c!r} is not a claim number; choose from {_claim_numbers()}, "
                             "e.g. --claims 1,2")
        claims.append(int(c))
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed} must be >= 0")
    out = args.out or os.path.join("runs", "history-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} is a file; choose a directory")
    if os.path.isdir(out) and os.listdir(out):
        raise UsageError(f"--out {out} is not empty; choose a new directory (nothing is overwritten)")
    return HistorySettings(models=tuple(models), claims=tuple(claims), out=out, seed=args.seed,
                           quick=args.quick, quiet=args.quiet)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `python -m recipes.history` with `argv` (default `sys.argv[1:]`); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = check_args(args)
    except UsageError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    # Dozens of small models are built and traced on purpose: hide TF's retracing notes
    # and Keras' "shuffle ignored for a tf.data.Dataset" warning (the data is fresh anyway).
    tf.get_logger().setLevel("ERROR")
    warnings.filterwarnings("ignore", message=".*shuffle=True.*")
    argv = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join(["python", "-m", "recipes.history", *argv])
    log = (lambda message: None) if settings.quiet else (lambda message: print(message, flush=True))
    out = settings.out
    log(f"history: {'quick' if settings.quick else 'full'} run of claims {list(settings.claims)} on "
        f"{', '.join(settings.models)} -> {out}")
    results = run(settings.sizes, out, models=list(settings.models), claims=list(settings.claims),
                  seed=settings.seed, command=command, log=log)
    for key in sorted(results["claims"]):
        claim = results["claims"][key]
        log(f"claim {key}: {claim['verdict']:13s} {claim['title']}")
    log(f"wall {results['seconds']['wall']:.0f} s, CPU {results['seconds']['cpu']:.0f} s; report: "
        f"{os.path.join(out, 'report.md')}")
    return 0
