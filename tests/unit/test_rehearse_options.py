"""`pushgate rehearse`, `explain` and `bench` options a user may get wrong: each is refused up
front with one line naming the option, exit 2, no traceback, nothing run (no report printed,
no output file written), and a database password never shown."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pushgate_cli.main import EXIT_USAGE, main

pytestmark = pytest.mark.unit

PASSWORD = "S3cretPW"
DIGEST = "sha256:" + "a" * 64


def refusal(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the command; assert it was refused as bad input with one line and nothing else;
    return that line."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert captured.out == ""  # no report: nothing was run
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert PASSWORD not in captured.err
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once closed


def executable(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("notaurl", "--database-url must start with one of postgres://"),
        (f"postgresql://admin:{PASSWORD}@h:notaport/db", "--database-url is not a valid URL"),
        (f"postgresql://admin:{PASSWORD}@localhost", "--database-url has no database"),
    ],
    ids=["no-scheme", "bad-port", "no-database"],
)
def test_a_database_url_that_is_no_postgresql_url_is_refused_without_showing_it(
    capsys: pytest.CaptureFixture[str], url: str, said: str
) -> None:
    # GIVEN a --database-url that does not parse (today: a DatabaseConfigError traceback)
    # WHEN it is rehearsed
    line = refusal(capsys, ["rehearse", "--database-url", url])
    # THEN one line names the option and what is wrong, the password nowhere
    assert line.startswith(f"pushgate rehearse: {said}")


def test_a_database_server_that_cannot_be_reached_is_bad_input_shown_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a --database-url whose server does not listen (today: a DatabaseNotReady traceback)
    port = closed_port()
    url = f"postgresql://admin:{PASSWORD}@127.0.0.1:{port}/db"
    # WHEN it is rehearsed
    line = refusal(capsys, ["rehearse", "--database-url", url])
    # THEN the one line shows the URL redacted and says why
    assert line.startswith(
        f"pushgate rehearse: --database-url postgresql://admin:***@127.0.0.1:{port}/db: "
        "DatabaseNotReady: "
    )


def test_a_service_python_that_is_not_a_python_with_alembic_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN files that are not an interpreter with alembic (today: FileNotFoundError .../alembic)
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program\n")
    failing = executable(tmp_path / "fails", "exit 3")
    alone = executable(tmp_path / "python", "exit 0")  # runs, but no alembic beside it
    cases = {
        plain: "not executable",
        tmp_path: "is a directory",
        tmp_path / "missing": "no such file",
        failing: '`fails -c "import alembic"` exits 3',
        alone: f"no alembic command beside it ({tmp_path / 'alembic'})",
    }
    for path, said in cases.items():
        # WHEN each is the task runner's --service-python
        line = refusal(capsys, ["rehearse", "--runner", "task", "--service-python", str(path)])
        # THEN one line names the option, the file and what it is not
        assert line.startswith(f"pushgate rehearse: --service-python {path}: {said}"), line


def test_a_service_dir_that_is_a_file_or_missing_is_refused_under_its_own_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a file and a missing path (today: "--migrations FILE: no such directory")
    a_file = tmp_path / "service.txt"
    a_file.write_text("")
    for path, said in ((a_file, "not a directory"), (tmp_path / "gone", "no such directory")):
        # WHEN each is the task runner's --service-dir
        line = refusal(capsys, ["rehearse", "--runner", "task", "--service-dir", str(path)])
        # THEN the line names --service-dir and says what the path is
        assert line == f"pushgate rehearse: --service-dir {path}: {said}"


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (
            ["--migrations-source", "image", "--parameter-overrides", "MigrationsSource=bundled"],
            "--migrations-source image and --parameter-overrides MigrationsSource=bundled disagree",
        ),
        (
            ["--runner", "task", "--parameter-overrides", "MigrationRunner=lambda"],
            "--runner task and --parameter-overrides MigrationRunner=lambda disagree",
        ),
        (
            [
                *("--image", f"127.0.0.1:5000/shop/api@{DIGEST}"),
                *("--parameter-overrides", "MigrationsSource=bundled"),
            ],
            "--image reads the scripts from an image: not with --parameter-overrides "
            "MigrationsSource=bundled",
        ),
    ],
    ids=["source", "runner", "image-bundled"],
)
def test_an_option_and_a_parameter_override_that_disagree_are_refused_naming_both(
    capsys: pytest.CaptureFixture[str], arguments: list[str], said: str
) -> None:
    # GIVEN an option and a --parameter-overrides of the parameter it sets, disagreeing
    # WHEN it is rehearsed
    line = refusal(capsys, ["rehearse", *arguments])
    # THEN one line names both
    assert line.startswith(f"pushgate rehearse: {said}")


def test_an_option_and_a_parameter_override_that_agree_pass_that_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN --runner task and MigrationRunner=task, with a --service-dir that is missing
    agreeing = ["--runner", "task", "--parameter-overrides", "MigrationRunner=task"]
    missing = tmp_path / "gone"
    # WHEN it is rehearsed
    line = refusal(capsys, ["rehearse", *agreeing, "--service-dir", str(missing)])
    # THEN the agreement is not what is refused: the next check, the missing directory, is
    assert line == f"pushgate rehearse: --service-dir {missing}: no such directory"


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["rehearse"], "--html"),
        (["rehearse"], "--ledger"),
        (["explain", "some-execution"], "--html"),
        (["bench", "--only", "sizes"], "--output"),
    ],
    ids=["rehearse-html", "rehearse-ledger", "explain-html", "bench-output"],
)
def test_an_output_path_that_is_a_directory_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str], option: str
) -> None:
    # GIVEN an output path that is a directory (today: IsADirectoryError after the whole run)
    # WHEN the command is run with it
    line = refusal(capsys, [*command, option, str(tmp_path)])
    # THEN one line says so, before anything was measured, rehearsed or asked of AWS
    assert (
        line
        == f"pushgate {command[0]}: {option} {tmp_path}: is a directory (a file is written there)"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_output_path_whose_directory_cannot_hold_it_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a --ledger in a directory that does not exist (rehearse writes no directories for
    # it), and outputs under a plain file
    a_file = tmp_path / "plain"
    a_file.write_text("")
    nowhere = tmp_path / "no-such-dir" / "ledger.json"
    cases = [
        (["rehearse", "--ledger", str(nowhere)], f"no such directory {nowhere.parent}"),
        (["rehearse", "--html", str(a_file / "run.html")], f"{a_file} is not a directory"),
        (["bench", "--output", str(a_file / "b" / "x.json")], f"{a_file} is not a directory"),
    ]
    for argv, said in cases:
        # WHEN the command is run with it
        line = refusal(capsys, argv)
        # THEN one line names the option and why, and nothing was written
        assert line == f"pushgate {argv[0]}: {argv[1]} {argv[2]}: {said}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


def test_a_world_writable_tmpdir_without_the_sticky_bit_is_one_line_before_the_server(
    tmp_path: Path,
) -> None:
    # GIVEN a TMPDIR that any user may write to, without the sticky bit, and no
    # XDG_RUNTIME_DIR (today: platformdirs' PermissionError as a traceback)
    unsafe = tmp_path / "tmp"
    unsafe.mkdir()
    unsafe.chmod(0o777)
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["TMPDIR"] = str(unsafe)

    # WHEN a rehearsal on the embedded PostgreSQL is started (a process of its own: the wheel
    # is loaded once per process)
    done = subprocess.run(
        [sys.executable, "-m", "pushgate_cli.main", "rehearse"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # THEN it is one line naming the problem and what to set, exit 2, nothing run
    assert done.returncode == EXIT_USAGE
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("pushgate rehearse: the embedded PostgreSQL cannot be loaded: ")
    assert "set XDG_RUNTIME_DIR" in done.stderr
    assert len(done.stderr.splitlines()) == 1
