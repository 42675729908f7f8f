"""An OCI distribution client for pulling by digest, on the standard library's http.client.

Two requests exist: ``GET /v2/<repository>/manifests/<digest>`` and
``GET /v2/<repository>/blobs/<digest>``. A blob may answer with a redirect (ECR's answers 307 to
a pre-signed S3 URL): it is followed, without the Authorization header, which S3 would refuse
beside its own signature and which must never leave for another host. Every blob is handed out
as a :class:`VerifiedBlob`, whose sha256 and size are checked while it streams.

HTTPS always, except plain HTTP to a loopback registry when asked (``insecure``: tests and the
rehearsal). Transport failures and refusals are InvalidImage, naming the registry, the status
and the registry's error code; no URL query string (a pre-signed URL's signature) is ever shown.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Final
from urllib.parse import urlsplit

from pushgate.errors import InvalidImage, InvalidRequest
from pushgate.image.manifest import ACCEPTED_TYPES, MAX_MANIFEST_BYTES, Descriptor
from pushgate.image.reference import REGISTRY_PATTERN, is_loopback

DEFAULT_TIMEOUT_SECONDS: Final = 30.0  # each connect and each read of a socket
MAX_REDIRECTS: Final = 3
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_ERROR_BODY_BYTES: Final = 64 * 1024

Authorization = Callable[[], str | None]  # the Authorization header's value, or None (anonymous)


def anonymous() -> str | None:
    """No credentials (a registry that allows anonymous pulls)."""
    return None


class VerifiedBlob:
    """A blob's bytes as they stream, hashed and counted against its descriptor.

    ``read`` refuses more bytes than the descriptor's size; :meth:`verify` reads what is left and
    refuses a digest or size that does not match.
    """

    def __init__(self, response: http.client.HTTPResponse, descriptor: Descriptor, where: str):
        self._response = response
        self._descriptor = descriptor
        self._where = where
        self._hash = hashlib.sha256()
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        limit = self._descriptor.size - self.bytes_read + 1  # one more, to see an overlong blob
        try:
            chunk = self._response.read(limit if size < 0 else min(size, limit))
        except (OSError, http.client.HTTPException) as exc:
            raise InvalidImage(f"{self._where}: reading it failed: {_describe(exc)}") from None
        self.bytes_read += len(chunk)
        if self.bytes_read > self._descriptor.size:
            raise InvalidImage(
                f"{self._where} is longer than its descriptor's {self._descriptor.size} bytes"
            )
        self._hash.update(chunk)
        return chunk

    def verify(self) -> None:
        """Read the rest, then check size and sha256; InvalidImage on a mismatch."""
        while self.read(1024 * 1024):
            pass
        if self.bytes_read != self._descriptor.size:
            raise InvalidImage(
                f"{self._where} has {self.bytes_read} bytes, its descriptor says "
                f"{self._descriptor.size}"
            )
        actual = f"sha256:{self._hash.hexdigest()}"
        if actual != self._descriptor.digest:
            raise InvalidImage(f"{self._where} has digest {actual}, not {self._descriptor.digest}")


class RegistryClient:
    """Pulls manifests and blobs of one registry; one kept-alive connection to it."""

    def __init__(
        self,
        registry: str,
        *,
        authorization: Authorization = anonymous,
        insecure: bool = False,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if not REGISTRY_PATTERN.fullmatch(registry):
            raise InvalidRequest(f"registry {registry!r} is not host[:port]")
        if insecure and not is_loopback(registry):
            raise InvalidRequest(
                f"plain HTTP is allowed only for a registry on loopback, not {registry}"
            )
        self.registry = registry
        self._scheme = "http" if insecure else "https"
        self._authorization = authorization
        self._header: str | None = None
        self._authorized = False
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self.requests = 0  # how many HTTP requests this client sent (redirects included)

    # -- public ------------------------------------------------------------------------------
    def manifest(self, repository: str, digest: str) -> tuple[bytes, str | None]:
        """The manifest or index ``digest`` (its exact bytes, verified) and its Content-Type."""
        where = f"manifest {self.registry}/{repository}@{digest}"
        with self._get(
            f"/v2/{repository}/manifests/{digest}", where, {"Accept": ", ".join(ACCEPTED_TYPES)}
        ) as response:
            body = response.read(MAX_MANIFEST_BYTES + 1)
            content_type = response.getheader("Content-Type")
            if len(body) > MAX_MANIFEST_BYTES:  # inside: the connection is dropped, not reused
                raise InvalidImage(f"{where} is larger than {MAX_MANIFEST_BYTES} bytes")
        actual = f"sha256:{hashlib.sha256(body).hexdigest()}"
        if actual != digest:
            raise InvalidImage(f"{where} has digest {actual}")
        return body, content_type

    @contextmanager
    def blob(self, repository: str, descriptor: Descriptor) -> Iterator[VerifiedBlob]:
        """The blob as a :class:`VerifiedBlob`; verified (digest, size) when the block ends."""
        where = f"blob {self.registry}/{repository}@{descriptor.digest}"
        with self._get(f"/v2/{repository}/blobs/{descriptor.digest}", where, {}) as response:
            blob = VerifiedBlob(response, descriptor, where)
            yield blob
            blob.verify()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- HTTP --------------------------------------------------------------------------------
    @contextmanager
    def _get(
        self, path: str, where: str, headers: Mapping[str, str]
    ) -> Iterator[http.client.HTTPResponse]:
        """GET ``path`` from the registry, following redirects; the 200 response."""
        conn, own = self._registry_connection(), False
        request_headers = {**headers, **self._auth_header()}
        location = f"{self._scheme}://{self.registry}{path}"
        try:
            for _ in range(MAX_REDIRECTS + 1):
                response = self._send(conn, path, request_headers, where, retry=not own)
                if response.status not in _REDIRECTS:
                    break
                target = response.getheader("Location") or ""
                response.read()
                if own:
                    conn.close()
                conn, path, location = self._redirect_connection(location, target, where)
                own = True
                request_headers = dict(headers)  # never the Authorization header
            else:
                raise InvalidImage(f"{where}: more than {MAX_REDIRECTS} redirects")
            if response.status != 200:
                raise InvalidImage(self._refusal(response, where))
            yield response
        except BaseException:
            conn.close()
            if not own:
                self._conn = None
            raise
        finally:
            if own:
                conn.close()

    def _send(
        self,
        conn: http.client.HTTPConnection,
        path: str,
        headers: Mapping[str, str],
        where: str,
        *,
        retry: bool,
    ) -> http.client.HTTPResponse:
        """One request; on the kept-alive connection, once more if the server had closed it."""
        for attempt in (1, 2):
            self.requests += 1
            try:
                conn.request("GET", path, headers={"User-Agent": "pushgate", **headers})
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if not retry or attempt == 2:
                    raise InvalidImage(f"{where}: the registry closed the connection") from None
            except (OSError, http.client.HTTPException) as exc:
                raise InvalidImage(f"{where}: {_describe(exc)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _registry_connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = self._connect(self._scheme, self.registry)
        return self._conn

    def _connect(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        if scheme == "http":
            return http.client.HTTPConnection(netloc, timeout=self._timeout)
        return http.client.HTTPSConnection(
            netloc, timeout=self._timeout, context=ssl.create_default_context()
        )

    def _redirect_connection(
        self, current: str, location: str, where: str
    ) -> tuple[http.client.HTTPConnection, str, str]:
        """A connection for ``location`` (absolute, or relative to ``current``) and its path."""
        here = urlsplit(current)
        url = urlsplit(location)
        scheme = url.scheme or here.scheme
        netloc = url.netloc or here.netloc
        if not location or scheme not in ("https", "http"):
            raise InvalidImage(f"{where}: the registry redirected to an unusable location")
        if scheme == "http" and (self._scheme != "http" or not is_loopback(netloc)):
            raise InvalidImage(f"{where}: the registry redirected to plain HTTP ({netloc})")
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        return self._connect(scheme, netloc), path, f"{scheme}://{netloc}{path}"

    def _auth_header(self) -> dict[str, str]:
        if not self._authorized:
            self._header = self._authorization()
            self._authorized = True
        return {"Authorization": self._header} if self._header else {}

    def _refusal(self, response: http.client.HTTPResponse, where: str) -> str:
        """What the registry said: status, reason and its error codes (never a URL's query)."""
        codes: list[str] = []
        try:
            document = json.loads(response.read(_ERROR_BODY_BYTES))
            codes = [str(e.get("code")) for e in document.get("errors", []) if isinstance(e, dict)]
        except (ValueError, AttributeError, OSError, http.client.HTTPException):
            pass
        said = f" ({', '.join(codes)})" if codes else ""
        hint = ""
        if response.status in (401, 403):
            hint = (
                "; pulling from ECR needs ecr:GetAuthorizationToken, and ecr:BatchGetImage and "
                "ecr:GetDownloadUrlForLayer on the repository"
            )
        return (
            f"{where}: the registry answered HTTP {response.status} {response.reason}{said}{hint}"
        )


def _describe(exc: BaseException) -> str:
    """An exception as a short phrase: its class and its first line."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
