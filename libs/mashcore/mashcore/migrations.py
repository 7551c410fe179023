"""Alembic per service: each service keeps its own ``migrations/`` folder and version table."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

# Alembic keeps its migration context in module globals, so two services migrating at once in
# one process (embedded mode) would share it. Migrations are short: run them one at a time.
_MIGRATION_LOCK = threading.Lock()

# Several replicas (processes) starting together on a fresh database would otherwise race
# their upgrades: both see no version table, both create it, one fails on a unique violation.
# On PostgreSQL they queue on this session-level advisory lock (per database; the key is
# arbitrary but fixed: "MASHMIGR"); on SQLite on an exclusive lock of a file beside the
# database file.
ADVISORY_LOCK_KEY = 0x4D4153484D494752


def upgrade_to_head(engine: Engine, script_location: Path) -> None:
    """Apply the service's migrations to its database, one process at a time."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    with (_MIGRATION_LOCK, engine.connect() as connection, _across_processes(connection),
          connection.begin()):
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def _across_processes(connection: Connection) -> Iterator[None]:
    """Hold the database's migration lock (shared by every process migrating it)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"),
                               {"key": ADVISORY_LOCK_KEY})
            connection.commit()
        return
    database = connection.engine.url.database
    if connection.dialect.name != "sqlite" or not database or database == ":memory:":
        yield  # in-memory: one process only
        return
    with open(f"{database}.migrate-lock", "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def run_env() -> None:
    """Body of every service's ``migrations/env.py``: migrate the connection we are handed."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through mashcore.migrations.upgrade_to_head")
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def create_messaging_tables() -> None:
    """The shared runtime's tables: outbox, inbox, audit log, idempotency keys."""
    from alembic import op

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("published_at", _tz(), nullable=True),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "id"])
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", _tz(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("agency", sa.String(100), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("resource", sa.String(100), nullable=False),
        sa.Column("resource_id", sa.String(200), nullable=False),
        sa.Column("case_reference", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
    )
    op.create_index("ix_audit_log_case", "audit_log", ["case_reference", "at"])
    op.create_table(
        "idempotency_key",
        sa.Column("client", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response_body", sa.Text, nullable=False),
        sa.Column("location", sa.String(500), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
    )


def create_parking_table() -> None:
    """The shared runtime's parked events (mashcore/parking.py), for services that consume."""
    from alembic import op

    op.create_table(
        "parked_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("case_reference", sa.String(64), nullable=False),
        sa.Column("waiting_for", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("source_partition", sa.Integer, nullable=True),
        sa.Column("source_offset", sa.BigInteger, nullable=True),
        sa.Column("key", sa.LargeBinary, nullable=True),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("parked_at", _tz(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_attempt_at", _tz(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.UniqueConstraint("consumer", "event_id", name="uq_parked_event_consumer_event"),
    )
    op.create_index("ix_parked_event_case", "parked_event", ["consumer", "case_reference", "id"])


def add_audit_partnership() -> None:
    """The partnership of the record each audit entry is about, so that a team manager reads
    their partnership's entries only (``GET /v1/audit``). Older entries have none."""
    from alembic import op

    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("partnership", sa.String(100), nullable=True))
    op.create_index("ix_audit_log_partnership_case", "audit_log",
                    ["partnership", "case_reference", "at"])


def drop_audit_partnership() -> None:
    from alembic import op

    op.drop_index("ix_audit_log_partnership_case", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("partnership")




def create_retention_indexes() -> None:
    """Indexes the retention purge (mashcore.retention) deletes by: age of each row."""
    from alembic import op

    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])
    op.create_index("ix_idempotency_key_created_at", "idempotency_key", ["created_at"])
    # Sent outbox rows are found by ix_outbox_unpublished (published_at, id).


def create_pending_outbox_index() -> None:
    """The relay's queue (issue 17): the unsent outbox rows, in id order, and only those.

    The relay claims the first unsent rows in id order. Through ``ix_outbox_unpublished``
    (published_at, id) PostgreSQL found them with a bitmap scan and a sort: every row sent
    since the last vacuum still had its entry there, pointing at a dead row version, and a
    bitmap scan visits each of them again (2.2 ms a claim under the bench, most of
    PostgreSQL's time for the relay). A plain scan of this index marks such entries dead the
    first time it meets them and stops after a batch, however long the backlog."""
    from alembic import op

    op.create_index("ix_outbox_pending", "outbox", ["id"],
                    postgresql_where=sa.text("published_at IS NULL"),
                    sqlite_where=sa.text("published_at IS NULL"))


def drop_pending_outbox_index() -> None:
    """Undo create_pending_outbox_index."""
    from alembic import op

    op.drop_index("ix_outbox_pending", "outbox")


def drop_retention_indexes() -> None:
    """Undo create_retention_indexes."""
    from alembic import op

    op.drop_index("ix_idempotency_key_created_at", "idempotency_key")
    op.drop_index("ix_inbox_processed_at", "inbox")
