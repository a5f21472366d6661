"""The import graph of seqzoo/ and recipes/ has no cycle (benchmarks/import_graph.py reads it with ast)."""

from __future__ import annotations

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("import_graph", os.path.join(ROOT, "benchmarks", "import_graph.py"))
import_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_graph)



def test_the_packages_have_no_import_cycle():
    graph = import_graph.edges()
    assert ("seqzoo.tuning", "seqzoo._compat") in graph and ("recipes.history.cli", "recipes.flags") in graph
    # the command line imports the runner and the search; they do not import it or each other's back
    assert {("recipes.cli", "recipes.runner"), ("recipes.cli", "recipes.tuning"), ("recipes.tuning", "recipes.runner")} <= set(graph)
    assert ("recipes.runner", "recipes.tuning") not in graph and ("recipes.runner", "recipes.cli") not in graph
    assert import_graph.cycles(graph) == []


def test_the_cycle_finder_sees_deferred_imports(tmp_path):
    pkg = tmp_path / "seqzoo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from seqzoo import b\n")
    (pkg / "b.py").write_text("def f():\n    from seqzoo.c import g\n")
    (pkg / "c.py").write_text("import seqzoo.a\nimport os\n")
    graph = import_graph.edges(str(tmp_path))
    assert graph == {("seqzoo.a", "seqzoo.b"): False, ("seqzoo.b", "seqzoo.c"): True, ("seqzoo.c", "seqzoo.a"): False}
    assert import_graph.cycles(graph) == [["seqzoo.a", "seqzoo.b", "seqzoo.c"]]
    (pkg / "c.py").write_text("import os\n")
    assert import_graph.cycles(import_graph.edges(str(tmp_path))) == []
