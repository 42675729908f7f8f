"""Fixtures for the state-machine suite: an offline Step Functions with moto's gaps closed."""

from collections.abc import Iterator

import pytest
from pushgate_cli.offline import OfflineStepFunctions


@pytest.fixture
def offline_sfn() -> Iterator[OfflineStepFunctions]:
    """moto (AWS emulated) with the ASL interpreter on; waits and retries take no time."""
    with OfflineStepFunctions(region="us-east-1") as sfn:
        yield sfn
