"""Gap 11: a definition is parsed once, not for every execution.

moto: ``AmazonStateLanguageParser.parse`` runs the ANTLR grammar (pure Python: about a second
for a large machine) when a state machine is created and again for every execution.

Here the syntax tree of each definition is kept for the process; every parse still builds
fresh evaluation components from it, so no execution shares state with another.
"""

from __future__ import annotations

import threading
from typing import Any

from pushgate_cli.offline.patching import Host, Patches

_SYNTAX_TREES: dict[str, Any] = {}  # definition -> moto's ANTLR syntax tree of it
_PARSE_LOCK = threading.Lock()


def install(patches: Patches, host: Host) -> None:
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    original_parse = asl_parser.AmazonStateLanguageParser.parse

    def parse(definition: str) -> tuple[Any, Any]:
        with _PARSE_LOCK:
            tree = _SYNTAX_TREES.get(definition)
        if tree is None:
            _program, tree = original_parse(definition)
            with _PARSE_LOCK:
                _SYNTAX_TREES[definition] = tree
        return Preprocessor().visit(tree), tree

    patches.set(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(parse))
