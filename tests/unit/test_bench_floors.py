"""`make bench`'s floors: what each cold-start budget stands on, and nothing of pushgate's.

A floor is worth printing only if the budget's own function must load it: the test starts each
floor and that function's handler in fresh interpreters and compares what they loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pushgate_cli.bench.cold_start import FLOOR_MODULE, FLOORS, write_floors
from pushgate_cli.bench.stack import all_functions, config_resolvers, own_environments
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.template import load_template

from tests.helpers import modules_after_cold_start

pytestmark = pytest.mark.unit

LAMBDA_LIKE = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "placeholder",
    "AWS_SECRET_ACCESS_KEY": "placeholder",
}


def loaded_by(directory: Path | None, code: str) -> set[str]:
    """The modules a fresh interpreter has after ``code`` (with ``directory`` on the path)."""
    env = {**os.environ, **LAMBDA_LIKE}
    if directory is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(directory), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_a_floor_is_part_of_what_its_budgets_handler_loads_and_none_of_pushgate(
    name: str, tmp_path: Path
) -> None:
    # GIVEN the floor of a budget, as the bench writes it
    directory = write_floors(tmp_path)[name]
    floor = loaded_by(directory, f"import {FLOOR_MODULE}") - loaded_by(None, "pass")
    floor.discard(FLOOR_MODULE)
    # THEN it loads the stack's packages and nothing of pushgate's
    assert not {m for m in floor if m.split(".")[0] in {"pushgate", "pushgate_cli"}}
    assert {m.split(".")[0] for m in floor} >= {"aws_lambda_powertools"}
    # WHEN the budget's own function starts cold with its template environment
    template = load_template(REPO_ROOT / "template.yaml")
    resolvers = config_resolvers(template, REPO_ROOT / "samconfig.toml")
    own = own_environments(template, resolvers, all_functions(template, resolvers))
    env = {**LAMBDA_LIKE, **own[name]}
    loaded = modules_after_cold_start(name, env, floor)
    # THEN it loaded every module of the floor: the floor is not more than the function pays
    assert sorted(floor - set(loaded)) == []
