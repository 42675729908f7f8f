"""``pushgate_accept``: a revision accepts a named rule, with its reason, so a deliberate
contract step can ship under SchemaPolicy enforce.

In the revision file, at module level::

    pushgate_accept = {"ban-drop-column": "contract step: 1.4 stopped reading users.nickname"}

It is read from the file's source (``ast``, a literal), as pushgate reads a revision's graph
fields, never by running anything. Each key must be a rule of the verdict table
(:mod:`pushgate.review.rules`) and each reason a non-empty string: anything else is refused
with the reason (the review turns that into a finding of its own, and accepts nothing).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

from pushgate.review.rules import MOOT, NOT_ACCEPTABLE, RULES

NAME: Final = "pushgate_accept"
MAX_REASON_CHARS: Final = 200  # an acceptance's reason, as the events quote it


def _assigned(node: ast.stmt) -> ast.expr | None:
    """The value ``node`` assigns to ``pushgate_accept``, if it does."""
    if isinstance(node, ast.Assign):
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        return node.value if NAME in names else None
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.value if node.target.id == NAME else None
    return None


def _check(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"{NAME} must be a dict {{rule: reason}}, not {type(value).__name__}")
    accepted: dict[str, str] = {}
    for rule, reason in value.items():
        if not isinstance(rule, str) or rule not in {*RULES, *MOOT} or rule in NOT_ACCEPTABLE:
            raise ValueError(f"{NAME} names {rule!r}, which is not a rule it can accept"[:300])
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"{NAME}[{rule!r}] must give a reason (a non-empty string)")
        accepted[rule] = reason.strip()[:MAX_REASON_CHARS]
    return accepted


def accepted_rules(source: str) -> dict[str, str]:
    """``{rule: reason}`` from a revision's source (empty without ``pushgate_accept``).
    ValueError, with the reason, when it is not a literal dict of known rules to reasons."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"the revision's source does not parse: {exc}") from exc
    values = [value for node in tree.body if (value := _assigned(node)) is not None]
    if not values:
        return {}
    if len(values) > 1:
        raise ValueError(f"{NAME} is assigned {len(values)} times")
    try:
        literal = ast.literal_eval(values[0])
    except ValueError as exc:
        raise ValueError(f"{NAME} must be a literal dict {{rule: reason}}: {exc}") from exc
    return _check(literal)


def accepted_in_file(path: Path) -> dict[str, str]:
    """:func:`accepted_rules` of the revision file at ``path``."""
    return accepted_rules(path.read_text(encoding="utf-8"))
