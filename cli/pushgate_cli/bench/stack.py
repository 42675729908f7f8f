"""The stack's functions, as the bench measures them: the rehearsal's one list of logical ids
(``pushgate_cli.rehearse.FUNCTIONS``), each with its handler directory and memory read from
template.yaml. A function added to the stack and the rehearsal is measured without a change
here."""

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


def stack_functions(template: Mapping[str, Any], resolver: Resolver) -> list[StackFunction]:
    """Every function the rehearsal runs, in its order, as template.yaml defines it."""
    from pushgate_cli.rehearse import FUNCTIONS

    return [
        StackFunction(
            name=Path(str(function_setting(template, logical_id, "CodeUri", resolver))).name,
            logical_id=logical_id,
            memory_mb=int(function_setting(template, logical_id, "MemorySize", resolver)),
        )
        for logical_id in FUNCTIONS
    ]
