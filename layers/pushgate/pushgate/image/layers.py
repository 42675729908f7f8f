"""Layers onto a directory: the files under MigrationsPath, as the image's filesystem has them.

A layer is a tar stream (:mod:`pushgate.image.tarstream`) applied on top of the ones below it,
the way an overlay filesystem merges them (OCI image spec, "Image Layer Filesystem Changeset"):
a ``.wh.NAME`` entry deletes NAME of the lower layers, a ``.wh..wh..opq`` entry hides everything
the lower layers had in its directory. Only entries under the path are written; the others are
read past.

Refused with InvalidImage (anywhere in a layer: a name that is absolute or has a ``..``; under the
path: a symbolic or hard link whose target is outside it, a device file or FIFO, any other
special entry, more bytes than the size limit, and MigrationsPath itself being a link or a file).
Writes never go through a link (an entry below a link replaces it by a directory, as the upper
layer's directory hides the lower layer's link), and every link left in the tree is resolved and
checked again once all layers are applied.
"""

from __future__ import annotations

import functools
import io
import os
import posixpath
import shutil
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Final

from pushgate.errors import InvalidImage
from pushgate.image.names import (
    covers,
    inside,
    normalize_member_name,
    normalize_migrations_path,
)
from pushgate.image.tarstream import STREAM_BUFFER_BYTES, Entry, Readable

WHITEOUT_PREFIX: Final = ".wh."
OPAQUE_MARKER: Final = ".wh..wh..opq"


