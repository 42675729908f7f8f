"""Layers onto a directory: the tar entry rules, whiteouts and opaque directories (no registry)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from pushgate.errors import InvalidImage, InvalidRequest
from pushgate.image.layers import ProjectTree
from pushgate.image.names import normalize_member_name, normalize_migrations_path
from pushgate.image.tarstream import entries, open_layer

from tests.registry import LAYER_TYPES, Layer

pytestmark = pytest.mark.unit


def build(tmp_path: Path, *layers: Layer, path: str = "/app", limit: int = 1 << 20) -> Path:
    """Apply ``layers`` in order as the reader does; the project directory."""
    tree = ProjectTree(tmp_path / "project", path, limit)
    for number, layer in enumerate(layers, 1):
        blob = io.BytesIO(layer.blob())
        with open_layer(LAYER_TYPES[layer.compression], blob, f"layer {number}") as tar:
            tree.apply(entries(tar), f"layer {number}")
    tree.check_links()
    return tree.root


def listing(root: Path) -> dict[str, str]:
    """Every entry under ``root``: files with their text, links with their target, dirs '/'."""
    found: dict[str, str] = {}
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                found[rel] = "/"
            else:
                found[rel] = path.read_text()
    return found


def test_only_the_path_is_kept(tmp_path: Path) -> None:
    """GIVEN a base layer outside /app and a project layer WHEN applied THEN only /app's files,
    relative to it (names with ./ are the same names)."""
    base = Layer().dir("usr").file("usr/bin/python", "elf").file("./etc/os-release", "debian")
    project = Layer().dir("./app").file("./app/alembic.ini", "ini").file("app/m/env.py", "env")

    assert listing(build(tmp_path, base, project)) == {
        "alembic.ini": "ini",
        "m": "/",
        "m/env.py": "env",
    }


def test_whiteouts_delete_lower_files_and_directories(tmp_path: Path) -> None:
    """GIVEN files and a directory in layer 1 WHEN layer 2 whites some out THEN they are gone,
    and what layer 2 adds stays."""
    lower = Layer().file("app/a.py", "a").file("app/b.py", "b").file("app/old/x.py", "x")
    upper = Layer().whiteout("app/a.py").whiteout("app/old").file("app/c.py", "c")

    assert listing(build(tmp_path, lower, upper)) == {"b.py": "b", "c.py": "c"}


def test_opaque_directory_hides_lower_content_but_not_its_own_layer(tmp_path: Path) -> None:
    """GIVEN versions/ with two files WHEN an upper layer writes a new file and, after it, marks
    versions/ opaque THEN only the upper layer's file is in versions/ (order in a layer does not
    matter), and files beside versions/ stay."""
    lower = Layer().file("app/v/1.py", "1").file("app/v/2.py", "2").file("app/env.py", "env")
    upper = Layer().file("app/v/3.py", "3").opaque("app/v")

    assert listing(build(tmp_path, lower, upper)) == {"env.py": "env", "v": "/", "v/3.py": "3"}


@pytest.mark.parametrize(
    "deletion",
    [
        pytest.param(Layer().whiteout("app"), id="whiteout-of-the-path"),
        pytest.param(Layer().opaque("app"), id="opaque-path"),
        pytest.param(Layer().file(".wh..wh..opq", ""), id="opaque-root"),
    ],
)
def test_deleting_the_path_or_an_ancestor_empties_the_project(
    tmp_path: Path, deletion: Layer
) -> None:
    """GIVEN a project in layer 1 WHEN layer 2 deletes /app or hides / THEN nothing of layer 1."""
    lower = Layer().file("app/env.py", "env")

    assert listing(build(tmp_path, lower, deletion, Layer().file("app/new.py", "n"))) == {
        "new.py": "n"
    }


def test_upper_file_replaces_lower_directory_and_entries_below_a_link_replace_it(
    tmp_path: Path,
) -> None:
    """GIVEN a directory and a link to a directory WHEN an upper layer has a file in place of
    the directory and an entry below the link THEN a file, and a real directory (no write goes
    through the link)."""
    lower = Layer().file("app/d/x.py", "x").file("app/real/keep.py", "k").symlink("app/l", "real")
    upper = Layer().file("app/d", "now a file").file("app/l/y.py", "y")

    assert listing(build(tmp_path, lower, upper)) == {
        "d": "now a file",
        "real": "/",
        "real/keep.py": "k",
        "l": "/",
        "l/y.py": "y",
    }


def test_links_inside_the_path_are_kept_relative(tmp_path: Path) -> None:
    """GIVEN a relative link, an absolute link into /app and a hard link inside /app WHEN applied
    THEN relative links to the same files, and a copy for the hard link."""
    layer = (
        Layer()
        .file("app/shared/base.py", "base")
        .symlink("app/m/versions", "../shared")
        .symlink("app/m/abs", "/app/shared/base.py")
        .hardlink("app/copy.py", "app/shared/base.py")
    )

    tree = listing(build(tmp_path, layer))

    assert tree["m/versions"] == "-> ../shared"
    assert tree["m/abs"] == "-> ../shared/base.py"
    assert tree["copy.py"] == "base"
    assert (tmp_path / "project/m/versions/base.py").read_text() == "base"


@pytest.mark.parametrize(
    ("layer", "says"),
    [
        pytest.param(Layer().file("../etc/passwd", "x"), "climbs out", id="dotdot"),
        pytest.param(Layer().file("app/../../etc/passwd", "x"), "climbs out", id="dotdot-inside"),
        pytest.param(Layer().file("/app/env.py", "x"), "absolute", id="absolute"),
        pytest.param(Layer().symlink("app/l", "../etc/passwd"), "outside /app", id="symlink-up"),
        pytest.param(Layer().symlink("app/l", "/etc/passwd"), "outside /app", id="symlink-abs"),
        pytest.param(Layer().hardlink("app/h", "etc/passwd"), "outside /app", id="hardlink"),
        pytest.param(Layer().symlink("app/l", ""), "link to nothing", id="empty-link"),
        pytest.param(Layer().device("app/null"), "device file or FIFO", id="device"),
        pytest.param(Layer().fifo("app/pipe"), "device file or FIFO", id="fifo"),
        pytest.param(Layer().symlink("app", "/srv/app"), "not a directory", id="path-is-a-link"),
        pytest.param(Layer().file("app", "x"), "not a directory", id="path-is-a-file"),
        pytest.param(Layer().file("app/.wh..", ""), "names no entry", id="whiteout-dotdot"),
    ],
)
def test_hostile_entries_are_refused(tmp_path: Path, layer: Layer, says: str) -> None:
    """GIVEN a layer with a hostile entry WHEN applied THEN InvalidImage saying what it is."""
    with pytest.raises(InvalidImage, match=says):
        build(tmp_path, Layer().file("app/env.py", "env"), layer)


def test_a_link_through_another_link_cannot_climb_out(tmp_path: Path) -> None:
    """GIVEN app/up -> . and app/x -> up/../secret (inside by its text; outside if app/up were
    followed first) WHEN applied THEN x is written as its lexical target, inside the project."""
    layer = (
        Layer().file("app/env.py", "env").symlink("app/up", ".").symlink("app/x", "up/../secret")
    )

    root = build(tmp_path, layer)

    assert os.readlink(root / "x") == "secret"
    assert os.path.realpath(root / "x") == str((root / "secret").resolve())


def test_devices_outside_the_path_are_read_past(tmp_path: Path) -> None:
    """GIVEN a base layer with /dev/null WHEN applied THEN it is not refused (not the project)."""
    assert listing(build(tmp_path, Layer().device("dev/null"), Layer().file("app/a", "a"))) == {
        "a": "a"
    }


def test_size_limit_counts_every_layer(tmp_path: Path) -> None:
    """GIVEN two layers of 600 bytes under /app WHEN the limit is 1000 bytes THEN InvalidImage."""
    one, two = Layer().file("app/a", "a" * 600), Layer().file("app/b", "b" * 600)
    build(tmp_path / "ok", one, limit=1000)

    with pytest.raises(InvalidImage, match="over its size limit of 1000 bytes"):
        build(tmp_path / "over", one, two, limit=1000)


def test_plain_and_zstd_layers(tmp_path: Path) -> None:
    layers = Layer("none").file("app/a", "a"), Layer("zstd").file("app/b", "b")
    assert listing(build(tmp_path, *layers)) == {"a": "a", "b": "b"}


def test_a_layer_media_type_pushgate_cannot_read_is_named() -> None:
    kind = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    with pytest.raises(InvalidImage, match=re.escape(f"media type '{kind}'")):
        open_layer(kind, io.BytesIO(b""), "layer 1")


@pytest.mark.parametrize(
    ("name", "normalized"),
    [("./app/x", "app/x"), ("app//x/", "app/x"), ("./", ""), ("app/./x", "app/x")],
)
def test_member_names_are_normalized(name: str, normalized: str) -> None:
    assert normalize_member_name(name, "layer") == normalized


@pytest.mark.parametrize("value", ["app", "/", "", "/app/../etc", "  "])
def test_migrations_path_must_be_an_absolute_directory(value: str) -> None:
    with pytest.raises(InvalidRequest, match="MigrationsPath"):
        normalize_migrations_path(value)


def test_a_nested_migrations_path(tmp_path: Path) -> None:
    layer = Layer().file("srv/app/a", "a").file("srv/other", "o").file("app/b", "b")
    assert listing(build(tmp_path, layer, path="/srv/app/")) == {"a": "a"}
