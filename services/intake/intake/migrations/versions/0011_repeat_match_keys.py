"""Repeat detection's blocking keys: each identified child's date of birth and full postcode,
indexed (intake/checks/repeat_index.py), backfilled from the contacts already stored.

Revision ID: 0011_repeat_match_keys
Revises: 0010_parked_events
"""

import json
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op

from intake.checks.matching import ChildKey, blocking_key

revision = "0011_repeat_match_keys"
down_revision = "0010_parked_events"
branch_labels = None
depends_on = None

BATCH = 2000


def _keys(contact_id: str, submission: str) -> list[dict[str, Any]]:
    """The rows for one stored contact (as intake/routing.py's ``child_keys`` reads it)."""
    stored = json.loads(submission)
    postcode = (stored.get("address") or {}).get("postcode")
    rows = []
    for index, child in enumerate(stored.get("children") or []):
        born = child.get("date_of_birth")
        key = blocking_key(ChildKey(
            first_name=child.get("first_name"), last_name=child.get("last_name"),
            date_of_birth=date.fromisoformat(born) if born else None, postcode=postcode,
            identity_unknown=bool(child.get("identity_unknown"))))
        if key is not None:
            rows.append({"contact_id": contact_id, "child_index": index,
                         "date_of_birth": key[0], "postcode": key[1]})
    return rows


def upgrade() -> None:
    table = op.create_table(
        "contact_match_key",
        sa.Column("contact_id", sa.String(length=36), sa.ForeignKey("contact.id"),
                  primary_key=True),
        sa.Column("child_index", sa.Integer(), primary_key=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("postcode", sa.String(length=8), nullable=True),
    )
    op.create_index("ix_contact_match_key_date_of_birth", "contact_match_key",
                    ["date_of_birth"])
    op.create_index("ix_contact_match_key_postcode", "contact_match_key", ["postcode"])
    bind = op.get_bind()
    last = ""
    while True:
        batch = bind.execute(
            sa.text("SELECT id, submission FROM contact WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not batch:
            return
        rows = [row for contact_id, submission in batch for row in _keys(contact_id, submission)]
        if rows:
            op.bulk_insert(table, rows)
        last = batch[-1][0]


def downgrade() -> None:
    op.drop_index("ix_contact_match_key_postcode", table_name="contact_match_key")
    op.drop_index("ix_contact_match_key_date_of_birth", table_name="contact_match_key")
    op.drop_table("contact_match_key")
