"""Names in an image: a tar entry's name and MigrationsPath as normalized relative paths, and
how one path stands to another (inside it, or covering it)."""

from __future__ import annotations

from pushgate.errors import InvalidImage, InvalidRequest


def normalize_member_name(name: str, where: str) -> str:
    """A tar entry's name as a relative path without ``.`` parts (``""`` is the root).

    InvalidImage for an absolute name or one with a ``..`` part: a layer's names are relative
    to the image's root and never climb out of it.
    """
    while name.startswith("./"):
        name = name[2:]
    if name.startswith("/"):
        raise InvalidImage(f"{where}: entry {name!r} is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidImage(f"{where}: entry {name!r} climbs out of its directory (..)")
    return "/".join(parts)


def normalize_migrations_path(value: str) -> str:
    """MigrationsPath (``/app``) as a normalized relative path (``app``); InvalidRequest."""
    parts = [p for p in value.strip().split("/") if p not in ("", ".")]
    if not value.strip().startswith("/") or not parts or ".." in parts:
        raise InvalidRequest(
            f"MigrationsPath {value!r} must be an absolute directory below / without '..'"
        )
    return "/".join(parts)


def inside(path: str, prefix: str) -> str | None:
    """``path`` relative to ``prefix`` when it is the prefix or below it (``""``: itself)."""
    if path == prefix:
        return ""
    if path.startswith(prefix + "/"):
        return path[len(prefix) + 1 :]
    return None


def covers(path: str, prefix: str) -> bool:
    """True when ``path`` is ``prefix`` or one of its ancestors (``""`` covers everything)."""
    return path == "" or prefix == path or prefix.startswith(path + "/")
