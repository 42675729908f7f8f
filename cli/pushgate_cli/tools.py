"""The external tools (sam, cfn-lint, checkov, asl-validator): find them, run them, `sam build`.

Shared by the infra test suite and `pushgate bench`. `make test` and `make bench` put
.tools/sam/bin (and the others) on PATH; run by hand, the tools are found at those repository
paths (`make tools` installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pushgate_cli.handlers import REPO_ROOT

FALLBACKS: Final = {
    "sam": REPO_ROOT / ".tools" / "sam" / "bin" / "sam",
    "cfn-lint": REPO_ROOT / ".tools" / "sam" / "bin" / "cfn-lint",
    "checkov": REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov",
    "asl-validator": REPO_ROOT / "node_modules" / ".bin" / "asl-validator",
}
# squawk (squawk-cli in requirements/dev.txt) beside this interpreter: what review_schema runs
# from its layer in AWS (/opt/bin/squawk), the same version
LOCAL_SQUAWK: Final = Path(sys.executable).parent / "squawk"
# No telemetry: this runs offline and in CI.
QUIET_ENV: Final = {"SAM_CLI_TELEMETRY": "0"}


def find_tool(name: str) -> str | None:
    """The tool on PATH, else the repository's copy, else None."""
    found = shutil.which(name)
    if found is not None:
        return found
    fallback = FALLBACKS.get(name)
    return str(fallback) if fallback is not None and fallback.is_file() else None


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return f"{self.stdout}\n{self.stderr}".strip()


def run(command: Sequence[str], *, cwd: Path = REPO_ROOT, timeout: float = 300) -> Run:
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


def sam_build(sam: str, build_dir: Path, cache_dir: Path, *, timeout: float = 600) -> Run:
    """`sam build` of the real template.yaml into build_dir (no Docker, no cached artifacts)."""
    return run(
        [
            sam,
            "build",
            "--template-file",
            "template.yaml",
            "--build-dir",
            str(build_dir),
            "--cache-dir",
            str(cache_dir),
            "--no-cached",
        ],
        timeout=timeout,
    )
