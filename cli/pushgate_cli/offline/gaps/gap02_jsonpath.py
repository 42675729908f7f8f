"""Gap 2: a definite JSONPath yields the value itself, an indefinite one a list.

moto: ``utils.json_path.extract_json`` returns ``[value]`` for a definite path such as
``$.a[0].b``, which breaks Choice, InputPath, ResultSelector and intrinsic arguments.

AWS: a definite path (only names and single indexes) yields the value; an indefinite one
(``[*]``, slices, filters, unions, ``..``) yields a list, ``[]`` when nothing matches.
``extract_json`` is imported by name into about ten moto modules: every module's reference is
replaced.
"""

from __future__ import annotations

import sys
from typing import Any

from pushgate_cli.offline.patching import Host, Patches


def install(patches: Patches, host: Host) -> None:
    from jsonpath_ng.ext.parser import parse as jsonpath_parse

    # the modules that import extract_json by name, loaded before their references are replaced
    from moto.stepfunctions.parser import models  # noqa: F401
    from moto.stepfunctions.parser.asl.parse import asl_parser  # noqa: F401
    from moto.stepfunctions.parser.asl.utils import json_path

    original_extract = json_path.extract_json

    def extract_json(path: str, data: Any) -> Any:
        expression = jsonpath_parse(path)
        matches = expression.find(data)
        if _is_definite(expression):
            if not matches:
                raise json_path.NoSuchJsonPathError(json_path=path, data=data)
            return matches[0].value
        return [match.value for match in matches]

    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name.startswith("moto.stepfunctions") and vars(module).get("extract_json") is (
            original_extract
        ):
            patches.set(module, "extract_json", extract_json)


def _is_definite(expression: Any) -> bool:
    """True when a JSONPath can match one value at most: only names and single indexes."""
    from jsonpath_ng import jsonpath

    if isinstance(expression, jsonpath.Root | jsonpath.This):
        return True
    if isinstance(expression, jsonpath.Child):
        return _is_definite(expression.left) and _is_definite(expression.right)
    if isinstance(expression, jsonpath.Fields):
        return len(expression.fields) == 1 and expression.fields[0] != "*"
    if isinstance(expression, jsonpath.Index):
        return len(expression.indices) == 1
    return False
