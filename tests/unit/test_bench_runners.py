"""The task runner's Fargate price in `make bench`: per second, with AWS's one-minute minimum."""

from __future__ import annotations

import pytest
from pushgate_cli.bench.runners import FARGATE_PER_GB_HOUR, FARGATE_PER_VCPU_HOUR, fargate_usd

pytestmark = pytest.mark.unit


def test_a_short_task_is_billed_a_minute_and_a_long_one_by_the_second() -> None:
    per_second = (0.25 * FARGATE_PER_VCPU_HOUR + 0.5 * FARGATE_PER_GB_HOUR) / 3600
    assert fargate_usd(5, 0.25, 0.5) == pytest.approx(60 * per_second)
    assert fargate_usd(90.2, 0.25, 0.5) == pytest.approx(91 * per_second)
