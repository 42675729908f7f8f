"""squawk itself, run on the rendered SQL, and its JSON report read.

squawk's exit code is 1 for findings, for a syntax error and for a missing file alike, so the
verdict is taken from its JSON report, never from the exit code: what it prints must be a JSON
list of findings, each with its file, line and rule; anything else (no binary, a crash, a
timeout, output that is not that report) is :class:`~pushgate.errors.SchemaReviewFailed`. A
review never passes because squawk said nothing it could be held to.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pushgate import settings
from pushgate.errors import SchemaReviewFailed

SQUAWK_TIMEOUT_SECONDS: Final = 60.0
_PG_VERSION: Final = re.compile(r"^\s*(\d+)(?:\.(\d+))?")
_SHOWN: Final = 300  # characters of squawk's own words an error quotes
Completed = subprocess.CompletedProcess[str]


@dataclass(frozen=True)
class SquawkFinding:
    """One row of squawk's JSON report (``line``/``column`` are 0-based, as squawk gives them)."""

    file: str
    line: int
    column: int
    rule: str
    message: str
    help: str | None


def pg_version(server_version: str | None) -> str | None:
    """``major.minor`` of PostgreSQL's ``server_version`` ("16.4 (Debian ...)"), for
    ``--pg-version``; None when it is unknown or unreadable (squawk then assumes its own)."""
    found = _PG_VERSION.match(server_version or "")
    if found is None:
        return None
    return f"{found.group(1)}.{found.group(2) or '0'}"


def _row(item: Any) -> SquawkFinding:
    if not isinstance(item, Mapping):
        raise ValueError(f"a finding is not an object: {item!r}"[:_SHOWN])
    file, line, column = item.get("file"), item.get("line"), item.get("column")
    rule, message, hint = item.get("rule_name"), item.get("message"), item.get("help")
    if not (
        isinstance(file, str)
        and isinstance(line, int)
        and isinstance(column, int)
        and isinstance(rule, str)
        and rule
        and isinstance(message, str)
        and (hint is None or isinstance(hint, str))
    ):
        raise ValueError(f"a finding lacks file, line, column, rule_name or message: {item!r}")
    return SquawkFinding(file, line, column, rule, message, hint)


def parse_report(stdout: str) -> list[SquawkFinding]:
    """squawk's ``--reporter json`` output; ValueError when it is not that report."""
    report = json.loads(stdout)
    if not isinstance(report, list):
        raise ValueError("the report is not a JSON list")
    return [_row(item) for item in report]


def missing(path: Path) -> SchemaReviewFailed:
    """The error of a squawk that is not there."""
    return SchemaReviewFailed(
        f"squawk is not at {path} ({settings.SQUAWK_PATH}; in Lambda the squawk layer puts it at "
        "/opt/bin/squawk): the schema change cannot be reviewed"
    )


class Squawk:
    """The squawk binary at ``path``, run with pushgate's options."""

    def __init__(self, path: Path, exclude: Sequence[str]) -> None:
        self.path = path
        self.exclude = tuple(exclude)
        self._version: str | None = None

    def _run(self, args: Sequence[str], cwd: Path | None = None) -> Completed:
        try:
            return subprocess.run(
                [str(self.path), *args],
                capture_output=True,
                text=True,
                timeout=SQUAWK_TIMEOUT_SECONDS,
                check=False,
                cwd=cwd,
            )
        except FileNotFoundError as exc:
            raise missing(self.path) from exc
        except (OSError, subprocess.SubprocessError) as exc:
            raise SchemaReviewFailed(
                f"squawk at {self.path} could not run: {type(exc).__name__}: {exc}"[:_SHOWN]
            ) from exc

    def version(self) -> str:
        """``squawk --version``'s number (asked once per process)."""
        if self._version is None:
            done = self._run(["--version"])
            words = done.stdout.split()
            if done.returncode != 0 or len(words) != 2 or words[0] != "squawk":
                raise SchemaReviewFailed(
                    f"squawk at {self.path} did not say its version (exit {done.returncode}): "
                    f"{(done.stdout + done.stderr).strip()[:_SHOWN]!r}"
                )
            self._version = words[1]
        return self._version

    def lint(
        self, files: Mapping[str, str], server_version: str | None = None
    ) -> list[SquawkFinding]:
        """squawk's findings for ``files`` ({name: SQL}), linted as fragments of one transaction
        (``--assume-in-transaction``: pushgate runs the revisions in one)."""
        if not files:
            return []
        options = ["--reporter", "json", "--assume-in-transaction"]
        if self.exclude:
            options.append(f"--exclude={','.join(self.exclude)}")
        version = pg_version(server_version)
        if version is not None:
            options.append(f"--pg-version={version}")
        with tempfile.TemporaryDirectory(prefix="pushgate-review-") as scratch:
            for name, sql in files.items():
                (Path(scratch) / name).write_text(sql)
            done = self._run([*options, *files], cwd=Path(scratch))
        try:
            if done.returncode not in (0, 1):  # 1: findings, a syntax error, a missing file
                raise ValueError("it ended with neither 0 nor 1")
            findings = parse_report(done.stdout)
        except ValueError as exc:  # json's errors are ValueErrors too
            raise SchemaReviewFailed(
                f"squawk (exit {done.returncode}) did not give its JSON report ({exc}); it said: "
                f"{(done.stdout + done.stderr).strip()[:_SHOWN]!r}"
            ) from exc
        unknown = sorted({f.file for f in findings} - set(files))
        if unknown:
            raise SchemaReviewFailed(f"squawk reported files it was not given: {unknown}")
        return findings
