"""Image references, platforms, manifests and indexes, reader settings, alembic heads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pushgate import settings
from pushgate.errors import InvalidImage, InvalidRequest
from pushgate.image import ImageRef, ImageSettings, Platform
from pushgate.image.heads import heads, refuse_multiple_heads
from pushgate.image.manifest import OCI_INDEX, OCI_MANIFEST, Index, Manifest, parse_manifest
from pushgate.image.reader import DEFAULT_MAX_PROJECT_BYTES, DEFAULT_MIGRATIONS_PATH

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "a" * 64


def descriptor(digest: str = DIGEST, **platform: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": digest, "size": 10}
    if platform:
        entry["platform"] = platform
    return entry


def index(*entries: dict[str, Any]) -> Index:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(entries)})
    parsed = parse_manifest(body.encode(), None, "index")
    assert isinstance(parsed, Index)
    return parsed


# -- references ------------------------------------------------------------------------------
def test_image_reference_from_the_event_and_from_text() -> None:
    """GIVEN run_migrations' image object and the same as text THEN the same reference."""
    event = {"registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "repository": "shop/api"}
    ref = ImageRef.from_event({**event, "digest": DIGEST})

    assert ref == ImageRef.parse(f"{event['registry']}/shop/api@{DIGEST}")
    assert str(ref) == f"{event['registry']}/shop/api@{DIGEST}"
    assert ImageRef.parse(f"127.0.0.1:5000/a@{DIGEST}").host == "127.0.0.1"


@pytest.mark.parametrize(
    "value",
    [
        None,
        {"registry": "r.example", "repository": "shop/api"},
        {"registry": "r.example", "repository": "Shop/API", "digest": DIGEST},
        {"registry": "r.example", "repository": "shop/api", "digest": "sha256:abc"},
        {"registry": "r.example/x", "repository": "shop/api", "digest": DIGEST},
        {"registry": "r.example", "repository": "shop/api", "digest": 7},
    ],
)
def test_malformed_image_objects_are_invalid_requests(value: Any) -> None:
    with pytest.raises(InvalidRequest):
        ImageRef.from_event(value)


@pytest.mark.parametrize("text", ["r.example/shop/api:latest", "shop@" + DIGEST, ""])
def test_a_reference_must_be_pinned_by_digest(text: str) -> None:
    with pytest.raises(InvalidRequest):
        ImageRef.parse(text)


@pytest.mark.parametrize(
    ("runtime_platform", "expected"),
    [
        ({"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}, "linux/arm64"),
        ({"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"}, "linux/amd64"),
        ({"cpuArchitecture": "ARM64"}, "linux/arm64"),
        (None, None),
        ({}, None),
    ],
)
def test_platform_of_a_task_definition(
    runtime_platform: dict[str, str] | None, expected: str | None
) -> None:
    """GIVEN a task definition's runtimePlatform THEN the OCI platform (None: ECS's default)."""
    platform = Platform.from_runtime_platform(runtime_platform)
    assert (str(platform) if platform else None) == expected


def test_unknown_cpu_architecture_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="MIPS"):
        Platform.from_runtime_platform({"cpuArchitecture": "MIPS"})


# -- manifests and indexes -------------------------------------------------------------------
def test_index_selects_the_asked_platform_else_the_first_linux_one() -> None:
    """GIVEN an index with an attestation, amd64 and arm64 entries THEN arm64 when asked for;
    amd64 (the first linux one) when s390x or nothing is asked for."""
    amd, arm = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    entries = index(
        descriptor("sha256:" + "0" * 64, os="unknown", architecture="unknown"),
        descriptor(amd, os="linux", architecture="amd64"),
        descriptor(arm, os="linux", architecture="arm64", variant="v8"),
    )

    assert entries.select(Platform("linux", "arm64")).digest == arm
    assert entries.select(Platform("linux", "s390x")).digest == amd
    assert entries.select(None).digest == amd


def test_index_without_linux_is_refused_naming_its_platforms() -> None:
    entries = index(descriptor(os="windows", architecture="amd64"))
    with pytest.raises(InvalidImage, match="platforms: windows/amd64"):
        entries.select(Platform("linux", "amd64"))


def test_docker_manifest_and_oci_manifest_without_media_type() -> None:
    """GIVEN a Docker v2 manifest, and an OCI one whose type is only in Content-Type THEN both
    are manifests with their layers in order."""
    layer = {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3}
    docker = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "layers": [{**layer, "digest": DIGEST}, {**layer, "digest": "sha256:" + "b" * 64}],
    }
    parsed = parse_manifest(json.dumps(docker).encode(), None, "m")
    assert isinstance(parsed, Manifest)
    assert [d.digest[-1] for d in parsed.layers] == ["a", "b"]

    oci = {"schemaVersion": 2, "layers": []}
    assert isinstance(parse_manifest(json.dumps(oci).encode(), OCI_MANIFEST, "m"), Manifest)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        pytest.param(b"not json", "not JSON", id="not-json"),
        pytest.param(b"[]", "not a JSON object", id="not-object"),
        pytest.param(b'{"schemaVersion": 1, "fsLayers": []}', "schemaVersion 1", id="schema1"),
        pytest.param(
            b'{"schemaVersion": 2, "mediaType": "application/x-helm", "layers": []}',
            "application/x-helm",
            id="other-artifact",
        ),
        pytest.param(
            json.dumps({"schemaVersion": 2, "layers": [{"mediaType": "x", "digest": "md5:1"}]}),
            "not sha256",
            id="bad-digest",
        ),
        pytest.param(
            json.dumps(
                {"schemaVersion": 2, "layers": [{"mediaType": "x", "digest": DIGEST, "size": -1}]}
            ),
            "not a byte count",
            id="bad-size",
        ),
    ],
)
def test_malformed_manifests_are_invalid_images(document: bytes | str, says: str) -> None:
    body = document.encode() if isinstance(document, str) else document
    with pytest.raises(InvalidImage, match=says):
        parse_manifest(body, None, "manifest")


