"""The repeat index holds what scoring needs: each stored child's normalised names and a copy
of its contact's ``received_at``, with one covering index per blocking key, so the repeat
lookup reads neither ``contact`` nor a submission (intake/checks/repeat_index.py, issue 17).

The table is rebuilt from the contacts stored (as 0011 built it), now with the new columns.

Revision ID: 0012_repeat_keys_scored
Revises: 0011_repeat_match_keys
"""

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from intake.checks.matching import ChildKey, stored_key
from mashcore.db import UtcDateTime

revision = "0012_repeat_keys_scored"
down_revision = "0011_repeat_match_keys"
branch_labels = None
depends_on = None

BATCH = 2000
_CONTACT = sa.table("contact", sa.column("id", sa.String()),
                    sa.column("received_at", UtcDateTime()), sa.column("submission", sa.Text()))


def _children(submission: str) -> list[ChildKey]:
    """A stored contact's children (as intake/contacts/routing.py's ``child_keys`` reads them)."""
    stored = json.loads(submission)
    postcode = (stored.get("address") or {}).get("postcode")
    return [ChildKey(first_name=child.get("first_name"), last_name=child.get("last_name"),
                     date_of_birth=date.fromisoformat(child["date_of_birth"])
                     if child.get("date_of_birth") else None, postcode=postcode,
                     identity_unknown=bool(child.get("identity_unknown")))
            for child in stored.get("children") or []]


def _rows_now(contact_id: str, received_at: datetime, submission: str) -> list[dict[str, Any]]:
    rows = []
    for index, child in enumerate(_children(submission)):
        key = stored_key(child)
        if key is not None:
            rows.append({"contact_id": contact_id, "child_index": index,
                         "date_of_birth": key.date_of_birth, "postcode": key.postcode,
                         "first_name": key.first_name, "last_name": key.last_name,
                         "received_at": received_at})
    return rows


_COLUMNS_BEFORE = ("contact_id", "child_index", "date_of_birth", "postcode")


def _rows_before(contact_id: str, received_at: datetime,
                 submission: str) -> list[dict[str, Any]]:
    """0011's rows: the same keys without the names and the time."""
    return [{name: row[name] for name in _COLUMNS_BEFORE}
            for row in _rows_now(contact_id, received_at, submission)]


def _backfill(table: sa.Table,
              rows_of: Callable[[str, datetime, str], list[dict[str, Any]]]) -> None:
    bind = op.get_bind()
    last = ""
    while True:
        batch = bind.execute(
            sa.select(_CONTACT.c.id, _CONTACT.c.received_at, _CONTACT.c.submission)
            .where(_CONTACT.c.id > last).order_by(_CONTACT.c.id).limit(BATCH)).all()
        if not batch:
            return
        rows = [row for contact_id, received_at, submission in batch
                for row in rows_of(contact_id, received_at, submission)]
        if rows:
            op.bulk_insert(table, rows)
        last = batch[-1][0]


def _keys_table(*extra: sa.Column[Any]) -> sa.Table:
    return op.create_table(
        "contact_match_key",
        sa.Column("contact_id", sa.String(length=36), sa.ForeignKey("contact.id"),
                  primary_key=True),
        sa.Column("child_index", sa.Integer(), primary_key=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("postcode", sa.String(length=8), nullable=True),
        *extra,
    )


def upgrade() -> None:
    op.drop_index("ix_contact_match_key_postcode", table_name="contact_match_key")
    op.drop_index("ix_contact_match_key_date_of_birth", table_name="contact_match_key")
    op.drop_table("contact_match_key")
    table = _keys_table(sa.Column("first_name", sa.Text(), nullable=False),
                        sa.Column("last_name", sa.Text(), nullable=False),
                        sa.Column("received_at", UtcDateTime(), nullable=False))
    _backfill(table, _rows_now)
    # Key, then the window's column; the rest carried in the index (PostgreSQL), so a
    # lookup is an index-only range scan per key.
    carried = ["contact_id", "child_index", "first_name", "last_name", "date_of_birth",
               "postcode"]
    op.create_index("ix_contact_match_key_dob_window", "contact_match_key",
                    ["date_of_birth", "received_at"],
                    postgresql_include=[c for c in carried if c != "date_of_birth"])
    op.create_index("ix_contact_match_key_postcode_window", "contact_match_key",
                    ["postcode", "received_at"],
                    postgresql_include=[c for c in carried if c != "postcode"])


def downgrade() -> None:
    op.drop_index("ix_contact_match_key_postcode_window", table_name="contact_match_key")
    op.drop_index("ix_contact_match_key_dob_window", table_name="contact_match_key")
    op.drop_table("contact_match_key")
    table = _keys_table()
    _backfill(table, _rows_before)
    op.create_index("ix_contact_match_key_date_of_birth", "contact_match_key",
                    ["date_of_birth"])
    op.create_index("ix_contact_match_key_postcode", "contact_match_key", ["postcode"])
