"""Gap 7: every entry put on EventBridge can be read back.

moto: ``EventsBackend.put_events`` only delivers each entry to the targets of the rules it
matches, so what a run announced cannot be read back unless a rule routes it somewhere.

Here every entry (``events:putEvents`` from a state, or boto3 in a handler) is captured before
moto delivers it; ``OfflineStepFunctions.put_events`` returns them, ``Detail`` parsed.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from pushgate_cli.offline.patching import Host, Patches


def install(patches: Patches, host: Host) -> None:
    from moto.events.models import EventsBackend

    original_put_events = EventsBackend.put_events

    def put_events(backend: Any, events: list[dict[str, Any]]) -> Any:
        host.capture_events([_parsed(entry) for entry in events])
        return original_put_events(backend, events)

    patches.set(EventsBackend, "put_events", put_events)


def _parsed(entry: dict[str, Any]) -> dict[str, Any]:
    copied = dict(entry)
    detail = copied.get("Detail")
    if isinstance(detail, str):
        with contextlib.suppress(ValueError):
            copied["Detail"] = json.loads(detail)
    return copied
