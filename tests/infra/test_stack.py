"""The deployable stack, checked by the real tools: what `sam deploy` would be handed."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from pushgate_cli.bench.budgets import SQUAWK_LAYER_UNZIPPED_BYTES
from pushgate_cli.bench.sizes import package_sizes
from pushgate_cli.lambda_python import find_python313
from pushgate_cli.layer_bytecode import verify_on
from pushgate_cli.template import (
    Resolver,
    load_template,
    samconfig_parameters,
    state_machine_definition,
)

from tests.infra.conftest import ROOT, Build, run, tool

pytestmark = pytest.mark.infra

LAYER_BUDGET_BYTES = 30 * 1024 * 1024  # unzipped; Lambda's own limit is 250 MB for everything
LAYER_ZIPPED_BUDGET_BYTES = 8 * 1024 * 1024  # deflated, as sam uploads it (issue 13)
EM_AARCH64 = 183  # ELF e_machine of 64-bit ARM


# --- linters and policy checks ---------------------------------------------------------------


def test_sam_validate_lint_is_clean() -> None:
    result = run([tool("sam"), "validate", "--lint", "--template-file", "template.yaml"])
    assert result.returncode == 0, result.output


def test_cfn_lint_is_clean() -> None:
    result = run([tool("cfn-lint"), "template.yaml"])
    assert result.returncode == 0, result.output


def test_checkov_fails_no_check_that_the_template_does_not_skip_with_a_reason() -> None:
    # GIVEN checkov's CloudFormation checks, offline (no platform download)
    result = run(
        [
            tool("checkov"),
            "--file",
            "template.yaml",
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ]
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    # THEN every check passes or is skipped in the template itself, and checkov parsed it all
    assert failed == [], result.output
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0


# --- sam build, without Docker --------------------------------------------------------------


def test_sam_build_succeeds_without_docker(sam_build: Build) -> None:
    assert sam_build.run.returncode == 0, sam_build.run.output
    assert (sam_build.directory / "template.yaml").is_file()


def layer_python(sam_build: Build) -> Path:
    assert sam_build.run.returncode == 0, sam_build.run.output
    return sam_build.directory / "PushgateLayer" / "python"


def test_the_layer_ships_the_library_and_its_dependencies(sam_build: Build) -> None:
    python = layer_python(sam_build)
    for package in ("pushgate", "aws_lambda_powertools", "alembic", "sqlalchemy", "pg8000"):
        assert (python / package / "__init__.py").is_file(), package
    assert (python / "pushgate" / "errors.py").is_file()


def test_the_layer_leaves_out_what_the_runtime_has_and_what_never_runs(sam_build: Build) -> None:
    python = layer_python(sam_build)
    top_level = {path.name for path in python.iterdir()}
    # boto3/botocore come with the python3.13 runtime; a second copy would shadow it
    assert {"boto3", "botocore", "tests", "bin"}.isdisjoint(top_level)
    # byte code: CPython 3.13's only, unchecked-hash, each from the source beside it
    python313 = find_python313()
    assert python313 is not None, "no python3.13 to check the byte code with (pyenv 3.13.0)"
    verify_on(python313, python)
    assert list(python.rglob("*.cpython-313.pyc")), "no byte code: cold starts compile it all"


def test_the_layer_is_built_for_python313_on_arm64(sam_build: Build) -> None:
    python = layer_python(sam_build)
    extensions = list(python.rglob("*.so"))
    assert extensions, "no compiled extension at all: SQLAlchemy and MarkupSafe ship some"
    for extension in extensions:
        header = extension.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", extension
        assert int.from_bytes(header[18:20], "little") == EM_AARCH64, extension
        assert ".cpython-313-aarch64-linux-gnu." in extension.name, extension
    # and every wheel says so itself
    for wheel in python.glob("*.dist-info/WHEEL"):
        tags = [
            line.split(":", 1)[1].strip()
            for line in wheel.read_text().splitlines()
            if line.startswith("Tag:")
        ]
        assert tags, wheel
        # a wheel may carry several tags (py2-none-any + py3-none-any): one must fit Lambda
        assert any(fits_lambda(tag) for tag in tags), (wheel, tags)


def fits_lambda(tag: str) -> bool:
    """Does the wheel tag `python-abi-platform` install on CPython 3.13, manylinux aarch64?"""
    python_tag, abi, platform = tag.split("-")
    if platform == "any":
        return abi == "none" and any(p.startswith("py3") for p in python_tag.split("."))
    return python_tag == "cp313" and abi in {"cp313", "abi3"} and platform.endswith("_aarch64")


def test_the_layer_stays_within_its_size_budget(sam_build: Build) -> None:
    python = layer_python(sam_build)
    size, zipped, _ = package_sizes(python.parent)
    assert size <= LAYER_BUDGET_BYTES, f"layer is {size / 2**20:.1f} MB unzipped"
    assert zipped <= LAYER_ZIPPED_BUDGET_BYTES, f"layer is {zipped / 2**20:.1f} MB zipped"


def test_the_layer_pins_what_requirements_txt_pins(sam_build: Build) -> None:
    python = layer_python(sam_build)
    pins = {}
    for line in (ROOT / "layers" / "pushgate" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    shipped = {}
    for metadata in python.glob("*.dist-info/METADATA"):
        fields = dict(
            line.split(": ", 1) for line in metadata.read_text().splitlines()[:10] if ": " in line
        )
        shipped[re.sub(r"[-_.]+", "-", fields["Name"]).lower()] = fields["Version"]
    assert shipped == pins


def test_run_migrations_ships_the_bundled_alembic_scripts(sam_build: Build) -> None:
    assert sam_build.run.returncode == 0, sam_build.run.output
    built = sam_build.directory / "RunMigrationsFunction"
    migrations = built / "migrations"
    assert (built / "app.py").is_file()
    # real files, not a symlink that points out of the package
    assert not migrations.is_symlink()
    assert (migrations / "env.py").is_file()
    source_versions = sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py"))
    assert source_versions, "the repository has no migrations to ship"
    assert sorted(p.name for p in (migrations / "versions").glob("*.py")) == source_versions
    assert (migrations / "env.py").read_bytes() == (ROOT / "migrations" / "env.py").read_bytes()


@pytest.mark.parametrize(
    "function",
    [
        "DescribePushFunction",
        "TakeLockFunction",
        "CheckDatabaseFunction",
        "RunMigrationsFunction",
        "PrepareRolloutFunction",
        "DescribeOutcomeFunction",
    ],
)
def test_each_function_package_is_its_handler_only(sam_build: Build, function: str) -> None:
    assert sam_build.run.returncode == 0, sam_build.run.output
    built = sam_build.directory / function
    assert (built / "app.py").is_file()
    assert list(built.rglob("__pycache__")) == []
    # the dependencies live in the layer, not in each function
    assert not (built / "sqlalchemy").exists()
    assert not (built / "pushgate").exists()


def test_the_squawk_layer_ships_the_pinned_aarch64_binary_at_bin_squawk(sam_build: Build) -> None:
    """GIVEN sam build WHEN SquawkLayer is read THEN bin/squawk (Lambda: /opt/bin/squawk) is an
    aarch64 ELF executable, within its own size budget."""
    assert sam_build.run.returncode == 0, sam_build.run.output
    files = [p for p in (sam_build.directory / "SquawkLayer").rglob("*") if p.is_file()]
    binary = sam_build.directory / "SquawkLayer" / "bin" / "squawk"
    assert files == [binary]
    header = binary.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == EM_AARCH64
    assert os.access(binary, os.X_OK)
    assert binary.stat().st_size <= SQUAWK_LAYER_UNZIPPED_BYTES


# --- the state machine definition -------------------------------------------------------------


def test_the_definition_after_substitution_passes_asl_validator(tmp_path: Path) -> None:
    # GIVEN the definition with the template's own DefinitionSubstitutions, resolved with the
    # dev environment's parameters and plausible values for what CloudFormation creates
    template = load_template(ROOT / "template.yaml")
    account, region = "123456789012", "eu-west-1"
    ledger = "pushgate-shop-dev-ledger"  # the name dev's stack gives it
    functions = [
        "DescribePushFunction",
        "TakeLockFunction",
        "CheckDatabaseFunction",
        "RunMigrationsFunction",
        "PrepareRolloutFunction",
        "DescribeOutcomeFunction",
        "WakeRolloutFunction",
        "MigrationTaskFunction",
        "AwaitSnapshotFunction",
    ]
    resolver = Resolver(
        template,
        samconfig_parameters(ROOT / "samconfig.toml", "dev"),
        refs={"LockTable": "pushgate-shop-dev-LockTable-1X2Y3Z"},
        attributes={
            f"{name}.Arn": f"arn:aws:lambda:{region}:{account}:function:pushgate-shop-dev-{name}"
            for name in functions
        }
        | {"DeployLedger.Arn": f"arn:aws:dynamodb:{region}:{account}:table/{ledger}"},
        region=region,
        account_id=account,
    )
    definition = tmp_path / "deploy.asl.json"
    definition.write_text(state_machine_definition(template, resolver, ROOT, "DeployStateMachine"))
    json.loads(definition.read_text())
    # WHEN the real validator reads it THEN it finds nothing wrong
    result = run([tool("asl-validator"), "--json-path", str(definition)])
    assert result.returncode == 0, result.output
