"""A TCP proxy on loopback that loses the reply to a migration's COMMIT (a network partition,
a NAT timeout, a failover), for the fault tests.

It forwards every connection to the real server untouched, until a client connection has
written to the version table (``alembic_version``) and then sends a COMMIT. Then, as the
:class:`Loss` says, the COMMIT runs and the server's reply ("COMMIT" done) is dropped
(``COMMIT_APPLIED``), or the COMMIT itself is dropped (``COMMIT_NEVER_ARRIVED``); the client
side is closed at once, and the server side closed too or kept open, as a server that never
learns of the partition would (``keep_server_side``). With ``refuse_after``, every later
connection is refused: nobody can re-read the version table.
"""

from __future__ import annotations

import contextlib
import enum
import re
import select
import socket
import threading
from types import TracebackType
from typing import Final
from urllib.parse import urlsplit, urlunsplit

_CHUNK: Final = 65536
_VERSION_WRITE: Final = re.compile(rb"(?i)(update|insert\s+into)\s+alembic_version")
_COMMIT: Final = re.compile(rb"(?i)\bcommit\b")
_COMMIT_DONE: Final = b"COMMIT\x00"  # the tag of the COMMIT's CommandComplete message


class Loss(enum.Enum):
    COMMIT_APPLIED = "the COMMIT reaches the server, its reply is lost"
    COMMIT_NEVER_ARRIVED = "the COMMIT is lost on the way, and so is any reply"


class CommitReplyLosingProxy:
    """``with CommitReplyLosingProxy(url, Loss.COMMIT_APPLIED) as proxy: proxy.url``."""

    def __init__(
        self,
        upstream_url: str,
        loss: Loss,
        *,
        keep_server_side: bool = False,
        refuse_after: bool = False,
    ) -> None:
        self._upstream = urlsplit(upstream_url)
        self.loss = loss
        self.keep_server_side = keep_server_side
        self.refuse_after = refuse_after
        self.lost_replies = 0  # COMMITs whose reply this proxy lost
        self.armed = True  # False: forward everything (e.g. while a test sets the database up)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """The upstream URL with the proxy's address."""
        netloc = self._upstream.netloc.rsplit("@", 1)
        credentials = f"{netloc[0]}@" if len(netloc) == 2 else ""
        port = self._listener.getsockname()[1]
        return urlunsplit(self._upstream._replace(netloc=f"{credentials}127.0.0.1:{port}"))

    def __enter__(self) -> CommitReplyLosingProxy:
        self._spawn(self._accept)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _close(sock)
        for thread in self._threads:
            thread.join(timeout=5)

    # -- internals -------------------------------------------------------------------------
    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refuse_after and self.lost_replies:
                _close(client)
                continue
            upstream = socket.create_connection(
                (self._upstream.hostname or "127.0.0.1", self._upstream.port or 5432)
            )
            with self._lock:
                self._sockets += [client, upstream]
            self._spawn(self._pump, client, upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        wrote_version = committing = False
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([client, upstream], [], [], 0.1)
                for sock in readable:
                    data = sock.recv(_CHUNK)
                    if not data:
                        return self._end(client, upstream)
                    if sock is client:
                        wrote_version = wrote_version or bool(_VERSION_WRITE.search(data))
                        committing = committing or (
                            self.armed
                            and wrote_version
                            and not self.lost_replies
                            and bool(_COMMIT.search(data))
                        )
                        if committing and self.loss is Loss.COMMIT_NEVER_ARRIVED:
                            return self._lose(client, upstream)
                        upstream.sendall(data)
                    elif committing and _COMMIT_DONE in data:
                        return self._lose(client, upstream)  # the reply, dropped
                    else:
                        client.sendall(data)
            except OSError:
                return self._end(client, upstream)

    def _lose(self, client: socket.socket, upstream: socket.socket) -> None:
        """Cut the client off; the server side is closed or, in a partition, kept open."""
        with self._lock:
            self.lost_replies += 1
        _close(client)
        if self.keep_server_side:
            self._hold(upstream)
        else:
            _close(upstream)

    def _hold(self, upstream: socket.socket) -> None:
        """Keep the server side open (and unread) until the server or the test ends it."""
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([upstream], [], [], 0.1)
                if readable and not upstream.recv(_CHUNK):
                    break
            except OSError:
                break
        _close(upstream)

    @staticmethod
    def _end(client: socket.socket, upstream: socket.socket) -> None:
        _close(client)
        _close(upstream)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
