"""A layer blob as a tar stream: its media type decides the decompression (plain, gzip, or
zstd with the ``zstandard`` wheel); any other media type is InvalidImage naming it.

The decompressed bytes are a :class:`LayerStream`, read forward only: ``tarfile`` opens it in its
seekable mode (``r:``), where it walks the members in order and skips a member's content with a
forward seek. A skip inflates the content and drops it without copying it through tarfile's
stream buffers (its ``r|`` mode joins and slices every block it reads past), which is most of a
base layer: a layer is decompressed and scanned at about the speed zlib inflates.
"""

from __future__ import annotations

import functools
import io
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
_SKIP_BYTES: Final = 4 * 1024 * 1024  # the most one skip step decompresses (and drops) at once
_GZIP_MAGIC: Final = b"\x1f\x8b\x08"
_MAX_GZIP_HEADER_BYTES: Final = 64 * 1024  # the fixed part, FEXTRA, FNAME, FCOMMENT, FHCRC

Entry = tuple[tarfile.TarInfo, Callable[[], IO[bytes] | None]]  # an entry, and opening its data


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Inflate(Protocol):
    """A raw-deflate decompressor: zlib's ``decompressobj`` or python-isal's."""

    @property
    def eof(self) -> bool: ...
    @property
    def unconsumed_tail(self) -> bytes: ...
    def decompress(self, data: bytes | memoryview, max_length: int = 0, /) -> bytes: ...


def raw_inflate() -> Inflate:
    """ISA-L's inflate (the python-isal wheel: 3 to 4 times zlib's speed on compressible
    layers, the same on stored blocks), zlib's when the wheel is missing."""
    try:
        from isal import isal_zlib  # only for gzip layers
    except ImportError:
        return zlib.decompressobj(-zlib.MAX_WBITS)
    return cast(Inflate, isal_zlib.decompressobj(-isal_zlib.MAX_WBITS))


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
    source: Readable
    if media_type in _GZIP_TYPES:
        source = GzipSource(blob)
    elif media_type == LAYER_ZSTD:
        try:
            import zstandard  # only for zstd layers
        except ImportError:
            raise InvalidImage(
                f"{where} is {media_type}, and the zstandard package is not installed"
            ) from None
        source = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], blob), read_size=STREAM_BUFFER_BYTES
        )
    else:
        source = blob
    return tarfile.open(mode="r:", fileobj=cast(IO[bytes], LayerStream(source)))


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
    isal_zlib = sys.modules.get("isal.isal_zlib")
    if isal_zlib is not None:
        errors += (isal_zlib.error,)
    return errors


class LayerStream(io.RawIOBase):
    """Decompressed bytes, read in order: ``seek`` goes forward only (a skip decompresses and
    drops), ``read`` returns what it asks for unless the stream ends."""

    def __init__(self, source: Readable) -> None:
        super().__init__()
        self._source = source
        self._buffer = b""  # decompressed and not yet read: self._buffer[self._start:]
        self._start = 0
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self._position + offset}.get(whence)
        if target is None or target < self._position:
            raise io.UnsupportedOperation("a layer's stream is read forward only")
        skip = target - self._position
        buffered = len(self._buffer) - self._start
        if skip <= buffered:
            self._start += skip
        else:
            self._buffer, self._start = b"", 0
            skip -= buffered
            while skip:
                dropped = len(self._source.read(min(skip, _SKIP_BYTES)))
                if not dropped:
                    break  # past the end: tarfile reads nothing there and says so
                skip -= dropped
        self._position = target - skip
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._take(len(self._buffer) - self._start)]
            while chunk := self._source.read(STREAM_BUFFER_BYTES):
                parts.append(chunk)
            data = b"".join(parts)
        elif len(self._buffer) - self._start >= size:
            data = self._take(size)
        else:
            parts = [self._take(len(self._buffer) - self._start)]
            wanted = size - len(parts[0])
            while wanted > 0:
                chunk = self._source.read(max(wanted, STREAM_BUFFER_BYTES))
                if not chunk:
                    break
                if len(chunk) > wanted:
                    self._buffer, self._start = chunk, 0
                    chunk = self._take(wanted)
                parts.append(chunk)
                wanted -= len(chunk)
            data = b"".join(parts)
        self._position += len(data)
        return data

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def _take(self, size: int) -> bytes:
        if self._start == 0 and size == len(self._buffer):
            data, self._buffer = self._buffer, b""
            return data
        data = self._buffer[self._start : self._start + size]
        self._start += size
        return data


class GzipSource:
    """A gzip member's decompressed bytes (RFC 1952), inflated (:func:`raw_inflate`) in steps
    of at most the size asked for. The blob's sha256 is verified as it streams, so the member's
    CRC-32 (on zlib 1.2, over half the hash's cost) is not computed again, as tarfile's own gzip
    stream does not either; a stream that ends before its last block is EOFError. What follows
    the member is ignored, as tarfile ignores it."""

    def __init__(self, blob: Readable, inflate: Inflate | None = None) -> None:
        self._blob = blob
        self._inflate = inflate or raw_inflate()
        self._input = b""  # compressed bytes not yet given to zlib (or its unconsumed tail)
        self._header_read = False

    def read(self, size: int = -1, /) -> bytes:
        if not self._header_read:
            self._input = self._header()
            self._header_read = True
        limit = size if size > 0 else STREAM_BUFFER_BYTES
        while not self._inflate.eof:
            data, self._input = self._input or self._blob.read(STREAM_BUFFER_BYTES), b""
            out = self._inflate.decompress(data, limit)
            self._input = self._inflate.unconsumed_tail
            if out:
                return out
            if not data and not self._input:
                raise EOFError("the gzip stream ends before its last block")
        return b""

    def _header(self) -> bytes:
        """Read past the member's header; the compressed bytes read after it."""
        data = b""
        while True:
            end = _gzip_header_end(data)
            if end is not None:
                return data[end:]
            if len(data) > _MAX_GZIP_HEADER_BYTES:
                raise tarfile.ReadError("the gzip header is too long")
            more = self._blob.read(STREAM_BUFFER_BYTES)
            if not more:
                raise tarfile.ReadError("not a gzip stream" if data else "empty gzip stream")
            data += more


def _gzip_header_end(data: bytes) -> int | None:
    """Where the gzip header at the start of ``data`` ends; None when ``data`` is too short
    to tell; ReadError when it is not a gzip header."""
    if len(data) < 10:
        if not _GZIP_MAGIC.startswith(data[:3]):
            raise tarfile.ReadError("not a gzip stream")
        return None
    if not data.startswith(_GZIP_MAGIC):
        raise tarfile.ReadError("not a gzip stream")
    flags, end = data[3], 10
    if flags & 0x04:  # FEXTRA: a 2-byte length, then that many bytes
        if len(data) < end + 2:
            return None
        end += 2 + int.from_bytes(data[end : end + 2], "little")
    for flag in (0x08, 0x10):  # FNAME, FCOMMENT: zero-terminated
        if flags & flag:
            zero = data.find(b"\x00", end)
            if zero < 0:
                return None
            end = zero + 1
    if flags & 0x02:  # FHCRC
        end += 2
    return end if len(data) >= end else None
