"""ECR's registry credentials: ``ecr:GetAuthorizationToken``, sent as Basic authorization.

The token (valid 12 hours) is kept per registry for the life of the process, until
:data:`TOKEN_MARGIN_SECONDS` before it expires, so warm invocations do not ask again. It is
never logged. GetAuthorizationToken cannot be scoped to a repository; what the registry then
checks for a pull, ``ecr:BatchGetImage`` and ``ecr:GetDownloadUrlForLayer``, can be.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from pushgate.errors import InvalidImage, InvalidRequest
from pushgate.image.registry import Authorization

ECR_REGISTRY_PATTERN: Final = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)"
    r"\.amazonaws\.com(?:\.cn)?$"
)
TOKEN_MARGIN_SECONDS: Final = 600.0

_tokens: dict[str, tuple[str, float]] = {}  # registry -> (header value, expires at, epoch)


def is_ecr(registry: str) -> bool:
    """True for ``<account>.dkr.ecr.<region>.amazonaws.com``."""
    return ECR_REGISTRY_PATTERN.fullmatch(registry) is not None


def ecr_authorization(
    registry: str,
    client: Callable[[str], Any] | None = None,
    clock: Callable[[], float] = time.time,
) -> Authorization:
    """The Authorization header for ``registry``, fetched on first use (``client(region)``
    makes the ECR client, botocore's by default, :mod:`pushgate.aws`; ``clock`` tells the
    time, in epoch seconds)."""
    match = ECR_REGISTRY_PATTERN.fullmatch(registry)
    if match is None:
        raise InvalidRequest(f"{registry!r} is not an ECR registry")
    region = match["region"]

    def header() -> str:
        cached = _tokens.get(registry)
        if cached is not None and cached[1] - TOKEN_MARGIN_SECONDS > clock():
            return cached[0]
        value, expires = _fetch(client(region) if client else _ecr_client(region), registry, clock)
        _tokens[registry] = (value, expires)
        return value

    return header


def _ecr_client(region: str) -> Any:
    from pushgate.aws import Clients  # botocore: only when an ECR image is read

    return Clients().now("ecr", region=region)


def _fetch(ecr: Any, registry: str, clock: Callable[[], float]) -> tuple[str, float]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        data = ecr.get_authorization_token()["authorizationData"][0]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        raise InvalidImage(
            f"ecr:GetAuthorizationToken for {registry} was refused: {code}"
        ) from None
    except BotoCoreError as exc:
        raise InvalidImage(
            f"ecr:GetAuthorizationToken for {registry} failed: {type(exc).__name__}"
        ) from None
    expires = data.get("expiresAt")
    # ECR always sends expiresAt; without one the token is trusted for an hour, not 12
    expires_at = expires.timestamp() if isinstance(expires, datetime) else clock() + 3600
    return f"Basic {data['authorizationToken']}", expires_at
