"""A layer blob as a tar stream (pushgate.image.tarstream): gzip headers as RFC 1952 lays them
out, a broken or cut stream refused, ISA-L's inflate and zlib's alike, and entries kept exactly
whatever chunk and block boundaries fall where (no registry)."""

from __future__ import annotations

import io
import os
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from isal import isal_zlib
from pushgate.image.layers import ProjectTree
from pushgate.image.tarstream import (
    LAYER_GZIP,
    LAYER_TAR,
    GzipSource,
    Inflate,
    LayerStream,
    entries,
    layer_read_errors,
    open_layer,
    raw_inflate,
)

from tests.registry import Layer

pytestmark = pytest.mark.unit


class Chunked:
    """A blob that hands out at most ``size`` bytes a read, as a network read may."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data = io.BytesIO(data)
        self._size = size

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(self._size if size < 0 else min(size, self._size))


def gzip_member(raw: bytes, flags: int = 0, extra: bytes = b"", level: int = 6) -> bytes:
    """``raw`` as one gzip member whose header carries the fields ``flags`` asks for."""
    header = b"\x1f\x8b\x08" + bytes([flags]) + b"\x00\x00\x00\x00\x00\xff"
    if flags & 0x04:
        header += len(extra).to_bytes(2, "little") + extra
    if flags & 0x08:
        header += b"layer.tar\x00"
    if flags & 0x10:
        header += b"a comment\x00"
    if flags & 0x02:
        header += (zlib.crc32(header) & 0xFFFF).to_bytes(2, "little")
    deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(raw) + deflate.flush()
    trailer = zlib.crc32(raw).to_bytes(4, "little") + len(raw).to_bytes(4, "little")
    return header + body + trailer


def kept(tmp_path: Path, blob: bytes, media_type: str, chunk: int) -> dict[str, bytes]:
    """What the reader keeps of one layer under /app: each file's bytes by its path."""
    tree = ProjectTree(tmp_path / "project", "/app", 1 << 24)
    with open_layer(media_type, Chunked(blob, chunk), "layer 1") as tar:
        tree.apply(iter(tree.keep(entries(tar), "layer 1")), "layer 1")
    return {
        p.relative_to(tree.root).as_posix(): p.read_bytes()
        for p in tree.root.rglob("*")
        if p.is_file()
    }


def project(*sizes: int) -> tuple[Layer, dict[str, bytes]]:
    """A layer of big files outside /app between files under it, and the files under it."""
    layer = Layer().dir("app")
    wanted: dict[str, bytes] = {}
    for number, size in enumerate(sizes):
        layer.file(f"usr/lib/skipped-{number}.bin", os.urandom(size))
        data = os.urandom(size // 3 + number)
        layer.file(f"app/kept-{number}.bin", data)
        wanted[f"kept-{number}.bin"] = data
    return layer, wanted


@pytest.mark.parametrize("flags", [0x00, 0x08, 0x04 | 0x08 | 0x10 | 0x02], ids=str)
def test_gzip_headers_with_their_optional_fields(tmp_path: Path, flags: int) -> None:
    """GIVEN a layer whose gzip header carries FEXTRA, FNAME, FCOMMENT, FHCRC as RFC 1952 allows
    WHEN it is read in small chunks THEN its files under /app are read as they were written."""
    layer, wanted = project(1000, 70_000)
    blob = gzip_member(layer.tar(), flags, extra=b"xx" * 300)

    assert kept(tmp_path, blob, LAYER_GZIP, chunk=37) == wanted


BOUNDARY_SIZES = (0, 1, 511, 512, 513, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 5 << 20)


@pytest.fixture(scope="module")
def boundaries() -> tuple[bytes, bytes, dict[str, bytes]]:
    """A layer of files of sizes around tar's 512-byte blocks and the 1 MiB read size, each kept
    file after a skipped one: as tar, as gzip, and the files under /app."""
    layer, wanted = project(*BOUNDARY_SIZES)
    raw = layer.tar()
    return raw, gzip_member(raw, level=1), wanted


@pytest.mark.parametrize("chunk", [511, 512, 4096, 1 << 20], ids=str)
@pytest.mark.parametrize("media_type", [LAYER_GZIP, LAYER_TAR], ids=["gzip", "tar"])
def test_entries_are_exact_whatever_the_boundaries(
    tmp_path: Path, boundaries: tuple[bytes, bytes, dict[str, bytes]], chunk: int, media_type: str
) -> None:
    """GIVEN files of sizes around the block and read sizes WHEN the layer is read in chunks of
    every kind of size THEN every kept file has its exact bytes (a skip ends where the next
    header starts)."""
    raw, compressed, wanted = boundaries
    blob = raw if media_type == LAYER_TAR else compressed

    assert kept(tmp_path, blob, media_type, chunk) == wanted


def test_a_blob_read_a_byte_at_a_time(tmp_path: Path) -> None:
    """GIVEN a small gzip layer WHEN the network hands out one byte a read (the header too)
    THEN its files are kept exactly."""
    layer, wanted = project(*BOUNDARY_SIZES[:5])

    assert kept(tmp_path, gzip_member(layer.tar(), 0x08), LAYER_GZIP, chunk=1) == wanted


def test_isal_and_zlib_inflate_the_same_layer_alike(tmp_path: Path) -> None:
    """GIVEN the wheel installed WHEN a gzip layer is read THEN ISA-L inflates it; AND zlib,
    the fallback when the wheel is missing, reads the same entries from it."""
    layer, _ = project(10_000, 300_000)
    blob = layer.blob()

    def names(inflate: Inflate) -> list[str]:
        source = GzipSource(Chunked(blob, 1 << 16), inflate)
        with tarfile.open(mode="r:", fileobj=LayerStream(source)) as tar:
            return [m.name for m in tar]

    assert type(raw_inflate()) is type(isal_zlib.decompressobj(-isal_zlib.MAX_WBITS))
    assert names(zlib.decompressobj(-zlib.MAX_WBITS)) == names(raw_inflate())
    assert "app/kept-1.bin" in names(raw_inflate())


def read_all(blob: bytes) -> None:
    """Read a gzip layer through: every header and every file's data."""
    with open_layer(LAYER_GZIP, Chunked(blob, 4096), "layer 1") as tar:
        for member in tar:
            data = tar.extractfile(member)
            if data is not None:
                data.read()


@pytest.mark.parametrize(
    "cut",
    [lambda b: b[: len(b) // 2], lambda b: b[:5], lambda b: b"PK\x03\x04" + b[4:]],
    ids=["body cut", "header cut", "not gzip"],
)
def test_a_cut_or_foreign_gzip_stream_is_a_layer_read_error(
    cut: Callable[[bytes], bytes],
) -> None:
    """GIVEN a gzip layer cut in its body, cut in its header, or not gzip at all WHEN it is read
    THEN it fails with one of the errors the reader turns into InvalidImage."""
    layer, _ = project(200_000, 200_000)
    blob = cut(layer.blob())

    with pytest.raises(layer_read_errors()):
        read_all(blob)


def test_the_stream_is_read_forward_only() -> None:
    """GIVEN a layer's stream read past its first block WHEN asked to seek back THEN it refuses
    (tarfile walks members in order and never needs to)."""
    stream = LayerStream(Chunked(Layer().file("a", "x").tar(), 100))
    stream.read(600)

    with pytest.raises(io.UnsupportedOperation):
        stream.seek(100)
    assert stream.seek(1024) == 1024
