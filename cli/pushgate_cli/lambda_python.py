"""Lambda's python3.13 on this machine: the interpreter, a function's process, its cold start.

Used by the layer build (``layers/pushgate/Makefile`` traces the handlers' imports with it), the
python3.13 smoke test (tests/smoke) and ``pushgate bench`` (cold starts as Lambda pays them).
It runs on python3.13 in the layer build with nothing but the standard library, so it imports
nothing else at module level.

A function's process is what the python3.13 runtime starts, as far as a machine without Lambda
can have it:

- ``sys.path`` is the function's code (Lambda: ``/var/task``), then the layer's ``python/``
  (``/opt/python``), then the runtime's own boto3/botocore (``layers/pushgate/runtime-sdk.txt``),
  then the standard library. No site-packages of the interpreter (``-S``), no user site
  (``-s``, ``PYTHONNOUSERSITE``), no byte code written (``PYTHONDONTWRITEBYTECODE``): Lambda's
  ``/opt`` is read-only, so a cold start either finds byte code in the layer or compiles every
  module from source, every time.
- The environment is the one Lambda sets (region, function name, memory, handler, task root,
  log level and format, X-Ray's variables, the execution role's credentials as placeholders)
  plus the function's own variables from template.yaml.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

CACHE_TAG: Final = "cpython-313"  # the byte code Lambda's python3.13 reads
PYENV_VERSION: Final = "3.13.0"  # on this machine image (the developers' guide)
REGION: Final = "us-east-1"
HANDLER: Final = "app.lambda_handler"  # template.yaml Globals: every handler module is app.py
_MARKER: Final = "@@pushgate-lambda "


class LambdaPythonError(Exception):
    """A python3.13 process did not do what was asked (the message says what it printed)."""


class ColdStartFailed(LambdaPythonError):
    """The handler module did not import: Lambda's INIT phase would fail the same way."""

    def __init__(self, function: str, error_type: str, message: str, missing: str | None) -> None:
        super().__init__(f"{function} did not start on python3.13: {error_type}: {message}")
        self.error_type = error_type
        self.missing_module = missing  # ModuleNotFoundError's module, when that was the error


