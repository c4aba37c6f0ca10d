"""Layering of ``src/ganforge`` (DESIGN.md): no import cycles between modules, no import that runs
against the flow, no module over 450 lines.

The graph is read from the source with ``ast``, nothing is imported. One node per module (a
package is its ``__init__``); an edge ``a -> b`` for every import in ``a`` of ganforge module
``b``, relative or absolute, at the top or inside a function. Imports under ``if TYPE_CHECKING:``
are left out: they never run. Importing ``ganforge.x.y`` also runs ``ganforge/x/__init__.py``;
that implied edge is left out too, so a cycle here is one between the modules' own code.

The checker is tested first on small fake packages, so that a passing layering test means a
clean tree and not a blind checker.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ganforge"
MAX_LINES = 450

# (packages that import, package they must not import): metrics/, data/ and models/ sit below
# train/, and train/ below report/.
AGAINST_FLOW = [
    (("ganforge.metrics", "ganforge.data", "ganforge.models"), "ganforge.train"),
    (("ganforge.train",), "ganforge.report"),
]


# ---------------------------------------------------------------------------------------------
# The checker


def find_modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file for every ``.py`` under the package directory ``root``; a package's
    name maps to its ``__init__.py``. ``root``'s own name is the top-level package."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING`` (any ``<name>.TYPE_CHECKING``)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import / ImportFrom in ``tree``, at any depth, except in the body of an
    ``if TYPE_CHECKING:`` (its ``else:`` does run, and is kept)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def _known(name: str, modules: dict) -> str | None:
    """``name`` if it is a module, else its longest prefix that is (``a.b.attr`` -> ``a.b``)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return None


def import_targets(module: str, node: ast.Import | ast.ImportFrom, modules: dict) -> set[str]:
    """The package modules that one import statement in ``module`` loads."""
    top = module.split(".")[0]
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:  # relative: up from the module's package, one level per dot after the first
            package = module if modules[module].name == "__init__.py" else module.rpartition(".")[0]
            parts = package.split(".")
            if node.level - 1 >= len(parts):
                raise ValueError(f"{module}: relative import beyond the top-level package")
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            base = f"{base}.{node.module}" if node.module else base
        else:
            base = node.module or ""
        # ``from pkg import x``: x is a submodule if there is one, else a name in pkg
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    out = set()
    for name in names:
        if name == top or name.startswith(top + "."):
            target = _known(name, modules)
            if target is not None and target != module:
                out.add(target)
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports (see the module docstring for what counts)."""
    modules = find_modules(root)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = set()
        for node in _import_nodes(tree):
            graph[name] |= import_targets(name, node, modules)
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules, as a path ``[a, b, ..., a]`` (the
    shortest one through the group's first module in sorted order); groups in sorted order."""
    reach = {m: _reachable(graph, m) for m in graph}
    groups, done = [], set()
    for m in sorted(graph):
        if m in done or m not in reach[m]:
            continue
        group = {n for n in reach[m] if m in reach[n]}
        done |= group
        groups.append(group)
    cycles = []
    for group in groups:
        start = min(group)
        prev, todo = {}, deque([start])
        while todo and start not in prev:  # breadth first within the group, back to start
            cur = todo.popleft()
            for nxt in sorted(graph[cur] & group):
                if nxt not in prev:
                    prev[nxt] = cur
                    todo.append(nxt)
        path, cur = [start], prev[start]
        while cur != start:
            path.append(cur)
            cur = prev[cur]
        cycles.append([start, *reversed(path[1:]), start])
    return cycles


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def against_flow(graph: dict[str, set[str]]) -> list[str]:
    """``"a -> b"`` for every import that breaks a rule of ``AGAINST_FLOW``, sorted."""
    return sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets
                  for sources, forbidden in AGAINST_FLOW
                  if any(_inside(m, s) for s in sources) and _inside(t, forbidden))


def long_modules(root: Path, max_lines: int = MAX_LINES) -> list[str]:
    """``"name: N lines"`` for every module longer than ``max_lines``, sorted by name."""
    out = []
    for name, path in find_modules(root).items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > max_lines:
            out.append(f"{name}: {n} lines")
    return sorted(out)


# ---------------------------------------------------------------------------------------------
# The checker on fake packages


