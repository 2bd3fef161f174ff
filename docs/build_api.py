"""Builds the HTML API reference of `vade_tf` from its docstrings, with pdoc.

    pip install ".[docs]"
    python docs/build_api.py            # writes docs/api/ (git-ignored)
    python docs/build_api.py /tmp/api   # or any folder

Open `index.html` (or `vade_tf.html`) in the output folder. Every public
module of the package gets a page, including `vade_tf.cli`, which
`vade_tf/__init__.py` does not import; modules and names starting with `_`
are left out.
Docstrings are read as Google style (`Args:`, `Returns:`, `Raises:`).

Problems are printed to standard error, one `docs warning: ...` line each
(a message may continue on the following lines), and make the exit status 1
(the HTML is written all the same):

- every warning pdoc emits: a module that fails to import, a type
  annotation it cannot evaluate, a name in `__all__` that does not exist,
  a docstring `.. include::` it cannot read, ...;
- a reference in a docstring, written in backticks, to a full
  `vade_tf.` name that names nothing: pdoc links such a reference to the
  object's documentation, and leaves it as plain code, without a warning,
  when it finds no such object; this script then looks the name up in
  Python (`vade_tf.training.recipes.ORIGINAL.schedule`, a method of a module
  variable, exists though pdoc cannot link it) and reports it when the
  lookup fails, as for a renamed or removed function.

`tests/test_docs.py` runs this script and fails on any of them.
"""

import argparse
import html
import os
import pathlib
import pkgutil
import re
import sys
import warnings

DEFAULT_OUTPUT = pathlib.Path(__file__).resolve().parent / "api"
PACKAGE = "vade_tf"


def _unlinked(package_name):
    """A pattern for an inline code span pdoc's linker left unlinked.

    A resolved reference becomes `<code><a href=...>vade_tf.x</a></code>`,
    so the bare `<code>vade_tf.x</code>` is one it could not resolve. Code
    blocks, signatures and source listings are highlighted token by token
    and never match.
    """
    return re.compile(
        rf"<code>({re.escape(package_name)}(?:\.\w+)+)(?:\(\))?</code>"
    )


def _import_quietly(package):
    """Imports `package` (and so TensorFlow) with TensorFlow's logs off.

    `TF_CPP_MIN_LOG_LEVEL=3` silences TensorFlow's C++ logging, but its
    start-up lines (`absl::InitializeLog`, `cudart_stub`, oneDNN) are written
    to file descriptor 2 before that setting is read, so standard error is
    sent to /dev/null while the package is imported (an import error is
    raised as usual, standard error restored). Importing here, outside
    pdoc's import guard, also keeps pdoc from suppressing, and warning about,
    the subprocess h5py starts when TensorFlow imports it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        __import__(package)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    return sys.modules[package]


def public_modules(package):
    """`package` and all its submodules whose names have no `_` part.

    Listed explicitly because pdoc, given only the package, follows its
    `__all__`, which names the top-level modules and subpackages and not,
    for example, `vade_tf.cli`'s modules.
    """
    names = [package.__name__]
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def _exists(name):
    """Whether the dotted `name` is a loaded module or an attribute chain on
    one (the build has imported every public module; nothing is imported
    here)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        value = sys.modules.get(".".join(parts[:cut]))
        if value is None:
            continue
        try:
            for attribute in parts[cut:]:
                value = getattr(value, attribute)
        except AttributeError:
            return False
        return True
    return False


def broken_references(output_dir, package_name=PACKAGE):
    """(page, name) for each `package_name.` reference in a docstring that
    pdoc left unlinked and that names nothing."""
    unlinked = _unlinked(package_name)
    found = set()
    for page in sorted(pathlib.Path(output_dir).rglob("*.html")):
        for name in unlinked.findall(page.read_text(encoding="utf8")):
            name = html.unescape(name)
            if not _exists(name):
                found.add((page.relative_to(output_dir).as_posix(), name))
    return sorted(found)


def build(output_dir, package_name=PACKAGE):
    """Writes the reference into `output_dir`; returns the problems found.

    Args:
        output_dir: the folder to write, created if needed.
        package_name: the package to document (another one only to test
            this script, as tests/test_docs.py does).

    Returns:
        A list of strings, one per problem (empty when the build is clean).
    """
    import pdoc.doc
    import pdoc.render

    package = _import_quietly(package_name)
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pdoc.render.configure(
        docformat="google",
        footer_text=f"{package_name} {getattr(package, '__version__', '')}",
    )
    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # What pdoc.pdoc() does, on an explicit list of modules (pdoc.pdoc
        # would walk each one's submodules again and follow __all__).
        modules = {
            name: pdoc.doc.Module.from_name(name)
            for name in public_modules(package)
        }
        for module in modules.values():
            page = output_dir / f"{module.fullname.replace('.', '/')}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(
                pdoc.render.html_module(module, modules), encoding="utf8"
            )
        (output_dir / "index.html").write_text(
            pdoc.render.html_index(modules), encoding="utf8"
        )
        (output_dir / "search.js").write_text(
            pdoc.render.search_index(modules), encoding="utf8"
        )
    for warning in caught:
        if issubclass(
            warning.category, (DeprecationWarning, PendingDeprecationWarning)
        ):
            continue  # a library's notice, not a problem of the docs
        problems.append(f"{warning.category.__name__}: {warning.message}")
    for page, name in broken_references(output_dir, package_name):
        problems.append(
            f"broken reference: `{name}` in a docstring on {page} names "
            "nothing in the package"
        )
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Build the HTML API reference of vade_tf with pdoc."
    )
    parser.add_argument(
        "output",
        nargs="?",
        default=str(DEFAULT_OUTPUT),
        help="the folder to write (default: docs/api/ beside this script)",
    )
    parser.add_argument(
        "--package",
        default=PACKAGE,
        help=f"the package to document (default: {PACKAGE}; another one "
        "only to test this script)",
    )
    args = parser.parse_args(argv)
    problems = build(args.output, args.package)
    for problem in problems:
        print(f"docs warning: {problem}", file=sys.stderr)
    print(
        f"API reference in {args.output} ({len(problems)} warnings)",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
