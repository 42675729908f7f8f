"""A real OCI registry on loopback, and real images written for it (the rehearsal, the tests and
`make bench` use it; tests/registry.py adds the tests' own layers).

- :class:`Registry`: Debian's ``docker-registry`` (CNCF distribution) serving a temporary
  directory on ``127.0.0.1``; started once per session by the ``registry`` fixture.
- :class:`Layer`: a layer's entries (files, directories, links, whiteouts, hostile entries),
  written as a tar with Python's tarfile, gzip-compressed (or plain, or zstd).
- :func:`write_layout`: an OCI image layout (one image, or an index of several) that
  ``skopeo copy --preserve-digests`` pushes unchanged, so the digest written is the one read.
- :meth:`Registry.build`: an image built by ``buildah`` from a ``FROM scratch`` Containerfile.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pushgate.image import ImageRef
from pushgate.image.manifest import Manifest, parse_manifest
from pushgate.image.registry import RegistryClient

from pushgate_cli.embedded import free_port

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "none": "application/vnd.oci.image.layer.v1.tar",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
Compression = Literal["gzip", "none", "zstd"]
REQUIRED_TOOLS = ("docker-registry", "skopeo", "buildah")


# -- layers ----------------------------------------------------------------------------------
@dataclass
class Layer:
    """The entries of one layer, in order; :meth:`blob` makes its bytes."""

    compression: Compression = "gzip"
    members: list[tuple[tarfile.TarInfo, bytes | None]] = field(default_factory=list)

    def _add(self, name: str, kind: bytes, data: bytes | None = None, **attrs: Any) -> Layer:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = attrs.pop("mode", 0o755 if kind == tarfile.DIRTYPE else 0o644)
        info.mtime = 1_700_000_000
        for key, value in attrs.items():
            setattr(info, key, value)
        if data is not None:
            info.size = len(data)
        self.members.append((info, data))
        return self

    def file(self, name: str, text: str | bytes, mode: int = 0o644) -> Layer:
        data = text.encode() if isinstance(text, str) else text
        return self._add(name, tarfile.REGTYPE, data, mode=mode)

    def dir(self, name: str) -> Layer:
        return self._add(name, tarfile.DIRTYPE)

    def symlink(self, name: str, target: str) -> Layer:
        return self._add(name, tarfile.SYMTYPE, linkname=target)

    def hardlink(self, name: str, target: str) -> Layer:
        return self._add(name, tarfile.LNKTYPE, linkname=target)

    def device(self, name: str) -> Layer:
        return self._add(name, tarfile.CHRTYPE, devmajor=1, devminor=3)

    def fifo(self, name: str) -> Layer:
        return self._add(name, tarfile.FIFOTYPE)

    def copy(self, source: Path, destination: str) -> Layer:
        """``source``'s tree at ``destination`` (a Dockerfile's COPY), without byte code."""
        self.dir(destination)
        for path in sorted(source.rglob("*")):
            if "__pycache__" in path.parts:
                continue
            name = f"{destination}/{path.relative_to(source).as_posix()}"
            if path.is_dir():
                self.dir(name)
            else:
                self.file(name, path.read_bytes(), mode=path.stat().st_mode & 0o777)
        return self

    def whiteout(self, path: str) -> Layer:
        """Delete ``path`` of the lower layers (``dir/.wh.name``)."""
        parent, _, name = path.rpartition("/")
        return self.file(f"{parent}/.wh.{name}" if parent else f".wh.{name}", b"")

    def opaque(self, directory: str) -> Layer:
        """Hide everything the lower layers have in ``directory``."""
        return self.file(f"{directory}/.wh..wh..opq", b"")

    def tar(self) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for info, data in self.members:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return out.getvalue()

    def blob(self) -> bytes:
        raw = self.tar()
        if self.compression == "gzip":
            return gzip.compress(raw, mtime=0)
        if self.compression == "zstd":
            import zstandard  # a development dependency: only for zstd layers

            return zstandard.ZstdCompressor().compress(raw)
        return raw


# -- OCI layouts -----------------------------------------------------------------------------
def blob_digest(data: bytes) -> str:
    """The OCI digest of ``data``: ``sha256:<hex>``."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _put(layout: Path, data: bytes) -> dict[str, Any]:
    digest = blob_digest(data)
    path = layout / "blobs" / "sha256" / digest.split(":")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _image(layout: Path, layers: Sequence[Layer], os: str, architecture: str) -> dict[str, Any]:
    """Write an image's blobs and manifest; the manifest's descriptor."""
    diff_ids = [blob_digest(layer.tar()) for layer in layers]
    config = json.dumps(
        {
            "architecture": architecture,
            "os": os,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {},
        }
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **_put(layout, config)},
        "layers": [
            {"mediaType": LAYER_TYPES[layer.compression], **_put(layout, layer.blob())}
            for layer in layers
        ],
    }
    descriptor = _put(layout, json.dumps(manifest).encode())
    return {
        "mediaType": OCI_MANIFEST,
        **descriptor,
        "platform": {"os": os, "architecture": architecture},
    }


