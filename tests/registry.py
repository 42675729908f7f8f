"""The tests' registry: :mod:`pushgate_cli.registry` (one copy, shared with the rehearsal and
`make bench`), and a small alembic project layer of the tests' own."""

from __future__ import annotations

from collections.abc import Sequence

from pushgate_cli.registry import (
    LAYER_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Layer,
    Registry,
    blob_digest,
    running_registry,
    write_layout,
)

__all__ = [
    "LAYER_TYPES",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Layer",
    "Registry",
    "blob_digest",
    "project_layer",
    "running_registry",
    "write_layout",
]


def project_layer(prefix: str = "app", heads: Sequence[str] = ("0001",)) -> Layer:
    """A small alembic project under ``prefix``: env.py, versions/ with a chain to each head."""
    layer = Layer().dir(prefix).file(f"{prefix}/alembic.ini", "[alembic]\n")
    layer.dir(f"{prefix}/migrations").file(f"{prefix}/migrations/env.py", "# env\n")
    layer.dir(f"{prefix}/migrations/versions")
    for head in heads:
        layer.file(
            f"{prefix}/migrations/versions/{head}.py",
            f'revision = "{head}"\ndown_revision = "base0"\n',
        )
    layer.file(
        f"{prefix}/migrations/versions/base0.py", 'revision = "base0"\ndown_revision = None\n'
    )
    return layer
