"""Read template.yaml the way CloudFormation would, for the offline rehearsal.

Only what the rehearsal needs: the CloudFormation short-form tags (`!Ref`, `!Sub`, `!GetAtt`,
`!If`, ...), parameter defaults and samconfig overrides, conditions, and the intrinsic functions
that appear in DefinitionSubstitutions and in function environments. The state machine that the
rehearsal runs is the real definition file with the template's own DefinitionSubstitutions
substituted: no copy of it exists anywhere else.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class TemplateError(Exception):
    """The template (or samconfig) does not say what the rehearsal needs."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short-form tags as their long form."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return document


def samconfig_environments(config: Mapping[str, Any]) -> list[str]:
    """The environments a parsed samconfig.toml deploys (those with a ``deploy`` table), in the
    file's order."""
    return [name for name, body in config.items() if isinstance(body, dict) and "deploy" in body]


def samconfig_parameters(path: Path, config_env: str) -> dict[str, str]:
    """The `parameter_overrides` of one environment in samconfig.toml (empty if none)."""
    if not path.exists():
        return {}
    config = tomllib.loads(path.read_text())
    env = config.get(config_env)
    if env is None:
        raise TemplateError(f"{path.name} has no environment {config_env!r}")
    overrides: Any = env.get("deploy", {}).get("parameters", {}).get("parameter_overrides", [])
    if isinstance(overrides, str):
        overrides = re.findall(r'(\S+?=(?:"[^"]*"|\S*))', overrides)
    result: dict[str, str] = {}
    for item in overrides:
        key, _, value = str(item).partition("=")
        result[key] = value.strip('"')
    return result


@dataclass
class Resolver:
    """Evaluates intrinsic functions against the resources the rehearsal created."""

    template: Mapping[str, Any]
    parameters: Mapping[str, str]
    refs: Mapping[str, str] = field(default_factory=dict)  # logical id -> Ref value
    attributes: Mapping[str, str] = field(default_factory=dict)  # "Logical.Attr" -> value
    region: str = "us-east-1"
    account_id: str = "123456789012"

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise TemplateError(f"unknown template parameters: {', '.join(sorted(unknown))}")
        values.update(self.parameters)
        self._parameters = values

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "pushgate-rehearsal",
            "AWS::NoValue": "",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self._parameters:
            return self._parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"the rehearsal cannot resolve Ref {name}")

    def condition(self, name: str) -> bool:
        spec = self.template.get("Conditions", {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(spec))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item) for key, item in value.items()}
        ((key, arg),) = value.items()
        function = _INTRINSICS.get(key)
        if function is not None:
            return function(self, arg)
        if key.startswith("Fn::"):
            raise TemplateError(f"the rehearsal does not evaluate {key}")
        return {key: self.resolve(arg)}

    def _get_att(self, arg: Any) -> Any:
        logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
        try:
            return self.attributes[f"{logical}.{attribute}"]
        except KeyError:
            raise TemplateError(
                f"the rehearsal cannot resolve GetAtt {logical}.{attribute}"
            ) from None

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {name: str(self.resolve(item)) for name, item in variables.items()}
        return _SUB_VARIABLE.sub(lambda m: local.get(m[1]) or self._sub_var(m[1]), text)

    def _if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _equals(self, arg: Any) -> bool:
        left, right = (self.resolve(item) for item in arg)
        return str(left) == str(right)

    def _join(self, arg: Any) -> str:
        separator, items = arg
        return str(separator).join(str(item) for item in self.resolve(items))

    def _select(self, arg: Any) -> Any:
        index, items = arg
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, arg: Any) -> list[str]:
        separator, text = arg
        return str(self.resolve(text)).split(separator)

    def _sub_var(self, name: str) -> str:
        if "." in name and not name.startswith("AWS::"):
            logical, attribute = name.split(".", 1)
            return str(self.resolve({"Fn::GetAtt": [logical, attribute]}))
        return self.ref(name)


# The intrinsic functions the rehearsal evaluates: name -> (resolver, argument) -> value.
_INTRINSICS: Mapping[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, arg: r.ref(str(arg)),
    "Condition": lambda r, arg: r.condition(str(arg)),
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Sub": Resolver._sub,
    "Fn::If": Resolver._if,
    "Fn::Equals": Resolver._equals,
    "Fn::Not": lambda r, arg: not r.resolve(arg[0]),
    "Fn::And": lambda r, arg: all(r.resolve(item) for item in arg),
    "Fn::Or": lambda r, arg: any(r.resolve(item) for item in arg),
    "Fn::Join": Resolver._join,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
}


def offline_resolver(template: Mapping[str, Any], parameters: Mapping[str, str]) -> Resolver:
    """A resolver for reading the template with no resources created: every resource's Ref is a
    stand-in name (``offline-<LogicalId>``), for the tools that only need the functions'
    settings to resolve (the layer's import trace, the bench's probes)."""
    stand_ins = {logical_id: f"offline-{logical_id}" for logical_id in template["Resources"]}
    return Resolver(template, parameters, refs=stand_ins)


def resource(template: Mapping[str, Any], logical_id: str) -> Mapping[str, Any]:
    try:
        found: Mapping[str, Any] = template["Resources"][logical_id]
    except KeyError:
        raise TemplateError(f"template.yaml has no resource {logical_id}") from None
    return found


def state_machine_definition(
    template: Mapping[str, Any], resolver: Resolver, root: Path, logical_id: str
) -> str:
    """The state machine's definition file with its DefinitionSubstitutions substituted."""
    properties = resource(template, logical_id)["Properties"]
    text = (root / str(properties["DefinitionUri"])).read_text()
    substitutions = {
        key: str(resolver.resolve(value))
        for key, value in properties.get("DefinitionSubstitutions", {}).items()
    }
    missing = sorted({m[1] for m in _SUB_VARIABLE.finditer(text)} - set(substitutions))
    if missing:
        raise TemplateError(f"no DefinitionSubstitutions for: {', '.join(missing)}")
    return _SUB_VARIABLE.sub(lambda m: substitutions[m[1]], text)


def function_environment(
    template: Mapping[str, Any], resolver: Resolver, logical_id: str
) -> dict[str, str]:
    """Globals' environment merged with the function's own, resolved."""
    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {})
    own_env = resource(template, logical_id)["Properties"].get("Environment", {})
    variables = {**global_env.get("Variables", {}), **own_env.get("Variables", {})}
    return {name: str(resolver.resolve(value)) for name, value in variables.items()}


def function_setting(
    template: Mapping[str, Any], logical_id: str, name: str, resolver: Resolver
) -> Any:
    """A function property (e.g. MemorySize, Timeout, CodeUri), falling back to Globals."""
    own = resource(template, logical_id)["Properties"]
    value = own.get(name, template.get("Globals", {}).get("Function", {}).get(name))
    return resolver.resolve(value)