def is_python313(candidate: str) -> bool:
    """Does ``candidate`` run CPython 3.13 (whatever its patch release)?"""
    try:
        done = subprocess.run(
            [candidate, "-S", "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == CACHE_TAG


def _pyenv_candidates() -> list[str]:
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        done = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        roots.insert(0, done.stdout.strip())
    found: list[str] = []
    for root in filter(None, roots):
        versions = Path(root) / "versions"
        preferred = versions / PYENV_VERSION / "bin" / "python3.13"
        found += [str(preferred), *sorted(str(p) for p in versions.glob("3.13*/bin/python3.13"))]
    return found


def find_python313(explicit: str | None = None) -> str | None:
    """A CPython 3.13: ``explicit`` (PYTHON313), ``python3.13`` on PATH, or pyenv's; else None."""
    on_path = shutil.which("python3.13")
    for candidate in [explicit, on_path, *_pyenv_candidates()]:
        if candidate and is_python313(candidate):
            return candidate
    return None


def lambda_environment(
    function: str,
    function_dir: Path,
    memory_mb: int,
    own: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables Lambda's python3.13 runtime sets for ``function``, then its own (the
    template's), then ``extra`` (credentials, an endpoint). Nothing of this process's."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": f"pushgate-{function.replace('_', '-')}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",  # template Globals: LoggingConfig
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        # the execution role's temporary credentials, always in a function's environment: an
        # SDK client finds them first and never looks further (no config files, no instance
        # metadata). Placeholders here; a caller that calls AWS passes its own in ``extra``.
        "AWS_ACCESS_KEY_ID": "execution-role-placeholder",
        "AWS_SECRET_ACCESS_KEY": "execution-role-placeholder",
        "AWS_SESSION_TOKEN": "execution-role-placeholder",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",  # Tracing: Active
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "LAMBDA_TASK_ROOT": str(function_dir),
        "LAMBDA_RUNTIME_DIR": str(function_dir),
        "_HANDLER": HANDLER,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(own)
    env.update(extra or {})
    return env


# The child: import the handler module as the runtime does (by name, from the path), report
# what it loaded and how long that took, then optionally invoke it once with a context that
# has what Powertools reads from Lambda's.
_CHILD = """\
import time as _t
_started = _t.perf_counter()
import importlib, json, os, sys, uuid
_compiled = []
def _audit(event, args):  # a module's source compiled: no byte code was found for it
    if event == "compile" and isinstance(args[1], str) and args[1].endswith(".py"):
        _compiled.append(args[1])
if {watch_compiles!r}:  # off when timing: the hook sees every audit event of the start
    sys.addaudithook(_audit)
def _say(kind, payload):
    sys.stdout.write({marker!r} + kind + " " + json.dumps(payload, default=str) + "\\n")
    sys.stdout.flush()
try:
    _module = importlib.import_module({module!r})
except Exception as _exc:  # Lambda: Runtime.ImportModuleError, the INIT phase fails
    _say("failed", {{"errorType": type(_exc).__name__, "errorMessage": str(_exc),
                    "missing": getattr(_exc, "name", None)}})
    os._exit(0)
_import_ms = (_t.perf_counter() - _started) * 1000
_imported_too = []  # the layer build's trace: modules a handler may import later, by name
for _name in {then_import!r}:
    _parent, _, _leaf = _name.rpartition(".")
    try:  # `from package import name`: name is a module's attribute, or its submodule
        if _parent and not isinstance(
            getattr(importlib.import_module(_parent), _leaf, sys), type(sys)
        ):
            continue
        importlib.import_module(_name)
    except Exception as _exc:  # that import statement would fail in the handler too
        _imported_too.append(_name + ": " + type(_exc).__name__ + ": " + str(_exc))
_say("loaded", {{
    "import_ms": _import_ms,
    "files": sorted({{getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}}),
    "modules": sorted(sys.modules),
    "compiled": sorted(set(_compiled)),
    "not_imported": _imported_too,
    "cold_start_errors": [
        f"{{k}}: {{type(v).__name__}}" for k, v in vars(_module).items()
        if isinstance(v, BaseException)
    ],
}})
_event = os.environ.get("PUSHGATE_LAMBDA_EVENT")
_compiled_at_start = len(_compiled)
if _event is not None:
    class _Context:
        function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        function_version = "$LATEST"
        memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        invoked_function_arn = (
            "arn:aws:lambda:" + os.environ["AWS_REGION"] + ":123456789012:function:"
            + function_name
        )
        aws_request_id = str(uuid.uuid4())
        log_group_name = "/aws/lambda/" + function_name
        log_stream_name = "smoke"
        _deadline = _t.monotonic() + 30
        def get_remaining_time_in_millis(self):
            return int((self._deadline - _t.monotonic()) * 1000)
    try:
        _result = _module.lambda_handler(json.loads(_event), _Context())
    except Exception as _exc:
        _answer = {{"errorType": type(_exc).__name__, "errorMessage": str(_exc)}}
    else:
        _answer = {{"result": _result}}
    _say("invoked", {{"answer": _answer, "compiled": sorted(set(_compiled[_compiled_at_start:]))}})
os._exit(0)
"""


@dataclass(frozen=True)
class ColdStart:
    """What one function's process loaded, and how long it took."""

    import_ms: float  # the import of the handler module, timed in the child
    process_ms: float  # from spawning the child until it reported the module loaded
    files: list[str]
    modules: list[str]
    cold_start_errors: list[str]
    # with ``watch_compiles``: the .py files the import compiled from source (no byte code was
    # found), loaded or not: a module whose own import failed (``try: import winreg``) is
    # compiled all the same, and is in no ``files``
    compiled: list[str] = field(default_factory=list)
    invocation: dict[str, Any] | None = None  # {"result": ...} or {"errorType", "errorMessage"}
    # with ``watch_compiles`` and an event: the .py files the first invocation compiled from
    # source (a module the handler imports only when it runs, and found no byte code for)
    first_call_compiled: list[str] = field(default_factory=list)
    # ``then_import``'s names that neither imported nor are an attribute of their parent
    # module (``from package import function``), each with why
    not_imported: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LambdaPython:
    """How to start a function's process: the interpreter, the layer, the runtime's SDK."""

    python: str
    layer: Path  # the layer's python/ directory
    runtime_sdk: Path  # boto3/botocore as the runtime provides them
    timeout_s: float = 120
    flags: Sequence[str] = field(default=("-S", "-s"))

    def python_path(self, function_dir: Path) -> str:
        return os.pathsep.join(str(p) for p in (function_dir, self.layer, self.runtime_sdk))

    def run(
        self,
        function_dir: Path,
        env: Mapping[str, str],
        event: Any | None = None,
        *,
        module: str = "app",
        watch_compiles: bool = False,
        then_import: Sequence[str] = (),
    ) -> ColdStart:
        """Start the function's process; import its handler module (``module``: another one,
        to compare) and invoke it once with ``event`` unless None; what it reported.
        ``watch_compiles``: note which sources the import (and the invocation) compiled (an
        audit hook, so not while timing). ``then_import``: modules to import after the handler
        module and before the invocation (what the layer build traces beyond the cold start);
        the timing is the handler module's alone."""
        child_env = {**env, "PYTHONPATH": self.python_path(function_dir)}
        if event is not None:
            child_env["PUSHGATE_LAMBDA_EVENT"] = json.dumps(event)
        code = _CHILD.format(
            marker=_MARKER,
            module=module,
            watch_compiles=watch_compiles,
            then_import=list(then_import),
        )
        started = time.perf_counter()
        child = subprocess.Popen(
            [self.python, *self.flags, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=function_dir,
            env=child_env,
            text=True,
        )
        assert child.stdout is not None
        reports: dict[str, dict[str, Any]] = {}
        loaded_ms = 0.0
        for line in child.stdout:
            if line.startswith(_MARKER):
                kind, payload = line[len(_MARKER) :].split(" ", 1)
                if kind == "loaded":
                    loaded_ms = (time.perf_counter() - started) * 1000
                reports[kind] = json.loads(payload)
        _, stderr = child.communicate(timeout=self.timeout_s)
        if "failed" in reports:
            failed = reports["failed"]
            raise ColdStartFailed(
                function_dir.name, failed["errorType"], failed["errorMessage"], failed["missing"]
            )
        if "loaded" not in reports or child.returncode != 0:
            raise LambdaPythonError(
                f"{function_dir.name} did not start on python3.13 (exit {child.returncode}): "
                f"{stderr.strip()[-1500:]}"
            )
        loaded = reports["loaded"]
        invoked = reports.get("invoked")
        return ColdStart(
            import_ms=float(loaded["import_ms"]),
            process_ms=loaded_ms,
            files=[f for f in loaded["files"] if f],
            modules=list(loaded["modules"]),
            cold_start_errors=list(loaded["cold_start_errors"]),
            compiled=list(loaded["compiled"]),
            invocation=None if invoked is None else dict(invoked["answer"]),
            first_call_compiled=[] if invoked is None else list(invoked["compiled"]),
            not_imported=list(loaded["not_imported"]),
        )


def build_host_layer(directory: Path, python313: str, *, read_only: bool = True) -> LambdaPython:
    """``make -f layers/pushgate/Makefile host-layer``: the layer, built as `sam build` builds
    it (same pins, same trace, same byte code) but with this machine's wheels, into
    ``directory``; read-only afterwards, as Lambda's ``/opt`` is, unless told otherwise."""
    from pushgate_cli.handlers import REPO_ROOT

    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-f",
            str(REPO_ROOT / "layers" / "pushgate" / "Makefile"),
            "host-layer",
            f"LAYER_DIR={directory}",
            f"PYTHON313={python313}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        output = f"{done.stdout}\n{done.stderr}".strip()
        raise LambdaPythonError(f"the host layer did not build: {output[-2000:]}")
    layer = LambdaPython(python313, directory / "python", directory / "runtime-sdk")
    if read_only:
        for path in layer.layer.rglob("*"):
            path.chmod(path.stat().st_mode & ~0o222)
    return layer


def _main(argv: Sequence[str]) -> int:
    """``python -m pushgate_cli.lambda_python find``: print the python3.13 found, or fail."""
    if list(argv) != ["find"]:
        print("usage: python -m pushgate_cli.lambda_python find", file=sys.stderr)  # noqa: T201
        return 2
    found = find_python313(os.environ.get("PYTHON313") or None)
    if found is None:
        return 1
    print(found)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
