"""The one place pushgate reaches into a library's private API, each call wrapped once.

pg8000 (pinned 1.31.6) gives a connection no public way to change its socket's timeout after
connecting: the ``timeout`` it is opened with bounds the connect, the handshake and every read
alike. The migration wants a short connect timeout and a read timeout as long as a statement
may legitimately run, so it sets the latter on pg8000's private ``_usock`` (the TCP or TLS
socket). tests/integration/test_private_wrappers.py fails when a pg8000 upgrade changes it.
"""

from __future__ import annotations

from typing import Any


def set_read_timeout(dbapi_connection: Any, seconds: float) -> bool:
    """Give a pg8000 connection's socket a read timeout of ``seconds``. False when this pg8000
    has no ``_usock`` (the connection keeps its connect timeout for reads)."""
    sock = getattr(dbapi_connection, "_usock", None)
    if sock is None:
        return False
    sock.settimeout(seconds)
    return True
