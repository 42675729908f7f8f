"""Gap 4: Wait states and Retry back-offs take no wall-clock time; their seconds are recorded.

moto: ``WaitFunction._wait_interval`` waits for real, and ``RetrierDecl._eval_body`` calls
``time.sleep`` for every back-off, so a 10-minute health wait takes 10 minutes.

Here each wait is recorded for its execution (``ExecutionReport.waits``) and slept
``seconds * time_scale`` (default 0). The order of the Retry evaluation is moto's own.
"""

from __future__ import annotations

import time
from typing import Any

from pushgate_cli.offline.patching import Host, Patches


def install(patches: Patches, host: Host) -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import (
        MaxAttemptsOutcome,
    )
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import (
        RetrierOutcome,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    def wait_interval(function: Any, env: Any, wait_seconds: int) -> None:
        host.record_wait(env, max(0, wait_seconds), "wait")
        if wait_seconds > 0 and host.time_scale > 0:
            env.program_state_event.wait(wait_seconds * host.time_scale)

    def retrier_eval_body(retrier: Any, env: Any) -> None:
        # moto's RetrierDecl._eval_body, with time.sleep replaced by a record.
        retrier.error_equals.eval(env)
        if not env.stack.pop():
            env.stack.append(RetrierOutcome.Skipped)
            return
        retrier.max_attempts.eval(env=env)
        if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
            env.stack.append(RetrierOutcome.Failed)
            return
        retrier.interval_seconds.eval(env=env)
        retrier.backoff_rate.eval(env=env)
        retrier.max_delay_seconds.eval(env=env)
        retrier.jitter_strategy.eval(env=env)
        interval_seconds = float(env.stack.pop())
        host.record_wait(env, interval_seconds, "retry")
        if interval_seconds > 0 and host.time_scale > 0:
            time.sleep(interval_seconds * host.time_scale)
        env.stack.append(RetrierOutcome.Executed)

    patches.set(wait_function.WaitFunction, "_wait_interval", wait_interval)
    patches.set(retrier_decl.RetrierDecl, "_eval_body", retrier_eval_body)
