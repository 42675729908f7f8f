"""The ``unit`` marker says the truth: tests/conftest.py fails a unit test that uses moto."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from tests.markers import emulation_used_by

pytestmark = pytest.mark.unit


def test_the_moto_backed_test_modules_are_recognised_as_using_the_emulation() -> None:
    # GIVEN the two test modules that ran moto while marked unit
    for name in ("tests.aws.test_event_pattern", "tests.aws.test_prepare_rollout"):
        # WHEN their globals are inspected
        used = emulation_used_by(importlib.import_module(name))

        # THEN moto's mock_aws is among what they use
        assert "mock_aws" in used, name


def test_a_module_using_the_offline_interpreter_or_a_moto_module_is_recognised() -> None:
    # GIVEN a module that imported the offline interpreter's class and moto's ECS models
    module = ModuleType("tests.unit.example")
    offline = type("OfflineStepFunctions", (), {"__module__": "pushgate_cli.offline.machine"})
    module.OfflineStepFunctions = offline  # type: ignore[attr-defined]
    module.ecs_models = ModuleType("moto.ecs.models")  # type: ignore[attr-defined]
    module.motor = type("Motor", (), {"__module__": "motor.core"})  # type: ignore[attr-defined]

    # WHEN inspected THEN both are named, and a package merely starting with "moto" is not
    assert emulation_used_by(module) == ["OfflineStepFunctions", "ecs_models"]


def test_pure_modules_use_no_emulation() -> None:
    # GIVEN the template and bench unit tests (pure Python) WHEN inspected THEN nothing is named
    for name in ("tests.unit.test_template", "tests.unit.test_bench"):
        assert emulation_used_by(importlib.import_module(name)) == [], name
