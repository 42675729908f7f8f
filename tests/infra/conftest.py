"""The infra suite runs the real tools: sam, cfn-lint, checkov, asl-validator.

`make test` puts .tools/sam/bin, .tools/checkov/bin and node_modules/.bin on PATH; run by hand,
the tools are found at those repository paths. A missing tool fails the test (it never skips):
`make tools` installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FALLBACKS = {
    "sam": ROOT / ".tools" / "sam" / "bin" / "sam",
    "cfn-lint": ROOT / ".tools" / "sam" / "bin" / "cfn-lint",
    "checkov": ROOT / ".tools" / "checkov" / "bin" / "checkov",
    "asl-validator": ROOT / "node_modules" / ".bin" / "asl-validator",
}
# No telemetry: this runs offline and in CI.
QUIET_ENV = {"SAM_CLI_TELEMETRY": "0"}


def tool(name: str) -> str:
    """The tool on PATH, else the repository's copy; fails the test when there is neither."""
    found = shutil.which(name) or (str(FALLBACKS[name]) if FALLBACKS[name].is_file() else None)
    if found is None:
        pytest.fail(f"{name} is not installed (not on PATH, not at {FALLBACKS[name]}): make tools")
    return found


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return f"{self.stdout}\n{self.stderr}".strip()


def run(command: Sequence[str], *, cwd: Path = ROOT, timeout: float = 300) -> Run:
    """Run a tool with the repository as working directory (sam resolves paths from there)."""
    env = {**os.environ, **QUIET_ENV}
    started = time.monotonic()
    done = subprocess.run(
        list(command),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


@dataclass(frozen=True)
class Build:
    """The output of one `sam build` of the real template (no Docker)."""

    directory: Path
    run: Run


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """`sam build` once per session into a temporary build directory (the slow part)."""
    build_dir = tmp_path_factory.mktemp("sam-build")
    cache_dir = tmp_path_factory.mktemp("sam-cache")
    result = run(
        [
            tool("sam"),
            "build",
            "--template-file",
            "template.yaml",
            "--build-dir",
            str(build_dir),
            "--cache-dir",
            str(cache_dir),
            "--no-cached",
        ],
        timeout=600,
    )
    return Build(build_dir, result)
