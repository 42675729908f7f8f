"""docs/state-machine.svg is the picture of today's definition."""

from __future__ import annotations

import pytest
from pushgate_cli.docs_picture import HASH, PICTURE, definition_hash, recorded_hash
from pushgate_cli.handlers import REPO_ROOT

pytestmark = pytest.mark.unit


def test_the_picture_in_docs_was_drawn_from_the_definition_as_it_is_now() -> None:
    # GIVEN the hash recorded beside the picture when `make docs-picture` drew it
    # WHEN it is compared with the definition file of this checkout
    # THEN they are equal: a changed definition needs `make docs-picture` in the same commit
    assert recorded_hash() == definition_hash(), (
        f"{PICTURE} is stale: statemachine/deploy.asl.json changed; run `make docs-picture`"
    )
    assert (REPO_ROOT / PICTURE).read_text().lstrip().startswith("<?xml")
    assert (REPO_ROOT / HASH).is_file()
