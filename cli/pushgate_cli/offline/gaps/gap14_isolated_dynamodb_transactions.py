"""Gap 14: a DynamoDB transaction is isolated from the writes of other threads, as in AWS.

moto: ``DynamoDBBackend.transact_write_items`` deep-copies every table it names, applies its
items one by one, and when a condition fails puts the copies back in place of the tables. Two
executions run in two threads here, so a transaction that fails (a queued run asking for the
deployment lock) can put back a table copied before another thread's write (the run that just
took the lock): that write is lost, and two runs then hold one lock.

AWS: a transaction is all or nothing and serializable with the other writes to its items. Here
every item operation of the DynamoDB backend holds one lock for the process, so a
transaction's copy, apply and put-back are never interleaved with another operation.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, Final

from pushgate_cli.offline.patching import Host, Patches

# the backend's item operations (moto.dynamodb.models.DynamoDBBackend)
OPERATIONS: Final = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)


def install(patches: Patches, host: Host) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    one_at_a_time = threading.RLock()  # reentrant: a transaction calls get_item, put_item...

    def isolated(operation: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(operation)
        def run(*args: Any, **kwargs: Any) -> Any:
            with one_at_a_time:
                return operation(*args, **kwargs)

        return run

    for name in OPERATIONS:
        patches.set(DynamoDBBackend, name, isolated(getattr(DynamoDBBackend, name)))
