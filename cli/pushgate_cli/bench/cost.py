"""What a deploy costs at AWS list prices: state transitions, Lambda time and requests."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

ROLLOUT_SECONDS: Final = 300  # the cost estimate is for a rollout that takes five minutes


@dataclass(frozen=True)
class Prices:
    """AWS list prices (us-east-1, beyond the free tier), as published on the pages named."""

    sfn_standard_per_1000_transitions: float = 0.025
    lambda_arm64_per_gb_second: float = 0.0000133334
    lambda_per_million_requests: float = 0.20
    sources: Mapping[str, str] = field(
        default_factory=lambda: {
            "Step Functions Standard workflows, state transitions": (
                "https://aws.amazon.com/step-functions/pricing/"
            ),
            "Lambda arm64 duration (GB-s) and requests": "https://aws.amazon.com/lambda/pricing/",
            "Lambda INIT billed like duration since 2025-08-01": (
                "https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/"
            ),
        }
    )


PRICES: Final = Prices()


@dataclass(frozen=True)
class Billed:
    """One Lambda invocation (or INIT phase) as billed: its memory and its duration."""

    memory_mb: int
    duration_ms: float


@dataclass(frozen=True)
class Cost:
    transitions: int
    gb_seconds: float
    requests: int
    step_functions_usd: float
    lambda_duration_usd: float
    lambda_requests_usd: float

    @property
    def total_usd(self) -> float:
        return self.step_functions_usd + self.lambda_duration_usd + self.lambda_requests_usd


def gb_seconds(invocations: Sequence[Billed]) -> float:
    """Lambda's billed compute: memory (GB) x duration rounded up to the millisecond."""
    return sum(i.memory_mb / 1024 * math.ceil(i.duration_ms) / 1000 for i in invocations)


def deploy_cost(transitions: int, invocations: Sequence[Billed], prices: Prices = PRICES) -> Cost:
    """The list price of one execution: its state transitions and its Lambda invocations."""
    compute = gb_seconds(invocations)
    return Cost(
        transitions=transitions,
        gb_seconds=compute,
        requests=len(invocations),
        step_functions_usd=transitions * prices.sfn_standard_per_1000_transitions / 1000,
        lambda_duration_usd=compute * prices.lambda_arm64_per_gb_second,
        lambda_requests_usd=len(invocations) * prices.lambda_per_million_requests / 1_000_000,
    )


def polls_for(rollout_seconds: float, poll_interval_seconds: float) -> int:
    """Health polls until a rollout of that length is seen complete (the first look is after
    one interval)."""
    if poll_interval_seconds <= 0:
        raise ValueError("the poll interval must be positive")
    return max(1, math.ceil(rollout_seconds / poll_interval_seconds))


def transitions_for(base: int, per_poll: int, final_poll: int, polls: int) -> int:
    """Transitions of a run whose health wait takes ``polls`` polls: the states outside the
    loop, ``polls - 1`` polls that go round again, and the last one that leaves the loop."""
    return base + (polls - 1) * per_poll + final_poll


def price_lines(prices: Prices = PRICES) -> list[str]:
    """The prices the figures use and where they are published, for the end of the report."""
    return [
        "Prices (list, us-east-1, beyond the free tier): "
        f"Step Functions Standard ${prices.sfn_standard_per_1000_transitions} per 1,000 "
        f"transitions; Lambda arm64 ${prices.lambda_arm64_per_gb_second:.10f} per GB-s, "
        f"${prices.lambda_per_million_requests:.2f} per 1M requests.",
        *(f"  {what}: {url}" for what, url in prices.sources.items()),
    ]
