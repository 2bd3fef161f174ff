"""The API reference builds from the docstrings, with no warning.

docs/build_api.py renders every public module of vade_tf with pdoc and
reports, as `docs warning: ...` lines and exit status 1, each warning pdoc
emits and each docstring reference to a `vade_tf.` name that does not
exist. The second test checks that those reports happen, on a throwaway
package with faults, so the first cannot pass by seeing nothing.
"""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = ROOT / "docs" / "build_api.py"

# Modules whose pages the guide (docs/api.md) points readers to.
STABLE_MODULES = (
    "vade_tf",
    "vade_tf.workflow",
    "vade_tf.training.recipes",
    "vade_tf.data.datasets",
    "vade_tf.training.k_selection",
)


def _build(output, *args, env=None):
    return subprocess.run(
        [sys.executable, str(BUILD), str(output), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def _warnings(stderr):
    return [
        line for line in stderr.splitlines() if line.startswith("docs warning")
    ]


def _page(output, module):
    return output / (module.replace(".", "/") + ".html")


@pytest.mark.slow  # over 6 s on 2 cores
def test_api_reference_builds_without_warnings(tmp_path):
    output = tmp_path / "api"
    result = _build(output)
    assert result.returncode == 0 and not _warnings(result.stderr), (
        "the API reference has problems (fix the docstrings under vade_tf/; "
        "run `python docs/build_api.py` to see them):\n" + result.stderr
    )
    for module in STABLE_MODULES:
        page = _page(output, module)
        assert page.is_file(), f"no page for {module}"
        assert 'class="docstring"' in page.read_text(encoding="utf8")
    assert (output / "index.html").is_file()
    # A docstring's full reference became a link to its page.
    workflow = _page(output, "vade_tf.workflow").read_text(encoding="utf8")
    assert 'href="training/recipes.html#' in workflow
    # TensorFlow's start-up lines stay out of the output.
    assert "InitializeLog" not in result.stderr
    assert "cudart_stub" not in result.stderr


def test_build_reports_pdoc_warnings_and_broken_references(tmp_path):
    package = tmp_path / "src" / "tinypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A throwaway package."""\n')
    (package / "faulty.py").write_text(
        textwrap.dedent(
            '''
            """A module with two faults in its documentation."""


            def scale(x: "NoSuchType") -> float:
                """Scales `x`, as `tinypkg.faulty.shift` shifts it.

                Args:
                    x: the value; see `tinypkg.faulty.missing`.

                Returns:
                    The value.
                """
                return x


            def shift(x):
                """Shifts `x`."""
                return x
            '''
        )
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(package.parent), env.get("PYTHONPATH")])
    )
    output = tmp_path / "api"
    result = _build(output, "--package", "tinypkg", env=env)
    problems = _warnings(result.stderr)
    assert result.returncode == 1, result.stderr
    # pdoc's own warning: an annotation it cannot resolve.
    assert any(
        "Error parsing type annotation NoSuchType for tinypkg.faulty.scale"
        in line
        for line in problems
    ), result.stderr
    # The script's check: a reference to a name that does not exist.
    assert any(
        "broken reference: `tinypkg.faulty.missing`" in line
        for line in problems
    ), result.stderr
    # The reference that exists is linked, not reported.
    assert not any("tinypkg.faulty.shift" in line for line in problems)
    page = _page(output, "tinypkg.faulty").read_text(encoding="utf8")
    assert '<a href="#shift">tinypkg.faulty.shift</a>' in page
