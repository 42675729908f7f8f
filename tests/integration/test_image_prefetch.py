"""The reader fetches the next layer while it scans the one before (pushgate.image.prefetch):
what it reads is still verified blob by blob, a refusal stops the fetching thread, and a layer
remembered as empty under the path is not fetched again."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from pathlib import Path

import pytest
from pushgate.errors import InvalidImage
from pushgate.image import ImageReader, ImageRef, ImageSettings
from pushgate.image.registry import RegistryClient

from tests.registry import Layer, Registry, project_layer

pytestmark = pytest.mark.registry

FILLER = 3 * 1024 * 1024  # incompressible bytes per base layer: several chunks each


def filler(name: str) -> Layer:
    return Layer().file(f"usr/lib/{name}-{uuid.uuid4().hex}.bin", os.urandom(FILLER))


def fetching_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pushgate-prefetch"]


def reader(tmp_path: Path, requests: list[RegistryClient]) -> ImageReader:
    settings = ImageSettings(cache_dir=tmp_path / "cache", insecure=True)

    def connect(ref: ImageRef) -> RegistryClient:
        client = RegistryClient(ref.registry, insecure=True)
        requests.append(client)
        return client

    return ImageReader(settings, connect=connect)


def test_big_base_layers_are_read_verified_and_remembered_as_empty(
    registry: Registry, tmp_path: Path
) -> None:
    # GIVEN an image of big base layers and the project on top, and a later image on the same base
    base = [filler("a"), filler("b")]
    first = registry.push([*base, project_layer()])
    later = registry.push([*base, project_layer(heads=("0002",))])
    clients: list[RegistryClient] = []
    images = reader(tmp_path, clients)
    # WHEN both are read
    scripts = images.read(first)
    first_clients = len(clients)
    again = images.read(later)
    # THEN each holds its project, the first read every layer, the later only its own
    assert (scripts.directory / "migrations" / "versions" / "0001.py").is_file()
    assert (again.directory / "migrations" / "versions" / "0002.py").is_file()
    assert (scripts.layers, scripts.layers_read) == (3, 3)
    assert (again.layers, again.layers_read) == (3, 1)
    # AND the later image's base blobs were never requested (one manifest, one blob)
    assert sum(client.requests for client in clients[first_clients:]) == 2
    assert fetching_threads() == []


def test_a_refusal_in_the_first_layer_stops_the_fetch_of_the_next(
    registry: Registry, tmp_path: Path
) -> None:
    # GIVEN an image whose first layer holds a device file under /app, then big layers
    hostile = Layer().dir("app").device("app/null")
    ref = registry.push([hostile, filler("c"), filler("d"), project_layer()])
    # WHEN it is read
    with pytest.raises(InvalidImage, match="device file"):
        reader(tmp_path, []).read(ref)
    # THEN the fetching thread is gone, and nothing was cached
    assert fetching_threads() == []
    assert not list((tmp_path / "cache" / "projects").glob("*"))


def test_a_tampered_base_layer_is_refused_even_when_fetched_ahead(
    registry: Registry, tmp_path: Path
) -> None:
    # GIVEN an image whose second big layer the registry serves altered
    middle = filler("e")
    ref = registry.push([filler("f"), middle, project_layer()])
    blob = registry.blob_file(_digest(middle.blob()))
    data = bytearray(blob.read_bytes())
    data[-100] ^= 0xFF
    blob.write_bytes(bytes(data))
    # WHEN it is read THEN InvalidImage names the digest it has, and the thread is gone
    with pytest.raises(InvalidImage, match="has digest"):
        reader(tmp_path, []).read(ref)
    assert fetching_threads() == []


def _digest(blob: bytes) -> str:
    return f"sha256:{hashlib.sha256(blob).hexdigest()}"
