"""`pushgate rehearse` on a machine that lacks what it runs: the registry's tools, a working
PostgreSQL. One line says what is missing (exit 2, nothing run), not a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pushgate_cli.main import EXIT_USAGE, main

from tests.helpers import HEAD, revision

pytestmark = pytest.mark.integration

PUSHGATE = Path(sys.executable).with_name("pushgate")
DEBIAN_INITDB = Path("/usr/lib/postgresql/15/bin/initdb")


def test_missing_registry_tools_are_one_line_and_the_database_is_untouched(
    database_url: str, tmp_path: Path
) -> None:
    # GIVEN a PATH without docker-registry, skopeo and buildah, and a database at some revision
    before = revision(database_url)
    assert before != HEAD
    empty = tmp_path / "bin"
    empty.mkdir()

    # WHEN the default rehearsal (which pushes an image to a loopback registry) is asked to
    # move that database to head first
    done = subprocess.run(
        [str(PUSHGATE), "rehearse", "--database-url", database_url, "--start-revision", "head"],
        env={**os.environ, "PATH": str(empty)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # THEN one line names the missing tools and how to install them; nothing was migrated
    assert done.returncode == EXIT_USAGE, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "pushgate rehearse: docker-registry, skopeo, buildah not found: apt-get install "
        "docker-registry skopeo buildah (.ci/run installs them)"
    ]
    assert revision(database_url) == before


@pytest.fixture
def bin_without_postgres() -> Iterator[Path]:
    """A bin directory holding a real initdb but not the postgres it needs beside it, readable
    by the system user the embedded server runs as (tmp_path's parents are not)."""
    directory = Path(tempfile.mkdtemp(prefix="pushgate-bin-"))
    try:
        directory.chmod(0o755)
        shutil.copy2(DEBIAN_INITDB, directory / "initdb")
        yield directory
    finally:
        shutil.rmtree(directory)


@pytest.mark.skipif(not DEBIAN_INITDB.is_file(), reason="no Debian PostgreSQL")
def test_a_postgresql_that_cannot_start_is_one_line_naming_its_error(
    bin_without_postgres: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN --pg-bin naming binaries where initdb cannot run (its postgres is missing)
    # WHEN the rehearsal starts its throw-away server from them
    code = main(["rehearse", "--pg-bin", str(bin_without_postgres)])

    # THEN one line gives initdb's own error, and nothing else is printed
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert captured.out == ""
    assert captured.err.startswith(
        "pushgate rehearse: the embedded PostgreSQL cannot start: initdb failed (1): "
        'initdb: error: program "postgres" is needed by initdb'
    )
    assert len(captured.err.splitlines()) == 1
