"""Can a revision be undone? Read from its file's source (``ast``), never by running it."""

from __future__ import annotations

import ast

from pushgate.migrator.sources import SourceRevision


def _only_trivial(body: list[ast.stmt]) -> bool:
    """A function body that does nothing (docstring / pass / ...)."""
    return all(
        isinstance(node, ast.Pass)
        or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        for node in body
    )


def has_working_downgrade(revision: SourceRevision) -> bool:
    """Whether a revision can be undone: its downgrade() exists, does not just raise, and is not
    empty while its upgrade() does something."""
    down = revision.functions.get("downgrade")
    if down is None or (down and all(isinstance(node, ast.Raise) for node in down)):
        return False
    if _only_trivial(down):
        up = revision.functions.get("upgrade")
        return up is None or _only_trivial(up)
    return True
