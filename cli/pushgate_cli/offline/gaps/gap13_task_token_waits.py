"""Gap 13: a wait for a task token takes no wall-clock time; its timeout is recorded.

moto: a ``.waitForTaskToken`` task blocks its worker thread until ``SendTaskSuccess`` /
``SendTaskFailure`` or until ``TimeoutSeconds`` (or ``HeartbeatSeconds``) pass in real time, so
a 60-second safety poll takes 60 seconds.

Here, once the task has started (its Lambda has run, the token is handed out), the world gets
one chance to answer: ``Host.token_waiting`` (the rehearsal lets ECS move on and delivers the
events it sends). An answer is the task's outcome (recorded as a ``woken`` wait of 0 s: the
offline world keeps no clock between ticks); no answer is the timeout, at once, recorded as a
``timeout`` wait of the timeout's seconds, and the state fails with ``States.Timeout`` (or
``States.HeartbeatTimeout``) as in AWS. With ``time_scale`` > 0 the timeout is slept scaled,
still answerable.
"""

from __future__ import annotations

from typing import Any

from pushgate_cli.offline.patching import Host, Patches


def install(patches: Patches, host: Host) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackOutcomeTimedOut,
        HeartbeatTimedOut,
    )

    def eval_wait_for_task_token(
        task: Any,
        env: Any,
        timeout_seconds: int,
        callback_endpoint: Any,
        heartbeat_endpoint: Any,
    ) -> Any:
        limit = (
            timeout_seconds
            if heartbeat_endpoint is None
            else min(timeout_seconds, heartbeat_endpoint._heartbeat_seconds)
        )
        if callback_endpoint.get_outcome() is None:
            host.token_waiting(env)
        outcome = callback_endpoint.get_outcome()
        if outcome is None and limit > 0 and host.time_scale > 0:
            outcome = callback_endpoint.wait(timeout=limit * host.time_scale)
        if outcome is not None:
            host.record_wait(env, 0, "woken")
            return outcome
        host.record_wait(env, max(0, limit), "timeout")
        if heartbeat_endpoint is not None and limit < timeout_seconds:
            return HeartbeatTimedOut()
        return CallbackOutcomeTimedOut(callback_id=callback_endpoint.callback_id)

    patches.set(
        state_task_service_callback.StateTaskServiceCallback,
        "_eval_wait_for_task_token",
        eval_wait_for_task_token,
    )
