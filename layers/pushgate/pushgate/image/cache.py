"""What was read, kept under /tmp across warm invocations of the same function instance.

- ``projects/<key>/``: one extracted project per (image digest, platform, MigrationsPath), with
  ``image.json`` beside it. It is written to ``staging/`` first and renamed into place once it
  is complete and verified, so an entry that exists is whole.
- ``empty/<path key>/<layer digest>``: a layer that holds nothing under MigrationsPath (no
  entry, no whiteout touching it), verified once; it is not fetched again. Base layers shared by
  many images are the common case.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

PROJECT_DIR: Final = "project"
META_FILE: Final = "image.json"


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]


class ScriptCache:
    """The cache directory (created on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def project_key(self, digest: str, platform: str | None, migrations_path: str) -> str:
        return _key(digest, platform or "", migrations_path)

    def lookup(self, key: str) -> tuple[Path, dict[str, Any]] | None:
        """The cached project and its metadata, or None."""
        entry = self.root / "projects" / key
        try:
            meta = json.loads((entry / META_FILE).read_text())
        except (OSError, ValueError):
            return None
        return entry / PROJECT_DIR, meta

    def staging(self) -> Path:
        """A new, empty staging directory (to :meth:`commit` or :meth:`discard`)."""
        base = self.root / "staging"
        base.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=base))

    def commit(self, staging: Path, key: str, meta: Mapping[str, Any]) -> Path:
        """Move a complete staging directory into place; the cached project's directory."""
        (staging / META_FILE).write_text(json.dumps(meta, sort_keys=True))
        entry = self.root / "projects" / key
        entry.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, entry)
        except OSError:  # another reader of the same image got there first: keep its entry
            if self.lookup(key) is None:
                raise
            self.discard(staging)
        return entry / PROJECT_DIR

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def is_empty_layer(self, layer_digest: str, migrations_path: str) -> bool:
        return self._empty_marker(layer_digest, migrations_path).exists()

    def remember_empty_layer(self, layer_digest: str, migrations_path: str) -> None:
        marker = self._empty_marker(layer_digest, migrations_path)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()

    def _empty_marker(self, layer_digest: str, migrations_path: str) -> Path:
        return self.root / "empty" / _key(migrations_path) / layer_digest.replace(":", "-")
