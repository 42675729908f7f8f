"""A ``run_migrations`` invocation's request, settings and result (docs/design.md, Contracts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, NotRequired, TypedDict, cast, get_args

from pushgate import settings
from pushgate.database import read_positive_number
from pushgate.errors import InvalidRequest
from pushgate.image.reference import ImageRef, Platform
from pushgate.versiontable import VersionTable

DEFAULT_LOCK_TIMEOUT_MS: Final = 3_000  # a DDL lock is waited for at most 3 s, then retried
DEFAULT_STATEMENT_TIMEOUT_MS: Final = 120_000  # no single statement runs longer than 2 min
DEFAULT_LOCK_WAIT_SECONDS: Final = 60.0  # how long to wait for another run's advisory lock

Action = Literal[
    "plan", "upgrade", "downgrade", "revert", "read", "inspect", "check_revert", "check_upgrade"
]
Direction = Literal["upgrade", "downgrade"]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
READ_ONLY: Final = frozenset[Action]({"plan", "inspect", "check_revert", "check_upgrade"})
Source = Literal["image", "bundled"]
SOURCES: Final[tuple[Source, ...]] = ("image", "bundled")


def migrations_source(environ: Mapping[str, str]) -> Source:
    """``MIGRATIONS_SOURCE``: ``image`` (the pushed image's scripts, by digest) or ``bundled``
    (the function package's). Required: the template always sets it; InvalidRequest otherwise."""
    value = environ.get(settings.MIGRATIONS_SOURCE, "").strip()
    if value not in SOURCES:
        raise InvalidRequest(
            f"{settings.MIGRATIONS_SOURCE} must be one of {', '.join(SOURCES)}, got {value!r}"
        )
    return value


class PendingRevision(TypedDict):
    revision: str
    down_revision: str | None
    description: str
    downgradable: bool


class MigrationResult(TypedDict):
    """The ``run_migrations`` contract (docs/design.md, Contracts)."""

    action: Action
    from_revision: str | None
    to_revision: str | None
    applied: list[str]
    duration_ms: float
    pending: NotRequired[list[PendingRevision]]  # plan only
    sql: NotRequired[str]  # plan only
    image: NotRequired[str]  # registry/repository@digest whose scripts ran (MigrationsSource image)
    schema_ahead: bool  # the database is past this image's head (the serving image's): nothing run
    downgrade: NotRequired[bool]  # check_revert: a downgrade task has this run's work to undo


class ScriptsRead(TypedDict):
    """The ``read`` action's answer: the scripts a run of this image would run, no database
    touched (``image`` None: MigrationsSource bundled, the function's own scripts)."""

    action: Literal["read"]
    image: str | None  # registry/repository@digest whose project was read
    head: str
    revisions: list[str]  # base to head


def migration_result(
    action: Action, current: str | None, to: str | None, applied: list[str]
) -> MigrationResult:
    """A result (``duration_ms`` is filled in by the runner; ``schema_ahead`` starts false; a
    plan's ``pending`` and ``sql`` start empty)."""
    result = MigrationResult(
        action=action,
        from_revision=current,
        to_revision=to,
        applied=applied,
        duration_ms=0.0,
        schema_ahead=False,
    )
    if action == "plan":
        result["pending"] = []
        result["sql"] = ""
    return result


def _positive_number(environ: Mapping[str, str], name: str, default: float) -> float:
    return read_positive_number(environ, name, default, InvalidRequest)


@dataclass(frozen=True, kw_only=True)
class MigrationSettings:
    """The migration tunables (documented defaults), the project (a project root with
    alembic.ini or pyproject.toml, or a bare script directory) and the version table."""

    script_location: Path
    version_table: VersionTable = field(default_factory=VersionTable)
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS

    @classmethod
    def from_env(
        cls, default_script_location: Path, environ: Mapping[str, str]
    ) -> MigrationSettings:
        """``MIGRATIONS_DIR`` (else ``default_script_location``), the version table and the
        MIGRATION_* tunables. The project itself is read by the revision graph."""
        location = Path(environ.get(settings.MIGRATIONS_DIR, "").strip() or default_script_location)
        return cls(
            script_location=location,
            version_table=VersionTable.from_env(environ),
            lock_timeout_ms=int(
                _positive_number(
                    environ, settings.MIGRATION_LOCK_TIMEOUT_MS, DEFAULT_LOCK_TIMEOUT_MS
                )
            ),
            statement_timeout_ms=int(
                _positive_number(
                    environ, settings.MIGRATION_STATEMENT_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS
                )
            ),
            lock_wait_seconds=_positive_number(
                environ, settings.MIGRATION_LOCK_WAIT_SECONDS, DEFAULT_LOCK_WAIT_SECONDS
            ),
        )


@dataclass(frozen=True)
class MigrationRequest:
    """A parsed ``run_migrations`` event."""

    action: Action
    target: str
    expected_current: str | None = None
    image: ImageRef | None = None  # whose scripts run (MigrationsSource image)
    platform: Platform | None = None  # for an image index: the service's; else the first linux
    serving_image: ImageRef | None = None  # the serving image: may know a revision ahead of ours

    @classmethod
    def from_event(cls, event: Any) -> MigrationRequest:
        """``{"action", "target"?, "expected_current"?, "image"?: {"registry", "repository",
        "digest", "platform"?}, "serving_image"?: {"registry", "repository", "digest"},
        "serving_containers"?: {"container", "names", "images"}}``, or
        ``{"action": "revert", "from_revision": str | null, "image"?}`` (null: base), or
        ``{"action": "read", "image"?}`` (the scripts, no database); ``check_upgrade``: an
        upgrade's keys but no target (read-only); raises InvalidRequest.

        A downgrade's ``"target": null`` means base (the database had no revision before the
        run); a downgrade without a target is refused. An upgrade or plan goes to head unless
        told otherwise."""
        if not isinstance(event, Mapping):
            raise InvalidRequest("the event must be a JSON object with an 'action'")
        action = event.get("action")
        if action not in ACTIONS:
            raise InvalidRequest(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
        if action in ("revert", "inspect", "check_revert"):
            return cls._from_start(cast(Action, action), event)
        if action == "read":
            return cls._read(event)
        target = _target_of(cast(Action, action), event)
        expected = event.get("expected_current")
        for name, value in (("target", target), ("expected_current", expected)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InvalidRequest(f"{name} must be a non-empty string, got {value!r}")
        image, platform = _image_of(event.get("image"))
        serving = event.get("serving_image")
        if serving is not None and event.get("serving_containers") is not None:
            raise InvalidRequest("name the serving image once: serving_image or serving_containers")
        return cls(
            action=cast(Action, action),
            target=str(target).strip(),
            expected_current=expected.strip() if isinstance(expected, str) else None,
            image=image,
            platform=platform,
            serving_image=(
                ImageRef.from_event(serving)
                if serving is not None
                else serving_image_of(event.get("serving_containers"))
            ),
        )

    @classmethod
    def _read(cls, event: Mapping[str, Any]) -> MigrationRequest:
        """Read and check the image's project (before the deployment lock): ``{"action":
        "read", "image"?}``; no database is touched, so nothing else is taken."""
        extra = sorted(set(event) - {"action", "image"})
        if extra:
            raise InvalidRequest(f"a read takes only image, not {', '.join(extra)}")
        image, platform = _image_of(event.get("image"))
        return cls(action="read", target="head", image=image, platform=platform)

    @classmethod
    def _from_start(cls, action: Action, event: Mapping[str, Any]) -> MigrationRequest:
        """``revert`` (:mod:`pushgate.migrator.revert`), ``inspect`` (also ``expected_current``)
        and ``check_revert`` (:mod:`pushgate.migrator.inspect`) from ``from_revision``: required,
        null is base (a revert aimed at base by accident would drop everything)."""
        if "from_revision" not in event:
            raise InvalidRequest(
                f"{'a revert' if action == 'revert' else action} needs 'from_revision' "
                "(a revision, or null for base)"
            )
        start = event["from_revision"]
        if start is not None and (not isinstance(start, str) or not start.strip()):
            raise InvalidRequest(f"from_revision must be a revision id or null, got {start!r}")
        allowed = {"action", "from_revision", "image"} | (
            {"expected_current"} if action == "inspect" else set()
        )
        extra = sorted(set(event) - allowed)
        if extra:
            what = "a revert" if action == "revert" else action
            raise InvalidRequest(
                f"{what} takes only {', '.join(sorted(allowed - {'action'}))}, "
                f"not {', '.join(extra)}"
            )
        expected = event.get("expected_current")
        if "expected_current" in event and expected is None:
            expected = "base"  # inspect: an explicit null expects a database without a revision
        if expected is not None and (not isinstance(expected, str) or not expected.strip()):
            raise InvalidRequest(f"expected_current must be a non-empty string, got {expected!r}")
        image, platform = _image_of(event.get("image"))
        return cls(
            action=action,
            target=start.strip() if start else "base",
            expected_current=expected.strip() if isinstance(expected, str) else None,
            image=image,
            platform=platform,
        )


def serving_image_of(value: Any) -> ImageRef | None:
    """The serving image from the serving task definition's containers, as the definition
    passes them (``{"container", "names", "images"}``: describeTaskDefinition's names and
    images, in order). None when the container is not there, or its image is named by tag (it
    cannot be read by digest: an unknown revision is then drift). InvalidRequest when the
    value is malformed."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequest("'serving_containers' must be an object {container, names, images}")
    container, names, images = value.get("container"), value.get("names"), value.get("images")
    if (
        not isinstance(container, str)
        or not isinstance(names, list)
        or not isinstance(images, list)
        or len(names) != len(images)
        or not all(isinstance(item, str) for item in [*names, *images])
    ):
        raise InvalidRequest(
            "'serving_containers' needs container (a string) and names and images (lists of "
            "strings of the same length)"
        )
    found = [image for name, image in zip(names, images, strict=True) if name == container]
    if len(found) != 1 or "@" not in found[0]:
        return None
    return ImageRef.parse(found[0])


def _target_of(action: Action, event: Mapping[str, Any]) -> Any:
    """A downgrade names its target (null: base); check_upgrade none; others default to head."""
    if action == "downgrade" and "target" not in event:
        raise InvalidRequest(
            "a downgrade needs a target (a revision, 'base', '-N', or null for base)"
        )
    if action == "check_upgrade" and "target" in event:
        raise InvalidRequest("check_upgrade judges an upgrade to head: it takes no target")
    target = event.get("target")
    return ("base" if action == "downgrade" else "head") if target is None else target


def _image_of(value: Any) -> tuple[ImageRef | None, Platform | None]:
    """The event's ``image`` (absent or null: none) and its optional ``platform``."""
    if value is None:
        return None, None
    image = ImageRef.from_event(value)
    platform = value.get("platform")
    if platform is None:
        return image, None
    if not isinstance(platform, str):
        raise InvalidRequest(f"'image.platform' must be a string os/architecture, got {platform!r}")
    return image, Platform.parse(platform)


@dataclass(frozen=True, kw_only=True)
class RunLimits:
    """What bounds one run: the settings' timeouts and the deadline (a ``time.monotonic()``
    instant the run must stop before, or None)."""

    lock_timeout_ms: int
    statement_timeout_ms: int
    stop_at: float | None

    def time_left(self, now: float) -> float | None:
        """Seconds until the deadline (None: no deadline)."""
        return None if self.stop_at is None else self.stop_at - now
