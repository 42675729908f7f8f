"""run_migrations with MigrationsSource image: the scripts come from the pushed image, by digest,
read out of a real OCI registry (docker-registry on loopback) into a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from pushgate import settings
from pushgate.errors import InvalidImage, InvalidRequest, SchemaDrift
from pushgate.image import ImageRef

from tests.helpers import CHAIN, HEAD, MIGRATIONS, ScriptDir, columns, revision, tables
from tests.registry import Layer, Registry

if TYPE_CHECKING:
    from pushgate_cli.lambda_context import LambdaContext

pytestmark = [pytest.mark.integration, pytest.mark.registry]

RunMigrations = Callable[[], ModuleType]
IMAGE_ONLY = "d0000000000d"  # a revision that exists only in the pushed image


@pytest.fixture
def image_env(db_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """run_migrations configured as deployed with MigrationsSource image (plain HTTP: loopback)."""
    monkeypatch.setenv(settings.MIGRATIONS_SOURCE, "image")
    monkeypatch.setenv(settings.MIGRATIONS_PATH, "/app")
    monkeypatch.setenv(settings.IMAGE_REGISTRY_INSECURE, "true")
    return db_env


@pytest.fixture
def pushed(registry: Registry, script_dir: ScriptDir) -> ImageRef:
    """An image whose /app is the project plus a revision the bundled scripts do not have; its
    own (a file no other test pushes), so its digest is in no cache and its blobs are safe to
    tamper with."""
    script_dir.add_revision(
        IMAGE_ONLY,
        HEAD,
        upgrade="op.add_column('users', sa.Column('nickname', sa.Text()))",
        downgrade="op.drop_column('users', 'nickname')",
    )
    base = Layer().dir("usr").file("usr/bin/python3", "elf" * 100)
    project = Layer().copy(script_dir.path, "app").file(f"app/{uuid.uuid4().hex}.txt", "x")
    return registry.push([base, project], repository="shop/api")


@dataclass(frozen=True)
class Pushed:
    """The pushed image, the digest of its project layer, the database's URL."""

    ref: ImageRef
    project_layer: str
    database_url: str


@pytest.fixture
def pushed_image(image_env: str, pushed: ImageRef, registry: Registry) -> Pushed:
    return Pushed(pushed, _layer_digests(registry, pushed)[-1], image_env)


def image_of(ref: ImageRef) -> dict[str, str]:
    return {"registry": ref.registry, "repository": ref.repository, "digest": ref.digest}


def _invoke(handler: ModuleType, event: dict[str, Any], context: LambdaContext) -> Any:
    return handler.lambda_handler(event, context)


