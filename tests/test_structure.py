"""The package's shape, checked: imports point one way (no cycle, imports
inside functions included) and the model class stays a contract."""

import ast
import os
import pathlib
import re

import pytest

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
# layer or of the layers below it.
LAYERS = (
    {"numerics", "choices", "validation", "metrics", "fileio", "shipped"},
    {"data"},
    {"training"},
    {"model"},
    {"building", "workflow", "estimator", "export", "plotting", "assignments"},
    {"cli"},
)


def _layer(module):
    parts = module.split(".")
    if len(parts) == 1:  # the package's face: beside the modules it exports
        return len(LAYERS) - 2
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


@pytest.mark.slow  # over 6 s on 2 cores
def test_import_vade_tf_registers_every_keras_class_of_the_package():
    # In a fresh interpreter: `keras.models.load_model` must find every class
    # the package registers (a model compiled with MixtureAdam, say) after a
    # bare `import vade_tf`, whatever the caller imported before.
    import subprocess
    import sys

    registered = re.compile(
        r'@keras\.saving\.register_keras_serializable\(package="vade_tf"\)'
        r"\s*class (\w+)"
    )
    names = sorted(
        name
        for path in PACKAGE.rglob("*.py")
        for name in registered.findall(path.read_text())
    )
    assert "MixtureAdam" in names and "VaDE" in names
    script = (
        "import sys, keras, vade_tf\n"
        "missing = [n for n in sys.argv[1:] if keras.saving."
        "get_registered_object('vade_tf>' + n) is None]\n"
        "print(missing)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *names],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        check=True,
    )
    assert result.stdout.strip() == "[]", result.stdout


def test_the_old_names_still_lead_to_the_moved_code():
    import warnings

    import numpy as np
    import pytest

    import vade_tf
    from vade_tf.model import VaDE, mixture_prior

    assert VaDE is vade_tf.VaDE
    assert mixture_prior.GMMPosterior is mixture_prior.MixturePrior
    with pytest.warns(DeprecationWarning, match="training.recipes"):
        assert vade_tf.recipes is vade_tf.training.recipes
    with pytest.warns(DeprecationWarning):
        from vade_tf import losses
    assert losses is vade_tf.model.elbo
    with pytest.raises(AttributeError):
        vade_tf.no_such_module  # noqa: B018
    model = VaDE(6, 2, latent_dim=2, hidden_dims=(4,), seed=0)
    x = np.random.default_rng(0).random((40, 6)).astype("float32")
    with pytest.warns(DeprecationWarning, match="initialize_mixture"):
        model.initialize_gmm(x, gmm_init="kmeans", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.initialize_mixture(x, mixture_init="kmeans", random_state=0)
