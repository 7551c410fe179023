"""Each partnership's open-case index is its own: keyed on (partnership, case_reference).

Before, the key was the case reference alone, so loading a reference another partnership
held answered 409 "held by another partnership", revealing that it exists elsewhere.

Revision ID: 0009_open_case_per_partnership
Revises: 0008_retention
"""

import warnings

from alembic import op

revision = "0009_open_case_per_partnership"
down_revision = "0008_retention"
branch_labels = None
depends_on = None


def _key(columns: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("open_case_pkey", "open_case", type_="primary")
        op.create_primary_key("open_case_pkey", "open_case", columns)
        return
    # SQLite: copy the table under the new key. SQLAlchemy warns that the copied columns
    # still carry the old key's flag, then uses the new key, which is what is wanted.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*specifies columns .* as primary_key=True")
        with op.batch_alter_table("open_case", recreate="always") as batch:
            batch.create_primary_key("open_case_pkey", columns)


def upgrade() -> None:
    _key(["partnership", "case_reference"])


def downgrade() -> None:
    # Fails (unique violation) if two partnerships now index the same reference: by design,
    # the old key cannot hold both.
    _key(["case_reference"])
