"""The shape of the package, held by tests: no import cycle, no module over 600 lines.

The layers themselves are import-linter contracts (pyproject.toml [tool.importlinter], run by `make lint`).
What contracts cannot say is checked here:

- **No cycles.** The import graph of aidservice is built with grimp, which reads every import statement of
  a module (function-level imports and `if TYPE_CHECKING:` imports included: a cycle dodged by moving the
  import into a function, or by importing only for the type checker, is still a cycle). Its strongly
  connected components (Tarjan's algorithm) of more than one module are the cycles.
- **Short modules.** No file under aidservice/ has more than MAX_LINES lines.

Both are ratchets over a KNOWN list of today's offenders: a cycle must lie inside a known one, a long module
must be a known one, so any new cycle or long module fails at once. A second test fails when a known entry
is gone or smaller (cycle broken, module split): then shrink the list to what the message shows, one edit,
so that what was fixed cannot come back unnoticed. Both lists end empty.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "aidservice"
MAX_LINES = 600

KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()
"""Cycles tolerated: none since issue 17 broke them; a new one fails the test with its imports listed."""

KNOWN_LONG_MODULES: frozenset[str] = frozenset()
"""Modules over MAX_LINES lines: none since issue 17 split them; the set stays for a justified exception."""


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    """aidservice's import graph, built from the source without a cache directory."""
    return grimp.build_graph(PACKAGE, cache_dir=None)


def strongly_connected(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """The components of more than one module (Tarjan's algorithm, iterative: the graph may be deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    component = _pop_component(stack, on_stack, module)
                    if len(component) > 1:
                        found.append(component)
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(sorted(graph.find_modules_directly_imported_by(target)))))
            elif target in on_stack:
                low[module] = min(low[module], index[target])
    return found


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> frozenset[str]:
    """Pop Tarjan's stack down to root: one strongly connected component."""
    component = set()
    while True:
        module = stack.pop()
        on_stack.discard(module)
        component.add(module)
        if module == root:
            return frozenset(component)


def describe_cycle(graph: grimp.ImportGraph, component: frozenset[str]) -> str:
    """The component's modules and the imports between them, with line numbers, to see where to cut."""
    lines = [" <-> ".join(sorted(component))]
    for importer in sorted(component):
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & component):
            details = graph.get_import_details(importer=importer, imported=imported)
            where = ", ".join(f"l.{detail['line_number']}" for detail in details)
            lines.append(f"    {importer} -> {imported} ({where})")
    return "\n".join(lines)


def long_modules() -> dict[str, int]:
    """Every module under aidservice/ over MAX_LINES lines, with its line count."""
    counts = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        with path.open(encoding="utf-8") as source:
            count = sum(1 for _ in source)
        if count > MAX_LINES:
            counts[path.relative_to(ROOT).as_posix()] = count
    return counts


def test_the_graph_has_function_level_imports(tmp_path, monkeypatch):
    """The cycle test relies on grimp reading imports inside functions and under TYPE_CHECKING."""
    package = tmp_path / "probe_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "b.py").write_text("")
    (package / "c.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from probe_pkg import c\n"
        "def f():\n    from probe_pkg import b\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = grimp.build_graph("probe_pkg", cache_dir=None)
    assert probe.find_modules_directly_imported_by("probe_pkg.a") == {"probe_pkg.b", "probe_pkg.c"}


def test_no_new_import_cycle(graph):
    """Every cycle lies inside a known one: a new cycle, or one that grew, fails with its imports."""
    new = [c for c in strongly_connected(graph) if not any(c <= known for known in KNOWN_CYCLES)]
    assert not new, "new import cycles:\n" + "\n".join(
        describe_cycle(graph, c) for c in sorted(new, key=sorted)
    )


def test_known_cycles_are_still_there(graph):
    """A known cycle that is gone or smaller must leave KNOWN_CYCLES (or shrink to what is left)."""
    found = set(strongly_connected(graph))
    stale = sorted((known for known in KNOWN_CYCLES if known not in found), key=sorted)
    assert not stale, "shrink KNOWN_CYCLES in tests/test_architecture.py:\n" + "\n".join(
        f"    {sorted(known)} is now {[sorted(c) for c in found if c < known] or 'gone'}" for known in stale
    )


def test_no_new_long_module():
    """No module over MAX_LINES lines beyond the known ones."""
    new = {path: count for path, count in long_modules().items() if path not in KNOWN_LONG_MODULES}
    assert not new, f"modules over {MAX_LINES} lines (split them by concern): {new}"


def test_known_long_modules_are_still_long():
    """A known long module that was split (or went) must leave KNOWN_LONG_MODULES."""
    stale = sorted(KNOWN_LONG_MODULES - set(long_modules()))
    assert not stale, f"remove from KNOWN_LONG_MODULES in tests/test_architecture.py: {stale}"
