"""Gap 10: an error the machine handles is not logged as an error.

moto: its evaluator logs evaluation errors at ERROR, also ones that are part of a run going
exactly as designed (a Choice asking ``IsPresent`` of a field the input lacks), so a healthy
run fills the log with errors.

Here that logger is silenced while the interpreter is active: the execution history records
what failed, as in AWS.
"""

from __future__ import annotations

import logging

from pushgate_cli.offline.patching import Host, Patches

EVALUATION_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"


def install(patches: Patches, host: Host) -> None:
    patches.set(logging.getLogger(EVALUATION_LOGGER), "disabled", True)