def write_package(root: Path, files: dict[str, str]) -> Path:
    """Files (relative path -> source) under ``root``; returns the top-level package directory."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / next(iter(files)).split("/")[0]


def test_imports_resolve_relative_absolute_nested_and_skip_type_checking(tmp_path):
    pkg = write_package(tmp_path, {
        "ganforge/__init__.py": "from .a import thing\n",
        "ganforge/a.py": "import os\nfrom . import b\nimport ganforge.sub.e as e\nthing = 1\n",
        "ganforge/b.py": "def f():\n    from ganforge.sub import c  # inside a function: counted\nfrom ganforge.gone.x import y\n",
        "ganforge/d.py": (
            "from typing import TYPE_CHECKING\nimport typing\n"
            "if TYPE_CHECKING:\n    from .a import thing\nelse:\n    from .b import f\n"
            "if typing.TYPE_CHECKING:\n    import ganforge.sub.c\n"
            "from torch import nn\nfrom ganforge import GanforgeError, d\n"
        ),
        "ganforge/sub/__init__.py": "",
        "ganforge/sub/c.py": "from .. import a\nfrom ..sub import e\nfrom .e import helper\n",
        "ganforge/sub/e.py": "from . import c\n",
    })
    assert import_graph(pkg) == {
        "ganforge": {"ganforge.a"},
        "ganforge.a": {"ganforge.b", "ganforge.sub.e"},  # os is not ours
        "ganforge.b": {"ganforge.sub.c", "ganforge"},  # no module ganforge.gone: its nearest package
        "ganforge.d": {"ganforge.b", "ganforge"},  # a name from the package; itself dropped
        "ganforge.sub": set(),
        "ganforge.sub.c": {"ganforge.a", "ganforge.sub.e"},
        "ganforge.sub.e": {"ganforge.sub.c"},
    }


def test_relative_import_beyond_the_top_is_an_error(tmp_path):
    pkg = write_package(tmp_path, {"ganforge/__init__.py": "", "ganforge/a.py": "from .. import x\n"})
    with pytest.raises(ValueError, match="beyond the top-level package"):
        import_graph(pkg)


def test_cycles_are_found_and_reported_as_paths():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"f"}, "f": {"e"}, "g": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []  # a chain is no cycle
    # two cycles through one module are one group; the shortest through its first member is shown
    assert find_cycles({"a": {"b", "c"}, "b": {"a"}, "c": {"d"}, "d": {"a"}}) == [["a", "b", "a"]]


def test_a_cycle_through_a_function_level_import_is_found_in_a_package(tmp_path):
    pkg = write_package(tmp_path, {
        "ganforge/__init__.py": "",
        "ganforge/train/__init__.py": "",
        "ganforge/train/step.py": "from .runtime import Runtime\n",
        "ganforge/train/runtime.py": "class Runtime:\n    def f(self):\n        from .step import grad_norm\n",
        "ganforge/train/unroll.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .step import GAN\n",
        "ganforge/train/loop.py": "from .step import train_step\nfrom .unroll import x\n",
    })
    assert find_cycles(import_graph(pkg)) == [["ganforge.train.runtime", "ganforge.train.step", "ganforge.train.runtime"]]


def test_imports_against_the_flow_are_reported(tmp_path):
    pkg = write_package(tmp_path, {
        "ganforge/__init__.py": "",
        "ganforge/metrics/__init__.py": "",
        "ganforge/metrics/image.py": "def save():\n    from ..train.checkpoint import save_atomic\n",
        "ganforge/models/mlp.py": "import ganforge.train\n",
        "ganforge/data/toy2d.py": "from ganforge.metrics import image\nfrom ganforge import training_notes\n",
        "ganforge/training_notes.py": "",  # starts with 'train' but is not ganforge.train
        "ganforge/train/__init__.py": "",
        "ganforge/train/checkpoint.py": "",
        "ganforge/train/loop.py": "from ganforge.report.history import split_history\nfrom ..metrics import image\n",
        "ganforge/report/__init__.py": "",
        "ganforge/report/history.py": "from ganforge.train import loop\n",  # report may import train
    })
    graph = import_graph(pkg)
    assert against_flow(graph) == [
        "ganforge.metrics.image -> ganforge.train.checkpoint",
        "ganforge.models.mlp -> ganforge.train",
        "ganforge.train.loop -> ganforge.report.history",
    ]


def test_long_modules_are_reported(tmp_path):
    pkg = write_package(tmp_path, {
        "ganforge/__init__.py": "",
        "ganforge/ok.py": "x = 1\n" * MAX_LINES,
        "ganforge/sub/long.py": "x = 1\n" * (MAX_LINES + 1),
    })
    assert long_modules(pkg) == [f"ganforge.sub.long: {MAX_LINES + 1} lines"]


# ---------------------------------------------------------------------------------------------
# The real tree


def test_no_import_cycles():
    cycles = [" -> ".join(c) for c in find_cycles(import_graph(SRC))]
    assert not cycles, "import cycles:\n  " + "\n  ".join(cycles)


def test_no_import_against_the_flow():
    bad = against_flow(import_graph(SRC))
    assert not bad, "imports against the flow (DESIGN.md):\n  " + "\n  ".join(bad)


def test_no_module_over_the_line_limit():
    long = long_modules(SRC)
    assert not long, f"modules over {MAX_LINES} lines:\n  " + "\n  ".join(long)
