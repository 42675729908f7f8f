"""Manifests and image indexes (OCI and Docker v2): parsing them, choosing a platform.

Only what pushgate needs is read: the layers' descriptors in order, and an index's entries with
their platforms. Whatever is malformed, or of a media type pushgate cannot read, is InvalidImage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pushgate.errors import InvalidImage
from pushgate.grammar import DIGEST_PATTERN
from pushgate.image.reference import Platform

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES: Final = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES: Final = (OCI_INDEX, DOCKER_MANIFEST_LIST)
# what a manifest request accepts (the Accept header), in order of preference
ACCEPTED_TYPES: Final = (*MANIFEST_TYPES, *INDEX_TYPES)

# the largest manifest or index read (the distribution spec's registries cap them at 4 MiB)
MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: what a blob or manifest is, its digest and its size in bytes."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None

    @classmethod
    def from_json(cls, value: Any, where: str) -> Descriptor:
        if not isinstance(value, Mapping):
            raise InvalidImage(f"{where} is not a descriptor object")
        media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise InvalidImage(f"{where} has no mediaType")
        if not isinstance(digest, str) or not DIGEST_PATTERN.fullmatch(digest):
            raise InvalidImage(f"{where} has digest {digest!r}, not sha256:<64 hex digits>")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidImage(f"{where} has size {size!r}, not a byte count")
        return cls(media_type, digest, size, _platform(value.get("platform"), where))


@dataclass(frozen=True)
class Manifest:
    """An image manifest: its layers, lowest first."""

    media_type: str
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True)
class Index:
    """An image index (or Docker manifest list): one manifest per platform."""

    media_type: str
    manifests: tuple[Descriptor, ...]

    def select(self, wanted: Platform | None) -> Descriptor:
        """The entry for ``wanted``, else the first linux one; InvalidImage when there is none."""
        images = [d for d in self.manifests if d.media_type in (*MANIFEST_TYPES, *INDEX_TYPES)]
        if wanted is not None:
            for entry in images:
                if entry.platform is not None and wanted.matches(entry.platform):
                    return entry
        for entry in images:
            if entry.platform is not None and entry.platform.os == "linux":
                return entry
        offered = ", ".join(str(d.platform) for d in images if d.platform) or "none"
        raise InvalidImage(
            f"the image index has no manifest for {wanted or 'linux'} (platforms: {offered})"
        )


def parse_manifest(body: bytes, content_type: str | None, where: str) -> Manifest | Index:
    """A manifest or an index from its bytes; the body's mediaType, else the Content-Type."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidImage(f"{where} is not JSON: {exc}") from None
    if not isinstance(document, Mapping):
        raise InvalidImage(f"{where} is not a JSON object")
    declared = document.get("mediaType")
    header = (content_type or "").split(";")[0].strip()
    media_type = declared if isinstance(declared, str) and declared else header
    if document.get("schemaVersion") != 2:
        raise InvalidImage(
            f"{where} has schemaVersion {document.get('schemaVersion')!r}; only 2 (OCI, Docker "
            "v2) is read"
        )
    if media_type in INDEX_TYPES or (not media_type and "manifests" in document):
        entries = _descriptors(document.get("manifests"), f"{where} manifests")
        return Index(media_type or OCI_INDEX, entries)
    if media_type in MANIFEST_TYPES or (not media_type and "layers" in document):
        layers = _descriptors(document.get("layers"), f"{where} layers")
        return Manifest(media_type or OCI_MANIFEST, layers)
    raise InvalidImage(
        f"{where} is of media type {media_type!r}; pushgate reads {', '.join(ACCEPTED_TYPES)}"
    )


def _descriptors(value: Any, where: str) -> tuple[Descriptor, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise InvalidImage(f"{where} is not a list")
    return tuple(Descriptor.from_json(item, f"{where}[{i}]") for i, item in enumerate(value))


def _platform(value: Any, where: str) -> Platform | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidImage(f"{where}.platform is not an object")
    os_name, architecture, variant = (
        value.get("os"),
        value.get("architecture"),
        value.get("variant"),
    )
    if not isinstance(os_name, str) or not isinstance(architecture, str):
        raise InvalidImage(f"{where}.platform has no os and architecture")
    return Platform(os_name, architecture, variant if isinstance(variant, str) else None)
