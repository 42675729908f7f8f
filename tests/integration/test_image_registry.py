"""Reading the project out of real images in a real OCI registry (docker-registry on loopback)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from pushgate.errors import InvalidImage
from pushgate.image import ImageReader, ImageRef, ImageSettings, Platform
from pushgate.image.heads import heads
from pushgate.image.manifest import Manifest, parse_manifest
from pushgate.image.registry import RegistryClient
from pushgate_cli.handlers import REPO_ROOT

from tests.registry import Layer, Registry, project_layer

pytestmark = pytest.mark.registry

SERVICE = REPO_ROOT / "examples" / "service"


@pytest.fixture
def settings(tmp_path: Path) -> ImageSettings:
    return ImageSettings(cache_dir=tmp_path / "cache", insecure=True)


@pytest.fixture
def reader(settings: ImageSettings) -> ImageReader:
    return ImageReader(settings)


def unique() -> Layer:
    """A layer no other test pushes (its blob is this test's own, safe to tamper with)."""
    return Layer().file(f"app/{uuid.uuid4().hex}.txt", uuid.uuid4().hex)


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


def cached_projects(settings: ImageSettings) -> list[Path]:
    return list((settings.cache_dir / "projects").glob("*"))


def test_whiteouts_and_an_opaque_directory_across_layers(
    registry: Registry, reader: ImageReader
) -> None:
    """GIVEN a base layer, a project layer, a layer that whites out a file and a revision, and
    one that makes static/ opaque and adds a file to it WHEN read THEN the project as the image's
    filesystem has it: the deleted files gone, static/ holding only the new file."""
    base = Layer().dir("usr").file("usr/bin/python3", "elf" * 100)
    versions = "app/migrations/versions"
    project = (
        Layer()
        .file("app/alembic.ini", "[alembic]\n")
        .file("app/migrations/env.py", "# env\n")
        .file(f"{versions}/base0.py", 'revision = "base0"\ndown_revision = None\n')
        .file(f"{versions}/0001.py", 'revision = "0001"\ndown_revision = "base0"\n')
        .file(f"{versions}/0002.py", 'revision = "0002"\ndown_revision = "0001"\n')
        .file("app/static/old.css", "old")
        .file("app/README", "readme")
    )
    deletions = Layer().whiteout("app/README").whiteout("app/migrations/versions/0002.py")
    opaque = Layer().opaque("app/static").file("app/static/new.css", "new")

    scripts = reader.read(registry.push([base, project, deletions, opaque]))

    assert files(scripts.directory) == {
        "alembic.ini",
        "migrations/env.py",
        "migrations/versions/base0.py",
        "migrations/versions/0001.py",
        "static/new.css",
    }
    assert (scripts.layers, scripts.layers_read, scripts.cached) == (4, 4, False)


def test_image_index_reads_the_task_definitions_platform(
    registry: Registry, reader: ImageReader
) -> None:
    """GIVEN an index with linux/amd64 and linux/arm64 images whose revisions differ WHEN read
    for an ARM64 task definition THEN arm64's scripts; with no runtimePlatform THEN the first
    linux one's."""
    ref = registry.push(
        {
            "linux/amd64": [project_layer(heads=["amd1"]), unique()],
            "linux/arm64": [project_layer(heads=["arm1"]), unique()],
        }
    )
    arm = Platform.from_runtime_platform(
        {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
    )

    on_arm = reader.read(ref, arm)
    default = reader.read(ref, None)

    assert "migrations/versions/arm1.py" in files(on_arm.directory)
    assert on_arm.platform == "linux/arm64"
    assert on_arm.manifest_digest != ref.digest
    assert "migrations/versions/amd1.py" in files(default.directory)
    assert default.platform == "linux/amd64"


def test_a_tampered_blob_is_refused_and_nothing_is_kept(
    registry: Registry, reader: ImageReader, settings: ImageSettings
) -> None:
    """GIVEN an image whose project layer was altered in the registry after the push (same
    size) WHEN read THEN InvalidImage naming the digest mismatch, and no project is cached."""
    layer = project_layer().file("app/payload.txt", uuid.uuid4().hex * 50)
    ref = registry.push([layer])
    registry.tamper(registry_layers(registry, ref)[0])

    with pytest.raises(InvalidImage, match=r"has digest sha256:[0-9a-f]{64}, not sha256:"):
        reader.read(ref)
    assert cached_projects(settings) == []
    assert list((settings.cache_dir / "staging").iterdir()) == []


def test_a_blob_longer_than_its_descriptor_is_refused(
    registry: Registry, reader: ImageReader
) -> None:
    ref = registry.push([project_layer(), unique()])
    blob = registry.blob_file(registry_layers(registry, ref)[1])
    blob.write_bytes(blob.read_bytes() + b"\0")

    with pytest.raises(InvalidImage, match="longer than its descriptor"):
        reader.read(ref)


@pytest.mark.parametrize(
    ("hostile", "says"),
    [
        pytest.param(Layer().file("app/../../etc/cron.d/x", "x"), "climbs out", id="escape"),
        pytest.param(Layer().symlink("app/keys", "/root/.ssh"), "outside /app", id="link-out"),
        pytest.param(Layer().hardlink("app/shadow", "etc/shadow"), "outside /app", id="hardlink"),
        pytest.param(Layer().device("app/mem"), "device file or FIFO", id="device"),
    ],
)
def test_hostile_images_are_refused_and_nothing_is_kept(
    registry: Registry, reader: ImageReader, settings: ImageSettings, hostile: Layer, says: str
) -> None:
    """GIVEN an image with a hostile entry in its last layer WHEN read THEN InvalidImage saying
    what, and nothing of it is left in the cache."""
    ref = registry.push([project_layer(), unique(), hostile])

    with pytest.raises(InvalidImage, match=says):
        reader.read(ref)
    assert cached_projects(settings) == []


def test_a_project_over_the_size_limit_is_refused(registry: Registry, tmp_path: Path) -> None:
    small = ImageReader(
        ImageSettings(cache_dir=tmp_path / "c", insecure=True, max_project_bytes=4096)
    )
    ref = registry.push([project_layer(), unique().file("app/big.bin", os.urandom(5000))])

    with pytest.raises(InvalidImage, match="over its size limit of 4096 bytes"):
        small.read(ref)


def test_several_heads_are_refused_naming_them(registry: Registry, reader: ImageReader) -> None:
    ref = registry.push([project_layer(heads=["feature_a", "feature_b"]), unique()])

    with pytest.raises(InvalidImage, match="2 heads: feature_a, feature_b"):
        reader.read(ref)


def test_plain_and_zstd_layers(registry: Registry, reader: ImageReader) -> None:
    ref = registry.push(
        [
            Layer("none").file("app/plain.txt", "p"),
            project_layer(),
            Layer("zstd").file("app/z", "z"),
        ]
    )

    assert {"plain.txt", "z"} <= files(reader.read(ref).directory)


def test_the_example_service_as_its_dockerfile_lays_it_out(
    registry: Registry, reader: ImageReader
) -> None:
    """GIVEN examples/service copied to /app over a base layer (as its Dockerfile does) WHEN
    read THEN alembic.ini, env.py and its four revisions, and one head."""
    base = Layer().dir("usr").file("usr/local/bin/python3.13", "elf").dir("app")
    service = (
        Layer()
        .file("app/alembic.ini", (SERVICE / "alembic.ini").read_bytes())
        .copy(SERVICE / "migrations", "app/migrations")
        .copy(SERVICE / "shop_api", "app/shop_api")
    )

    scripts = reader.read(registry.push([base, service]))

    assert (scripts.directory / "alembic.ini").read_bytes() == (
        SERVICE / "alembic.ini"
    ).read_bytes()
    revisions = {p.name for p in (scripts.directory / "migrations" / "versions").glob("*.py")}
    assert revisions == {p.name for p in (SERVICE / "migrations" / "versions").glob("*.py")}
    assert len(revisions) >= 4
    assert heads(scripts.directory / "migrations") == ["b3d5f7a9c1e2"]


@pytest.mark.parametrize("docker", [True, False], ids=["docker-v2", "oci"])
def test_an_image_built_by_buildah(
    registry: Registry, reader: ImageReader, tmp_path: Path, docker: bool
) -> None:
    """GIVEN the example service built FROM scratch by buildah, in Docker v2 and OCI formats
    WHEN read THEN its migrations, as built."""
    context = tmp_path / "context"
    shutil.copytree(SERVICE, context, ignore=shutil.ignore_patterns("__pycache__"))
    containerfile = "FROM scratch\nCOPY alembic.ini /app/\nCOPY migrations /app/migrations\n"

    ref = registry.build(context, containerfile, repository="shop/built", docker=docker)
    scripts = reader.read(ref)

    assert files(scripts.directory) == {"alembic.ini"} | {
        f"migrations/{p.relative_to(SERVICE / 'migrations').as_posix()}"
        for p in (SERVICE / "migrations").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_second_read_of_a_digest_uses_no_network(
    registry: Registry, settings: ImageSettings
) -> None:
    """GIVEN an image read once WHEN read again by a reader whose registry is unreachable THEN
    the same project, from the cache."""
    ref = registry.push([project_layer(), unique()])
    first = ImageReader(settings).read(ref)

    nowhere = ImageReader(settings, connect=lambda _: RegistryClient("127.0.0.1:9", insecure=True))
    again = nowhere.read(ref)

    assert again.cached
    assert again.directory == first.directory
    assert files(again.directory) == files(first.directory)


def test_layers_holding_nothing_under_the_path_are_not_fetched_again(
    registry: Registry, settings: ImageSettings
) -> None:
    """GIVEN an image whose base layer holds nothing under /app, read once WHEN a second image
    on the same base layer is read, with that blob gone from the registry THEN it is read
    without fetching the base layer."""
    base = Layer().dir("usr").file("usr/lib/libc.so", uuid.uuid4().hex * 100)
    first_ref = registry.push([base, project_layer(), unique()])
    first = ImageReader(settings).read(first_ref)
    second_ref = registry.push([base, project_layer(), unique()])
    registry.blob_file(registry_layers(registry, second_ref)[0]).unlink()

    second = ImageReader(settings).read(second_ref)

    assert (first.layers_read, second.layers_read, second.layers) == (3, 2, 3)
    assert "alembic.ini" in files(second.directory)


def test_an_unknown_digest_is_refused_with_the_registrys_code(
    registry: Registry, reader: ImageReader
) -> None:
    ref = ImageRef(registry=registry.address, repository="shop/api", digest="sha256:" + "e" * 64)
    with pytest.raises(InvalidImage, match=r"HTTP 404 .*MANIFEST_UNKNOWN"):
        reader.read(ref)


def test_an_unreachable_registry_is_an_invalid_image(reader: ImageReader) -> None:
    ref = ImageRef(registry="127.0.0.1:9", repository="shop/api", digest="sha256:" + "e" * 64)
    with pytest.raises(InvalidImage, match="ConnectionRefusedError"):
        reader.read(ref)


def registry_layers(registry: Registry, ref: ImageRef) -> list[str]:
    """The layer digests of ``ref``'s manifest, as the registry serves it."""
    client = RegistryClient(registry.address, insecure=True)
    body, content_type = client.manifest(ref.repository, ref.digest)
    client.close()
    manifest = parse_manifest(body, content_type, "manifest")
    assert isinstance(manifest, Manifest)
    return [layer.digest for layer in manifest.layers]
