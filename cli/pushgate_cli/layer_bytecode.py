"""The layer's byte code: the modules the handlers import at cold start, for CPython 3.13.

``layers/pushgate/Makefile`` runs this under python3.13 after the layer's files are in place::

    python3.13 -m pushgate_cli.layer_bytecode --layer DIR --site DIR --runtime-sdk DIR
        --functions DIR --template template.yaml --samconfig samconfig.toml

1. Trace: each ``functions/<name>/app.py`` is imported in its own process the way Lambda's
   python3.13 imports it (:mod:`pushgate_cli.lambda_python`), with the environment the template
   gives that function, against ``--site`` (the layer's closure installed for this machine: the
   layer itself when it was built for this machine). What the process has loaded from ``--site``,
   and what it compiled there without loading (an import that failed inside a ``try``), is the
   cold-start set. Nothing is kept by hand.
2. Compile: each traced module of the layer (``--layer``; the same relative path) gets
   ``__pycache__/<module>.cpython-313.pyc`` with ``--invalidation-mode unchecked-hash``: zip
   extraction does not keep the mtimes a timestamp-checked pyc needs, and ``/opt`` is read-only.
3. Verify: every ``.pyc`` in the layer is CPython 3.13's, hash-based and unchecked, and was
   compiled from the source beside it; nothing else is byte code.

Exit 0 with a one-line summary; 1 with one line saying what is wrong (never a traceback).
"""

from __future__ import annotations

import argparse
import importlib.util
import py_compile
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pushgate_cli.lambda_python import (
    CACHE_TAG,
    LambdaPython,
    LambdaPythonError,
    lambda_environment,
)

# CPython 3.13's magic number (Lib/importlib/_bootstrap_external.py: 3571), as a pyc starts.
MAGIC_313: Final = (3571).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH_FLAGS: Final = 0b01  # PEP 552: bit 0 hash-based, bit 1 check_source (off)
# whose parameters make every handler's cold-start settings valid: prod has every function
# (it takes snapshots, so PruneSnapshotsFunction exists and names its instance)
CONFIG_ENV: Final = "prod"


class BytecodeError(Exception):
    """The layer's byte code could not be built or is not what Lambda's python3.13 reads."""


def _require_python313(why: str) -> None:
    if importlib.util.MAGIC_NUMBER != MAGIC_313 or sys.implementation.cache_tag != CACHE_TAG:
        raise BytecodeError(f"this is Python {sys.version.split()[0]}, not CPython 3.13: {why}")


@dataclass(frozen=True)
class Handler:
    name: str  # functions/<name>
    directory: Path
    logical_id: str
    memory_mb: int
    environment: Mapping[str, str]  # the template's, resolved


def handlers(functions: Path, template_path: Path, samconfig: Path) -> list[Handler]:
    """Every ``functions/<name>/app.py``, with what template.yaml says about its function."""
    from pushgate_cli.template import (
        TemplateError,
        function_environment,
        function_setting,
        load_template,
        offline_resolver,
        samconfig_parameters,
    )

    try:
        template = load_template(template_path)
        resolver = offline_resolver(template, samconfig_parameters(samconfig, CONFIG_ENV))
        by_code_uri = {
            Path(str(function_setting(template, logical_id, "CodeUri", resolver))).name: logical_id
            for logical_id, spec in template["Resources"].items()
            if spec.get("Type") == "AWS::Serverless::Function"
        }
        found = []
        for app in sorted(functions.glob("*/app.py")):
            name = app.parent.name
            if name not in by_code_uri:
                raise BytecodeError(f"{app} is the code of no function in {template_path.name}")
            logical_id = by_code_uri[name]
            memory = int(function_setting(template, logical_id, "MemorySize", resolver))
            env = function_environment(template, resolver, logical_id)
            found.append(Handler(name, app.parent, logical_id, memory, env))
    except TemplateError as exc:
        raise BytecodeError(f"{template_path.name}: {exc}") from exc
    if not found:
        raise BytecodeError(f"no functions/*/app.py under {functions}")
    return found


def trace(python: LambdaPython, handler: Handler) -> set[str]:
    """The files of ``python.layer`` that the handler's cold start loads or compiles, relative
    to it."""
    env = lambda_environment(
        handler.name, handler.directory, handler.memory_mb, handler.environment
    )
    try:
        started = python.run(handler.directory, env, watch_compiles=True)
    except LambdaPythonError as exc:
        raise BytecodeError(str(exc)) from exc
    if started.cold_start_errors:
        raise BytecodeError(
            f"{handler.name} kept errors at cold start, so its trace is not what Lambda loads: "
            + ", ".join(started.cold_start_errors)
        )
    root = python.layer.resolve()
    traced = set()
    # what it loaded, and what it compiled without keeping: a module whose import fails on
    # Linux (dateutil/tz/win.py: no winreg) is compiled from source on every cold start all
    # the same (6 ms for that one), yet is in no sys.modules
    for file in [*started.files, *started.compiled]:
        path = Path(file).resolve()
        if path.suffix == ".py" and path.is_relative_to(root):
            traced.add(str(path.relative_to(root)))
    return traced


