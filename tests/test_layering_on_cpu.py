"""The package's layers: leaves import no verl and no compose-time checks; no import cycles;
the plugin never imports the lab.

``siri_verl/errors.py`` is the leaf every module validates with; the pure modules (the
schedule, the InftyThink protocol and settings, the reward shaping) must stay importable
without verl and without ``siri_verl.checks``, which imports them. Cycles are counted over
every import a module can run, those inside functions included (a lazy import that dodges a
cycle at import time is still a cycle of the design); only an ``if TYPE_CHECKING:`` block is
left out, since it never runs. The lab (``siri_verl/lab/``) sits on top: it reaches the plugin's
registries through the ``siri_verl.catalogues`` entry points, and no plugin module imports it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from _repo import REPO

PACKAGE = REPO / "siri_verl"

PURE_MODULES = (
    "siri_verl.errors",
    "siri_verl.project_settings",
    "siri_verl.siri.schedule",
    "siri_verl.siri.overlong",
    "siri_verl.inftythink.protocol",
    "siri_verl.inftythink.shaping",
    "siri_verl.inftythink.settings",
)
FORBIDDEN = ("verl", "siri_verl.checks")


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_neither_verl_nor_the_checks(module):
    probe = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    pulled = [name for name in loaded if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]
    assert not pulled, f"importing {module} imported {pulled[:5]}"


def test_errors_is_a_leaf_of_the_standard_library():
    tree = ast.parse((PACKAGE / "errors.py").read_text())
    imported = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _import_nodes(tree: ast.AST):
    """Every import statement anywhere in ``tree`` (functions and classes included), except
    under ``if TYPE_CHECKING:`` (its ``else:`` branch runs and counts)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif _is_type_checking_block(node):
            for child in node.orelse:
                yield from _import_nodes(ast.Module(body=[child], type_ignores=[]))
        else:
            yield from _import_nodes(node)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The siri_verl modules ``path`` imports anywhere (``from pkg import mod`` counts as mod)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        else:
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    resolved = set()
    for target in found:
        while target and target not in modules:  # a name inside a module: the module
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


def _import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    graph = {_module_name(path): _imports(path, modules) for path in paths}
    for module in modules:  # importing a.b.c runs a/__init__ and a/b/__init__ first
        parent = module.rpartition(".")[0]
        while parent:
            graph[module].add(parent)
            parent = parent.rpartition(".")[0]
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` re-exporting its children is not a cycle: drop child -> parent edges."""
    return {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}


def test_no_import_cycles_among_siri_verl_modules():
    cycles = _cycles(_without_package_inits(_import_graph()))
    assert not cycles, "import cycles (lazy imports included):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_imports_inside_functions_count_and_type_checking_blocks_do_not():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from siri_verl import b\nelse:\n    import siri_verl.c\n"
        "def f():\n    from siri_verl.d import thing\n"
        "class K:\n    def g(self):\n        import siri_verl.e\n"
    )
    names = set()
    for node in _import_nodes(tree):
        names |= {node.module} if isinstance(node, ast.ImportFrom) else {alias.name for alias in node.names}
    assert names == {"typing", "siri_verl.c", "siri_verl.d", "siri_verl.e"}


def test_no_plugin_module_imports_the_lab():
    """The lab (siri_verl/lab/) is the toy study's: a cluster user's plugin must not need it.
    It registers its assets and backend through the ``siri_verl.catalogues`` entry points."""
    graph = _import_graph()
    offenders = {
        module: sorted(t for t in targets if t == "siri_verl.lab" or t.startswith("siri_verl.lab."))
        for module, targets in graph.items()
        if not (module == "siri_verl.lab" or module.startswith("siri_verl.lab."))
    }
    offenders = {module: targets for module, targets in offenders.items() if targets}
    assert not offenders, f"plugin modules importing the lab: {offenders}"


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_file_name_is_unique_in_the_package():
    """One name, one file: ``schedule.py`` means one module wherever it is cited (a package's
    ``__init__.py`` and ``__main__.py`` are the exceptions Python makes)."""
    by_name: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name not in ("__init__.py", "__main__.py"):
            by_name.setdefault(path.name, []).append(str(path.relative_to(PACKAGE.parent)))
    repeated = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert not repeated, f"file names used more than once: {repeated}"
