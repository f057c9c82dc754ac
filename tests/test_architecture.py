"""The layering in ARCHITECTURE.md, enforced: imports inside keel point down only,
and the deterministic core never reads the wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "keel"

# Lower number = lower layer.  A module may import its own layer or lower ones only.
LAYER = {
    "errors": 0,
    "domain": 0,
    "pricing": 1,
    "marketdata": 1,
    "venues": 1,
    "oracle": 2,
    "risk": 2,
    "execution": 2,
    "chain": 2,
    "engine": 3,
    "sim": 3,
    "agents": 3,
    "store": 3,
    "runtime": 4,
    "cli": 4,
    "service": 4,
}

# Packages that must stay deterministic: no wall-clock reads, no OS entropy.
DETERMINISTIC = ("engine", "sim", "agents")
WALL_CLOCK = {"time.time", "time.time_ns", "time.monotonic", "time.perf_counter", "datetime.now", "datetime.utcnow"}


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if rel.parts else ""


def _keel_imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keel."):
            found.append((node.lineno, node.module.split(".")[1]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("keel."):
                    found.append((node.lineno, alias.name.split(".")[1]))
    return found


def test_every_package_has_a_layer() -> None:
    packages = {p.name.removesuffix(".py") for p in SRC.iterdir() if not p.name.startswith("_")}
    packages.discard("py.typed")
    assert packages <= set(LAYER), f"add these packages to LAYER and ARCHITECTURE.md: {packages - set(LAYER)}"


def test_imports_point_down_only() -> None:
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        own = _package(path)
        if own not in LAYER:
            continue
        for lineno, target in _keel_imports(ast.parse(path.read_text())):
            if target in LAYER and LAYER[target] > LAYER[own]:
                violations.append(f"{path.relative_to(SRC)}:{lineno} ({own}, layer {LAYER[own]}) imports {target}")
    assert not violations, "\n".join(violations)


def test_only_the_store_touches_its_tables() -> None:
    """The service, the runtime and the CLI read and write the store through ``keel.store.Store``; its schema
    (``keel.store.schema``), migrations and writer stay inside ``keel.store``."""
    private = ("keel.store.schema", "keel.store.migrate", "keel.store._writer")
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        if _package(path) == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            hits = [n for n in names if n in private]
            if hits:
                violations.append(f"{path.relative_to(SRC)}:{node.lineno} imports {hits[0]}")
    assert not violations, "\n".join(violations)


def test_same_layer_imports_are_acyclic() -> None:
    edges: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        own = _package(path)
        for _, target in _keel_imports(ast.parse(path.read_text())):
            if target != own and target in LAYER and LAYER.get(own) == LAYER[target]:
                edges.setdefault(own, set()).add(target)
    for a, targets in edges.items():
        for b in targets:
            assert a not in edges.get(b, set()), f"{a} and {b} import each other"


def test_deterministic_core_never_reads_the_wall_clock() -> None:
    offenders = []
    for package in DETERMINISTIC:
        for path in sorted((SRC / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    name = f"{node.value.id}.{node.attr}"
                    if name in WALL_CLOCK:
                        offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {name}")
                if isinstance(node, ast.ImportFrom) and node.module in ("time", "random", "secrets"):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} from {node.module} import ...")
                if isinstance(node, ast.Import) and any(a.name in ("random", "secrets") for a in node.names):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} import random/secrets")
    assert not offenders, "\n".join(offenders)


def test_capability_table_names_exist() -> None:
    """Every `module` (`Name`, ...) in ARCHITECTURE.md's capability table is importable as written."""
    import importlib
    import re

    text = (SRC.parents[1] / "ARCHITECTURE.md").read_text()
    table = text[text.index("## Where each capability lives") : text.index("\n## ", text.index("## Where each"))]
    missing = []
    for module, names in re.findall(r"`(keel\.[a-z_.0-9]+)` \(([^)]*)\)", table):
        imported = importlib.import_module(module)
        missing += [f"{module}.{n}" for n in re.findall(r"`([A-Za-z_]\w*)`", names) if not hasattr(imported, n)]
    assert not missing, missing


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_graph() -> dict[str, set[str]]:
    """keel module -> keel modules it imports (anywhere in the file: top level, functions and
    TYPE_CHECKING blocks alike).  ``from keel.a import b`` points at ``keel.a.b`` when that is a
    module, else at the package ``keel.a`` (its ``__init__``)."""
    paths = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in paths}
    for module, path in paths.items():
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    target = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in paths:
                        graph[module].add(sub)
                    elif target in paths:
                        graph[module].add(target)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in paths:
                        graph[module].add(alias.name)
    return graph


def _cycles_inside_packages(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative) of more than one module, following only
    edges that stay inside one top-level package (keel.X): every import cycle of any length."""

    def package(m: str) -> str:
        return m.split(".")[1] if m.count(".") else m

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if package(nxt) != package(node) or nxt == node:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_cycles_of_any_length() -> None:
    three = {"keel.a.x": {"keel.a.y"}, "keel.a.y": {"keel.a.z"}, "keel.a.z": {"keel.a.x"}, "keel.a.w": {"keel.a.x"}}
    assert _cycles_inside_packages(three) == [["keel.a.x", "keel.a.y", "keel.a.z"]]
    across = {"keel.a.x": {"keel.b.y"}, "keel.b.y": {"keel.a.x"}}  # between packages: the layer tests' job
    assert _cycles_inside_packages(across) == []
    via_init = {"keel.a": {"keel.a.x"}, "keel.a.x": {"keel.a"}}  # a module importing its own package
    assert _cycles_inside_packages(via_init) == [["keel.a", "keel.a.x"]]


def test_no_import_cycles_inside_a_package() -> None:
    """No module-level import cycle of any length inside a package, lazy and TYPE_CHECKING
    imports included (a lazy import hides a cycle, it does not remove it)."""
    cycles = _cycles_inside_packages(_module_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)
