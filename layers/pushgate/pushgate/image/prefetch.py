"""Layers fetched ahead of their decompression: threads stream the blobs, two at a time, in
order, while the reader decompresses and scans the one before.

A fetching thread reads each blob through its :class:`~pushgate.image.registry.VerifiedBlob`
(sha256 and size hashed as it streams, on that thread: the hash is the costly part, and two
blobs are hashed at once) into the layer's bounded queue of chunks (:data:`PREFETCH_BYTES` at
most per layer in flight), and ends each blob with a marker only once it is
verified. The reader sees each layer as a :class:`PrefetchedBlob`: ``read`` hands out the
chunks, and :meth:`PrefetchedBlob.verify` reads to the marker, so a blob is trusted only when
the fetching thread verified it. A failure there (a digest mismatch, a refusal, a broken
connection: InvalidImage) is raised in the reader when it reaches that layer, and no thread
takes a later one; when the reader stops (done, or its own refusal), the threads are told to
stop and are joined, each closing its own connection.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Final

from pushgate.image.manifest import Descriptor
from pushgate.image.registry import RegistryClient

CHUNK_BYTES: Final = 1024 * 1024
PREFETCH_BYTES: Final = 32 * 1024 * 1024  # per layer in flight: at most this much read ahead
WORKERS: Final = 2  # layers fetched (and hashed) at once
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
    """Fetches ``layers`` of ``repository`` ahead of the reader: :data:`WORKERS` threads, each
    with a connection of its own (``connect``), take the layers in order, one at a time, and
    hash them as they stream, so that two blobs are verified at once. Each layer's queue holds
    :data:`PREFETCH_BYTES` at most: memory stays bounded whatever the image's size."""

    def __init__(
        self,
        connect: Callable[[], RegistryClient],
        repository: str,
        layers: Sequence[Descriptor],
        workers: int = WORKERS,
    ) -> None:
        self._connect = connect
        self._repository = repository
        self._layers = list(layers)
        self._queues: list[queue.Queue[bytes | _Failed]] = [
            queue.Queue(PREFETCH_BYTES // CHUNK_BYTES) for _ in self._layers
        ]
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()  # the reader is done: every thread ends now
        self._failed = False  # a layer failed: no thread takes a later one
        self._threads = [
            threading.Thread(target=self._work, name="pushgate-prefetch", daemon=True)
            for _ in range(min(workers, len(self._layers)))
        ]

    @contextmanager
    def running(self) -> Iterator[Iterator[PrefetchedBlob]]:
        """The layers' blobs, in order, while the threads fetch ahead; stopped and joined on
        exit (whatever the reader did)."""
        for thread in self._threads:
            thread.start()
        try:
            yield (PrefetchedBlob(chunks) for chunks in self._queues)
        finally:
            self._stop.set()
            for thread in self._threads:
                while thread.is_alive():
                    for chunks in self._queues:
                        _drain(chunks)
                    thread.join(_PUT_WAIT_SECONDS)

    def _take(self) -> int | None:
        """The next layer no thread has taken yet (in order), or None."""
        with self._lock:
            if self._next >= len(self._layers) or self._failed or self._stop.is_set():
                return None
            self._next += 1
            return self._next - 1

    def _work(self) -> None:
        client: RegistryClient | None = None
        try:
            while (index := self._take()) is not None:
                chunks = self._queues[index]
                try:
                    client = client or self._connect()
                    with client.blob(self._repository, self._layers[index]) as blob:
                        while chunk := blob.read(CHUNK_BYTES):
                            self._put(chunks, chunk)
                    # the block above verified it (digest and size)
                    self._put(chunks, _END)
                except _Stopped:
                    return
                except BaseException as exc:  # handed to the reader, raised there
                    with self._lock:
                        self._failed = True  # the reader stops at this layer: none later
                    # the reader reads it, or drains the queue once it is done
                    self._put_failure(chunks, _Failed(exc))
                    return
        finally:
            if client is not None:
                client.close()

    def _put(self, chunks: queue.Queue[bytes | _Failed], item: bytes) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                chunks.put(item, timeout=_PUT_WAIT_SECONDS)
                return
            except queue.Full:
                continue

    def _put_failure(self, chunks: queue.Queue[bytes | _Failed], failure: _Failed) -> None:
        while not self._stop.is_set():
            try:
                chunks.put(failure, timeout=_PUT_WAIT_SECONDS)
                return
            except queue.Full:
                continue


def _drain(chunks: queue.Queue[bytes | _Failed]) -> None:
    try:
        while True:
            chunks.get_nowait()
    except queue.Empty:
        return
