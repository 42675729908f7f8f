"""Reading the scripts out of an image (issue 9), beside merely streaming its blobs.

A real registry (Debian's docker-registry on loopback) holds an image of about
:data:`FILLER_BYTES` of incompressible base layers and the alembic project (migrations/) in
the top layer. Each figure is the median of ``repeat`` rounds, each round running every piece:

- streaming: every layer blob fetched and read through from the same registry with the same
  client (http.client) and the same read size as the reader's, one blob after the other over one
  kept-alive connection, nothing else (no hash, no decompression): what the network and the
  registry cost alone;
- cold: :class:`pushgate.image.ImageReader` with an empty cache (the manifest, every blob
  verified, decompressed and scanned, two layers at a time on two threads);
- warm: the same digest again, from the cache (a warm Lambda's case);
- a later image on the same base: cold for the project, its base layers remembered as holding
  nothing under the path, so they are not fetched;
- the CPU time both spend (this process's, all threads, and the registry process's): on a
  machine of few cores a cold read is bound by it, and the lines say where it goes;
- sha256 of the same blobs (their bytes already in memory, so a read is not counted twice), on
  one core: the floor of verifying every blob (a blob's hash is sequential); and inflating them
  (the reader's own inflate, from memory without a copy, what it yields dropped): the floor of
  opening their tars.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, cast

from pushgate.image import ImageReader, ImageRef, ImageSettings
from pushgate.image.manifest import Manifest
from pushgate.image.tarstream import (
    DOCKER_LAYER_GZIP,
    LAYER_GZIP,
    LAYER_TAR,
    STREAM_BUFFER_BYTES,
    GzipSource,
)

from pushgate_cli.bench.budgets import IMAGE_COLD_VS_STREAMING, IMAGE_WARM_MS, Report
from pushgate_cli.bench.cold_start import median
from pushgate_cli.bench.table import Row, Section, fmt_bytes, fmt_ms
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.registry import Layer, Registry, project_image, running_registry

FILLER_LAYERS: Final = 4
FILLER_BYTES: Final = 200 * 1024 * 1024  # in all, split over FILLER_LAYERS base layers


def _image(registry: Registry, tag: str, base: list[Layer], project: Path) -> ImageRef:
    return registry.push([*base, *project_image(project)], repository="bench/api", tag=tag)


def _push_images(registry: Registry) -> tuple[ImageRef, ImageRef]:
    """The bench's image (the base layers and migrations/ on top) and a later one on the same
    base (examples/service on top); the base's bytes are not kept past the pushes."""
    size = FILLER_BYTES // FILLER_LAYERS
    base = [Layer().file(f"usr/lib/filler-{n}.bin", os.urandom(size)) for n in range(FILLER_LAYERS)]
    first = _image(registry, "first", base, REPO_ROOT / "migrations")
    return first, _image(registry, "later", base, REPO_ROOT / "examples" / "service")


def stream(ref: ImageRef, manifest: Manifest) -> None:
    """Fetch every layer blob over one kept-alive connection and read it through."""
    conn = http.client.HTTPConnection(ref.registry, timeout=60)
    try:
        for layer in manifest.layers:
            conn.request("GET", f"/v2/{ref.repository}/blobs/{layer.digest}")
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"{layer.digest}: HTTP {response.status}")
            while response.read(STREAM_BUFFER_BYTES):
                pass
    finally:
        conn.close()


Blob = tuple[str, bytes]  # a layer's media type and its bytes


def _blobs(registry: Registry, manifest: Manifest) -> list[Blob]:
    return [
        (layer.media_type, registry.blob_file(layer.digest).read_bytes())
        for layer in manifest.layers
    ]


def _sha256_all(blobs: list[Blob]) -> None:
    for _, blob in blobs:
        hashlib.sha256(blob)


class _View:
    """A blob read without a copy (a memoryview of it per read), as the reader inflates bytes it
    has received: a copy here would count receiving twice."""

    def __init__(self, blob: bytes) -> None:
        self._view = memoryview(blob)
        self._at = 0

    def read(self, size: int = -1, /) -> bytes:
        end = len(self._view) if size < 0 else self._at + size
        part, self._at = self._view[self._at : end], min(end, len(self._view))
        return cast(bytes, part)  # GzipSource takes any bytes-like: zlib and ISA-L do


def _inflate_all(blobs: list[Blob]) -> None:
    """Every gzip layer inflated as the reader inflates it (in its largest steps), nothing kept."""
    for media_type, blob in blobs:
        if media_type in (LAYER_GZIP, DOCKER_LAYER_GZIP):
            source = GzipSource(_View(blob))
            while source.read(4 * STREAM_BUFFER_BYTES):
                pass
        elif media_type != LAYER_TAR:
            raise RuntimeError(f"the bench's image has a {media_type} layer it does not inflate")


def _interleaved(
    registry: Registry, root: Path, images: tuple[ImageRef, ImageRef], repeat: int
) -> dict[str, list[_Run]]:
    """``repeat`` rounds of every measured piece, one after the other in each round, so a drift
    of the machine's speed moves them all: hashing and inflating the blobs (in memory, freed
    after), streaming them, and a new reader's cold read, warm read and read of the later
    image."""
    ref, later = images
    manifest = registry.manifest(ref)
    blobs = _blobs(registry, manifest)
    runs: dict[str, list[_Run]] = {
        name: [] for name in ("hashing", "inflating", "streaming", "cold", "warm", "shared")
    }
    for run in range(repeat):
        runs["hashing"].append(_Run(registry, lambda: _sha256_all(blobs)))
        runs["inflating"].append(_Run(registry, lambda: _inflate_all(blobs)))
        runs["streaming"].append(_Run(registry, lambda: stream(ref, manifest)))
        reader = ImageReader(ImageSettings(insecure=True, cache_dir=root / f"cache-{run}"))
        runs["cold"].append(_Run(registry, lambda: reader.read(ref)))  # noqa: B023 - called at once
        runs["warm"].append(_Run(registry, lambda: reader.read(ref)))  # noqa: B023
        runs["shared"].append(_Run(registry, lambda: reader.read(later)))  # noqa: B023
    return runs