# -- reader settings -------------------------------------------------------------------------
def test_settings_defaults_and_overrides(tmp_path: Path) -> None:
    """GIVEN no variables THEN /app, 64 MiB, HTTPS; GIVEN them THEN their values."""
    defaults = ImageSettings.from_env({}, tmp_path)
    assert (defaults.migrations_path, defaults.max_project_bytes, defaults.insecure) == (
        DEFAULT_MIGRATIONS_PATH,
        DEFAULT_MAX_PROJECT_BYTES,
        False,
    )
    custom = ImageSettings.from_env(
        {
            settings.MIGRATIONS_PATH: "/srv/service",
            settings.IMAGE_MAX_PROJECT_BYTES: "1000",
            settings.IMAGE_REGISTRY_INSECURE: "true",
        },
        tmp_path,
    )
    assert (custom.migrations_path, custom.max_project_bytes, custom.insecure) == (
        "/srv/service",
        1000,
        True,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (settings.MIGRATIONS_PATH, "app"),
        (settings.MIGRATIONS_PATH, "/app/../etc"),
        (settings.IMAGE_MAX_PROJECT_BYTES, "lots"),
        (settings.IMAGE_MAX_PROJECT_BYTES, "0"),
        (settings.IMAGE_REGISTRY_INSECURE, "yes"),
    ],
)
def test_malformed_settings_are_invalid_requests(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(InvalidRequest):
        ImageSettings.from_env({name: value}, tmp_path)


# -- alembic heads ---------------------------------------------------------------------------
def revision_file(versions: Path, name: str, source: str) -> None:
    versions.mkdir(parents=True, exist_ok=True)
    (versions / f"{name}.py").write_text(source)


def test_heads_of_plain_typed_and_merge_revisions(tmp_path: Path) -> None:
    """GIVEN a base, two branches (one typed as the newer alembic template writes it) and a
    merge revision THEN one head, the merge."""
    versions = tmp_path / "migrations" / "versions"
    (tmp_path / "migrations" / "env.py").parent.mkdir(parents=True)
    (tmp_path / "migrations" / "env.py").write_text("")
    revision_file(versions, "base", 'revision = "base"\ndown_revision = None\n')
    revision_file(versions, "a", 'revision: str = "a"\ndown_revision: str | None = "base"\n')
    revision_file(versions, "b", 'revision = "b"\ndown_revision = "base"\n')
    revision_file(versions, "m", 'revision = "m"\ndown_revision = ("a", "b")\n')
    revision_file(versions, "helpers", "def helper() -> None: ...\n")

    assert heads(tmp_path / "migrations") == ["m"]
    refuse_multiple_heads(tmp_path)


def test_two_heads_are_refused_naming_them(tmp_path: Path) -> None:
    versions = tmp_path / "alembic" / "versions"
    (tmp_path / "alembic").mkdir()
    (tmp_path / "alembic" / "env.py").write_text("")
    revision_file(versions, "base", 'revision = "base"\ndown_revision = None\n')
    revision_file(versions, "a", 'revision = "a1"\ndown_revision = "base"\n')
    revision_file(versions, "b", 'revision = "b2"\ndown_revision = "base"\n')

    with pytest.raises(InvalidImage, match="alembic have 2 heads: a1, b2"):
        refuse_multiple_heads(tmp_path)


def test_a_revision_file_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "env.py").write_text("")
    revision_file(tmp_path / "m" / "versions", "broken", "revision = (\n")

    with pytest.raises(InvalidImage, match=r"broken\.py cannot be read"):
        refuse_multiple_heads(tmp_path)
