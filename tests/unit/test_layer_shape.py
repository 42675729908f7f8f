"""A standing check on the layer's shape: modules small enough for one person to hold."""

from __future__ import annotations

import pytest
from pushgate_cli.handlers import REPO_ROOT

pytestmark = pytest.mark.unit

LAYER = REPO_ROOT / "layers" / "pushgate" / "pushgate"
MAX_MODULE_LINES = 300  # issue 15: no module in the layer over 300 lines


def test_no_module_in_the_layer_is_over_the_line_limit() -> None:
    """GIVEN the layer's Python modules WHEN their lines are counted THEN none is over the
    limit (split a module by job rather than raise it)."""
    sizes = {
        str(path.relative_to(LAYER)): len(path.read_text().splitlines())
        for path in sorted(LAYER.rglob("*.py"))
    }

    assert len(sizes) > 10  # the package was found
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
