"""ECR's way of serving blobs: a 307 redirect to S3, followed without the Authorization header.

The redirect is reproduced on loopback: a front that answers blob requests with a 307 to a
pre-signed-looking URL of a second server (the "bucket"), which serves the real registry's bytes
and records what it was sent.
"""

from __future__ import annotations

import base64
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pushgate.errors import InvalidImage, InvalidRequest
from pushgate.image import ImageReader, ImageRef, ImageSettings
from pushgate.image.registry import RegistryClient

from tests.registry import Registry, project_layer

pytestmark = pytest.mark.registry

SIGNATURE = "X-Amz-Signature=0123456789abcdef"
CREDENTIALS = "Basic " + base64.b64encode(b"AWS:token-for-the-test").decode()


class Recorder:
    """Requests seen by one loopback server: (path with query, Authorization header or None)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


def proxy(handler: BaseHTTPRequestHandler, url: str, headers: dict[str, str]) -> None:
    """Answer ``handler``'s request with the real registry's answer to ``url``."""
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - a loopback URL
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            body, status, kind = answer.read(), answer.status, answer.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        body, status, kind = error.read(), error.code, error.headers["Content-Type"]
    handler.send_response(status)
    handler.send_header("Content-Type", kind or "application/octet-stream")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def ecr_like(registry: Registry) -> Iterator[dict[str, Any]]:
    """A front that redirects blobs (307) to a bucket; both record the requests they get."""
    front_seen, bucket_seen = Recorder(), Recorder()
    bucket_address: list[str] = []

    class Bucket(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            bucket_seen.requests.append((self.path, self.headers.get("Authorization")))
            if "denied" in self.path:
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if "cut" in self.path:  # says 1000 bytes, sends 10 and hangs up
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"\x1f\x8b" + b"\0" * 8)
                self.close_connection = True
                return
            proxy(self, f"http://{registry.address}{self.path.split('?')[0]}", {})

        def log_message(self, *args: Any) -> None:
            pass

    class Front(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            front_seen.requests.append((self.path, self.headers.get("Authorization")))
            if "/blobs/" in self.path:
                self.send_response(307)
                self.send_header("Location", f"http://{bucket_address[0]}{self.path}?{SIGNATURE}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            accept = {"Accept": self.headers.get("Accept", "")}
            proxy(self, f"http://{registry.address}{self.path}", accept)

        def log_message(self, *args: Any) -> None:
            pass

    bucket, bucket_at = serve(Bucket)
    bucket_address.append(bucket_at)
    front, front_at = serve(Front)
    try:
        yield {"front": front_at, "front_seen": front_seen, "bucket_seen": bucket_seen}
    finally:
        front.shutdown()
        bucket.shutdown()


def test_blobs_follow_the_redirect_without_the_authorization_header(
    registry: Registry, ecr_like: dict[str, Any], tmp_path: Path
) -> None:
    """GIVEN a registry that redirects blobs to a pre-signed bucket URL WHEN an image is read
    with credentials THEN the registry gets them on every request, the bucket never does, and
    the bucket gets the signed URL as given."""
    pushed = registry.push([project_layer()], repository="shop/redirected")
    ref = ImageRef(registry=ecr_like["front"], repository=pushed.repository, digest=pushed.digest)
    reader = ImageReader(
        ImageSettings(cache_dir=tmp_path, insecure=True),
        connect=lambda r: RegistryClient(
            r.registry, authorization=lambda: CREDENTIALS, insecure=True
        ),
    )

    scripts = reader.read(ref)

    assert (scripts.directory / "migrations" / "env.py").is_file()
    assert ecr_like["front_seen"].requests
    assert all(auth == CREDENTIALS for _, auth in ecr_like["front_seen"].requests)
    assert ecr_like["bucket_seen"].requests
    assert all(auth is None for _, auth in ecr_like["bucket_seen"].requests)
    assert all(path.endswith(SIGNATURE) for path, _ in ecr_like["bucket_seen"].requests)


def test_a_refused_redirect_never_shows_the_signature(
    registry: Registry, ecr_like: dict[str, Any], tmp_path: Path
) -> None:
    """GIVEN the bucket refuses the signed URL (403) WHEN read THEN InvalidImage with the status
    and without the URL's signature."""
    pushed = registry.push([project_layer()], repository="shop/denied")
    ref = ImageRef(registry=ecr_like["front"], repository=pushed.repository, digest=pushed.digest)
    reader = ImageReader(ImageSettings(cache_dir=tmp_path, insecure=True))

    with pytest.raises(InvalidImage, match="HTTP 403") as error:
        reader.read(ref)
    assert "Signature" not in str(error.value)


def test_a_blob_cut_short_is_an_invalid_image(
    registry: Registry, ecr_like: dict[str, Any], tmp_path: Path
) -> None:
    """GIVEN the bucket hangs up in the middle of a blob WHEN read THEN InvalidImage, nothing
    cached."""
    pushed = registry.push([project_layer()], repository="shop/cut")
    ref = ImageRef(registry=ecr_like["front"], repository=pushed.repository, digest=pushed.digest)
    reader = ImageReader(ImageSettings(cache_dir=tmp_path, insecure=True))

    with pytest.raises(InvalidImage, match=r"has 10 bytes, its descriptor says \d+"):
        reader.read(ref)
    assert not (tmp_path / "projects").exists()


def test_plain_http_is_refused_for_a_registry_off_loopback() -> None:
    with pytest.raises(InvalidRequest, match="only for a registry on loopback"):
        RegistryClient("registry.example.com", insecure=True)
