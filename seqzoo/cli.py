"""The `seqzoo` terminal command: `seqzoo list [PATTERN]`, `seqzoo info NAME`.

Exit codes: 0 on success, 2 on bad input (unknown model, no match).
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from seqzoo._quiet import import_keras_quietly


def _table(rows: list[list[str]], headers: list[str], wraps: list[int]) -> str:
    """A plain-text table; column `i` is wrapped at `wraps[i]` characters."""
    wrapped = []
    for row in rows:
        cells = [textwrap.wrap(cell, wrap) or [""] for cell, wrap in zip(row, wraps)]
        height = max(len(c) for c in cells)
        wrapped.append([[c[i] if i < len(c) else "" for c in cells] for i in range(height)])
    widths = [len(h) for h in headers]
    for block in wrapped:
        for line in block:
            widths = [max(w, len(cell)) for w, cell in zip(widths, line)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*headers).rstrip(), fmt.format(*["-" * w for w in widths])]
    for block in wrapped:
        out.extend(fmt.format(*line).rstrip() for line in block)
    return "\n".join(out)


def cmd_list(args: argparse.Namespace) -> int:
    from seqzoo import registry

    entries = registry.entries(args.pattern)
    if not entries:
        print(f"seqzoo: no model matches {args.pattern!r} (try 'seqzoo list')", file=sys.stderr)
        return 2
    rows = [[str(e.year), e.name, e.family, e.authors, e.solved] for e in entries]
    print(_table(rows, ["year", "name", "family", "authors", "what it solved"], [4, 16, 10, 34, 60]))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from seqzoo.model_info import info
    from seqzoo.registry import UnknownModelError

    try:
        print(info(args.name))
    except UnknownModelError as error:
        print(f"seqzoo: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seqzoo", description="The seqzoo model zoo.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the timeline of registered models as a table")
    listing.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. '*lstm*'")
    listing.set_defaults(run=cmd_list)
    card = commands.add_parser("info", help="history and hyperparameters of one model")
    card.add_argument("name")
    card.set_defaults(run=cmd_info)
    args = parser.parse_args(argv)
    import_keras_quietly()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
