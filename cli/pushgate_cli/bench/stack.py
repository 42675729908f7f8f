"""The stack's functions, as the bench measures them: the rehearsal's one list of logical ids
(``pushgate_cli.rehearse.FUNCTIONS``) for what a deploy runs, and every function of
template.yaml for the cold starts, each with its handler directory and memory read from the
template. A function added to the stack is measured without a change here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pushgate_cli.template import Resolver, function_setting

CONFIG_ENV: Final = "dev"  # whose samconfig parameters are measured (else template defaults)


@dataclass(frozen=True)
class StackFunction:
    name: str  # the handler directory under functions/ (CodeUri)
    logical_id: str
    memory_mb: int


def _function(template: Mapping[str, Any], resolver: Resolver, logical_id: str) -> StackFunction:
    return StackFunction(
        name=Path(str(function_setting(template, logical_id, "CodeUri", resolver))).name,
        logical_id=logical_id,
        memory_mb=int(function_setting(template, logical_id, "MemorySize", resolver)),
    )


def stack_functions(template: Mapping[str, Any], resolver: Resolver) -> list[StackFunction]:
    """Every function the rehearsal runs, in its order, as template.yaml defines it."""
    from pushgate_cli.rehearse import FUNCTIONS

    return [_function(template, resolver, logical_id) for logical_id in FUNCTIONS]


def all_functions(template: Mapping[str, Any], resolver: Resolver) -> list[StackFunction]:
    """Every function of the stack: the rehearsal's, in its order, then the others
    (compensate_run, observe_outcome, prune_snapshots: started by EventBridge rules, not by a
    deploy's own states), in template.yaml's order. Cold starts are measured for all of them."""
    rehearsed = stack_functions(template, resolver)
    known = {f.logical_id for f in rehearsed}
    others = [
        _function(template, resolver, logical_id)
        for logical_id, body in template.get("Resources", {}).items()
        if body.get("Type") == "AWS::Serverless::Function" and logical_id not in known
    ]
    return rehearsed + others
