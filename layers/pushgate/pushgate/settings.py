"""Environment variable names: the one place they are spelled.

Each handler validates the ones it needs at cold start (import time), so a misconfigured
function fails on its first invocation with a clear error instead of half-way through a run.
"""

from __future__ import annotations

from typing import Final

# database (check_database, run_migrations)
DATABASE_SECRET_ARN: Final = "DATABASE_SECRET_ARN"  # noqa: S105 - a name; RDS-format JSON secret
DATABASE_URL: Final = "DATABASE_URL"  # locally and in tests
DATABASE_CONNECT_TIMEOUT: Final = "DATABASE_CONNECT_TIMEOUT"  # seconds
DATABASE_SSLMODE: Final = "DATABASE_SSLMODE"  # disable | prefer (default) | require

# migrations (run_migrations)
MIGRATIONS_DIR: Final = "MIGRATIONS_DIR"  # overrides the bundled alembic script directory
MIGRATION_LOCK_TIMEOUT_MS: Final = "MIGRATION_LOCK_TIMEOUT_MS"  # PostgreSQL lock_timeout
MIGRATION_STATEMENT_TIMEOUT_MS: Final = "MIGRATION_STATEMENT_TIMEOUT_MS"  # statement_timeout
MIGRATION_LOCK_WAIT_SECONDS: Final = "MIGRATION_LOCK_WAIT_SECONDS"  # advisory-lock wait bound

# where the scripts come from (run_migrations; pushgate.image)
MIGRATIONS_SOURCE: Final = "MIGRATIONS_SOURCE"  # image (default) | bundled
MIGRATIONS_PATH: Final = "MIGRATIONS_PATH"  # the project's directory inside the image, default /app
IMAGE_MAX_PROJECT_BYTES: Final = "IMAGE_MAX_PROJECT_BYTES"  # size limit of what is extracted
IMAGE_REGISTRY_INSECURE: Final = "IMAGE_REGISTRY_INSECURE"  # true: plain HTTP, loopback only
# offline only (the rehearsal): every image is read from this loopback host:port instead
IMAGE_REGISTRY_ENDPOINT: Final = "IMAGE_REGISTRY_ENDPOINT"

# the schema review (run_migrations' review action; pushgate.review)
SCHEMA_POLICY: Final = "SCHEMA_POLICY"  # enforce | warn (parameter SchemaPolicy); required
SQUAWK_PATH: Final = "SQUAWK_PATH"  # the squawk binary (the squawk layer: /opt/bin/squawk)

# the version table (run_migrations writes it, check_database reads it)
VERSION_TABLE: Final = "VERSION_TABLE"  # default alembic_version
VERSION_TABLE_SCHEMA: Final = "VERSION_TABLE_SCHEMA"  # default: none (through the search_path)
MIGRATION_SEARCH_PATH: Final = (
    "MIGRATION_SEARCH_PATH"  # comma-separated schemas; default: the role's
)

# rollout (prepare_rollout)
CLUSTER_NAME: Final = "CLUSTER_NAME"
SERVICE_NAME: Final = "SERVICE_NAME"
CONTAINER_NAME: Final = "CONTAINER_NAME"

# the task runner (migration_task; MigrationRunner task), with CLUSTER_NAME and CONTAINER_NAME
# and the MIGRATION_*_TIMEOUT_MS above (they become the task's PGOPTIONS)
MIGRATION_COMMAND: Final = "MIGRATION_COMMAND"  # default: alembic upgrade head
MIGRATION_DOWNGRADE_COMMAND: Final = "MIGRATION_DOWNGRADE_COMMAND"  # {from_revision} filled in
MIGRATION_TASK_TIMEOUT_SECONDS: Final = "MIGRATION_TASK_TIMEOUT_SECONDS"  # then stopTask

# the push (describe_push): the repository this stack deploys, its registry's account and region
REPOSITORY_NAME: Final = "REPOSITORY_NAME"
REPOSITORY_ACCOUNT_ID: Final = "REPOSITORY_ACCOUNT_ID"
REPOSITORY_REGION: Final = "REPOSITORY_REGION"

# the deployment lock (take_lock), the serving record (observe_outcome) and the health wait
# (wake_rollout, with CLUSTER_NAME and SERVICE_NAME: item <cluster>/<service>#wake): one table
LOCK_TABLE_NAME: Final = "LOCK_TABLE_NAME"
SERVING_RECORD_ID: Final = "SERVING_RECORD_ID"  # the lock_id of the "#serving" item

# a dead run's compensation (compensate_run); CLUSTER_NAME and SERVICE_NAME as above
DEPLOY_STATE_MACHINE_ARN: Final = "DEPLOY_STATE_MACHINE_ARN"  # the runs it compensates
EVENT_BUS_NAME: Final = "EVENT_BUS_NAME"
ENVIRONMENT_NAME: Final = "ENVIRONMENT_NAME"
RUN_MIGRATIONS_FUNCTION: Final = "RUN_MIGRATIONS_FUNCTION"  # name or ARN: its revert action
RESTORE_PREVIOUS_VERSION: Final = "RESTORE_PREVIOUS_VERSION"  # true | false

# the snapshot before a destructive change (prune_snapshots): which instance or cluster (exactly
# one), how many of pushgate's own snapshots of it to keep, and the marker tag's value that makes
# a snapshot this stack's (<cluster>/<service>)
DATABASE_INSTANCE_ID: Final = "DATABASE_INSTANCE_ID"
DATABASE_CLUSTER_ID: Final = "DATABASE_CLUSTER_ID"
KEEP_SNAPSHOTS: Final = "KEEP_SNAPSHOTS"
SNAPSHOT_MARKER: Final = "SNAPSHOT_MARKER"

# Powertools (read by Powertools itself; named here for the template and the tests)
POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
POWERTOOLS_TRACE_DISABLED: Final = "POWERTOOLS_TRACE_DISABLED"
POWERTOOLS_LOG_LEVEL: Final = "POWERTOOLS_LOG_LEVEL"
