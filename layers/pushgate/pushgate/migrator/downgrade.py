"""Can a revision be undone? Read from its source (``ast``), never by running it."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

from alembic.script import Script


class _SourceUnavailable(Exception):
    """A revision function whose source cannot be read (e.g. a sourceless .pyc)."""


def _only_trivial(body: list[ast.stmt]) -> bool:
    """A function body that does nothing (docstring / pass / ...)."""
    return all(
        isinstance(node, ast.Pass)
        or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        for node in body
    )


def _function_body(module: Any, name: str) -> list[ast.stmt] | None:
    """The statements of ``module.name()``, or None when there is no such function."""
    fn = getattr(module, name, None)
    if fn is None:
        return None
    try:
        node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    except (OSError, TypeError, SyntaxError) as exc:
        raise _SourceUnavailable(name) from exc
    if not isinstance(node, ast.FunctionDef):
        raise _SourceUnavailable(name)
    return node.body


def has_working_downgrade(script: Script) -> bool:
    """Whether a revision can be undone: its downgrade() exists, does not just raise, and is not
    empty while its upgrade() does something. Source that cannot be read gets the benefit of the
    doubt (alembic would run it)."""
    try:
        down = _function_body(script.module, "downgrade")
        if down is None or (down and all(isinstance(node, ast.Raise) for node in down)):
            return False
        if _only_trivial(down):
            up = _function_body(script.module, "upgrade")
            return up is None or _only_trivial(up)
    except _SourceUnavailable:
        return True
    return True