class ProjectTree:
    """The directory under MigrationsPath, built layer by layer into ``root``."""

    def __init__(self, root: Path, migrations_path: str, max_bytes: int) -> None:
        self.root = root
        self.prefix = normalize_migrations_path(migrations_path)
        self.migrations_path = "/" + self.prefix
        self.max_bytes = max_bytes
        self.bytes_written = 0
        root.mkdir(parents=True, exist_ok=True)
        self._real_root = os.path.realpath(root)

    # -- a layer -----------------------------------------------------------------------------
    def keep(self, members: Iterator[Entry], where: str) -> list[Entry]:
        """What :meth:`apply` needs of one layer's entries, read now, the rest dropped: every
        name checked, the entries at, above or under the path and every whiteout kept, the
        data of regular files under the path read into memory (no more than the size limit).
        It reads nothing of the tree, so layers are kept by other threads while one is applied.
        """
        kept: list[Entry] = []
        size = 0
        for member, open_data in members:
            name = normalize_member_name(member.name, where)
            if posixpath.basename(name).startswith(WHITEOUT_PREFIX):
                kept.append((member, _no_data))
                continue
            rel = inside(name, self.prefix)
            if rel is None and not covers(name, self.prefix):
                continue
            if not rel or not member.isreg():
                kept.append((member, _no_data))
                continue
            size += member.size
            if size > self.max_bytes:
                raise InvalidImage(self._over_limit(where))
            data = open_data()
            kept.append((member, functools.partial(io.BytesIO, data.read() if data else b"")))
        return kept

    def apply(self, members: Iterator[Entry], where: str) -> bool:
        """Apply one layer's entries; True when it touched the path (wrote, or deleted)."""
        layer = _LayerState()
        for member, open_data in members:
            name = normalize_member_name(member.name, where)
            base = posixpath.basename(name)
            if base.startswith(WHITEOUT_PREFIX):
                layer.touched |= self._whiteout(name, base, layer, where)
                continue
            rel = self._relative(member, name, where)
            if not rel:  # outside the path, or the path's own directory entry
                continue
            layer.touched = True
            layer.written.add(rel)
            self._entry(member, rel, open_data, where)
        for directory in layer.opaque:
            self._prune(directory, layer)
        for path in layer.whiteouts:
            if path == "":
                self._prune("", layer)
            elif not layer.protects(path):
                self._remove(self.root / path)
        return layer.touched

    def _relative(self, member: tarfile.TarInfo, name: str, where: str) -> str | None:
        """``name`` relative to MigrationsPath ("" for the path itself, None outside it);
        InvalidImage when the path, or a directory above it, is not a directory."""
        rel = inside(name, self.prefix)
        if rel is None:
            if covers(name, self.prefix) and not member.isdir():
                raise InvalidImage(
                    f"{where}: /{name}, above MigrationsPath {self.migrations_path}, is "
                    "not a directory in the image; set MigrationsPath to the real directory"
                )
        elif rel == "" and not member.isdir():
            raise InvalidImage(
                f"{where}: MigrationsPath {self.migrations_path} is not a directory in "
                "the image (a link or a file); set MigrationsPath to the real directory"
            )
        return rel

    def check_links(self) -> None:
        """Every link in the tree resolves inside it (InvalidImage otherwise)."""
        for directory, dirs, files in os.walk(self.root):
            for name in [*dirs, *files]:
                path = os.path.join(directory, name)
                if os.path.islink(path) and not self._contains(os.path.realpath(path)):
                    rel = os.path.relpath(path, self.root)
                    raise InvalidImage(
                        f"{self.migrations_path}/{rel} is a link that resolves outside "
                        f"{self.migrations_path}"
                    )

    # -- entries -----------------------------------------------------------------------------
    def _whiteout(self, name: str, base: str, layer: _LayerState, where: str) -> bool:
        parent = posixpath.dirname(name)
        if base == OPAQUE_MARKER:
            target, opaque = parent, True
        elif base.startswith(OPAQUE_MARKER[:8]):  # other .wh..wh. names: aufs metadata
            return False
        else:
            hidden = base[len(WHITEOUT_PREFIX) :]
            if hidden in ("", ".", ".."):
                raise InvalidImage(f"{where}: whiteout {name!r} names no entry")
            target, opaque = posixpath.join(parent, hidden), False
        if covers(target, self.prefix):
            (layer.opaque if opaque else layer.whiteouts).append("")
            return True
        rel = inside(target, self.prefix)
        if rel is None:
            return False
        (layer.opaque if opaque else layer.whiteouts).append(rel)
        return True

    def _entry(
        self,
        member: tarfile.TarInfo,
        rel: str,
        open_data: Callable[[], IO[bytes] | None],
        where: str,
    ) -> None:
        shown = f"{self.migrations_path}/{rel}"
        if member.isdir():
            self._directory(rel)
        elif member.isreg():
            data = open_data()
            if data is None:  # pragma: no cover - tarfile opens every regular entry
                raise InvalidImage(f"{where}: {shown} has no data")
            self._write(rel, data, member.size, member.mode, where)
        elif member.issym():
            self._symlink(rel, member.linkname, where)
        elif member.islnk():
            self._hardlink(rel, member.linkname, member.mode, where)
        elif member.ischr() or member.isblk() or member.isfifo():
            raise InvalidImage(f"{where}: {shown} is a device file or FIFO")
        else:
            raise InvalidImage(f"{where}: {shown} is a tar entry of type {member.type!r}")

    def _directory(self, rel: str) -> Path:
        """``rel`` as a real directory inside the root (what was there is replaced)."""
        path = self.root
        for part in rel.split("/") if rel else []:
            path = path / part
            # an entry below a link or a file makes it a directory (the upper layer's directory
            # hides the lower layer's link or file): writes never go through a link
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                path.unlink()
            path.mkdir(exist_ok=True)
        return path

    def _place(self, rel: str) -> Path:
        """The path for a new non-directory entry: its parent made, what was there removed."""
        parent = self._directory(posixpath.dirname(rel))
        path = parent / posixpath.basename(rel)
        self._remove(path)
        return path

    def _write(self, rel: str, data: Readable, size: int, mode: int, where: str) -> None:
        self._charge(size, where)
        path = self._place(rel)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o755 if mode & 0o111 else 0o644)
        with os.fdopen(fd, "wb") as out:
            while chunk := data.read(STREAM_BUFFER_BYTES):
                out.write(chunk)

    def _symlink(self, rel: str, linkname: str, where: str) -> None:
        shown = f"{self.migrations_path}/{rel}"
        if not linkname:
            raise InvalidImage(f"{where}: {shown} is a link to nothing")
        image_path = posixpath.join(self.prefix, rel)
        if linkname.startswith("/"):
            target = posixpath.normpath(linkname).lstrip("/")
        else:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(image_path), linkname))
        if target.startswith("..") or inside(target, self.prefix) is None:
            raise InvalidImage(
                f"{where}: {shown} is a link to {linkname!r}, outside {self.migrations_path}"
            )
        relative = posixpath.relpath(target, posixpath.dirname(image_path))
        os.symlink(relative, self._place(rel))

    def _hardlink(self, rel: str, linkname: str, mode: int, where: str) -> None:
        shown = f"{self.migrations_path}/{rel}"
        target = inside(normalize_member_name(linkname.lstrip("/"), where), self.prefix)
        if target is None or target == "":
            raise InvalidImage(
                f"{where}: {shown} is a hard link to /{linkname}, outside {self.migrations_path}"
            )
        source = self.root / target
        if source.is_symlink() or not source.is_file():
            raise InvalidImage(f"{where}: {shown} is a hard link to a file the image lacks")
        with source.open("rb") as data:
            self._write(rel, data, source.stat().st_size, mode, where)

    # -- deletions and limits ----------------------------------------------------------------
    def _prune(self, directory: str, layer: _LayerState) -> None:
        """Delete what lower layers left in ``directory`` (an opaque directory)."""
        path = self.root / directory if directory else self.root
        if path.is_symlink() or not path.is_dir():
            return
        for entry in list(path.iterdir()):
            rel = f"{directory}/{entry.name}" if directory else entry.name
            if entry.is_dir() and not entry.is_symlink() and layer.protects(rel):
                self._prune(rel, layer)
            elif rel not in layer.written:
                self._remove(entry)

    def _remove(self, path: Path) -> None:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)

    def _charge(self, size: int, where: str) -> None:
        self.bytes_written += size
        if self.bytes_written > self.max_bytes:
            raise InvalidImage(self._over_limit(where))

    def _over_limit(self, where: str) -> str:
        return (
            f"{where}: the project under {self.migrations_path} is over its size limit of "
            f"{self.max_bytes} bytes"
        )

    def _contains(self, real: str) -> bool:
        return real == self._real_root or real.startswith(self._real_root + os.sep)


def _no_data() -> IO[bytes] | None:
    return None


class _LayerState:
    """What one layer wrote and which deletions it asks for (applied once it is all read)."""

    def __init__(self) -> None:
        self.touched = False
        self.written: set[str] = set()
        self.opaque: list[str] = []
        self.whiteouts: list[str] = []

    def protects(self, rel: str) -> bool:
        """True when this layer wrote ``rel`` or something below it."""
        return rel in self.written or any(w.startswith(rel + "/") for w in self.written)
