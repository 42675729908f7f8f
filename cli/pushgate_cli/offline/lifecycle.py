"""Gap 8: executions are named, and the interpreter is left only once every one has ended.

moto: an execution started without a name is named ``None``; leaving ``mock_aws`` while an
execution's worker thread still runs lets that worker call the real endpoint
(localhost:5000); and moto keeps every finished worker in ``TMP_THREADS`` forever.

Here ``OfflineStepFunctions.start`` requires a name, and on exit :func:`wait_all_terminal`
waits for every execution to end (after 30 s, or 2 s when the block raised, the stragglers
are stopped: ABORTED) before the patches are undone and ``mock_aws`` stops;
:func:`forget_finished_workers` then drops the finished threads.
"""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any

TERMINAL_WAIT_S = 30.0  # executions still running then are stopped (ABORTED)
STOP_WAIT_S = 2.0
POLL_S = 0.002


def wait_all_terminal(account_id: str, region: str, timeout_s: float) -> None:
    """Wait until no execution runs; stop (abort) the ones still running after timeout_s."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend: Any = stepfunctions_parser_backends[account_id][region]

    def running() -> list[Any]:
        return [
            e
            for machine in list(backend.state_machines)
            for e in list(machine.executions)
            if e.exec_status is None or e.exec_status.value == "RUNNING"
        ]

    deadline = time.monotonic() + timeout_s
    while running() and time.monotonic() < deadline:
        time.sleep(POLL_S)
    stragglers = running()
    for execution in stragglers:
        now = datetime.datetime.now(tz=datetime.UTC)
        execution.stop(now, "OfflineStepFunctions.Exit", "still running when the block ended")
    deadline = time.monotonic() + STOP_WAIT_S
    while stragglers and any(t.is_alive() for t in _workers()):
        if time.monotonic() > deadline:
            break
        time.sleep(POLL_S)


def forget_finished_workers() -> None:
    """Drop finished worker threads from moto's ever-growing ``TMP_THREADS``."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    TMP_THREADS[:] = [t for t in TMP_THREADS if t.is_alive()]


def _workers() -> list[threading.Thread]:
    from moto.stepfunctions.parser.utils import TMP_THREADS

    return list(TMP_THREADS)
