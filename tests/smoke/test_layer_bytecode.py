"""The layer's byte code check: only CPython 3.13's, unchecked-hash, from the source shipped.

The byte code is made, and checked, by python3.13 (a pyc's source hash is keyed by the Python
that computes it), so these run it; the checks run in the layer build and on every `sam build`
in tests/infra.
"""

from __future__ import annotations

import py_compile
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pushgate_cli.lambda_python import LambdaPython, find_python313
from pushgate_cli.layer_bytecode import BytecodeError, Handler, compile_traced, trace, verify_on

pytestmark = pytest.mark.smoke


@pytest.fixture(scope="module")
def python313() -> str:
    found = find_python313()
    if found is None:
        pytest.fail("no CPython 3.13 (python3.13 on PATH, or pyenv's 3.13.0): pyenv install 3.13.0")
    return found


def _module(layer: Path) -> Path:
    source = layer / "pkg" / "mod.py"
    source.parent.mkdir(parents=True)
    source.write_text("x = 1\n")
    return source


def compile_313(python313: str, source: Path, mode: str = "UNCHECKED_HASH", name: str = "") -> None:
    """Byte code of ``source`` as python3.13 writes it, in invalidation mode ``mode``."""
    pyc = source.parent / "__pycache__" / (name or f"{source.stem}.cpython-313.pyc")
    code = (
        "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], "
        "doraise=True, invalidation_mode=py_compile.PycInvalidationMode[sys.argv[3]])"
    )
    subprocess.run([python313, "-S", "-c", code, str(source), str(pyc), mode], check=True)


def test_313_unchecked_hash_byte_code_of_the_shipped_source_passes(
    python313: str, tmp_path: Path
) -> None:
    # GIVEN a module and the byte code the layer build writes for it / WHEN checked / THEN fine
    compile_313(python313, _module(tmp_path))
    assert (
        verify_on(python313, tmp_path)
        == "PushgateLayer: 1 byte-code files, 0.0 MiB, all cpython-313"
    )


def _timestamp_based(python313: str, source: Path) -> None:
    compile_313(python313, source, "TIMESTAMP")


def _checked_hash(python313: str, source: Path) -> None:
    compile_313(python313, source, "CHECKED_HASH")


def _source_edited_since(python313: str, source: Path) -> None:  # would run the old code
    compile_313(python313, source)
    source.write_text("x = 2\n")


def _another_python(python313: str, source: Path) -> None:  # this one, under 3.13's name
    pyc = source.parent / "__pycache__" / "mod.cpython-313.pyc"
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    py_compile.compile(str(source), cfile=str(pyc), invalidation_mode=mode)


def _another_versions_name(python313: str, source: Path) -> None:
    compile_313(python313, source, name="mod.cpython-311.pyc")


def _optimised_name(python313: str, source: Path) -> None:  # Lambda runs without -O
    compile_313(python313, source, name="mod.cpython-313.opt-1.pyc")


def _source_missing(python313: str, source: Path) -> None:
    compile_313(python313, source)
    source.unlink()


SPOILERS = [
    _timestamp_based,
    _checked_hash,
    _source_edited_since,
    _another_versions_name,
    _optimised_name,
    _source_missing,
]
if sys.version_info[:2] != (3, 13):
    SPOILERS.append(_another_python)


@pytest.mark.parametrize("spoil", SPOILERS)
def test_byte_code_lambda_would_not_read_as_shipped_is_refused(
    python313: str, tmp_path: Path, spoil: Callable[[str, Path], None]
) -> None:
    # GIVEN a module whose byte code is not what Lambda's python3.13 reads unchecked
    spoil(python313, _module(tmp_path))
    # WHEN checked / THEN refused
    with pytest.raises(BytecodeError):
        verify_on(python313, tmp_path)


@pytest.mark.skipif(sys.version_info[:2] == (3, 13), reason="this interpreter is 3.13")
def test_only_python313_compiles_the_layer(tmp_path: Path) -> None:
    # GIVEN a traced module / WHEN another Python is asked to compile it / THEN it refuses
    # and writes nothing
    _module(tmp_path)
    with pytest.raises(BytecodeError):
        compile_traced(tmp_path, {"pkg/mod.py"})
    assert list(tmp_path.rglob("*.pyc")) == []


def test_the_trace_keeps_an_optional_import_that_fails(python313: str, tmp_path: Path) -> None:
    # GIVEN a layer package whose import tries a Windows-only module, as dateutil.tz does
    layer = {
        "pkg/__init__.py": "try:\n    from pkg import win\nexcept ImportError:\n    win = None\n",
        "pkg/win.py": "import winreg\n",
    }
    # WHEN the handler's cold start is traced
    traced = _trace(python313, tmp_path, layer, "import pkg\n")
    # THEN the module that failed to import is traced too: Lambda compiles it on every start
    assert traced == {"pkg/__init__.py", "pkg/win.py"}


def _trace(python313: str, tmp_path: Path, layer_files: dict[str, str], app: str) -> set[str]:
    """The trace of a handler ``app`` (its source) on a layer of ``layer_files``."""
    layer, sdk, function = tmp_path / "layer", tmp_path / "sdk", tmp_path / "fn"
    for relative, text in {**layer_files, "../fn/app.py": app}.items():
        (layer / relative).parent.mkdir(parents=True, exist_ok=True)
        (layer / relative).write_text(text)
    sdk.mkdir()
    return trace(
        LambdaPython(python313, layer, sdk), Handler("fn", function, "FnFunction", 128, {})
    )


def test_the_trace_covers_what_a_handler_imports_only_when_it_runs(
    python313: str, tmp_path: Path
) -> None:
    # GIVEN a handler whose pushgate module imports more inside a function (and relatively),
    # and names one module for annotations only
    layer = {
        "pushgate/__init__.py": "",
        "pushgate/lazy.py": "def fetch():\n    from pushgate import later\n",
        "pushgate/later.py": "import provider\nfrom . import near\n",
        "pushgate/near.py": "",
        "pushgate/typed.py": "",
        "provider/__init__.py": "def helper():\n    from provider import deep\n",
        "provider/deep.py": "",
    }
    app = "from typing import TYPE_CHECKING\nimport pushgate.lazy\n"
    app += "if TYPE_CHECKING:\n    import pushgate.typed\n"
    # WHEN its cold start is traced
    traced = _trace(python313, tmp_path, layer, app)
    # THEN what the handler's first call imports is traced too (the layer's own code is
    # followed; a third-party package's function-local import is not: the smoke test guards it)
    assert traced == {
        "pushgate/__init__.py",
        "pushgate/lazy.py",
        "pushgate/later.py",
        "pushgate/near.py",
        "provider/__init__.py",
    }


def test_the_trace_refuses_a_module_that_pushgate_imports_and_does_not_import(
    python313: str, tmp_path: Path
) -> None:
    # GIVEN a pushgate module that imports, inside a function, a package the layer lacks
    layer = {"pushgate/__init__.py": "", "pushgate/lazy.py": "def f():\n    import not_shipped\n"}
    # WHEN traced / THEN the build stops: the first invocation would fail the same way
    with pytest.raises(BytecodeError):
        _trace(python313, tmp_path, layer, "import pushgate.lazy\n")
