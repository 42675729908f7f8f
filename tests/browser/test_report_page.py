"""The HTML report, opened in a real browser: headless Chromium (Debian's) via playwright-core.

`check_page.mjs` opens the page from its file and reports what a person sees: console errors,
requests that left the file (there must be none: no CDN), the states drawn as taken, the table
of states, and writes a screenshot, kept under .pushgate/artifacts/ as the test's artifact.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pushgate_cli.main import main

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".pushgate" / "artifacts"
CHECK = Path(__file__).with_name("check_page.mjs")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _open_in_chromium(page: Path, screenshot: Path) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is not installed (Debian: apt-get install nodejs npm)"
    assert Path("/usr/bin/chromium").exists(), "chromium is missing (apt-get install chromium)"
    done = subprocess.run(
        [node, str(CHECK), str(page), str(screenshot)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    return seen


@pytest.mark.parametrize(
    ("scenario", "outcome"), [("healthy", "succeeded"), ("unhealthy", "rolled_back")]
)
def test_the_rehearsal_page_shows_the_path_taken_in_a_real_browser(
    database_url: str, capsys: pytest.CaptureFixture[str], scenario: str, outcome: str
) -> None:
    # GIVEN a rehearsal written as an HTML page, with its path as --json reports it
    page = ARTIFACTS / f"rehearsal-{scenario}.html"
    screenshot = ARTIFACTS / f"rehearsal-{scenario}.png"
    screenshot.unlink(missing_ok=True)
    arguments = ["--scenario", scenario, "--database-url", database_url]
    assert main(["rehearse", *arguments, "--json", "--html", str(page)]) == 0
    path = json.loads(capsys.readouterr().out)["path"]

    # WHEN the page is opened in headless Chromium
    seen = _open_in_chromium(page, screenshot)

    # THEN it renders without a console error and fetches nothing beyond its own file
    assert seen["errors"] == []
    assert seen["requests"] == []
    # and the states drawn as taken are exactly the path's, the last one marked as the end
    assert sorted(seen["taken"]) == sorted(set(path))
    assert seen["last"] == [path[-1]]
    assert seen["edges_taken"] >= len(set(path)) - 1
    # and the table lists the states in the order they were entered, under the outcome
    assert seen["rows"] == path
    assert seen["outcome"] == outcome
    # and a screenshot was written as the test's artifact
    assert screenshot.read_bytes().startswith(PNG_MAGIC)
