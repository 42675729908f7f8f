"""A layer blob as a tar stream: its media type decides the decompression (plain, gzip, or
zstd with the ``zstandard`` wheel); any other media type is InvalidImage naming it."""

from __future__ import annotations

import functools
import sys
import tarfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Final, Protocol, cast

from pushgate.errors import InvalidImage

LAYER_TAR: Final = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LAYER_GZIP: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
_GZIP_TYPES: Final = frozenset({LAYER_GZIP, DOCKER_LAYER_GZIP})
LAYER_TYPES: Final = frozenset({LAYER_TAR, LAYER_ZSTD, *_GZIP_TYPES})

STREAM_BUFFER_BYTES: Final = 1024 * 1024

Entry = tuple[tarfile.TarInfo, Callable[[], IO[bytes] | None]]  # an entry, and opening its data


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def require_layer_type(media_type: str, where: str) -> None:
    """InvalidImage naming the media type when pushgate cannot read such a layer."""
    if media_type not in LAYER_TYPES:
        raise InvalidImage(
            f"{where} is of media type {media_type!r}; pushgate reads "
            + ", ".join(sorted(LAYER_TYPES))
        )


def open_layer(media_type: str, blob: Readable, where: str) -> tarfile.TarFile:
    """The layer's tar stream, decompressed as its media type says; InvalidImage otherwise."""
    require_layer_type(media_type, where)
    if media_type in _GZIP_TYPES:
        return tarfile.open(mode="r|gz", fileobj=cast(IO[bytes], blob), bufsize=STREAM_BUFFER_BYTES)
    if media_type == LAYER_ZSTD:
        try:
            import zstandard  # only for zstd layers
        except ImportError:
            raise InvalidImage(
                f"{where} is {media_type}, and the zstandard package is not installed"
            ) from None
        reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], blob), read_size=STREAM_BUFFER_BYTES
        )
        return tarfile.open(mode="r|", fileobj=reader, bufsize=STREAM_BUFFER_BYTES)
    return tarfile.open(mode="r|", fileobj=cast(IO[bytes], blob), bufsize=STREAM_BUFFER_BYTES)


def entries(tar: tarfile.TarFile) -> Iterator[Entry]:
    """Each entry of a streamed tar with a function opening its data (for regular files)."""
    for member in tar:
        yield member, functools.partial(tar.extractfile, member)


def layer_read_errors() -> tuple[type[Exception], ...]:
    """What a broken layer raises while it is decompressed and read as tar."""
    errors: tuple[type[Exception], ...] = (tarfile.TarError, zlib.error, EOFError, OSError)
    zstandard = sys.modules.get("zstandard")
    if zstandard is not None:
        errors += (zstandard.ZstdError,)
    return errors
