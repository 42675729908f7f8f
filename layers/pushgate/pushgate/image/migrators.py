"""Which scripts a ``run_migrations`` request runs: the pushed image's (by digest) or the bundled.

:class:`ImageMigrators` reads the project out of the request's image (:class:`ImageReader`,
cached on disk by digest) and keeps one built :class:`Migrator` per (digest, platform) in memory
across warm invocations, so a warm invocation for the same digest neither reads the image nor
parses a revision file again. A downgrade that names the same digest runs the same scripts,
which hold the downgrade code of the revisions its upgrade applied.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pushgate.errors import InvalidImage, InvalidRequest
from pushgate.image.reference import ImageRef, Platform
from pushgate.migrator import MigrationRequest, MigrationSettings, Migrator
from pushgate.migrator.request import ScriptsRead, migrations_source
from pushgate.migrator.runner import AheadCheck, knows

if TYPE_CHECKING:  # annotations only: MigrationsSource=bundled never loads the image reader
    from pushgate.image.reader import ImageReader, ImageScripts

MAX_MIGRATORS: Final = 4  # built migrators kept in memory (the newest; a deploy names 1 or 2)


@dataclasses.dataclass(frozen=True)
class ChosenScripts:
    """The migrator for a request and, when they came from an image, what was read."""

    migrator: Migrator
    scripts: ImageScripts | None = None

    def answer(self) -> ScriptsRead:
        """The ``read`` action's answer: the head and the revisions, base to head. A project
        without a single head is InvalidImage when it came from an image (the image is at
        fault), InvalidRequest when it is the bundled one."""
        graph = self.migrator.graph
        try:
            head = graph.head()
        except InvalidRequest as exc:
            if self.scripts is None:
                raise
            raise InvalidImage(f"{self.scripts.image}: {exc}") from None
        return ScriptsRead(
            action="read",
            image=None if self.scripts is None else self.scripts.image,
            head=head,
            revisions=[revision.revision for revision in graph.base_to_head()],
        )


class BundledMigrator:
    """MigrationsSource ``bundled``: the function package's scripts, whatever the image."""

    def __init__(self, migrator: Migrator) -> None:
        self.migrator = migrator

    def for_request(self, request: MigrationRequest) -> ChosenScripts:
        return ChosenScripts(self.migrator)

    def ahead_check(self, request: MigrationRequest) -> AheadCheck | None:
        return None  # one project: a revision it does not know is drift


class ImageMigrators:
    """MigrationsSource ``image``: the request's image's scripts; one Migrator per digest."""

    def __init__(
        self, reader: ImageReader, settings: MigrationSettings, keep: int = MAX_MIGRATORS
    ) -> None:
        self.reader = reader
        self.settings = settings  # script_location is replaced by each image's project
        self._keep = keep
        self._built: OrderedDict[tuple[str, str], ChosenScripts] = OrderedDict()

    def for_request(self, request: MigrationRequest) -> ChosenScripts:
        """InvalidRequest without an image; InvalidImage when it cannot be read or is refused."""
        if request.image is None:
            raise InvalidRequest(
                "MigrationsSource is image: the event needs 'image' {registry, repository, digest}"
            )
        return self.for_image(request.image, request.platform)

    def ahead_check(self, request: MigrationRequest) -> AheadCheck | None:
        """With the serving image named: whether its scripts know the database's revision as a
        descendant of this image's head (read only when the database is at an unknown one)."""
        serving_image = request.serving_image
        if serving_image is None:
            return None

        def ahead(head: str, current: str) -> bool:
            graph = self.for_image(serving_image, request.platform).migrator.graph
            return knows(graph, current) and graph.is_ancestor(head, current)

        return ahead

    def for_image(self, ref: ImageRef, platform: Platform | None = None) -> ChosenScripts:
        key = (str(ref), str(platform) if platform else "")
        chosen = self._built.get(key)
        if chosen is not None:
            self._built.move_to_end(key)
            return chosen
        scripts = self.reader.read(ref, platform)
        try:
            migrator = Migrator(
                dataclasses.replace(self.settings, script_location=scripts.directory)
            )
        except InvalidRequest as exc:  # the image's project, not the request, is at fault
            raise InvalidImage(f"{ref}: {exc}") from None
        chosen = ChosenScripts(migrator, scripts)
        self._built[key] = chosen
        while len(self._built) > self._keep:
            self._built.popitem(last=False)
        return chosen


def migrators_from_env(
    default_location: Path, environ: Mapping[str, str]
) -> BundledMigrator | ImageMigrators:
    """The scripts of a function, as its settings say (run_migrations and review_schema build
    them this one way). MIGRATIONS_SOURCE bundled: the package's scripts (``default_location``
    unless MIGRATIONS_DIR), parsed now; image: a reader (its registry client imported here
    only), each digest's scripts read on first use. InvalidRequest for bad settings."""
    migration_settings = MigrationSettings.from_env(default_location, environ)
    if migrations_source(environ) == "bundled":
        return BundledMigrator(Migrator(migration_settings))
    from pushgate.image import ImageReader, ImageSettings

    return ImageMigrators(ImageReader(ImageSettings.from_env(environ)), migration_settings)