def compile_traced(layer: Path, traced: set[str]) -> int:
    """Write CPython 3.13 byte code (unchecked hash) for each traced module of ``layer``."""
    _require_python313("its byte code would never be read by Lambda's python3.13")
    for relative in sorted(traced):
        source = layer / relative
        if not source.is_file():
            raise BytecodeError(
                f"the handlers load {relative}, which the layer does not have: the layer's "
                "closure for Lambda differs from the one traced"
            )
        py_compile.compile(
            str(source),
            cfile=importlib.util.cache_from_source(str(source)),
            dfile=f"/opt/python/{relative}",
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    return len(traced)


def verify(layer: Path) -> tuple[int, int]:
    """(files, bytes) of the layer's byte code, after checking each is CPython 3.13's,
    hash-based and unchecked, compiled from the source beside it, in ``__pycache__``. Runs on
    python3.13 only: a pyc's source hash is keyed by the magic number of the Python that
    computes it (``importlib.util.source_hash``)."""
    _require_python313("only python3.13 computes the source hashes of its byte code")
    count = size = 0
    for pyc in sorted(layer.rglob("*.py[co]")):
        relative = pyc.relative_to(layer)
        stem, _, rest = pyc.name.partition(".")
        if pyc.parent.name != "__pycache__" or rest != f"{CACHE_TAG}.pyc":
            raise BytecodeError(f"{relative}: not byte code that python3.13 looks for")
        source = pyc.parent.parent / f"{stem}.py"
        if not source.is_file():
            raise BytecodeError(f"{relative}: no source beside it")
        header = pyc.read_bytes()[:16]
        if header[:4] != MAGIC_313:
            raise BytecodeError(f"{relative}: byte code of another Python (magic {header[:4]!r})")
        if int.from_bytes(header[4:8], "little") != UNCHECKED_HASH_FLAGS:
            raise BytecodeError(f"{relative}: not --invalidation-mode unchecked-hash")
        if header[8:16] != importlib.util.source_hash(source.read_bytes()):
            raise BytecodeError(f"{relative}: compiled from another source than the one shipped")
        count += 1
        size += pyc.stat().st_size
    return count, size


def verify_on(python313: str, layer: Path) -> str:
    """:func:`verify` run by ``python313`` (from any Python): its summary, or BytecodeError."""
    from pushgate_cli.handlers import REPO_ROOT

    done = subprocess.run(
        [
            python313,
            "-S",
            "-m",
            "pushgate_cli.layer_bytecode",
            "--verify-only",
            "--layer",
            str(layer),
        ],
        env={"PYTHONPATH": str(REPO_ROOT / "cli"), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BytecodeError(done.stderr.strip().removeprefix("PushgateLayer: "))
    return done.stdout.strip()


def build(args: argparse.Namespace) -> str:
    site = args.site or args.layer
    python = LambdaPython(sys.executable, site, args.runtime_sdk)
    per_handler = {}
    traced: set[str] = set()
    for handler in handlers(args.functions, args.template, args.samconfig):
        found = trace(python, handler)
        per_handler[handler.name] = len(found)
        traced |= found
    compile_traced(args.layer, traced)
    count, size = verify(args.layer)
    if count != len(traced):
        raise BytecodeError(f"{count} byte-code files in the layer, {len(traced)} modules traced")
    each = ", ".join(f"{name} {n}" for name, n in per_handler.items())
    return (
        f"byte code for {count} modules traced from the handlers' cold starts ({each}): "
        f"{size / 1024 / 1024:.1f} MiB, {CACHE_TAG}, unchecked-hash"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3.13 -m pushgate_cli.layer_bytecode")
    parser.add_argument("--layer", type=Path, required=True, help="the layer's python/")
    parser.add_argument(
        "--site", type=Path, help="the same closure for this machine (default: --layer)"
    )
    parser.add_argument("--runtime-sdk", type=Path, help="the runtime's boto3")
    parser.add_argument("--functions", type=Path, help="functions/")
    parser.add_argument("--template", type=Path)
    parser.add_argument("--samconfig", type=Path)
    parser.add_argument("--verify-only", action="store_true", help="only check the byte code")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    needed = ("runtime_sdk", "functions", "template", "samconfig")
    if not args.verify_only and any(getattr(args, name) is None for name in needed):
        parser.error("--runtime-sdk, --functions, --template and --samconfig are required")
    try:
        if args.verify_only:
            count, size = verify(args.layer)
            summary = f"{count} byte-code files, {size / 1024 / 1024:.1f} MiB, all {CACHE_TAG}"
        else:
            summary = build(args)
    except (BytecodeError, OSError, py_compile.PyCompileError) as exc:
        print(f"PushgateLayer: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(f"PushgateLayer: {summary}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
