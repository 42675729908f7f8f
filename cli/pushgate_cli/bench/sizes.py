"""Package sizes: a real ``sam build`` (no Docker) into a temporary directory; each artifact
unzipped and zipped (deflate, in memory), and anything shipped that never runs."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from pushgate_cli.bench.budgets import (
    LAYER_UNZIPPED_BYTES,
    LAYER_ZIPPED_BYTES,
    SQUAWK_LAYER_UNZIPPED_BYTES,
    MeasurementError,
    Report,
)
from pushgate_cli.bench.table import Row, Section, fmt_bytes

LAYER: Final = "PushgateLayer"
SQUAWK_LAYER: Final = "SquawkLayer"  # bin/squawk is what it ships (/opt/bin/squawk)
NEVER_SHIPPED_DIRS: Final = frozenset({"tests", "bin"})
BYTE_CODE_SUFFIXES: Final = frozenset({".pyc", ".pyo"})
LAMBDA_BYTE_CODE: Final = ".cpython-313.pyc"  # what python3.13 reads from __pycache__/


def never_shipped(relative_paths: Sequence[str]) -> list[str]:
    """The paths of a package that never run in Lambda: tests, scripts, and byte code that
    python3.13 would not read (another version's, or outside ``__pycache__``)."""
    found = []
    for text in relative_paths:
        path = Path(text)
        read_by_lambda = path.parent.name == "__pycache__" and path.name.endswith(LAMBDA_BYTE_CODE)
        if NEVER_SHIPPED_DIRS.intersection(path.parts) or (
            path.suffix in BYTE_CODE_SUFFIXES and not read_by_lambda
        ):
            found.append(text)
    return sorted(found)


def package_sizes(directory: Path) -> tuple[int, int, list[str]]:
    """(unzipped bytes, zipped bytes with deflate, relative paths of every file)."""
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    relative = [str(p.relative_to(directory)) for p in files]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in zip(files, relative, strict=True):
            archive.write(path, name)
    return sum(p.stat().st_size for p in files), len(buffer.getvalue()), relative


def measure_sizes(report: Report) -> None:
    from pushgate_cli.tools import find_tool, sam_build

    sam = find_tool("sam")
    if sam is None:
        raise MeasurementError("sam is not installed (make tools)")
    with tempfile.TemporaryDirectory(prefix="pushgate-bench-build-") as scratch:
        build_dir, cache_dir = Path(scratch) / "build", Path(scratch) / "cache"
        built = sam_build(sam, build_dir, cache_dir)
        if built.returncode != 0:
            raise MeasurementError(f"sam build failed: {built.output[-1000:]}")
        artifacts = sorted(p for p in build_dir.iterdir() if p.is_dir())
        rows: list[Row] = []
        sizes: dict[str, dict[str, int]] = {}
        junk: dict[str, list[str]] = {}
        for artifact in artifacts:
            unzipped, zipped, files = package_sizes(artifact)
            sizes[artifact.name] = {"unzipped": unzipped, "zipped": zipped, "files": len(files)}
            junk[artifact.name] = never_shipped(
                [f for f in files if artifact.name != SQUAWK_LAYER or f != "bin/squawk"]
            )
            value = f"{fmt_bytes(unzipped)} / {fmt_bytes(zipped)} zipped"
            if artifact.name == LAYER:
                budget, verdict = report.budget(
                    "size.layer_unzipped_bytes",
                    unzipped,
                    LAYER_UNZIPPED_BYTES,
                    "bytes",
                    f"<= {fmt_bytes(LAYER_UNZIPPED_BYTES)} unzipped",
                )
                rows.append(Row(artifact.name, value, budget, verdict))
                budget, verdict = report.budget(
                    "size.layer_zipped_bytes",
                    zipped,
                    LAYER_ZIPPED_BYTES,
                    "bytes",
                    f"<= {fmt_bytes(LAYER_ZIPPED_BYTES)} zipped",
                )
                rows.append(Row("  zipped", fmt_bytes(zipped), budget, verdict))
            elif artifact.name == SQUAWK_LAYER:
                budget, verdict = report.budget(
                    "size.squawk_layer_unzipped_bytes",
                    unzipped,
                    SQUAWK_LAYER_UNZIPPED_BYTES,
                    "bytes",
                    f"<= {fmt_bytes(SQUAWK_LAYER_UNZIPPED_BYTES)} unzipped (its own budget)",
                )
                rows.append(Row(artifact.name, value, budget, verdict))
            else:
                rows.append(Row(artifact.name, value))
    if LAYER not in sizes:
        raise MeasurementError(f"sam build produced no {LAYER}")
    shipped = sorted(f"{name}/{path}" for name, paths in junk.items() for path in paths)
    clean = report.expectation("size.never_shipped", shipped, "paths")
    shown = "none" if not shipped else f"{len(shipped)}: {', '.join(shipped[:3])}"
    rows.append(Row("tests/, bin/, byte code python3.13 never reads", shown, "none", clean))
    report.sections.append(Section("Package sizes: sam build (no Docker), deflate", rows))
    report.results["sizes"] = {"bytes": sizes, "never_shipped": shipped}
