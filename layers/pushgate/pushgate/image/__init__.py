"""Reading the alembic project out of a pushed image, by digest (issue 9).

:class:`~pushgate.image.reader.ImageReader` resolves the manifest (for an image index, the
platform of the service's task definition, else the first linux one), streams the layers in
order keeping only the files under MigrationsPath (whiteouts and opaque directories honoured),
verifies each blob's sha256 and size while it streams, refuses hostile entries, several alembic
heads and a project over the size limit with InvalidImage, and caches the result by digest under
/tmp, with a memory of the layers that hold nothing under the path.

Registry access: ECR's OCI distribution endpoint (``https://<account>.dkr.ecr.<region>.
amazonaws.com/v2/...``) with a token from ``ecr:GetAuthorizationToken``, not the ECR API's
BatchGetImage + GetDownloadUrlForLayer. Why:

- It is the same code for every registry: the one the tests and the rehearsal read from (a real
  registry on loopback) is the one production reads from; the ECR API cannot be exercised
  offline (moto 5.2.5 does not implement GetDownloadUrlForLayer, nor keep layer bytes).
- One AWS call per warm process (the token lasts 12 hours) instead of one signed call per
  layer; blobs come from S3 through ECR's 307 redirect, followed without the Authorization
  header.
- The permissions are the same but one: the registry checks ``ecr:BatchGetImage`` and
  ``ecr:GetDownloadUrlForLayer``, both scoped to the one repository. ``ecr:GetAuthorizationToken``
  cannot be scoped (Resource ``*``); it grants no access by itself.

The VPC endpoints a Lambda in a private subnet needs: ``ecr.api`` (the token), ``ecr.dkr``
(the registry) and the S3 gateway endpoint (the layers).

The package imports ``http.client``; only the function that reads images imports it, so it adds
nothing to check_database's or prepare_rollout's cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pushgate.image.reference import ImageRef, Platform

if TYPE_CHECKING:
    from pushgate.image.reader import ImageReader, ImageScripts, ImageSettings

__all__ = ["ImageReader", "ImageRef", "ImageScripts", "ImageSettings", "Platform"]

# The reader and what it imports (http.client, ssl, tarfile, the registry and ECR clients: about
# 15 ms of a cold start) load on first use of these names, not with the package: the migrator's
# request needs ImageRef in every mode, and run_migrations with MigrationsSource=bundled never
# reads an image. With MigrationsSource=image the handler asks for ImageReader at cold start.
_READER_NAMES = frozenset({"ImageReader", "ImageScripts", "ImageSettings"})


def __getattr__(name: str) -> Any:
    if name in _READER_NAMES:
        from pushgate.image import reader

        return getattr(reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
