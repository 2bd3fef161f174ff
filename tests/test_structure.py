"""The package's shape, checked: imports point one way (no cycle, imports
inside functions included) and the model class stays a contract."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "vade_tf"


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path, modules):
    """The vade_tf modules `path` imports, anywhere in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def _graph():
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    return {
        _module_name(path): _imports(path, modules)
        for path in paths
        if path.name != "__init__.py"  # the package's re-exports
    }


def test_no_import_cycle_function_level_imports_included():
    graph = _graph()
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", " -> ".join([*trail, node])
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            visit(target, [*trail, node])
        state[node] = "done"

    for node in sorted(graph):
        visit(node, [])


def test_the_vade_class_is_at_most_400_lines():
    source = (PACKAGE / "model.py").read_text()
    classes = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == "VaDE"
    ]
    (vade,) = classes
    assert vade.end_lineno - vade.decorator_list[0].lineno + 1 <= 400


def test_no_module_over_600_lines():
    long = {
        str(path.relative_to(PACKAGE.parent)): count
        for path in PACKAGE.rglob("*.py")
        if (count := len(path.read_text().splitlines())) > 600
    }
    assert not long, long
