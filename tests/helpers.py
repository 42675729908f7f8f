"""Test helpers shared by every suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent / "events"


def load_event(name: str) -> Any:
    """The sample event `tests/events/<name>.json`, parsed."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())
