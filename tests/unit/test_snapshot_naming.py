"""The snapshot's name and the snapshot functions' inputs (issue 12): pure functions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pushgate import settings
from pushgate.errors import InvalidRequest
from pushgate.snapshot.naming import MAX_LENGTH, PREFIX, name_for_run, snapshot_name
from pushgate.snapshot.requests import AwaitRequest, PruneSettings, succeeded_execution
from pushgate.snapshot.store import Kind

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "ab12" * 16
AT = datetime(2026, 12, 1, 9, 30, 5, tzinfo=UTC)
# RDS: a letter first, letters, digits and hyphens, no two hyphens in a row, none last
RDS_IDENTIFIER = re.compile(r"[a-zA-Z](?:-?[a-zA-Z0-9])*\Z")


def test_the_name_holds_the_service_the_digest_prefix_and_the_time() -> None:
    assert snapshot_name("shop-api", DIGEST, AT) == "pushgate-shop-api-ab12ab12ab12-20261201-093005"


@pytest.mark.parametrize(
    "service",
    ["a" * 255, "Shop_API__v2", "_leading-and-trailing_", "x--y", "-", "ÄÖÜ-ß"],
)
def test_any_ecs_service_name_gives_a_valid_rds_identifier_within_63_characters(
    service: str,
) -> None:
    name = snapshot_name(service, DIGEST, AT)
    assert len(name) <= MAX_LENGTH
    assert RDS_IDENTIFIER.match(name), name
    assert name.startswith(PREFIX)
    assert name.endswith("-ab12ab12ab12-20261201-093005")


def test_the_time_is_utc_whatever_the_offset_it_came_with() -> None:
    at = AT.astimezone(timezone(timedelta(hours=2)))
    assert snapshot_name("web", DIGEST, at).endswith("-20261201-093005")


@pytest.mark.parametrize("digest", [None, "sha256:123", "md5:" + "a" * 32, DIGEST.upper()])
def test_a_digest_that_is_not_sha256_is_refused(digest: object) -> None:
    with pytest.raises(InvalidRequest):
        snapshot_name("web", digest, AT)


def test_check_databases_event_names_the_runs_snapshot() -> None:
    event = {
        "push": {"digest": DIGEST},
        "snapshot": {"service": "web", "started_at": "2026-12-01T09:30:05.123Z"},
    }
    assert name_for_run(event) == "pushgate-web-ab12ab12ab12-20261201-093005"
    assert name_for_run({"push": {"digest": DIGEST}}) is None  # a call that asks for none


@pytest.mark.parametrize(
    "snapshot",
    [None, {"service": "web"}, {"service": "web", "started_at": "yesterday"}],
    ids=["not-an-object", "no-time", "not-a-time"],
)
def test_a_malformed_snapshot_request_is_refused(snapshot: object) -> None:
    with pytest.raises(InvalidRequest):
        name_for_run({"push": {"digest": DIGEST}, "snapshot": snapshot})


def test_the_wait_request_is_checked() -> None:
    request = AwaitRequest.from_event(
        {"kind": "cluster", "id": "s", "polls": 2, "poll_seconds": 30, "deadline_seconds": 90}
    )
    assert (request.kind, request.polls) == (Kind.CLUSTER, 2)
    for bad in ({"kind": "table"}, {"polls": -1}, {"polls": True}, {"poll_seconds": 0}, {"id": ""}):
        event = {"kind": "instance", "id": "s", "polls": 0, "poll_seconds": 30}
        with pytest.raises(InvalidRequest):
            AwaitRequest.from_event({**event, "deadline_seconds": 60, **bad})


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "exactly one of"),
        ({settings.DATABASE_INSTANCE_ID: "a", settings.DATABASE_CLUSTER_ID: "b"}, "both"),
        ({settings.DATABASE_INSTANCE_ID: "a", settings.KEEP_SNAPSHOTS: "5"}, "SNAPSHOT_MARKER"),
        ({settings.DATABASE_INSTANCE_ID: "a", settings.SNAPSHOT_MARKER: "c/s"}, "KEEP_SNAPSHOTS"),
    ],
)
def test_prune_settings_name_what_is_missing(environ: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidRequest, match=named):
        PruneSettings.from_environment(environ)


def test_prune_settings_read_the_cluster() -> None:
    found = PruneSettings.from_environment(
        {
            settings.DATABASE_INSTANCE_ID: "",
            settings.DATABASE_CLUSTER_ID: "aurora-1",
            settings.SNAPSHOT_MARKER: "c/s",
            settings.KEEP_SNAPSHOTS: "3",
        }
    )
    assert (found.kind, found.source, found.marker, found.keep) == (
        Kind.CLUSTER,
        "aurora-1",
        "c/s",
        3,
    )


def test_only_a_pushgate_success_is_an_event_to_prune_on() -> None:
    event = {
        "source": "pushgate",
        "detail-type": "Deployment Succeeded",
        "detail": {"execution_arn": "arn:x"},
    }
    assert succeeded_execution(event) == "arn:x"
    with pytest.raises(InvalidRequest):
        succeeded_execution({**event, "detail-type": "Deployment Failed"})
