"""The package's shape, checked: imports point one way (no cycle, imports
inside functions included) and the model class stays a contract."""

import ast
import pathlib
import re

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
            targets = [f"{base}.{alias.name}" for alias in node.names]
            if not any(target in modules for target in targets):
                targets.append(base)  # `from module import name`
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
    source = (PACKAGE / "model" / "vade.py").read_text()
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


# The package's layers, lowest first: a module imports only modules of its own
# layer or of the layers below it. `vade_tf.cli` and the modules beside the
# subpackages that are not leaves (`workflow`, `estimator`, ...) sit on top.
LAYERS = (
    {"numerics", "choices", "validation", "metrics", "fileio", "shipped"},
    {"data"},
    {"training"},
    {"model"},
)


def _layer(module):
    parts = module.split(".")
    if len(parts) == 1:  # the package's own __init__
        return len(LAYERS)
    for index, layer in enumerate(LAYERS):
        if parts[1] in layer:
            return index
    return len(LAYERS)


def test_imports_point_down_the_layers():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if _layer(target) > _layer(module)
    )
    assert not upward, upward


def test_the_layers_are_where_a_reader_looks_for_them():
    where = {
        "the ELBO": "model/elbo.py",
        "the VaDE class": "model/vade.py",
        "the training loop": "training/train_loop.py",
        "the training settings": "training/recipes.py",
        "a data reader": "data/files.py",
        "a CLI command": "cli/commands.py",
    }
    missing = {what: path for what, path in where.items()
               if not (PACKAGE / path).is_file()}
    assert not missing, missing


def test_the_model_defaults_are_read_from_one_config():
    import dataclasses
    import inspect

    import vade_tf
    from vade_tf import cli
    from vade_tf.model.config import DEFAULTS

    args = cli.parse_args(["train", "--dataset", "digits"])
    model = inspect.signature(vade_tf.VaDE).parameters
    estimator = inspect.signature(vade_tf.VaDEClustering).parameters
    for field in dataclasses.fields(DEFAULTS):
        value = getattr(DEFAULTS, field.name)
        assert model[field.name].default == value, field.name
        if field.name in ("likelihood", "kernel_initializer"):
            continue  # chosen from the data / not a user setting there
        assert estimator[field.name].default == value, field.name
        from_cli = getattr(args, field.name)
        if field.name == "hidden_dims":
            from_cli = tuple(int(w) for w in from_cli.split(","))
        assert from_cli == value, field.name
    # And no module writes them again as a default.
    written = re.compile(
        r"^\s*(latent_dim|hidden_dims|gamma_mode|alpha|beta)\s*=\s*"
        r"(10\b|\(500|\"exact\"|1\.0\b)",
        re.MULTILINE,
    )
    again = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "config.py" and written.search(path.read_text())
    ]
    assert not again, again
