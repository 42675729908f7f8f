"""The infra suite runs the real tools: sam, cfn-lint, checkov, asl-validator.

`make test` puts .tools/sam/bin, .tools/checkov/bin and node_modules/.bin on PATH; run by hand,
the tools are found at those repository paths. A missing tool fails the test (it never skips):
`make tools` installs them. Finding and running them is `pushgate_cli.tools` (shared with
`pushgate bench`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.tools import FALLBACKS, Run, find_tool, run
from pushgate_cli.tools import sam_build as build_stack

ROOT = REPO_ROOT

__all__ = ["ROOT", "Build", "Run", "run", "tool"]


def tool(name: str) -> str:
    """The tool on PATH, else the repository's copy; fails the test when there is neither."""
    found = find_tool(name)
    if found is None:
        pytest.fail(f"{name} is not installed (not on PATH, not at {FALLBACKS[name]}): make tools")
    return found


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
    return Build(build_dir, build_stack(tool("sam"), build_dir, cache_dir))
