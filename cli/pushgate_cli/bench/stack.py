"""The stack's functions, as the bench measures them: the rehearsal's one list of logical ids
(``pushgate_cli.rehearse.FUNCTIONS``) for what a deploy runs, and every function of
template.yaml for the cold starts, each with its handler directory and memory read from the
template. A function added to the stack is measured without a change here."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from pushgate_cli.template import (
    Resolver,
    function_environment,
    function_setting,
    offline_resolver,
    samconfig_environments,
    samconfig_parameters,
)

CONFIG_ENV: Final = "dev"  # whose samconfig parameters are measured (else template defaults)


@dataclass(frozen=True)
class StackFunction:
    name: str  # the handler directory under functions/ (CodeUri)
    logical_id: str
    memory_mb: int
    config_env: str = CONFIG_ENV  # whose samconfig parameters it is measured with


def config_resolvers(template: Mapping[str, Any], samconfig: Path) -> dict[str, Resolver]:
    """A resolver for each environment samconfig.toml deploys (those with deploy parameters),
    :data:`CONFIG_ENV`'s first, then the others in the file's order."""
    config = tomllib.loads(samconfig.read_text()) if samconfig.exists() else {}
    names = [CONFIG_ENV] + [name for name in samconfig_environments(config) if name != CONFIG_ENV]
    return {
        name: offline_resolver(template, samconfig_parameters(samconfig, name)) for name in names
    }


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


def all_functions(
    template: Mapping[str, Any], resolvers: Mapping[str, Resolver]
) -> list[StackFunction]:
    """Every function of the stack: the rehearsal's, in its order, then the others
    (compensate_run, observe_outcome, prune_snapshots: started by EventBridge rules, not by a
    deploy's own states), in template.yaml's order. Cold starts are measured for all of them.

    ``resolvers``: each samconfig environment's parameters, :data:`CONFIG_ENV`'s first. A function
    whose ``Condition`` leaves it out of that environment's stack (prune_snapshots without
    snapshots) is measured with the first environment that has it, named in ``config_env``; one
    that no environment has is left out."""
    first = resolvers[CONFIG_ENV]
    rehearsed = stack_functions(template, first)
    known = {f.logical_id for f in rehearsed}
    others = []
    for logical_id, body in template.get("Resources", {}).items():
        if body.get("Type") != "AWS::Serverless::Function" or logical_id in known:
            continue
        condition = body.get("Condition")
        having = [
            env for env, r in resolvers.items() if condition is None or r.condition(str(condition))
        ]
        if having:
            found = _function(template, resolvers[having[0]], logical_id)
            others.append(replace(found, config_env=having[0]))
    return rehearsed + others


def own_environments(
    template: Mapping[str, Any], resolvers: Mapping[str, Resolver], functions: list[StackFunction]
) -> dict[str, dict[str, str]]:
    """Each function's own variables from template.yaml, under the parameters it is measured
    with (its ``config_env``'s), by handler name."""
    return {
        f.name: function_environment(template, resolvers[f.config_env], f.logical_id)
        for f in functions
    }
