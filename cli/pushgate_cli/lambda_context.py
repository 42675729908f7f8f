"""The one stand-in for the Lambda context object: tests, the offline interpreter and the bench.

It carries the attributes handlers and Powertools read (``function_name``,
``memory_limit_in_mb``, ``invoked_function_arn``, ``aws_request_id``, the log names) and, as the
Lambda runtime does, counts the time left down from the function's timeout.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as ``context``; ``get_remaining_time_in_millis`` counts
    down to ``deadline`` (a ``time.monotonic()`` value)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    deadline: float = field(repr=False)
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"offline/[$LATEST]{uuid.uuid4().hex}"

    @classmethod
    def invocation(
        cls,
        function_name: str,
        *,
        timeout_s: float = 60,
        memory_mb: int = 512,
        arn: str | None = None,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> LambdaContext:
        """The context of an invocation starting now, with ``timeout_s`` to run."""
        return cls(
            function_name=function_name,
            invoked_function_arn=arn
            or f"arn:aws:lambda:{region}:{account_id}:function:{function_name}",
            memory_limit_in_mb=memory_mb,
            deadline=time.monotonic() + timeout_s,
        )

    @property
    def remaining_ms(self) -> int:
        return self.get_remaining_time_in_millis()

    @remaining_ms.setter
    def remaining_ms(self, milliseconds: int) -> None:
        """Leave the invocation ``milliseconds`` from now (a function about to time out)."""
        self.deadline = time.monotonic() + milliseconds / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))
