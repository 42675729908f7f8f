"""Gap 12: ``States.ALL`` does not catch (or retry) ``States.Runtime`` and
``States.DataLimitExceeded``; they end the execution.

moto: ``ErrorEqualsDecl`` lets ``States.ALL`` match every error name, so a Catch on it catches
a ``States.Runtime`` (a path that matches nothing, a failed intrinsic function) and the run goes
on to its compensation. Offline tests then pass where AWS ends the run: no compensation, no
alert from the definition, the lock still held.

AWS: "The States.ALL error type must appear alone in a Catcher and can't catch the
States.DataLimitExceeded terminal error or Runtime error types"
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html, "Error
names"). Here ``States.ALL`` matches every error but those two, in Catchers and Retriers
alike (both use ``ErrorEqualsDecl``). moto never raises ``States.DataLimitExceeded`` (it does not
enforce the 256 KiB payload quota); were it to, it would end the run as in AWS.
"""

from __future__ import annotations

from typing import Any, Final

from pushgate_cli.offline.patching import Host, Patches

UNCATCHABLE_BY_STATES_ALL: Final = frozenset({"States.Runtime", "States.DataLimitExceeded"})


def install(patches: Patches, host: Host) -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
        ErrorEqualsDecl,
    )

    original = ErrorEqualsDecl._eval_body

    def eval_body(decl: Any, env: Any) -> None:
        error_name = env.stack[-1]
        name = getattr(error_name, "error_name", None)
        catches_all = any(getattr(n, "error_name", None) == "States.ALL" for n in decl.error_names)
        if catches_all and name in UNCATCHABLE_BY_STATES_ALL:
            env.stack.pop()
            env.stack.append(False)
            return
        original(decl, env)

    patches.set(ErrorEqualsDecl, "_eval_body", eval_body)