def _own_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


def _process_cpu_ms(pid: int) -> float:
    """user + system time of a running process (Linux: /proc/PID/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


class _Run:
    """One measured piece of work: its wall time and the CPU time of this process and of the
    registry's meanwhile."""

    def __init__(self, registry: Registry, work: Callable[[], object]) -> None:
        own, served = _own_cpu_ms(), _process_cpu_ms(registry.pid)
        started = time.perf_counter()
        work()
        self.ms = (time.perf_counter() - started) * 1000
        self.cpu_ms = _own_cpu_ms() - own
        self.registry_cpu_ms = _process_cpu_ms(registry.pid) - served


def cold_lower_bound_ms(
    hashing_cpu_ms: float,
    inflating_cpu_ms: float,
    receiving_cpu_ms: float,
    serving_cpu_ms: float,
    cpus: int,
) -> float:
    """The least time a cold read can take here, whatever the reader does: the CPU it cannot
    avoid spread perfectly over every CPU. That is hashing every blob (which the issue
    requires), inflating every gzip layer (its tar is inside), receiving the bytes (the stream's
    own cost) and the registry's serving them on the same machine (the least it spent, for the
    stream or for the cold read). Walking the tars and keeping the project are left out."""
    spent = hashing_cpu_ms + inflating_cpu_ms + receiving_cpu_ms + serving_cpu_ms
    return spent / max(cpus, 1)


def measure_image(report: Report, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="pushgate-bench-image-") as scratch:
        root = Path(scratch)
        with running_registry(root / "registry") as registry:
            images = _push_images(registry)
            manifest = registry.manifest(images[0])
            runs = _interleaved(registry, root, images, repeat)
    total = sum(layer.size for layer in manifest.layers)
    hashing, inflating, streaming = runs["hashing"], runs["inflating"], runs["streaming"]
    cold, warm, shared = runs["cold"], runs["warm"], runs["shared"]
    figures: dict[str, float] = {
        "image_bytes": total,
        "layers": len(manifest.layers),
        "streaming_ms": median([r.ms for r in streaming]),
        "cold_ms": median([r.ms for r in cold]),
        "warm_ms": median([r.ms for r in warm]),
        "later_image_same_base_ms": median([r.ms for r in shared]),
        "sha256_ms": median([r.ms for r in hashing]),
        "sha256_cpu_ms": median([r.cpu_ms for r in hashing]),
        "inflate_ms": median([r.ms for r in inflating]),
        "inflate_cpu_ms": median([r.cpu_ms for r in inflating]),
        "streaming_cpu_ms": median([r.cpu_ms for r in streaming]),
        "streaming_registry_cpu_ms": median([r.registry_cpu_ms for r in streaming]),
        "cold_cpu_ms": median([r.cpu_ms for r in cold]),
        "cold_registry_cpu_ms": median([r.registry_cpu_ms for r in cold]),
        "load_average": round(os.getloadavg()[0], 2),
        "cpus": len(os.sched_getaffinity(0)),
    }
    figures["cold_lower_bound_ms"] = cold_lower_bound_ms(
        figures["sha256_cpu_ms"],
        figures["inflate_cpu_ms"],
        figures["streaming_cpu_ms"],
        min(figures["streaming_registry_cpu_ms"], figures["cold_registry_cpu_ms"]),
        int(figures["cpus"]),
    )
    report.results["image"] = figures
    ratio = figures["cold_ms"] / figures["streaming_ms"]
    bound = figures["cold_lower_bound_ms"]
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
                Row("  CPU: this process / the registry", _cpu(figures, "streaming")),
                Row(
                    "read the scripts, cold",
                    f"{fmt_ms(figures['cold_ms'])} ({ratio:.2f} x)",
                    cold_budget,
                    cold_verdict,
                ),
                Row("  CPU: this process / the registry", _cpu(figures, "cold")),
                Row(
                    f"  least possible here: (sha256 + inflating + receiving + the registry) / "
                    f"{figures['cpus']:.0f} CPUs",
                    f"{fmt_ms(bound)} ({bound / figures['streaming_ms']:.2f} x)",
                ),
                Row(
                    "read the scripts, warm", fmt_ms(figures["warm_ms"]), warm_budget, warm_verdict
                ),
                Row("a later image, same base", fmt_ms(figures["later_image_same_base_ms"])),
                Row("sha256 of the blobs, in memory (one core)", fmt_ms(figures["sha256_ms"])),
                Row("inflating the layers, in memory (one core)", fmt_ms(figures["inflate_ms"])),
                Row(
                    "load average (1 min) at the end",
                    f"{figures['load_average']:.2f} on {figures['cpus']:.0f} CPUs",
                ),
            ],
        )
    )


def _cpu(figures: dict[str, float], run: str) -> str:
    return f"{fmt_ms(figures[f'{run}_cpu_ms'])} / {fmt_ms(figures[f'{run}_registry_cpu_ms'])}"
