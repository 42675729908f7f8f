"""The handlers' AWS clients: botocore's, from one session per process, each made when needed.

A boto3 client is a botocore client that boto3's session asks botocore's session to make, so
the handlers ask botocore's session themselves: ``import boto3`` adds its resource layer
(``boto3.session``, ``boto3.resources``: about 15 ms of every cold start at rest, `make bench`'s
machine), which no handler uses. The clients are the same objects with the same configuration
chain (region, credentials, retries); Powertools' user agent and the X-Ray SDK's botocore patch
apply to them as to boto3's.

A client that only some invocations call (take_lock's Step Functions client: only a held lock
asks whether its holder still runs) is made on its first use instead of at cold start, so the
invocations that never call it never pay for its model and endpoint rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from botocore.config import Config
from botocore.session import Session

# what every client of a handler on the deploy's path retries with (throttling, 5xx)
RETRIES: Final = Config(retries={"mode": "standard", "max_attempts": 5})


class OnFirstUse:
    """Stands for a client until its first attribute is asked for, then makes it (once)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None

    def made(self) -> bool:
        """Has the client been made (was it ever called)?"""
        return self._client is not None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


class Clients:
    """The clients of one process, all from one botocore session (one loader, one set of
    endpoint and credential lookups)."""

    def __init__(self, session: Session | None = None) -> None:
        self._session = session if session is not None else Session()

    def now(self, service: str, config: Config | None = RETRIES, region: str | None = None) -> Any:
        """The client of ``service``, made now (every invocation calls it), in ``region`` (else
        the process's: botocore reads ``AWS_DEFAULT_REGION``, which Lambda sets)."""
        return self._session.create_client(service, region_name=region, config=config)

    def on_first_use(
        self, service: str, config: Config | None = RETRIES, region: str | None = None
    ) -> Any:
        """The client of ``service``, made when the handler first calls it."""
        return OnFirstUse(lambda: self.now(service, config, region))
