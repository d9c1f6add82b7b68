"""The console's layers read one way: views, consumers and commands -> services ->
actions -> policy and audit -> gateway. Checked on the source, imports inside functions
included (they are how a loop hides)."""

import ast
from pathlib import Path

CONSOLE = Path(__file__).resolve().parent.parent / "console"


def _modules():
    found = {}
    for path in CONSOLE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(CONSOLE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def imports_of(name):
    """Every module this one imports (console modules by name, others by top package)."""
    names = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in MODULES else node.module)
    return {n if n.startswith("console") else n.split(".")[0] for n in names} - {name}


GRAPH = {name: {d for d in imports_of(name) if d in MODULES} for name in MODULES}


def _cycle():
    """One import cycle among console modules, or None."""
    state = {}

    def visit(name, path):
        state[name] = "open"
        for dep in sorted(GRAPH[name]):
            if state.get(dep) == "open":
                return path[path.index(dep):] + [dep]
            if dep not in state and (found := visit(dep, path + [dep])):
                return found
        state[name] = "done"
        return None

    for name in sorted(GRAPH):
        if name not in state and (found := visit(name, [name])):
            return found
    return None


def test_no_import_cycle():
    assert _cycle() is None, " -> ".join(_cycle())


def test_the_cycle_check_finds_a_cycle():
    GRAPH["console.gateway"].add("console.actions")
    try:
        assert _cycle() is not None
    finally:
        GRAPH["console.gateway"].discard("console.actions")


def _importers(target):
    return {name for name, deps in GRAPH.items() if target in deps}


def test_only_the_gateway_imports_docker():
    assert {name for name in MODULES if "docker" in imports_of(name)} == {"console.gateway"}


def test_the_catalog_imports_nothing_of_the_console():
    assert GRAPH["console.catalog"] == set()


def test_only_the_action_layer_writes_the_audit_chain():
    assert _importers("console.audit.chain") - {"console.actions"} <= {
        n for n in MODULES if n.startswith("console.audit.")
    }


def test_views_and_commands_call_services_not_the_gateway():
    upper = [n for n in MODULES if n.endswith(("views", "consumers")) or ".management.commands." in n]
    assert upper, "no views found: the module walk is broken"
    for name in upper:
        assert "console.gateway" not in GRAPH[name], name
        if not name.startswith("console.audit."):  # `manage.py audit verify` reads the chain
            assert "console.audit.chain" not in GRAPH[name], name


def test_one_way_to_authorize_the_action_layer():
    """Grants are read by the policy; everything else asks the action layer."""
    readers = _importers("console.access.policy") - {"console.actions"}
    assert all(name.startswith("console.access.") for name in readers), sorted(readers)
