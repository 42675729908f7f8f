"""The layer's byte code check: only CPython 3.13's, unchecked-hash, from the source shipped.

These run on the development Python (3.11 or 3.13); the byte code itself is made by the layer
build under python3.13 (tests/smoke and tests/infra check the real thing).
"""

from __future__ import annotations

import importlib.util
import py_compile
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pushgate_cli.layer_bytecode import (
    MAGIC_313,
    UNCHECKED_HASH_FLAGS,
    BytecodeError,
    compile_traced,
    verify,
)

pytestmark = pytest.mark.unit


def _module(layer: Path, text: str = "x = 1\n") -> Path:
    source = layer / "pkg" / "mod.py"
    source.parent.mkdir(parents=True)
    source.write_text(text)
    return source


def _pyc_313(source: Path, flags: int = UNCHECKED_HASH_FLAGS, name: str | None = None) -> Path:
    """A pyc header as python3.13 writes it for ``source`` (the code object is not read)."""
    cache = source.parent / "__pycache__"
    cache.mkdir(exist_ok=True)
    pyc = cache / (name or f"{source.stem}.cpython-313.pyc")
    header = MAGIC_313 + flags.to_bytes(4, "little")
    pyc.write_bytes(header + importlib.util.source_hash(source.read_bytes()) + b"code")
    return pyc


def test_313_unchecked_hash_byte_code_of_the_shipped_source_passes(tmp_path: Path) -> None:
    # GIVEN a module and its python3.13 unchecked-hash pyc / WHEN verified / THEN it counts
    _pyc_313(_module(tmp_path))
    count, size = verify(tmp_path)
    assert count == 1
    assert size > 16


@pytest.mark.skipif(sys.version_info[:2] == (3, 13), reason="this interpreter is 3.13")
def test_byte_code_of_another_python_is_refused(tmp_path: Path) -> None:
    # GIVEN byte code compiled by this (non-3.13) interpreter, under the 3.13 name
    source = _module(tmp_path)
    pyc = source.parent / "__pycache__" / "mod.cpython-313.pyc"
    py_compile.compile(
        str(source),
        cfile=str(pyc),
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    # WHEN verified / THEN refused
    with pytest.raises(BytecodeError):
        verify(tmp_path)


def _timestamp_based(source: Path) -> None:
    _pyc_313(source, flags=0)


def _checked_hash(source: Path) -> None:
    _pyc_313(source, flags=0b11)


def _source_edited_since(source: Path) -> None:  # unchecked-hash would run the old code
    _pyc_313(source)
    source.write_text("x = 2\n")


def _another_versions_name(source: Path) -> None:
    _pyc_313(source, name="mod.cpython-311.pyc")


def _optimised_name(source: Path) -> None:  # Lambda runs without -O
    _pyc_313(source, name="mod.cpython-313.opt-1.pyc")


def _source_missing(source: Path) -> None:
    _pyc_313(source)
    source.unlink()


@pytest.mark.parametrize(
    "spoil",
    [
        _timestamp_based,
        _checked_hash,
        _source_edited_since,
        _another_versions_name,
        _optimised_name,
        _source_missing,
    ],
)
def test_byte_code_lambda_would_not_read_as_shipped_is_refused(
    tmp_path: Path, spoil: Callable[[Path], None]
) -> None:
    # GIVEN a module whose byte code is not what Lambda's python3.13 reads unchecked
    spoil(_module(tmp_path))
    # WHEN verified / THEN refused
    with pytest.raises(BytecodeError):
        verify(tmp_path)


@pytest.mark.skipif(sys.version_info[:2] == (3, 13), reason="this interpreter is 3.13")
def test_only_python313_compiles_the_layer(tmp_path: Path) -> None:
    # GIVEN a traced module / WHEN another Python is asked to compile it / THEN it refuses
    # and writes nothing
    _module(tmp_path)
    with pytest.raises(BytecodeError):
        compile_traced(tmp_path, {"pkg/mod.py"})
    assert list(tmp_path.rglob("*.pyc")) == []
