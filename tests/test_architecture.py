"""The package's shape, read statically: no import cycle, the layering of cli/ and benchmarks/, module sizes.

Every ``import`` in src/proxymat counts, at module level and inside functions
alike (a function-local import still runs, only later); imports under
``if TYPE_CHECKING:`` do not run and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "proxymat"
MAX_LINES = 500
OVERSIZED: set[str] = set()  # modules being split; a name must leave once its module is at most MAX_LINES long


def module_name(path: Path) -> str:
    """``src/proxymat/a/b.py`` -> ``proxymat.a.b``; a package's ``__init__.py`` -> the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree`` except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _owner(name: str) -> str | None:
    """The longest prefix of the dotted ``name`` that is one of our modules."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, source: str) -> set[str]:
    """Our modules that the module ``name`` with this ``source`` imports (resolved, relative ones included)."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            candidates = [f"{base}.{alias.name}" for alias in node.names]  # a submodule, or a name in ``base``
        for candidate in candidates:
            owner = _owner(candidate)
            if owner and owner != name:
                targets.add(owner)
    return targets


def import_graph() -> dict[str, set[str]]:
    return {name: imports_of(name, path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


# ------------------------------------------------------------------ the walker itself
def test_the_walker_resolves_relative_absolute_and_function_local_imports():
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "import torch\n"
        "from ..io import read_image\n"
        "from . import model\n"
        "if TYPE_CHECKING:\n"
        "    from ..graph import Graph\n"
        "def f():\n"
        "    import proxymat.render\n"
        "    from ..nodes.generators import get_generator\n"
    )
    assert imports_of("proxymat.proxy.weights", source) == {
        "proxymat.io", "proxymat.proxy.model", "proxymat.render", "proxymat.nodes.generators"}
    assert imports_of("proxymat.proxy", "from .weights import load_proxy\nfrom . import train\n") == {
        "proxymat.proxy.weights", "proxymat.proxy.train"}


def test_the_cycle_finder_finds_a_cycle_and_only_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


# ------------------------------------------------------------------ the package
def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_only_the_cli_imports_the_cli():
    wrong = sorted(f"{m} imports {t}" for m, ts in import_graph().items() for t in ts
                   if _inside(t, "proxymat.cli") and not _inside(m, "proxymat.cli"))
    assert wrong == []


def test_the_core_never_imports_the_benchmarks():
    outside = ("proxymat.cli", "proxymat.benchmarks")
    wrong = sorted(f"{m} imports {t}" for m, ts in import_graph().items() for t in ts
                   if _inside(t, "proxymat.benchmarks") and not any(_inside(m, p) for p in outside))
    assert wrong == []


def test_no_module_over_the_line_limit():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    too_long = sorted(f"{name}: {n} lines" for name, n in sizes.items() if n > MAX_LINES and name not in OVERSIZED)
    assert too_long == []


@pytest.mark.parametrize("name", sorted(OVERSIZED))
def test_the_oversized_list_only_names_modules_still_over_the_limit(name):
    assert name in MODULES, f"{name} is gone: remove it from OVERSIZED"
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines > MAX_LINES, f"{name} is down to {lines} lines: remove it from OVERSIZED"


def test_only_the_graph_module_reads_its_private_node_specs():
    """Other modules ask a graph for a node's spec through ``Graph.node_spec``, not the private ``_spec``."""
    wrong = sorted(name for name, path in MODULES.items()
                   if name != "proxymat.graph" and "._spec(" in path.read_text(encoding="utf-8"))
    assert wrong == []


SAMPLE_BOX_READERS = {"proxymat.param_space", "proxymat.proxy.batch_cache"}  # the batch cache hashes it into its key


def _attribute_reads(tree: ast.AST, attr: str) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == attr for n in ast.walk(tree))


def _calls(tree: ast.AST, names: set[str]) -> bool:
    def name(f: ast.expr) -> str:
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    return any(isinstance(n, ast.Call) and name(n.func) in names for n in ast.walk(tree))


def test_parameters_as_a_vector_in_a_box_live_in_the_param_space():
    """Proxy sampling, E4's box, the gradient-free layout and the optimizer's sampling boxes ask a
    ``ParamSpace``: no other module reads a generator's ``sample_box`` or builds a ``Layout`` or ``Box``."""
    trees = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}
    readers = sorted(n for n, t in trees.items() if n not in SAMPLE_BOX_READERS and _attribute_reads(t, "sample_box"))
    builders = sorted(n for n, t in trees.items() if n != "proxymat.param_space" and _calls(t, {"Layout", "Box"}))
    assert readers == [] and builders == []