def test_the_pushed_images_scripts_run_and_its_downgrade_reverts_them(
    run_migrations: RunMigrations,
    image_env: str,
    pushed: ImageRef,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN an image holding a revision the bundled scripts lack WHEN upgraded with that image
    THEN the image's revisions are applied, the image-only one too, and the result names the
    image; WHEN the same process downgrades one step with the same digest THEN the image's
    downgrade code reverts exactly that revision."""
    handler = run_migrations()
    event = {"action": "upgrade", "target": "head", "image": image_of(pushed)}

    result = _invoke(handler, event, lambda_context)

    assert result["applied"] == [*CHAIN, IMAGE_ONLY]
    assert result["image"] == str(pushed)
    assert revision(image_env) == IMAGE_ONLY
    assert "nickname" in columns(image_env, "users")

    down = {"action": "downgrade", "target": "-1", "image": image_of(pushed)}
    reverted = _invoke(handler, down, lambda_context)

    assert reverted["applied"] == [IMAGE_ONLY]
    assert reverted["to_revision"] == HEAD
    assert "nickname" not in columns(image_env, "users")


def test_a_warm_invocation_for_the_same_digest_does_not_read_the_image_again(
    run_migrations: RunMigrations,
    pushed_image: Pushed,
    registry: Registry,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a process that ran the image's upgrade WHEN its layer blob is then removed from the
    registry and the same digest is planned THEN the plan still answers (the built migrator and
    the cache are the digest's), at head with nothing pending."""
    handler = run_migrations()
    image = image_of(pushed_image.ref)
    _invoke(handler, {"action": "upgrade", "image": image}, lambda_context)
    registry.blob_file(pushed_image.project_layer).write_bytes(b"gone")

    plan = _invoke(handler, {"action": "plan", "image": image}, lambda_context)

    assert plan["from_revision"] == IMAGE_ONLY
    assert plan["pending"] == []


def test_a_tampered_image_is_refused_and_nothing_is_changed(
    run_migrations: RunMigrations,
    pushed_image: Pushed,
    registry: Registry,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN an image whose project layer was altered in the registry after the push WHEN it is
    upgraded THEN InvalidImage, and the database is untouched."""
    registry.tamper(pushed_image.project_layer)
    event = {"action": "upgrade", "image": image_of(pushed_image.ref)}

    with pytest.raises(InvalidImage):
        _invoke(run_migrations(), event, lambda_context)

    assert "alembic_version" not in tables(pushed_image.database_url)


def test_an_image_source_without_an_image_is_refused_and_nothing_is_changed(
    run_migrations: RunMigrations, image_env: str, lambda_context: LambdaContext
) -> None:
    """GIVEN MigrationsSource image WHEN an upgrade names no image THEN InvalidRequest saying the
    event needs one, and the database is untouched."""
    with pytest.raises(InvalidRequest, match="needs 'image'"):
        _invoke(run_migrations(), {"action": "upgrade"}, lambda_context)

    assert "alembic_version" not in tables(image_env)


@pytest.mark.parametrize("value", ["", "s3"])
def test_a_missing_or_unknown_migrations_source_fails_every_invocation(
    run_migrations: RunMigrations,
    db_env: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: LambdaContext,
    value: str,
) -> None:
    """GIVEN MIGRATIONS_SOURCE empty or not image|bundled WHEN invoked THEN InvalidRequest naming
    the variable (no silent default), and the database is untouched."""
    monkeypatch.setenv(settings.MIGRATIONS_SOURCE, value)

    with pytest.raises(InvalidRequest, match=settings.MIGRATIONS_SOURCE):
        _invoke(run_migrations(), {"action": "upgrade"}, lambda_context)

    assert "alembic_version" not in tables(db_env)


def older_image(registry: Registry) -> ImageRef:
    """An image of the release before: the bundled project, whose head is HEAD."""
    project = Layer().copy(MIGRATIONS, "app").file(f"app/{uuid.uuid4().hex}.txt", "x")
    return registry.push([project], repository="shop/api")


def test_an_older_image_over_the_serving_images_newer_schema_deploys_without_touching_it(
    run_migrations: RunMigrations,
    pushed_image: Pushed,
    registry: Registry,
    lambda_context: LambdaContext,
) -> None:
    """GIVEN a database migrated by the serving image to a revision the older image does not
    know WHEN the older image is upgraded, naming the serving image THEN nothing is applied, the
    result says schema_ahead, and the database stays where it was."""
    handler = run_migrations()
    serving = image_of(pushed_image.ref)
    _invoke(handler, {"action": "upgrade", "image": serving}, lambda_context)
    older = image_of(older_image(registry))

    result = _invoke(
        handler, {"action": "upgrade", "image": older, "serving_image": serving}, lambda_context
    )

    assert result["schema_ahead"] is True
    assert result["applied"] == []
    assert (result["from_revision"], result["to_revision"]) == (IMAGE_ONLY, IMAGE_ONLY)
    assert revision(pushed_image.database_url) == IMAGE_ONLY
    assert "nickname" in columns(pushed_image.database_url, "users")


@pytest.mark.parametrize("serving", ["none", "the older image itself"])
def test_an_unknown_revision_the_serving_image_does_not_explain_is_drift(
    run_migrations: RunMigrations,
    pushed_image: Pushed,
    registry: Registry,
    lambda_context: LambdaContext,
    serving: str,
) -> None:
    """GIVEN a database at a revision the older image does not know WHEN the older image is
    upgraded naming no serving image, or one that does not know that revision either THEN
    SchemaDrift, and the database stays where it was."""
    handler = run_migrations()
    _invoke(handler, {"action": "upgrade", "image": image_of(pushed_image.ref)}, lambda_context)
    older = image_of(older_image(registry))
    event: dict[str, Any] = {"action": "upgrade", "image": older}
    if serving != "none":
        event["serving_image"] = older

    with pytest.raises(SchemaDrift):
        _invoke(handler, event, lambda_context)

    assert revision(pushed_image.database_url) == IMAGE_ONLY


def _layer_digests(registry: Registry, ref: ImageRef) -> list[str]:
    return [layer.digest for layer in registry.manifest(ref).layers]
