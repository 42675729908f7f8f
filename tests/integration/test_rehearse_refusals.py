"""`pushgate rehearse` on a real PostgreSQL, refused up front: a server that refuses the
credentials is bad input (exit 2, the URL redacted), and a bad output path changes nothing."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from pushgate_cli.main import EXIT_USAGE, main

from tests.helpers import revision

pytestmark = pytest.mark.integration

WRONG_PASSWORD = "Wr0ngS3cret"


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_a_wrong_password_is_bad_input_and_never_shown(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the URL of a real database with a wrong password (today: a DatabaseConfigError
    # traceback)
    url = with_password(database_url, WRONG_PASSWORD)
    parts = urlsplit(url)

    # WHEN it is rehearsed
    code = main(["rehearse", "--database-url", url])

    # THEN one line names the option, the URL redacted and why; the password nowhere
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert captured.out == ""
    redacted = f"postgresql://{parts.username}:***@{parts.hostname}:{parts.port}{parts.path}"
    assert captured.err.startswith(
        f"pushgate rehearse: --database-url {redacted}: DatabaseConfigError: "
    )
    assert len(captured.err.splitlines()) == 1
    assert WRONG_PASSWORD not in captured.out + captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("option", ["--html", "--ledger"])
def test_an_output_path_that_is_a_directory_leaves_the_database_untouched(
    database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str
) -> None:
    # GIVEN an empty database and an output path that is a directory (today: the whole run,
    # then IsADirectoryError or "cannot write --ledger", the report lost)
    # WHEN it is rehearsed
    code = main(["rehearse", "--database-url", database_url, option, str(tmp_path)])

    # THEN it is refused before anything ran: one line, no report, the database not migrated
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert captured.out == ""
    assert (
        captured.err
        == f"pushgate rehearse: {option} {tmp_path}: is a directory (a file is written there)\n"
    )
    assert revision(database_url) is None
