"""What is read: an image by digest in a registry, and the platform asked for."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pushgate.errors import InvalidRequest
from pushgate.grammar import DIGEST_PATTERN

# the OCI distribution spec's repository name grammar (ECR's names are a subset of it)
REPOSITORY_PATTERN: Final = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
# host[:port]: a DNS name, an IPv4 address, or a bracketed IPv6 address
REGISTRY_PATTERN: Final = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)

# ECS runtimePlatform.cpuArchitecture -> OCI platform architecture
_ECS_ARCHITECTURES: Final = {"X86_64": "amd64", "ARM64": "arm64"}


def host_of(netloc: str) -> str:
    """``host[:port]`` or ``[v6]:port`` -> the host name or address alone."""
    if netloc.startswith("["):
        return netloc[1 : netloc.index("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0]


def is_loopback(netloc: str) -> bool:
    """True when ``host[:port]`` is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = host_of(netloc)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ImageRef:
    """An image pinned by digest: ``registry/repository@digest``."""

    registry: str
    repository: str
    digest: str

    def __post_init__(self) -> None:
        checks = (
            ("registry", self.registry, REGISTRY_PATTERN),
            ("repository", self.repository, REPOSITORY_PATTERN),
            ("digest", self.digest, DIGEST_PATTERN),
        )
        for name, value, pattern in checks:
            if not pattern.fullmatch(value):
                raise InvalidRequest(f"image {name} {value!r} does not match {pattern.pattern}")

    @classmethod
    def from_event(cls, value: Any) -> ImageRef:
        """``{"registry", "repository", "digest"}`` (run_migrations' ``image``); InvalidRequest."""
        if not isinstance(value, Mapping):
            raise InvalidRequest("'image' must be an object {registry, repository, digest}")
        fields: dict[str, str] = {}
        for key in ("registry", "repository", "digest"):
            item = value.get(key)
            if not isinstance(item, str):
                raise InvalidRequest(f"'image.{key}' is required and must be a string")
            fields[key] = item
        return cls(**fields)

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """``registry/repository@sha256:...``; InvalidRequest when it is not pinned by digest."""
        name, sep, digest = text.strip().partition("@")
        registry, slash, repository = name.partition("/")
        if not sep or not slash:
            raise InvalidRequest(
                f"image reference {text!r} is not of the form registry/repository@sha256:..."
            )
        return cls(registry=registry, repository=repository, digest=digest)

    @property
    def host(self) -> str:
        """The registry's host name or address, without port or brackets."""
        return host_of(self.registry)

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"


@dataclass(frozen=True)
class Platform:
    """An OCI platform (``os``/``architecture``[/``variant``]), as an image index names it."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def from_runtime_platform(cls, runtime_platform: Mapping[str, Any] | None) -> Platform | None:
        """From an ECS task definition's ``runtimePlatform`` (None when it says nothing).

        ``{"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}`` -> linux/arm64.
        """
        if not runtime_platform:
            return None
        family = str(runtime_platform.get("operatingSystemFamily") or "LINUX")
        cpu = str(runtime_platform.get("cpuArchitecture") or "X86_64")
        if cpu not in _ECS_ARCHITECTURES:
            raise InvalidRequest(f"runtimePlatform.cpuArchitecture {cpu!r} is not X86_64 or ARM64")
        os_name = "linux" if family == "LINUX" else "windows"
        return cls(os=os_name, architecture=_ECS_ARCHITECTURES[cpu])

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``os/architecture[/variant]``, e.g. ``linux/arm64``; InvalidRequest otherwise."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidRequest(f"platform {text!r} is not of the form os/architecture[/variant]")
        return cls(*parts)

    def matches(self, other: Platform) -> bool:
        """Same os and architecture, and the same variant when this one names a variant."""
        return (
            self.os == other.os
            and self.architecture == other.architecture
            and (self.variant is None or self.variant == other.variant)
        )

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)
