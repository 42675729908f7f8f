"""Layers fetched, verified and scanned ahead of the reader, two at a time, on threads.

Each of :data:`WORKERS` threads takes the next layer (in order), streams its blob over a
connection of its own through a :class:`~pushgate.image.registry.VerifiedBlob` (sha256 and size
checked as it streams), decompresses and scans it there (``scan``: what the reader keeps of the
layer), and hands the result over once the blob is verified whole. hashlib and zlib release the
GIL on big buffers, so two layers are hashed and inflated at once, on two cores; the reader
applies the results in order, which costs little (only what is under MigrationsPath is kept).

At most :data:`WORKERS` layers' results wait for the reader: a thread takes a layer only when
there is room, so memory stays bounded whatever the image's size (the reader's ``scan`` bounds
what one layer keeps). A failure in a thread (a digest mismatch, a refusal, a broken
connection: InvalidImage) is raised in the reader when it reaches that layer, and no thread
takes a later one; when the reader stops (done, or its own refusal), the threads are told to
stop at their next read and are joined, each closing its own connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Final, Generic, TypeVar

from pushgate.image.manifest import Descriptor
from pushgate.image.registry import RegistryClient, VerifiedBlob
from pushgate.image.tarstream import STREAM_BUFFER_BYTES

WORKERS: Final = 2  # layers fetched, hashed and scanned at once
_WAIT_SECONDS: Final = 0.1  # how often a thread waiting for room looks whether it must stop

T = TypeVar("T")


class _Stopped(Exception):
    """The reader stopped: the fetching thread ends without reading further."""


class StoppableBlob:
    """A layer's :class:`VerifiedBlob` as the scan reads it: each read first looks whether
    the reader has stopped."""

    def __init__(self, blob: VerifiedBlob, stop: threading.Event) -> None:
        self._blob = blob
        self._stop = stop

    def read(self, size: int = -1, /) -> bytes:
        if self._stop.is_set():
            raise _Stopped
        return self._blob.read(size)

    def verify(self) -> None:
        """Read the rest and check the blob's size and sha256 (InvalidImage)."""
        while self.read(STREAM_BUFFER_BYTES):
            pass
        self._blob.verify()


Scan = Callable[[int, StoppableBlob], T]  # a layer's index and its blob -> what the reader keeps


class _Slot(Generic[T]):
    """One layer's result, or its failure, once a thread has it (concurrent.futures.Future's
    job, written out: its import is ~1.5 ms of run_migrations' cold start)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None

    def get(self) -> T:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set before done


class Prefetcher(Generic[T]):
    """Fetches and scans ``layers`` of ``repository`` ahead of the reader: :data:`WORKERS`
    threads, each with a connection of its own (``connect``)."""

    def __init__(
        self,
        connect: Callable[[], RegistryClient],
        repository: str,
        layers: Sequence[Descriptor],
        scan: Scan[T],
        workers: int = WORKERS,
    ) -> None:
        self._connect = connect
        self._repository = repository
        self._layers = list(layers)
        self._scan = scan
        self._slots: list[_Slot[T]] = [_Slot() for _ in self._layers]
        self._room = threading.Semaphore(workers)  # results the reader has not taken yet
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()  # the reader is done: every thread ends now
        self._failed = False  # a layer failed: no thread takes a later one
        self._threads = [
            threading.Thread(target=self._work, name="pushgate-prefetch", daemon=True)
            for _ in range(min(workers, len(self._layers)))
        ]

    @contextmanager
    def running(self) -> Iterator[Iterator[T]]:
        """The layers' scans, in order, while the threads work ahead; stopped and joined on
        exit (whatever the reader did)."""
        for thread in self._threads:
            thread.start()
        try:
            yield self._results()
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join()

    def _results(self) -> Iterator[T]:
        for slot in self._slots:
            result = slot.get()
            self._room.release()
            yield result

    def _take(self) -> int | None:
        """The next layer no thread has taken yet (in order), once there is room; or None."""
        while not self._room.acquire(timeout=_WAIT_SECONDS):
            if self._stop.is_set():
                return None
        with self._lock:
            if self._next >= len(self._layers) or self._failed or self._stop.is_set():
                self._room.release()
                return None
            self._next += 1
            return self._next - 1

    def _work(self) -> None:
        client: RegistryClient | None = None
        try:
            while (index := self._take()) is not None:
                slot = self._slots[index]
                try:
                    client = client or self._connect()
                    with client.blob(self._repository, self._layers[index]) as blob:
                        result = self._scan(index, StoppableBlob(blob, self._stop))
                    slot.result = result  # the block above verified it (digest and size)
                except _Stopped as stopped:  # the reader is not waiting for this layer
                    slot.error = stopped
                    return
                except BaseException as exc:  # handed to the reader, raised there
                    with self._lock:
                        self._failed = True  # the reader stops at this layer: none later
                    slot.error = exc
                    return
                finally:
                    slot.done.set()
        finally:
            if client is not None:
                client.close()
