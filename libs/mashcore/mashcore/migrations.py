"""Alembic per service: each service keeps its own ``migrations/`` folder and version table."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Engine

# Alembic keeps its migration context in module globals, so two services migrating at once in
# one process (embedded mode) would share it. Migrations are short: run them one at a time.
_MIGRATION_LOCK = threading.Lock()


def upgrade_to_head(engine: Engine, script_location: Path) -> None:
    """Apply the service's migrations to its database."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    with _MIGRATION_LOCK, engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


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
