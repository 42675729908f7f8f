"""`pushgate rehearse --event` with inputs a user may hand it: refused clearly, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pushgate_cli.main import EXIT_OK, EXIT_USAGE, MAX_EXECUTION_INPUT_BYTES, main

from tests.helpers import HEAD, revision

pytestmark = pytest.mark.statemachine

DIGEST = "sha256:" + "5" * 64


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("null", "holds null, not an execution input"),
        ('["shop/api"]', "holds an array, not an execution input"),
        ('"release-2"', "holds a string, not an execution input"),
        ("42", "holds a number, not an execution input"),
        ("true", "holds a boolean, not an execution input"),
        ('{"tag": NaN}', "is not JSON: NaN is not JSON"),
        ("[" * 100_000, "is not JSON"),
        ("{", "is not JSON"),
        ('{"tag": "' + "v" * MAX_EXECUTION_INPUT_BYTES + '"}', "Step Functions refuses"),
    ],
    ids=["null", "array", "string", "number", "boolean", "nan", "deep", "truncated", "too-big"],
)
def test_an_event_file_that_holds_no_execution_input_is_refused_with_exit_2(
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str,
    said: str,
) -> None:
    # GIVEN an --event file holding no JSON object (today a null ran the default push)
    event = tmp_path / "event.json"
    event.write_text(content)

    # WHEN it is rehearsed
    code = main(["rehearse", "--database-url", database_url, "--event", str(event)])

    # THEN it is refused as bad input, saying why, with nothing run: the database untouched
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert captured.err.startswith(f"pushgate rehearse: --event {event}")
    assert said in captured.err
    assert "Traceback" not in captured.err
    assert len(captured.err) < 500
    assert captured.out == ""
    assert revision(database_url) is None


def test_an_event_whose_repository_is_no_ecr_name_is_rejected_by_the_run(
    database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN an ECR push event whose repository name ECR itself would refuse
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "source": "aws.ecr",
                "detail-type": "ECR Image Action",
                "account": "123456789012",
                "region": "us-east-1",
                "time": "2025-06-01T12:00:00Z",
                "detail": {
                    "action-type": "PUSH",
                    "result": "SUCCESS",
                    "repository-name": "Not A/Name!",
                    "image-digest": DIGEST,
                    "image-tag": "v1",
                },
            }
        )
    )

    # WHEN it is rehearsed, expecting a rejection
    arguments = ["--database-url", database_url, "--event", str(event), "--expect", "rejected"]
    code = main(["rehearse", *arguments, "--json"])

    # THEN the run itself rejects it, naming the repository (not a set-up error from the
    # emulated registry), and the database stays where it started
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert "Traceback" not in captured.err
    out = json.loads(captured.out)
    assert out["status"] == "rejected"
    assert out["events"][0]["Detail"]["cause"].startswith("repository Not A/Name! is not shop/api")
    assert out["revision_after"] == out["revision_before"]
    assert revision(database_url) is None  # a database of one's own is not moved first


def test_a_replay_by_tag_alone_is_deployed_offline_as_in_aws(
    database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a replay naming only a tag (the state machine reads the stack's repository)
    event = tmp_path / "replay.json"
    event.write_text(json.dumps({"tag": "release-9"}))

    # WHEN it is rehearsed as a healthy deploy
    code = main(["rehearse", "--database-url", database_url, "--event", str(event), "--json"])

    # THEN the tag's image is deployed and the schema migrated, as the same input would in AWS
    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK, out["path"]
    assert out["status"] == "succeeded"
    assert revision(database_url) == HEAD