def write_layout(
    layout: Path,
    tag: str,
    images: dict[str, Sequence[Layer]],
    *,
    index: bool = False,
) -> str:
    """An OCI layout at ``layout`` tagged ``tag``: one image per ``os/arch`` key of ``images``
    (an index of them when ``index`` or several); the digest of what the tag names."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entries = []
    for platform, layers in images.items():
        os, architecture = platform.split("/")
        entries.append(_image(layout, layers, os, architecture))
    if index or len(entries) > 1:
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        top = {"mediaType": OCI_INDEX, **_put(layout, body.encode())}
    else:
        top = {k: v for k, v in entries[0].items() if k != "platform"}
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return str(top["digest"])


# -- the registry ----------------------------------------------------------------------------
class RegistryError(Exception):
    """The loopback registry cannot be run here: a tool missing, or docker-registry not up."""


def _last_line(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "(its log is empty)"


class Registry:
    """A running docker-registry on loopback (plain HTTP) and how to push to it."""

    def __init__(self, workdir: Path) -> None:
        missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
        if missing:
            raise RegistryError(
                f"{', '.join(missing)} not found: apt-get install docker-registry skopeo buildah "
                "(.ci/run installs them)"
            )
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.storage = workdir / "storage"
        self.address = f"127.0.0.1:{free_port()}"
        config = workdir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            f"storage: {{filesystem: {{rootdirectory: {self.storage}}}}}\n"
            f"http: {{addr: {self.address}}}\n"
            "log: {level: error, accesslog: {disabled: true}}\n"
        )
        self._log = (workdir / "registry.log").open("wb")
        self._process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=self._log, stderr=self._log
        )
        self._wait_until_up()
        self._count = 0

    @property
    def pid(self) -> int:
        """The docker-registry process (the bench reads its CPU time)."""
        return self._process.pid

    def _wait_until_up(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RegistryError(f"docker-registry exited: {_last_line(self._log_text())}")
            try:
                with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise RegistryError(f"docker-registry did not answer within {timeout} s")

    def _log_text(self) -> str:
        return (self.workdir / "registry.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()

    def push(
        self,
        images: dict[str, Sequence[Layer]] | Sequence[Layer],
        *,
        repository: str = "shop/api",
        index: bool = False,
        tag: str | None = None,
    ) -> ImageRef:
        """Push an image (layers for linux/amd64) or several (by ``os/arch``) as ``tag`` (by
        default a new one); its reference, by digest."""
        if not isinstance(images, dict):
            images = {"linux/amd64": images}
        self._count += 1
        tag = tag or f"t{self._count}"
        layout = self.workdir / "layouts" / f"{self._count}-{tag}"
        digest = write_layout(layout, tag, images, index=index)
        command = ["skopeo", "--insecure-policy", "copy", "--quiet", "--preserve-digests"]
        if index or len(images) > 1:
            command.append("--all")
        command += [
            "--dest-tls-verify=false",
            f"oci:{layout}:{tag}",
            f"docker://{self.address}/{repository}:{tag}",
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        return ImageRef(registry=self.address, repository=repository, digest=digest)

    def build(
        self, context: Path, containerfile: str, *, repository: str, docker: bool
    ) -> ImageRef:
        """Build ``containerfile`` (FROM scratch: nothing to pull) in ``context`` with buildah,
        in Docker v2 or OCI format, and push it; its reference."""
        self._count += 1
        tag = f"{self.address}/{repository}:b{self._count}"
        storage = [
            f"--root={self.workdir / 'buildah' / 'root'}",
            f"--runroot={self.workdir / 'buildah' / 'run'}",
            "--storage-driver=vfs",
        ]
        (context / "Containerfile").write_text(containerfile)
        kind = "docker" if docker else "oci"
        build = ["buildah", *storage, "bud", "--isolation=chroot", f"--format={kind}", "-q"]
        subprocess.run([*build, "-t", tag, str(context)], check=True, capture_output=True)
        digest_file = context / "digest"
        push = ["buildah", *storage, "push", "--tls-verify=false", f"--digestfile={digest_file}"]
        subprocess.run([*push, tag], check=True, capture_output=True, timeout=120)
        return ImageRef(
            registry=self.address, repository=repository, digest=digest_file.read_text().strip()
        )

    def manifest(self, ref: ImageRef) -> Manifest:
        """The image manifest ``ref`` names (read the way run_migrations reads it)."""
        client = RegistryClient(ref.registry, insecure=True)
        try:
            body, content_type = client.manifest(ref.repository, ref.digest)
        finally:
            client.close()
        manifest = parse_manifest(body, content_type, str(ref))
        if not isinstance(manifest, Manifest):
            raise TypeError(f"{ref} is an image index, not an image")
        return manifest

    def blob_file(self, digest: str) -> Path:
        """Where the registry keeps a blob (to tamper with it after the push)."""
        hexdigest = digest.split(":")[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"

    def tamper(self, digest: str, at: int | None = None) -> None:
        """Flip every bit of one byte of the stored blob ``digest``, at offset ``at`` (negative:
        from the end; the middle by default). The registry then serves bytes of the same size
        that no longer hash to ``digest``: what a test uses to show a reader verifies each blob
        it reads (and keeps nothing of one that does not match)."""
        blob = self.blob_file(digest)
        data = bytearray(blob.read_bytes())
        data[len(data) // 2 if at is None else at] ^= 0xFF
        blob.write_bytes(bytes(data))


def project_image(directory: Path, destination: str = "/app") -> list[Layer]:
    """The layers of an image whose ``destination`` holds ``directory`` (a Dockerfile's COPY
    into its WORKDIR, the one ``MigrationsPath`` names), byte code left out."""
    return [Layer().copy(directory, destination.strip("/"))]


@contextmanager
def running_registry(workdir: Path) -> Iterator[Registry]:
    registry = Registry(workdir)
    try:
        yield registry
    finally:
        registry.stop()
