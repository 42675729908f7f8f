"""Layers fetched ahead of their decompression: one thread streams the blobs, in order, while
the reader decompresses and scans the one before.

The fetching thread reads each blob through its :class:`~pushgate.image.registry.VerifiedBlob`
(sha256 and size hashed as it streams, on that thread) into a bounded queue of chunks
(:data:`PREFETCH_BYTES` at most in memory), and ends each blob with a marker only once it is
verified. The reader sees each layer as a :class:`PrefetchedBlob`: ``read`` hands out the
chunks, and :meth:`PrefetchedBlob.verify` reads to the marker, so a blob is trusted only when
the fetching thread verified it. A failure there (a digest mismatch, a refusal, a broken
connection: InvalidImage) is raised in the reader where it reads next; when the reader stops
early (its own refusal), the thread is told to stop and is joined before the registry's
connection is closed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final

from pushgate.image.manifest import Descriptor
from pushgate.image.registry import RegistryClient

CHUNK_BYTES: Final = 1024 * 1024
PREFETCH_BYTES: Final = 32 * 1024 * 1024  # read ahead at most this much (bounded memory)
_PUT_WAIT_SECONDS: Final = 0.1  # how often a blocked fetch looks whether it must stop

_END: Final = b""  # a blob's last item: it was read whole and verified


class _Failed:
    """The fetching thread's exception, handed to the reader."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Stopped(Exception):
    """The reader stopped: the fetching thread ends without reading further."""


class PrefetchedBlob:
    """One layer's bytes as the fetching thread verified them (read in order, once)."""

    def __init__(self, chunks: queue.Queue[bytes | _Failed]) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            parts = [bytes(self._buffer)]
            self._buffer = memoryview(b"")
            while chunk := self._next():
                parts.append(chunk)
            return b"".join(parts)
        if not self._buffer:
            self._buffer = memoryview(self._next())
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return bytes(taken)

    def verify(self) -> None:
        """Read to the blob's end: it returns once the fetching thread verified the blob, and
        raises what that thread raised (InvalidImage) otherwise."""
        self._buffer = memoryview(b"")
        while self._next():
            pass

    def _next(self) -> bytes:
        if self._ended:
            return _END
        item = self._chunks.get()
        if isinstance(item, _Failed):
            self._ended = True
            raise item.error
        if item == _END:
            self._ended = True
        return item


class Prefetcher:
    """Fetches ``layers`` of ``repository`` in order on a thread of its own."""

    def __init__(
        self, client: RegistryClient, repository: str, layers: Sequence[Descriptor]
    ) -> None:
        self._client = client
        self._repository = repository
        self._layers = list(layers)
        self._chunks: queue.Queue[bytes | _Failed] = queue.Queue(PREFETCH_BYTES // CHUNK_BYTES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, name="pushgate-prefetch", daemon=True)

    @contextmanager
    def running(self) -> Iterator[Iterator[PrefetchedBlob]]:
        """The layers' blobs, in order, while the thread fetches ahead; stopped and joined on
        exit (whatever the reader did)."""
        self._thread.start()
        try:
            yield (PrefetchedBlob(self._chunks) for _ in self._layers)
        finally:
            self._stop.set()
            while self._thread.is_alive():
                self._drain()
                self._thread.join(_PUT_WAIT_SECONDS)

    def _fetch(self) -> None:
        try:
            for layer in self._layers:
                with self._client.blob(self._repository, layer) as blob:
                    while chunk := blob.read(CHUNK_BYTES):
                        self._put(chunk)
                # the block above verified it (digest and size)
                self._put(_END)
        except _Stopped:
            return
        except BaseException as exc:
            try:
                self._put(_Failed(exc))
            except _Stopped:
                return

    def _put(self, item: bytes | _Failed) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                self._chunks.put(item, timeout=_PUT_WAIT_SECONDS)
                return
            except queue.Full:
                continue

    def _drain(self) -> None:
        try:
            while True:
                self._chunks.get_nowait()
        except queue.Empty:
            return
