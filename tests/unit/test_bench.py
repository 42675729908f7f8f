"""The pure parts of `pushgate bench`: budgets, cost arithmetic, the poll loop, the table.

Nothing here is timed: the measurements themselves run only in `make bench`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pushgate_cli.bench.budgets import judge
from pushgate_cli.bench.cold_start import BUDGETS, budget_for
from pushgate_cli.bench.cost import (
    PRICES,
    Billed,
    Prices,
    deploy_cost,
    gb_seconds,
    polls_for,
    transitions_for,
)
from pushgate_cli.bench.image import cold_lower_bound_ms
from pushgate_cli.bench.overhead import MissingColdStart, overhead, polling_lag_s
from pushgate_cli.bench.rehearsal import loop_states, poll_lengths
from pushgate_cli.bench.sizes import never_shipped, package_sizes
from pushgate_cli.bench.stack import CONFIG_ENV, all_functions, config_resolvers, stack_functions
from pushgate_cli.bench.table import Row, Section, fmt_usd, render_table
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.template import load_template

pytestmark = pytest.mark.unit


# --- PASS / OVER -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "limit", "verdict"),
    [(12.0, 20.0, "PASS"), (20.0, 20.0, "PASS"), (20.01, 20.0, "OVER"), (1.91, 1.15, "OVER")],
)
def test_a_figure_within_its_budget_passes_and_one_beyond_is_over(
    value: float, limit: float, verdict: str
) -> None:
    # GIVEN a measured figure and its budget / WHEN judged / THEN equal is still within
    assert judge(value, limit) == verdict


# --- cost arithmetic -------------------------------------------------------------------------
def test_lambda_duration_is_billed_in_whole_milliseconds_times_memory() -> None:
    # GIVEN 1.2 ms at 1024 MB and 10.0 ms at 512 MB
    invocations = [Billed(1024, 1.2), Billed(512, 10.0)]
    # WHEN billed / THEN 2 ms x 1 GB + 10 ms x 0.5 GB
    assert gb_seconds(invocations) == pytest.approx(0.002 + 0.005)


def test_one_deploy_costs_its_transitions_plus_its_lambda_time_and_requests() -> None:
    # GIVEN prices that make the arithmetic visible
    prices = Prices(
        sfn_standard_per_1000_transitions=1.0,
        lambda_arm64_per_gb_second=2.0,
        lambda_per_million_requests=1_000_000.0,
    )
    # WHEN 500 transitions and two invocations worth 0.25 GB-s in all are priced
    cost = deploy_cost(500, [Billed(512, 250.0), Billed(256, 499.2)], prices)
    # THEN each part is its quantity times its price, and the total their sum
    assert cost.step_functions_usd == pytest.approx(0.5)
    assert cost.gb_seconds == pytest.approx(0.125 + 0.125)
    assert cost.lambda_duration_usd == pytest.approx(0.5)
    assert cost.lambda_requests_usd == pytest.approx(2.0)
    assert cost.total_usd == pytest.approx(3.0)


def test_the_list_prices_are_the_published_ones() -> None:
    # GIVEN the AWS pricing pages: Standard $0.025 per 1,000 transitions; Lambda arm64
    # $0.0000133334 per GB-s and $0.20 per 1M requests / THEN those are the bench's constants
    assert PRICES.sfn_standard_per_1000_transitions == 0.025
    assert PRICES.lambda_arm64_per_gb_second == 0.0000133334
    assert PRICES.lambda_per_million_requests == 0.20
    assert all(url.startswith("https://aws.amazon.com/") for url in PRICES.sources.values())


@pytest.mark.parametrize(
    ("rollout_s", "interval_s", "polls"), [(300, 10, 30), (300, 15, 20), (300, 20, 15), (7, 10, 1)]
)
def test_a_rollout_is_seen_complete_at_the_first_poll_after_it_ends(
    rollout_s: int, interval_s: int, polls: int
) -> None:
    assert polls_for(rollout_s, interval_s) == polls


def test_a_non_positive_poll_interval_is_refused() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the only error polls_for raises
        polls_for(300, 0)


def test_transitions_grow_by_one_loop_per_extra_poll() -> None:
    # GIVEN 17 states outside the loop, 5 per poll that goes round, 4 in the last poll
    # WHEN the rollout takes 1, 2 or 30 polls / THEN each extra poll adds one loop
    assert transitions_for(17, 5, 4, 1) == 21
    assert transitions_for(17, 5, 4, 2) == 26
    assert transitions_for(17, 5, 4, 30) == 17 + 29 * 5 + 4


# --- the health-poll loop, from the definition and the path ----------------------------------
def _machine() -> dict[str, Any]:
    return {
        "StartAt": "Start",
        "States": {
            "Start": {"Type": "Pass", "Next": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 10, "Next": "Look"},
            "Look": {
                "Type": "Task",
                "Next": "Done?",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Undo"}],
            },
            "Done?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "End"}],
                "Default": "Late?",
            },
            "Late?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.late", "BooleanEquals": True, "Next": "Undo"}],
                "Default": "Wait",
            },
            "Undo": {"Type": "Pass", "Next": "End"},
            "End": {"Type": "Succeed"},
        },
    }


def test_the_loop_is_what_leads_from_the_wait_back_to_it() -> None:
    # GIVEN a machine that waits, looks, and either ends, gives up, or waits again
    # WHEN the loop through the Wait is computed / THEN the exits are not part of it
    assert loop_states(_machine(), "Wait") == {"Wait", "Look", "Done?", "Late?"}


def test_each_poll_is_counted_from_its_wait() -> None:
    # GIVEN a run that polled twice and was done at the second look
    path = ["Start", "Wait", "Look", "Done?", "Late?", "Wait", "Look", "Done?", "End"]
    loop = loop_states(_machine(), "Wait")
    # THEN the first poll went round (4 states), the last left the loop after 3
    assert poll_lengths(path, loop, "Wait") == [4, 3]


def test_the_deploy_machine_waits_for_health_in_its_own_loop() -> None:
    # GIVEN the real definition / WHEN the loop through "Wait for ECS to say so" is computed
    definition = json.loads((REPO_ROOT / "statemachine" / "deploy.asl.json").read_text())
    loop = loop_states(definition, "Wait for ECS to say so")
    # THEN it holds the look and its judgement, and nothing before or after it (the safety
    # poll is the wait's own Retry)
    assert {"Describe the rollout", "Is the new version healthy?", "Check the target group"} <= loop
    assert loop.isdisjoint({"Run migrations", "Record what is serving", "Suspend autoscaling"})


def test_a_state_missing_from_the_definition_is_an_error() -> None:
    with pytest.raises(KeyError):
        loop_states(_machine(), "Nowhere")


# --- what ships ------------------------------------------------------------------------------
def test_tests_scripts_and_byte_code_lambda_never_reads_are_named() -> None:
    # GIVEN a package with python3.13 byte code beside byte code that python3.13 never reads
    files = [
        "python/pushgate/db.py",
        "python/pushgate/__pycache__/db.cpython-313.pyc",  # read by Lambda's python3.13
        "python/pkg/tests/test_x.py",
        "python/pkg/__pycache__/mod.cpython-311.pyc",
        "python/pkg/__pycache__/mod.cpython-313.opt-1.pyc",
        "python/stray.cpython-313.pyc",
        "python/bin/alembic",
        "python/alembic/testing/fixtures.py",  # a library module, not a test suite
    ]
    # THEN only what never runs is named
    assert never_shipped(files) == [
        "python/bin/alembic",
        "python/pkg/__pycache__/mod.cpython-311.pyc",
        "python/pkg/__pycache__/mod.cpython-313.opt-1.pyc",
        "python/pkg/tests/test_x.py",
        "python/stray.cpython-313.pyc",
    ]


def test_package_sizes_are_the_files_and_their_deflated_zip(tmp_path: Path) -> None:
    # GIVEN a package of two compressible files
    library, handler = "x = 1\n" * 2000, "def lambda_handler(e, c):\n    return e\n" * 100
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "a.py").write_text(library)
    (tmp_path / "app.py").write_text(handler)
    # WHEN measured
    unzipped, zipped, files = package_sizes(tmp_path)
    # THEN unzipped is the sum of the files; the zip is smaller and holds them all
    assert unzipped == len(library) + len(handler)
    assert 0 < zipped < unzipped
    assert sorted(files) == ["app.py", "python/a.py"]


# --- the table -------------------------------------------------------------------------------
def test_the_table_aligns_columns_and_shows_each_verdict() -> None:
    # GIVEN two sections, one budget line PASS and one OVER
    sections = [
        Section("Cold start", [Row("check_database", "227 ms", "<= 250 ms", "PASS")]),
        Section(
            "Warm latency",
            [Row("upgrade at head", "31.5 ms", "<= 20 ms", "OVER"), Row("naive", "50 ms")],
        ),
    ]
    # WHEN rendered
    lines = render_table(sections, "heading").splitlines()
    # THEN the heading, a header, a rule, then each section title and its rows
    assert lines[0] == "heading"
    assert lines[1].split() == ["measure", "value", "budget", "verdict"]
    assert set(lines[2]) == {"-"}
    assert lines[3] == "Cold start"
    assert lines[5] == "Warm latency"
    passed, over, plain = lines[4], lines[6], lines[7]
    assert passed.endswith("PASS")
    assert over.endswith("OVER")
    assert not plain.endswith(("PASS", "OVER"))
    # the value and budget columns start at the same place on every row
    assert passed.index("227 ms") == over.index("31.5 ms") == plain.index("50 ms")
    assert passed.index("<= 250 ms") == over.index("<= 20 ms")


@pytest.mark.parametrize(
    ("usd", "shown"),
    [(0.0, "$0.00"), (1.5, "$1.50"), (0.00415, "$0.00415"), (0.000000940, "$0.000000940")],
)
def test_dollars_keep_three_significant_digits_without_exponents(usd: float, shown: str) -> None:
    assert fmt_usd(usd) == shown


# --- cold-start budgets, for every function the stack has ------------------------------------
@pytest.mark.parametrize(
    ("modules", "like"),
    [
        (["pushgate", "alembic", "sqlalchemy"], "run_migrations"),
        (["pushgate", "boto3", "aws_xray_sdk"], "prepare_rollout"),
        (["pushgate", "botocore", "botocore.client"], "prepare_rollout"),  # pushgate.aws's
        (["pushgate", "aws_lambda_powertools", "botocore"], "check_database"),
    ],
)
def test_a_new_function_gets_the_budget_of_the_closest_by_what_it_loads(
    modules: list[str], like: str
) -> None:
    # GIVEN a function with no budget of its own / WHEN its cold start loaded these modules
    budget = budget_for("describe_push", modules)
    # THEN it is held to the budget of the function that loads the same kind of thing
    assert budget == BUDGETS[like]


def test_the_functions_with_budgets_keep_their_own_whatever_they_load() -> None:
    assert budget_for("check_database", ["alembic"]) == BUDGETS["check_database"]
    assert BUDGETS["check_database"].limit == 100
    assert BUDGETS["prepare_rollout"].limit == 300
    assert (BUDGETS["run_migrations"].kind, BUDGETS["run_migrations"].limit) == (
        "x import alembic",
        1.2,
    )


# --- pushgate's own overhead (issue 14) -------------------------------------------------------
def test_own_overhead_is_init_plus_run_time_without_the_migration_plus_the_lag() -> None:
    # GIVEN two functions' INIT, their invocations, a 40 ms migration and a 1 s event delivery
    own = overhead(
        {"describe_push": 200.0, "run_migrations": 900.0},
        [("describe_push", 20.0), ("run_migrations", 140.0)],
        migration_ms=40.0,
        lag_s=1.0,
    )
    # THEN INIT and run time are as measured, less the migration's own, plus the lag
    assert (own.init_ms, own.run_ms, own.lag_ms) == (1100.0, 120.0, 1000.0)
    assert own.total_ms == 2220.0
    assert own.counted == ("describe_push", "run_migrations")


def test_own_overhead_counts_the_init_of_the_functions_the_run_invoked_once_each() -> None:
    # GIVEN three functions measured cold, and a run that invoked run_migrations twice (its
    # read and its upgrade) and never await_snapshot (no snapshot at the shipped settings)
    own = overhead(
        {"describe_push": 200.0, "run_migrations": 900.0, "await_snapshot": 330.0},
        [("describe_push", 20.0), ("run_migrations", 60.0), ("run_migrations", 80.0)],
        migration_ms=0.0,
        lag_s=0.0,
    )
    # THEN await_snapshot's INIT is left out and run_migrations' is counted once
    assert own.init_ms == 1100.0
    assert own.counted == ("describe_push", "run_migrations")
    assert own.run_ms == 160.0


def test_own_overhead_of_a_run_that_invoked_an_unmeasured_function_is_refused() -> None:
    # GIVEN no cold start measured for a function the run invoked WHEN the overhead is told
    # THEN it is refused rather than counted as free
    with pytest.raises(MissingColdStart):
        overhead({"describe_push": 200.0}, [("describe_push", 20.0), ("wake_rollout", 5.0)], 0, 0)


def test_polling_notices_a_rollout_half_an_interval_late_on_average() -> None:
    assert polling_lag_s(60) == 30
    assert polling_lag_s(10) == 5


def test_a_cold_reads_least_time_is_the_cpu_it_cannot_avoid_spread_over_the_cpus() -> None:
    # GIVEN hashing 150 ms, inflating 45 ms, receiving 48 ms and the registry serving 152 ms
    # WHEN the machine has 2 CPUs, or 4 / THEN no reader can end sooner than the share of each
    assert cold_lower_bound_ms(150.0, 45.0, 48.0, 152.0, 2) == pytest.approx(197.5)
    assert cold_lower_bound_ms(150.0, 45.0, 48.0, 152.0, 4) == pytest.approx(98.75)


def test_every_function_of_the_stack_has_its_cold_start_measured() -> None:
    # GIVEN template.yaml, samconfig.toml's environments and the rehearsal's functions
    template = load_template(REPO_ROOT / "template.yaml")
    resolvers = config_resolvers(template, REPO_ROOT / "samconfig.toml")
    declared = {
        logical_id
        for logical_id, body in template["Resources"].items()
        if body.get("Type") == "AWS::Serverless::Function"
    }
    # WHEN the bench lists what it measures
    measured = all_functions(template, resolvers)
    rehearsed = stack_functions(template, resolvers[CONFIG_ENV])
    # THEN every function is there once, the rehearsal's first, each with its handler directory
    assert next(iter(resolvers)) == CONFIG_ENV == "dev"
    assert sorted(f.logical_id for f in measured) == sorted(declared)
    assert measured[: len(rehearsed)] == rehearsed
    assert all((REPO_ROOT / "functions" / f.name / "app.py").is_file() for f in measured)
    # AND one that dev's stack does not have (no snapshots there) is measured with the
    # parameters of the first environment that has it
    where = {f.name: f.config_env for f in measured}
    assert where["compensate_run"] == where["observe_outcome"] == "dev"
    assert where["prune_snapshots"] == "beta"
    assert resolvers["beta"].condition("TakesSnapshots")
