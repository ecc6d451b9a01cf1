#!/usr/bin/env python
"""The import graph of the ``imugait`` package, read from the source with ``ast``.

    python tools/import_graph.py              # package-level edges, deferred imports, cycles
    python tools/import_graph.py --modules    # module-level edges as well
    python tools/import_graph.py --check      # exit 1 when a package imports one above it

Counts every ``import imugait.x`` / ``from imugait.x import …`` (relative imports resolved),
says which ones sit inside a function (deferred) rather than at the top of a module, and
lists the cycles between packages. ``--check`` compares the package edges with ``LAYERS``
below (lowest first): a package may import only packages in lower layers (or its own).
Nothing is imported or executed, so it runs without the project's dependencies.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "imugait"

# Lowest layer first. A package may import its own layer or lower ones. Top-level modules
# of imugait/ (conventions.py, errors.py, …) are listed by their module name. One package
# per layer above the foundations, so "no package imports a package above it" is a total
# order (docs/architecture.md explains each layer).
LAYERS: list[set[str]] = [
    {"conventions", "errors", "types", "timebase", "clock", "inputcheck", "outputs", "extras", "_version", "_lazy"},
    {"protocol", "events"},  # bytes -> samples; the event types both sides of acquisition share
    {"analysis"},            # samples -> strides (pure computation)
    {"store"},               # HDF5 sessions: schema, writer, reader, repair, importers, stored results
    {"acquire"},             # sources, decoding, clock mapping, the acquisition engine
    {"sim"},                 # simulated sensors, firmware and BLE link, emulated BlueZ
    {"app"},                 # a recording run, a session analysed
    {"compare"},             # before/after, reprocess, reports, group
    {"live"},                # the Qt dashboard: strides -> pixels
    {"demo_flow"},
    {"demo"},
    {"cli"},                 # the commands
    {"__main__", "__init__"},
]

# Imports deliberately inside functions: optional dependencies loaded only when used
# (the [live], [dask], [reports], [parquet] extras), and the command modules, which import
# their work when the command runs so `imugait --help` loads neither h5py nor Qt.
LAZY_OPTIONAL = ("PySide6", "pyqtgraph", "qasync", "dask", "distributed", "matplotlib", "pyarrow", "dbus_fast")
LAZY_PACKAGES = {"cli", "demo", "demo_flow", "__init__"}


def optional_at_top(path: Path) -> bool:
    """Does this module import an optional dependency at its top (so importing it is
    deliberately deferred by its users)?"""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for n in tree.body:
        names = ([a.name for a in n.names] if isinstance(n, ast.Import)
                 else [n.module or ""] if isinstance(n, ast.ImportFrom) and not n.level else [])
        if any(x.split(".")[0] in LAZY_OPTIONAL for x in names):
            return True
    return False


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(mod: str) -> str:
    parts = mod.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def imports_of(path: Path):
    """Yield (target_module, lineno, deferred) for imports of imugait in one file."""
    me = module_name(path)
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top_level = {id(n) for n in tree.body}
    # nodes inside `if TYPE_CHECKING:` at top level count as top-level
    for n in tree.body:
        if isinstance(n, ast.If):
            for m in ast.walk(n):
                top_level.add(id(m))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".") if is_pkg else me.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
            names = [mod] if mod else names
        else:
            continue
        for name in names:
            if name == "imugait" or name.startswith("imugait."):
                yield name, node.lineno, id(node) not in top_level


def layer_of(pkg: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if pkg in layer:
            return i
    return None


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", action="store_true", help="also print module-level edges")
    ap.add_argument("--check", action="store_true", help="exit 1 on an upward import or a package cycle")
    a = ap.parse_args(argv)

    files = sorted(p for p in PKG.rglob("*.py"))
    pkg_edges: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    mod_edges: dict[str, set[str]] = defaultdict(set)
    n_total = n_deferred = 0
    deferred_by_file: dict[str, int] = defaultdict(int)
    heavy = {module_name(f) for f in files if optional_at_top(f)}
    top_imports = {module_name(f): {t for t, _l, d in imports_of(f) if not d} for f in files}
    while True:  # a module that imports a heavy module at its top is heavy too
        more = {m for m, ts in top_imports.items() if m not in heavy and ts & heavy}
        if not more:
            break
        heavy |= more
    why_deferred: dict[str, int] = defaultdict(int)
    for f in files:
        src = module_name(f)
        for target, line, deferred in imports_of(f):
            n_total += 1
            if deferred:
                n_deferred += 1
                if package_of(src) in LAZY_PACKAGES:
                    why_deferred["command layer"] += 1
                elif any(target == h or target.startswith(h + ".") for h in heavy):
                    why_deferred["optional dependency"] += 1
                elif f.name == "__init__.py":
                    why_deferred["package facade"] += 1
                else:
                    deferred_by_file[str(f.relative_to(ROOT))] += 1
            sp, tp = package_of(src), package_of(target)
            mod_edges[src].add(target)
            if sp != tp:
                pkg_edges[sp][tp].append((str(f.relative_to(ROOT)), line, deferred))

    print(f"internal imports: {n_total}, of them inside functions (deferred): {n_deferred}")
    print(f"  deliberate, command layer ({', '.join(sorted(LAZY_PACKAGES))}: `imugait --help` loads no "
          f"h5py/Qt): {why_deferred['command layer']}")
    print(f"  deliberate, modules that import an optional dependency ({', '.join(LAZY_OPTIONAL)}) at their "
          f"top: {why_deferred['optional dependency']}  [{', '.join(sorted(heavy))}]")
    print(f"  lazy attributes of package facades (__init__.py __getattr__): {why_deferred['package facade']}")
    print(f"  other deferred imports (to be moved to the top of their modules): {sum(deferred_by_file.values())}")
    for f, n in sorted(deferred_by_file.items(), key=lambda x: (-x[1], x[0])):
        print(f"    {n:3d} deferred  {f}")
    print("\npackage edges (importer -> imported: count [deferred]):")
    for sp in sorted(pkg_edges):
        row = []
        for tp in sorted(pkg_edges[sp]):
            hits = pkg_edges[sp][tp]
            d = sum(1 for h in hits if h[2])
            row.append(f"{tp} {len(hits)}" + (f" [{d}]" if d else ""))
        print(f"  {sp:10s} -> " + ", ".join(row))
    graph = {sp: set(tps) for sp, tps in pkg_edges.items()}
    cycles = find_cycles(graph)
    print("\npackage cycles: " + ("none" if not cycles else "; ".join(" <-> ".join(c) for c in cycles)))

    upward = []
    for sp, tps in pkg_edges.items():
        ls = layer_of(sp)
        for tp, hits in tps.items():
            lt = layer_of(tp)
            if ls is None or lt is None:
                upward.append((sp, tp, hits[0], "package not in LAYERS"))
            elif lt > ls:
                upward.append((sp, tp, hits[0], f"layer {ls} imports layer {lt}"))
    print("upward imports (against LAYERS): " + ("none" if not upward else str(len(upward))))
    for sp, tp, (f, line, _d), why in sorted(upward):
        print(f"    {sp} -> {tp}  ({f}:{line}; {why})")

    if a.modules:
        print("\nmodule edges:")
        for m in sorted(mod_edges):
            print(f"  {m} -> {', '.join(sorted(mod_edges[m]))}")
    return 1 if a.check and (upward or cycles) else 0


if __name__ == "__main__":
    sys.exit(main())
