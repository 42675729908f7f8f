"""run_migrations' review action with MigrationsSource image: one image read per deploy.

The pushed image is served by a real OCI registry (docker-registry on loopback) through a front
that records every request it forwards, so a test counts what the review asked the registry
for after "Read the image's scripts" (the read action) in the same execution environment.
squawk is the pinned one beside this interpreter (the squawk layer's in AWS).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from pushgate import settings
from pushgate.errors import InvalidRequest
from pushgate.image import ImageRef
from pushgate_cli.tools import LOCAL_SQUAWK

from tests.helpers import CHAIN, HEAD, ScriptDir
from tests.integration.test_image_ecr import Recorder, proxy, serve
from tests.registry import Layer, Registry

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = [pytest.mark.integration, pytest.mark.registry]

RunMigrations = Callable[[], ModuleType]
IMAGE_ONLY = "e0000000000e"  # a revision only the pushed image has


@pytest.fixture
def review_env(db_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """run_migrations as deployed with MigrationsSource image and SchemaPolicy warn."""
    monkeypatch.setenv(settings.MIGRATIONS_SOURCE, "image")
    monkeypatch.setenv(settings.MIGRATIONS_PATH, "/app")
    monkeypatch.setenv(settings.IMAGE_REGISTRY_INSECURE, "true")
    monkeypatch.setenv(settings.SCHEMA_POLICY, "warn")
    monkeypatch.setenv(settings.SQUAWK_PATH, str(LOCAL_SQUAWK))
    return db_env


@pytest.fixture
def front(registry: Registry) -> Iterator[tuple[str, Recorder]]:
    """A loopback front forwarding every GET to the registry, recording its path."""
    seen = Recorder()

    class Front(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.requests.append((self.path, self.headers.get("Authorization")))
            accept = {"Accept": self.headers.get("Accept", "")}
            proxy(self, f"http://{registry.address}{self.path}", accept)

        def log_message(self, *args: Any) -> None:
            pass

    server, address = serve(Front)
    try:
        yield address, seen
    finally:
        server.shutdown()


@pytest.fixture
def image(registry: Registry, script_dir: ScriptDir, front: tuple[str, Recorder]) -> dict[str, str]:
    """The event's image, named at the front: a project with one revision the bundled scripts
    lack, and a file no other test pushes (its digest is in no cache)."""
    script_dir.add_revision(
        IMAGE_ONLY,
        HEAD,
        upgrade="op.add_column('users', sa.Column('nickname', sa.Text()))",
        downgrade="op.drop_column('users', 'nickname')",
    )
    project = Layer().copy(script_dir.path, "app").file(f"app/{uuid.uuid4().hex}.txt", "x")
    pushed = registry.push([project], repository="shop/reviewed")
    return {"registry": front[0], "repository": pushed.repository, "digest": pushed.digest}


@dataclass(frozen=True)
class Reviewing:
    """A run_migrations to start (cold), the image at the front, what the front forwarded."""

    start: RunMigrations
    image: dict[str, str]
    seen: Recorder

    def blob_gets(self) -> list[str]:
        return [path for path, _ in self.seen.requests if "/blobs/" in path]


@pytest.fixture
def reviewing(
    run_migrations: RunMigrations,
    review_env: str,
    image: dict[str, str],
    front: tuple[str, Recorder],
) -> Reviewing:
    return Reviewing(run_migrations, image, front[1])


def _review(image: dict[str, str]) -> dict[str, Any]:
    return {"action": "review", "from_revision": None, "server_version": "16.4", "image": image}


def test_the_review_after_the_read_asks_the_registry_for_nothing(
    reviewing: Reviewing, lambda_context: LambdaContext
) -> None:
    """GIVEN run_migrations' execution environment WHEN "Read the image's scripts" reads the
    pushed image THEN the registry served its manifest and blobs; WHEN "Review the schema
    change" then reviews the same digest in that environment THEN the registry gets no request
    at all, and the review judged the image's own revisions, naming the image."""
    image, seen = reviewing.image, reviewing.seen
    handler = reviewing.start()

    read = handler.lambda_handler({"action": "read", "image": image}, lambda_context)

    assert read["revisions"] == [*CHAIN, IMAGE_ONLY]
    assert reviewing.blob_gets()
    requests_of_the_read = len(seen.requests)

    review = handler.lambda_handler(_review(image), lambda_context)

    assert len(seen.requests) == requests_of_the_read
    assert review["image"] == read["image"] == str(ImageRef(**image))
    assert [revision["revision"] for revision in review["revisions"]] == read["revisions"]
    assert (review["policy"], review["squawk"]) == ("warn", "2.68.0")


def test_a_new_process_reviews_from_the_digests_tmp_cache_without_a_blob(
    reviewing: Reviewing, lambda_context: LambdaContext
) -> None:
    """GIVEN the read in one process WHEN a new process (a second INIT with the same /tmp)
    reviews the same digest THEN it fetches no blob: the project comes from the by-digest
    cache the read filled."""
    image = reviewing.image
    reviewing.start().lambda_handler({"action": "read", "image": image}, lambda_context)
    blobs_of_the_read = reviewing.blob_gets()
    assert blobs_of_the_read

    review = reviewing.start().lambda_handler(_review(image), lambda_context)

    assert reviewing.blob_gets() == blobs_of_the_read
    assert sum(review["counts"].values()) == len(CHAIN) + 1


def test_a_review_with_a_bad_policy_is_refused_and_the_other_actions_still_run(
    reviewing: Reviewing, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    """GIVEN SCHEMA_POLICY set to something else than enforce or warn WHEN a review is asked
    THEN InvalidRequest before anything is read; a read in the same process still answers."""
    monkeypatch.setenv(settings.SCHEMA_POLICY, "lenient")
    handler = reviewing.start()

    with pytest.raises(InvalidRequest):
        handler.lambda_handler(_review(reviewing.image), lambda_context)
    assert reviewing.seen.requests == []

    read = handler.lambda_handler({"action": "read", "image": reviewing.image}, lambda_context)
    assert read["head"] == IMAGE_ONLY
