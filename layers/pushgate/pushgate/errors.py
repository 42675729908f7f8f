"""The exception hierarchy. A Lambda raises these; the class name becomes the ASL error name.

The state machine's Retry and Catch blocks key on these names, so renaming one is a breaking
change of the public contract (see docs/design.md, Contracts).
"""

from __future__ import annotations


class PushgateError(Exception):
    """Base of every error pushgate raises on purpose."""


class InvalidRequest(PushgateError):
    """The event or settings are malformed. Nothing was changed. Not retryable."""


class InvalidPush(InvalidRequest):
    """The execution input is not a deployable push of this stack's repository. Its message is
    the reason the run is rejected ("Deployment Rejected"). Nothing was touched."""


class SchemaChangeRejected(InvalidPush):
    """SchemaPolicy enforce: a pending revision breaks the version still serving (the review's
    verdict ``breaks-serving``) and does not accept that rule. Its message names the revision,
    the statement, the rule and the way out. Nothing was migrated; the lock is released."""


class SchemaReviewFailed(PushgateError):
    """The schema change could not be reviewed: squawk is missing, crashed, timed out or did not
    give its JSON report. Never a silent pass: the run fails with nothing migrated."""


class InvalidImage(PushgateError):
    """The pushed image cannot be read, or what it holds is refused (a blob that does not match
    its digest, a path or link that escapes MigrationsPath, a device file, a project over the size
    limit, several alembic heads). Nothing was changed. Not retryable."""


class DatabaseNotReady(PushgateError):
    """The database cannot serve yet: refused, timed out, starting up, in recovery. Retryable."""


class DatabaseConfigError(PushgateError):
    """The database settings are wrong: bad credentials, unknown database, bad secret. Final."""


class MigrationError(PushgateError):
    """Base of the errors raised while moving the schema."""


class MigrationFailed(MigrationError):
    """A revision failed; its transaction was rolled back, the schema is where it started."""


class MigrationLockTimeout(MigrationError):
    """Another run held the migration lock for longer than the bounded wait. Nothing was done."""


class MigrationOutcomeUnknown(MigrationError):
    """The COMMIT of a migration was sent but its reply was lost, and re-reading the version
    table on a new connection could not tell whether it was applied. Nothing is claimed: the
    database is at the run's from_revision or at its to_revision. Not retryable as is."""


class SchemaDrift(MigrationError):
    """The database is not at the revision this run expected. Nothing was done."""


class MigrationTaskError(MigrationError):
    """Base of the task runner's errors (MigrationRunner task): the one-off ECS task that runs
    MigrationCommand in the pushed image."""


class MigrationTaskRunning(MigrationTaskError):
    """The migration container has not exited yet, within MigrationTaskTimeoutSeconds. The state
    machine retries the watch; not a failure."""


class MigrationTaskFailed(MigrationTaskError):
    """The migration container exited non-zero, or the task stopped before it exited. The schema
    may have moved part-way: the run's compensation reads where it is."""


class MigrationTaskTimeout(MigrationTaskError):
    """The migration container was still running after MigrationTaskTimeoutSeconds; the task was
    stopped. The schema may have moved part-way."""


class MigrationTaskNotStarted(MigrationTaskError):
    """ECS never started the migration container (no capacity, an image it could not pull, a
    secret it could not read): nothing ran, nothing was migrated."""


class DowngradeTaskNotRun(MigrationTaskError):
    """compensate_run found a dead task-runner run's schema past its from_revision, or one of
    its tasks never seen to stop, and ran no downgrade task (it runs no ECS task: the downgrade
    is the service's own command, in its image). Its cause says where the schema is and what
    to run."""


class RolloutError(PushgateError):
    """Base of the errors raised while preparing the ECS rollout."""


class ServiceNotFound(RolloutError):
    """The configured ECS cluster or service does not exist (or is not ACTIVE)."""


class ContainerNotFound(RolloutError):
    """The service's task definition has no container with the configured name."""


class HealthDeadlineExceeded(RolloutError):
    """The new version was not healthy within HealthDeadlineSeconds (the health wait's elapsed
    seconds plus its safety polls that ran out). Final: the run rolls back."""


class LockError(PushgateError):
    """Base of the errors raised while taking the deployment lock."""


class DeploymentLockHeld(LockError):
    """Another run of this service holds the deployment lock and is still running. The
    definition retries ("Take the deployment lock" waits a minute and asks again)."""


class DeploymentLockTimeout(LockError):
    """This run has waited longer than its lock wait for another run's deployment lock. Final:
    the run fails with nothing touched."""


class DatabaseLockHeld(LockError):
    """Another execution, of this stack or of another one on the same database, holds the
    database lock of the version table (`pushgate.dblock`) and is still running (or cannot be
    described and its lock has not expired). Nothing was written. The definition retries
    ("Check database" asks again every minute)."""


class DatabaseLockTimeout(LockError):
    """This run has waited longer than its lock wait for another execution's database lock.
    Final: the run fails with nothing migrated."""


class SnapshotError(PushgateError):
    """Base of the errors raised while waiting for the snapshot taken before a migration."""


class SnapshotNotReady(SnapshotError):
    """The snapshot is still being taken. The definition retries ("Wait until the snapshot is
    available" asks again every 30 seconds) until it is available or its deadline passed."""


class SnapshotFailed(SnapshotError):
    """The snapshot failed, was deleted, or cannot be found. Final: the run fails before it
    migrates anything."""


class SnapshotTimedOut(SnapshotError):
    """The snapshot was not available within SnapshotDeadlineSeconds. Final: the run fails before
    it migrates anything (the snapshot itself may still complete; RDS keeps it)."""
