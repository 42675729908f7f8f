"""The reader fetches the next layer while it scans the one before (pushgate.image.prefetch):
what it reads is still verified blob by blob, a refusal stops the fetching thread, and a layer
remembered as empty under the path is not fetched again."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from pushgate.errors import InvalidImage
from pushgate.image import ImageReader, ImageRef, ImageSettings
from pushgate.image.prefetch import Prefetcher, StoppableBlob
from pushgate.image.registry import RegistryClient

from tests.registry import Layer, Registry, blob_digest, project_layer

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
    registry.tamper(blob_digest(middle.blob()), at=-100)
    # WHEN it is read THEN InvalidImage names the digest it has, and the thread is gone
    with pytest.raises(InvalidImage, match="has digest"):
        reader(tmp_path, []).read(ref)
    assert fetching_threads() == []


def test_two_layers_failing_at_once_report_the_first_in_order(
    registry: Registry, tmp_path: Path
) -> None:
    # GIVEN images whose second and third layers both fail, fetched and scanned at once: one a
    # refusal (a device file under /app), the other a tampered blob, in either order
    hostile = Layer().dir("app").device("app/null")
    late_tampered, early_tampered = filler("g"), filler("h")
    refused_first = registry.push([filler("i"), hostile, late_tampered, project_layer()])
    tampered_first = registry.push([filler("j"), early_tampered, hostile, project_layer()])
    registry.tamper(blob_digest(late_tampered.blob()))
    registry.tamper(blob_digest(early_tampered.blob()))
    # WHEN each is read THEN InvalidImage names the earlier layer's fault, and the threads end
    with pytest.raises(InvalidImage, match="layer 2/4") as refused:
        reader(tmp_path, []).read(refused_first)
    assert "device file" in str(refused.value)
    with pytest.raises(InvalidImage, match="has digest") as tampered:
        reader(tmp_path, []).read(tampered_first)
    assert blob_digest(early_tampered.blob()) in str(tampered.value)
    assert fetching_threads() == []


def test_the_threads_fetch_no_further_ahead_than_two_layers(
    registry: Registry, tmp_path: Path
) -> None:
    # GIVEN an image of five big layers, and a reader that takes none of the scans yet
    layers = [filler(f"k{n}") for n in range(5)]
    ref = registry.push(layers)
    manifest = registry.manifest(ref)
    clients: list[RegistryClient] = []

    def connect() -> RegistryClient:
        client = RegistryClient(ref.registry, insecure=True)
        clients.append(client)
        return client

    scanned: list[int] = []

    def scan(index: int, blob: StoppableBlob) -> int:
        blob.verify()
        scanned.append(index)
        return index

    prefetcher = Prefetcher(connect, ref.repository, manifest.layers, scan)
    with prefetcher.running() as results:
        # WHEN two layers are scanned, and the reader waits before it takes the first result
        deadline = time.monotonic() + 60
        while len(scanned) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        # THEN no thread has taken a third layer
        assert sorted(scanned) == [0, 1]
        # AND once the reader takes them, the rest come, in order, each verified
        assert list(results) == [0, 1, 2, 3, 4]
    assert sum(client.requests for client in clients) == 5
    assert fetching_threads() == []
