"""The Python package's layout rules (issue 21): no import circle between its modules, and no module
over 700 lines (nor over 500 without a one-line reason at its top).

Every ``import`` of a package module counts, the ones inside functions too: a lazy import hides a
circle from Python's loader but not from a reader (``_cmdline`` -> ``_io`` -> ``_display`` ->
``_cmdline`` was one, through a function-level import). The package read is the installed one,
the one the other tests import.
"""
from __future__ import annotations

import ast
import importlib.machinery
import os
from typing import Dict, List, Optional, Set

import fprofile_jupyter

PACKAGE = "fprofile_jupyter"
ROOT = os.path.dirname(os.path.abspath(fprofile_jupyter.__file__))

def _modules(root: str = ROOT, package: str = PACKAGE) -> Dict[str, Optional[str]]:
    """Every module of the package: dotted name -> file (a package is its ``__init__.py``; None for
    the extension module, ``_core``, which imports none of the package)."""
    out: Dict[str, Optional[str]] = {}
    native = tuple(importlib.machinery.EXTENSION_SUFFIXES) + (".pyi",)
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.isfile(os.path.join(folder, d, "__init__.py"))]
        rel = os.path.relpath(folder, root)
        prefix = package if rel == "." else package + "." + rel.replace(os.sep, ".")
        for f in files:
            if f.endswith(".py"):
                name = prefix if f == "__init__.py" else f"{prefix}.{f[:-3]}"
                out[name] = os.path.join(folder, f)
            elif f.endswith(native):
                out.setdefault(f"{prefix}.{f.split('.')[0]}", None)
    return out


def _imports(name: str, path: str, modules: Dict[str, Optional[str]]) -> Set[str]:
    """The package modules ``name`` imports, anywhere in its file."""
    is_package = os.path.basename(path) == "__init__.py"
    base_parts = name.split(".") if is_package else name.split(".")[:-1]
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found: Set[str] = set()

    def add(target: str) -> None:
        if target in modules and target != name:
            found.add(target)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base_parts[: len(base_parts) - (node.level - 1)]
                target = ".".join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith(PACKAGE):
                continue
            for alias in node.names:  # `from . import _io`: the module _io, else the package itself
                sub = f"{target}.{alias.name}"
                add(sub if sub in modules else target)
    return found


def import_graph(root: str = ROOT) -> Dict[str, Set[str]]:
    modules = _modules(root)
    return {name: _imports(name, path, modules) if path else set() for name, path in modules.items()}


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import circle as ``[a, b, ..., a]``, or ``[]``."""
    state: Dict[str, int] = {}  # 1: on the path, 2: done
    path: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_package_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert not cycle, "import circle in the package: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_one(tmp_path):
    # (so that the test above would see a circle: a package of three modules importing in a ring,
    # one of them from inside a function)
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .b import x\n")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("from ..c import y\n")
    (pkg / "c.py").write_text("import fprofile_jupyter.a\n")
    graph = import_graph(str(pkg))
    assert graph[f"{PACKAGE}.a"] == {f"{PACKAGE}.sub.b"}
    assert find_cycle(graph) == [f"{PACKAGE}.a", f"{PACKAGE}.sub.b", f"{PACKAGE}.c", f"{PACKAGE}.a"]
    (pkg / "c.py").write_text("")
    assert find_cycle(import_graph(str(pkg))) == []


def test_modules_fit_in_a_head():
    over = []
    for name, path in sorted(_modules().items()):
        if path is None:
            continue
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        if len(lines) > 700:
            over.append(f"{name}: {len(lines)} lines (at most 700)")
        elif len(lines) > 500:
            head = "\n".join(lines[:12])
            if "Over 500 lines:" not in head:
                over.append(f"{name}: {len(lines)} lines, over 500 with no 'Over 500 lines: <reason>' line at its top")
    assert not over, "\n".join(over)


def _private_uses(name: str, path: str, modules: Dict[str, Optional[str]]) -> List[str]:
    """Underscore names of another package module that ``name`` uses: ``from ._x import _y`` and
    ``_x._y`` where ``_x`` is a package module it imported. The extension module's own
    (``_core._outline``: the binding's internals, declared in ``_core.pyi``) are not counted."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    is_package = os.path.basename(path) == "__init__.py"
    base_parts = name.split(".") if is_package else name.split(".")[:-1]
    bound: Dict[str, str] = {}  # local name -> package module
    found: List[str] = []

    def private(n: str) -> bool:
        return n.startswith("_") and not (n.startswith("__") and n.endswith("__"))

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = ".".join(base_parts[: len(base_parts) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target not in modules or modules[target] is None:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    bound[alias.asname or alias.name] = sub
                elif private(alias.name):
                    found.append(f"{name}: from {target} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules and alias.asname:
                    bound[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                and private(node.attr) and modules.get(bound[node.value.id]) is not None):
            found.append(f"{name}: {node.value.id}.{node.attr}")
    return found


def test_no_private_name_crosses_modules():
    modules = _modules()
    found = [use for name, path in sorted(modules.items()) if path for use in _private_uses(name, path, modules)]
    assert not found, "underscore names used outside their module:\n" + "\n".join(sorted(set(found)))
