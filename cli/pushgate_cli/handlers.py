"""Load the Lambda handlers that ship, from their files, the way the Lambda runtime does.

Each function lives in `functions/<name>/app.py` and is deployed with that directory as its
code root, so every handler module is called `app`. Locally they are loaded by file path under a
unique module name (`pushgate_fn_<name>`), which keeps them apart without touching `sys.path`.
The module's top level is its cold start: it runs once per process unless `fresh=True`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]


def function_dir(name: str, root: Path | None = None) -> Path:
    return (root or REPO_ROOT) / "functions" / name


def load_handler(name: str, root: Path | None = None, *, fresh: bool = False) -> ModuleType:
    """Import `functions/<name>/app.py` as module `pushgate_fn_<name>` (a cold start)."""
    module_name = f"pushgate_fn_{name}"
    if not fresh and module_name in sys.modules:
        return sys.modules[module_name]
    path = function_dir(name, root) / "app.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no handler module at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module
