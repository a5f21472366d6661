"""The import graph between the modules of seqzoo/ and recipes/, its cycles and the largest modules.

    python benchmarks/import_graph.py            # edges, cycles, sizes
    python benchmarks/import_graph.py --check    # exit 1 if there is a cycle

Reads the source with `ast` (imports nothing). An edge `a -> b` is an `import`
in `a` of module `b` (`from pkg import sub` counts as an edge to `pkg.sub`
when that is a module; importing a submodule also runs its package's
`__init__`, which is not drawn). Imports inside functions are *deferred*
(marked `~>`): they still count for cycles, since they run whenever that
function does. Registration by name (`importlib.import_module("seqzoo.models")`
in the registry) is not an import statement and is not drawn: it is the one
intended circle (the registry loads the models, the models register
themselves with the registry).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("seqzoo", "recipes")


def modules(root: str = ROOT) -> dict[str, str]:
    """`{dotted module name: path}` for every .py file of the packages."""
    found = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(root, package)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, root)[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found[".".join(parts)] = path
    return found


def _target(name: str, known: dict[str, str]) -> str | None:
    """The known module `name` refers to (itself, or the closest enclosing known module)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def edges(root: str = ROOT) -> dict[tuple[str, str], bool]:
    """`{(importer, imported): deferred}`; deferred = only inside a function body."""
    known = modules(root)
    found: dict[tuple[str, str], bool] = {}
    for module, path in known.items():
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        for node, deferred in _imports(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative import
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{alias.name}" for alias in node.names] + [base]
            targets = {_target(n, known) for n in names if n.split(".")[0] in PACKAGES}
            if isinstance(node, ast.ImportFrom) and len(targets) > 1:
                targets.discard(_target(names[-1], known))  # `from pkg import sub`: the submodule only
            for target in targets - {None, module}:
                key = (module, target)
                found[key] = found.get(key, True) and deferred
    return found


def _imports(tree: ast.AST):
    """Every import node with whether it sits inside a function."""
    def walk(node, deferred):
        for child in ast.iter_child_nodes(node):
            inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, deferred
            yield from walk(child, inner)
    yield from walk(tree, False)


def cycles(graph: dict[tuple[str, str], bool]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    adjacent: dict[str, list[str]] = {}
    for a, b in graph:
        adjacent.setdefault(a, []).append(b)
        adjacent.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in adjacent[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(adjacent):
        if v not in index:
            visit(v)
    return sorted(result)


def sizes(root: str = ROOT) -> list[tuple[int, str]]:
    """`(lines, module)`, largest first."""
    result = []
    for module, path in modules(root).items():
        with open(path) as handle:
            result.append((sum(1 for _ in handle), module))
    return sorted(result, reverse=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the graph has a cycle")
    parser.add_argument("--top", type=int, default=10, help="largest modules to list (default 10)")
    args = parser.parse_args(argv)
    graph = edges()
    if not args.check:
        print("edges (a -> b: a imports b; ~> only inside a function):")
        for (a, b), deferred in sorted(graph.items()):
            if not a.startswith("seqzoo.models.") and not a.startswith("seqzoo.layers."):
                print(f"  {a} {'~>' if deferred else '->'} {b}")
        print(f"  (+ {sum(1 for a, _ in graph if a.startswith(('seqzoo.models.', 'seqzoo.layers.')))} "
              "edges from seqzoo.models.* and seqzoo.layers.*)")
        print("largest modules (lines):")
        for lines, module in sizes()[: args.top]:
            print(f"  {lines:6d}  {module}")
    found = cycles(graph)
    print("cycles:", "none" if not found else "")
    for component in found:
        print("  " + " <-> ".join(component))
    return 1 if (found and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
