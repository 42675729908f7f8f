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
    layer, sdk, function = tmp_path / "layer", tmp_path / "sdk", tmp_path / "fn"
    for directory in (layer / "pkg", sdk, function):
        directory.mkdir(parents=True)
    (layer / "pkg" / "__init__.py").write_text(
        "try:\n    from pkg import win\nexcept ImportError:\n    win = None\n"
    )
    (layer / "pkg" / "win.py").write_text("import winreg\n")
    (function / "app.py").write_text("import pkg\n")
    handler = Handler("fn", function, "FnFunction", 128, {})
    # WHEN the handler's cold start is traced
    traced = trace(LambdaPython(python313, layer, sdk), handler)
    # THEN the module that failed to import is traced too: Lambda compiles it on every start
    assert traced == {"pkg/__init__.py", "pkg/win.py"}
