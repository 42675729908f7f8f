"""`make docs-picture`: docs/state-machine.svg, the definition as Graphviz lays it out.

Beside it, docs/state-machine.svg.sha256 records the SHA-256 of the definition file the picture
was drawn from; a test fails when the definition changed and the picture was not redrawn (it
compares that hash, not the image's bytes, which depend on the Graphviz version).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.report_html import ReportError, definition_svg, shipped_definition

DEFINITION = Path("statemachine/deploy.asl.json")
PICTURE = Path("docs/state-machine.svg")
HASH = PICTURE.with_name(PICTURE.name + ".sha256")


def definition_hash(root: Path = REPO_ROOT) -> str:
    return hashlib.sha256((root / DEFINITION).read_bytes()).hexdigest()


def recorded_hash(root: Path = REPO_ROOT) -> str:
    """The hash written beside the picture (`<hex>  <definition path>`, as sha256sum writes)."""
    return (root / HASH).read_text().split()[0]


def write_picture(root: Path = REPO_ROOT) -> Path:
    (root / PICTURE).write_text(definition_svg(shipped_definition(root)), encoding="utf-8")
    (root / HASH).write_text(f"{definition_hash(root)}  {DEFINITION}\n")
    return root / PICTURE


def main() -> int:
    try:
        written = write_picture()
    except ReportError as exc:
        sys.stderr.write(f"make docs-picture: {exc}\n")
        return 1
    sys.stderr.write(f"wrote {written.relative_to(REPO_ROOT)} and {HASH}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
