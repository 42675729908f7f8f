"""Read the alembic project out of an image by digest: resolve, stream, verify, cache."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pushgate import settings
from pushgate.database.settings import read_positive_number
from pushgate.errors import InvalidImage, InvalidRequest
from pushgate.image.cache import ScriptCache
from pushgate.image.ecr import ecr_authorization, is_ecr
from pushgate.image.heads import ProjectCheck, refuse_multiple_heads
from pushgate.image.layers import ProjectTree, normalize_migrations_path
from pushgate.image.manifest import Descriptor, Manifest, parse_manifest
from pushgate.image.prefetch import PrefetchedBlob, Prefetcher
from pushgate.image.reference import REGISTRY_PATTERN, ImageRef, Platform, is_loopback
from pushgate.image.registry import RegistryClient, anonymous
from pushgate.image.tarstream import entries, layer_read_errors, open_layer, require_layer_type

DEFAULT_MIGRATIONS_PATH: Final = "/app"  # where the startup.sh images ran `alembic upgrade head`
DEFAULT_MAX_PROJECT_BYTES: Final = 64 * 1024 * 1024  # far above any alembic project's size
DEFAULT_CACHE_DIR: Final = Path(tempfile.gettempdir()) / "pushgate-images"
MAX_INDEX_DEPTH: Final = 3  # an index may name an index; no deeper than this


@dataclass(frozen=True, kw_only=True)
class ImageSettings:
    """Where the project is in the image, its size limit, plain HTTP (loopback), the cache."""

    migrations_path: str = DEFAULT_MIGRATIONS_PATH
    max_project_bytes: int = DEFAULT_MAX_PROJECT_BYTES
    insecure: bool = False
    cache_dir: Path = DEFAULT_CACHE_DIR
    # offline (the rehearsal): the loopback registry that stands in for every image's registry
    # (ECR's name in the event); read anonymously. None: the image's own registry.
    endpoint: str | None = None

    def __post_init__(self) -> None:
        normalize_migrations_path(self.migrations_path)  # InvalidRequest when it is not usable
        if self.endpoint is not None and (
            not REGISTRY_PATTERN.fullmatch(self.endpoint) or not is_loopback(self.endpoint)
        ):
            raise InvalidRequest(
                f"{settings.IMAGE_REGISTRY_ENDPOINT} must be a loopback host:port (offline "
                f"only), got {self.endpoint!r}"
            )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], cache_dir: Path = DEFAULT_CACHE_DIR
    ) -> ImageSettings:
        """MIGRATIONS_PATH, IMAGE_MAX_PROJECT_BYTES, IMAGE_REGISTRY_INSECURE (documented
        defaults: /app, 64 MiB, false) and, offline only, IMAGE_REGISTRY_ENDPOINT; InvalidRequest
        when one is malformed."""
        insecure = environ.get(settings.IMAGE_REGISTRY_INSECURE, "").strip().lower()
        if insecure not in ("", "true", "false"):
            raise InvalidRequest(
                f"{settings.IMAGE_REGISTRY_INSECURE} must be true or false, got {insecure!r}"
            )
        size = read_positive_number(
            environ, settings.IMAGE_MAX_PROJECT_BYTES, DEFAULT_MAX_PROJECT_BYTES, InvalidRequest
        )
        return cls(
            migrations_path=environ.get(settings.MIGRATIONS_PATH, "").strip()
            or DEFAULT_MIGRATIONS_PATH,
            max_project_bytes=int(size),
            insecure=insecure == "true",
            cache_dir=cache_dir,
            endpoint=environ.get(settings.IMAGE_REGISTRY_ENDPOINT, "").strip() or None,
        )


@dataclass(frozen=True, kw_only=True)
class ImageScripts:
    """The project read out of an image: its directory and how it was obtained."""

    directory: Path  # what the image has under MigrationsPath
    image: str  # registry/repository@digest, as asked for
    manifest_digest: str  # the manifest whose layers were read (an index's chosen entry)
    platform: str | None  # the index entry's platform; None for a single-platform image
    migrations_path: str
    layers: int
    layers_read: int  # fetched and applied (the rest were known to hold nothing under the path)
    bytes: int  # bytes extracted
    cached: bool = False  # True when this read came from the cache (no network I/O)
    duration_ms: float = field(default=0.0, compare=False)

    def to_meta(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "manifest_digest": self.manifest_digest,
            "platform": self.platform,
            "migrations_path": self.migrations_path,
            "layers": self.layers,
            "layers_read": self.layers_read,
            "bytes": self.bytes,
        }


_META_KEYS: Final = frozenset(
    f.name
    for f in dataclasses.fields(ImageScripts)
    if f.name not in ("directory", "cached", "duration_ms")
)
Connect = Callable[[ImageRef], RegistryClient]


class ImageReader:
    """Reads images' projects into a cache; one reader per process (cold start)."""

    def __init__(
        self,
        image_settings: ImageSettings,
        *,
        connect: Connect | None = None,
        check: ProjectCheck = refuse_multiple_heads,
    ) -> None:
        self.settings = image_settings
        self.cache = ScriptCache(image_settings.cache_dir)
        self._connect = connect or self._default_connect
        self._check = check

    def read(self, ref: ImageRef, platform: Platform | None = None) -> ImageScripts:
        """The project of ``ref`` (for ``platform`` when it is an index); InvalidImage."""
        started = time.perf_counter()
        path = self.settings.migrations_path
        key = self.cache.project_key(ref.digest, str(platform) if platform else None, path)
        hit = self.cache.lookup(key)
        if hit is not None and set(hit[1]) == _META_KEYS:
            directory, meta = hit
            return ImageScripts(directory=directory, cached=True, duration_ms=_ms(started), **meta)
        client = self._connect(ref)
        staging = self.cache.staging()
        try:
            scripts = self._read(client, ref, platform, staging)
            directory = self.cache.commit(staging, key, scripts.to_meta())
        except BaseException:
            self.cache.discard(staging)
            raise
        finally:
            client.close()
        return dataclasses.replace(scripts, directory=directory, duration_ms=_ms(started))

    def _read(
        self, client: RegistryClient, ref: ImageRef, platform: Platform | None, staging: Path
    ) -> ImageScripts:
        manifest, digest, chosen = self._resolve(client, ref, platform)
        tree = ProjectTree(
            staging / "project", self.settings.migrations_path, self.settings.max_project_bytes
        )
        for number, layer in enumerate(manifest.layers, 1):  # refused before any blob is read
            require_layer_type(layer.media_type, f"layer {number} ({layer.digest}) of {ref}")
        # a layer known to hold nothing under the path is not fetched at all; the others are
        # fetched ahead (a thread) while the one before is decompressed and scanned
        wanted = [
            (number, layer)
            for number, layer in enumerate(manifest.layers, 1)
            if not self.cache.is_empty_layer(layer.digest, tree.migrations_path)
        ]
        prefetcher = Prefetcher(
            lambda: self._connect(ref), ref.repository, [layer for _, layer in wanted]
        )
        with prefetcher.running() as blobs:
            for (number, layer), blob in zip(wanted, blobs, strict=True):
                where = f"layer {number}/{len(manifest.layers)} ({layer.digest}) of {ref}"
                touched = _apply_layer(tree, blob, layer, where)
                blob.verify()  # the fetching thread checked its digest and size
                if not touched:  # verified: remember it holds nothing under the path
                    self.cache.remember_empty_layer(layer.digest, tree.migrations_path)
        read = len(wanted)
        tree.check_links()
        self._check(tree.root)
        return ImageScripts(
            directory=tree.root,
            image=str(ref),
            manifest_digest=digest,
            platform=str(chosen) if chosen else None,
            migrations_path=tree.migrations_path,
            layers=len(manifest.layers),
            layers_read=read,
            bytes=tree.bytes_written,
        )

    def _resolve(
        self, client: RegistryClient, ref: ImageRef, platform: Platform | None
    ) -> tuple[Manifest, str, Platform | None]:
        """The manifest to read (through indexes), its digest and the platform chosen."""
        digest, chosen, expected_size = ref.digest, None, None
        for _ in range(MAX_INDEX_DEPTH + 1):
            where = f"manifest {ref.registry}/{ref.repository}@{digest}"
            body, content_type = client.manifest(ref.repository, digest)
            if expected_size is not None and len(body) != expected_size:
                raise InvalidImage(f"{where} has {len(body)} bytes, the index says {expected_size}")
            document = parse_manifest(body, content_type, where)
            if isinstance(document, Manifest):
                return document, digest, chosen
            entry: Descriptor = document.select(platform)
            digest, chosen, expected_size = entry.digest, entry.platform, entry.size
        raise InvalidImage(f"{ref}: image indexes nested more than {MAX_INDEX_DEPTH} deep")

    def _default_connect(self, ref: ImageRef) -> RegistryClient:
        """ECR's registries with ECR's token; any other registry (and the offline endpoint that
        stands in for them all) anonymously."""
        endpoint = self.settings.endpoint
        if endpoint is not None:
            return RegistryClient(endpoint, insecure=self.settings.insecure)
        authorization = ecr_authorization(ref.registry) if is_ecr(ref.registry) else anonymous
        return RegistryClient(
            ref.registry, authorization=authorization, insecure=self.settings.insecure
        )


def _apply_layer(tree: ProjectTree, blob: PrefetchedBlob, layer: Descriptor, where: str) -> bool:
    """Apply one layer; a refusal or a broken stream is reported as a digest mismatch when the
    blob does not match its descriptor (the truer reason)."""
    try:
        with open_layer(layer.media_type, blob, where) as tar:
            return tree.apply(entries(tar), where)
    except InvalidImage:
        blob.verify()
        raise
    except layer_read_errors() as exc:
        blob.verify()
        raise InvalidImage(f"{where} is not a readable {layer.media_type}: {exc}") from None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
