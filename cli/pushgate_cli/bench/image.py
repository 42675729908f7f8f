"""Reading the scripts out of an image (issue 9), beside merely streaming its blobs.

A real registry (Debian's docker-registry on loopback) holds an image of about
:data:`FILLER_BYTES` of incompressible base layers and the alembic project (migrations/) in
the top layer. Each figure is the median of ``repeat`` runs:

- streaming: every layer blob fetched and read through from the same registry, nothing else
  (no hash, no decompression): what the network and the registry cost alone;
- cold: :class:`pushgate.image.ImageReader` with an empty cache (the manifest, every blob
  verified, decompressed and scanned; the next blob fetched while the current one is scanned);
- warm: the same digest again, from the cache (a warm Lambda's case);
- a later image on the same base: cold for the project, its base layers remembered as holding
  nothing under the path, so they are not fetched;
- sha256 of the same blobs (the registry's files, from the page cache), on one core: the
  floor of verifying every blob (a blob's hash is sequential), shown so that a cold figure over
  its budget can be read against it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from pushgate.image import ImageReader, ImageRef, ImageSettings
from pushgate.image.manifest import Manifest

from pushgate_cli.bench.budgets import IMAGE_COLD_VS_STREAMING, IMAGE_WARM_MS, Report
from pushgate_cli.bench.cold_start import median
from pushgate_cli.bench.table import Row, Section, fmt_bytes, fmt_ms
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.registry import Layer, Registry, project_image, running_registry

FILLER_LAYERS: Final = 4
FILLER_BYTES: Final = 200 * 1024 * 1024  # in all, split over FILLER_LAYERS base layers
CHUNK: Final = 1024 * 1024


def _image(registry: Registry, tag: str, base: list[Layer], project: Path) -> ImageRef:
    return registry.push([*base, *project_image(project)], repository="bench/api", tag=tag)


def stream_ms(ref: ImageRef, manifest: Manifest) -> float:
    """Fetch every layer blob over one kept-alive connection and read it through."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(ref.registry, timeout=60)
    try:
        for layer in manifest.layers:
            conn.request("GET", f"/v2/{ref.repository}/blobs/{layer.digest}")
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"{layer.digest}: HTTP {response.status}")
            while response.read(CHUNK):
                pass
    finally:
        conn.close()
    return (time.perf_counter() - started) * 1000


def _sha256_all(registry: Registry, manifest: Manifest) -> None:
    for layer in manifest.layers:
        hashlib.sha256(registry.blob_file(layer.digest).read_bytes()).hexdigest()


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def measure_image(report: Report, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="pushgate-bench-image-") as scratch:
        root = Path(scratch)
        with running_registry(root / "registry") as registry:
            size = FILLER_BYTES // FILLER_LAYERS
            base = [
                Layer().file(f"usr/lib/filler-{n}.bin", os.urandom(size))
                for n in range(FILLER_LAYERS)
            ]
            ref = _image(registry, "first", base, REPO_ROOT / "migrations")
            later = _image(registry, "later", base, REPO_ROOT / "examples" / "service")
            manifest = registry.manifest(ref)
            total = sum(layer.size for layer in manifest.layers)
            hashing = [_timed(lambda: _sha256_all(registry, manifest)) for _ in range(repeat)]
            streaming, cold, warm, shared = [], [], [], []
            for run in range(repeat):
                streaming.append(stream_ms(ref, manifest))
                settings = ImageSettings(insecure=True, cache_dir=root / f"cache-{run}")
                reader = ImageReader(settings)
                cold.append(_timed(lambda: reader.read(ref)))  # noqa: B023 - called at once
                warm.append(_timed(lambda: reader.read(ref)))  # noqa: B023
                shared.append(_timed(lambda: reader.read(later)))  # noqa: B023
    figures = {
        "image_bytes": total,
        "layers": len(manifest.layers),
        "streaming_ms": median(streaming),
        "cold_ms": median(cold),
        "warm_ms": median(warm),
        "later_image_same_base_ms": median(shared),
        "sha256_ms": median(hashing),
    }
    report.results["image"] = figures
    ratio = figures["cold_ms"] / figures["streaming_ms"]
    cold_budget, cold_verdict = report.budget(
        "image_cold_vs_streaming",
        round(ratio, 2),
        IMAGE_COLD_VS_STREAMING,
        "x",
        f"<= {IMAGE_COLD_VS_STREAMING} x streaming",
    )
    warm_budget, warm_verdict = report.budget(
        "image_warm_ms", figures["warm_ms"], IMAGE_WARM_MS, "ms", f"< {IMAGE_WARM_MS:g} ms"
    )
    shown = f"{fmt_bytes(total)}, {len(manifest.layers)} layers"
    report.sections.append(
        Section(
            "Reading the scripts out of an image",
            [
                Row(f"stream the blobs ({shown})", fmt_ms(figures["streaming_ms"])),
                Row(
                    "read the scripts, cold",
                    f"{fmt_ms(figures['cold_ms'])} ({ratio:.2f} x)",
                    cold_budget,
                    cold_verdict,
                ),
                Row(
                    "read the scripts, warm", fmt_ms(figures["warm_ms"]), warm_budget, warm_verdict
                ),
                Row("a later image, same base", fmt_ms(figures["later_image_same_base_ms"])),
                Row("sha256 of the blobs (one core)", fmt_ms(figures["sha256_ms"])),
            ],
        )
    )
