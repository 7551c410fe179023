"""The repeat lookup's index: each stored child as matching scores it, found by its blocking
keys (date of birth, full postcode).

Repeat detection used to parse every contact of the repeat window on every submission, so
its cost grew with the contacts stored. Now each contact's identified children leave a row
here, written in the contact's own transaction, and a submission reads only the children
that share a date of birth or a full postcode with one of its children; every match shares
one of the two keys (``intake.checks.matching.blocking_key``), so the links are the same as
a full scan's.

Each row holds what scoring needs (``intake.checks.matching.stored_key``: the normalised
names, the date of birth, the full postcode) and a copy of the contact's ``received_at``, so
the lookup is two index-only range scans (PostgreSQL: each key's index carries the other
columns) and reads neither the contact rows nor their submissions: issue 17 measured the
join to ``contact`` and the parse as most of the lookup's time at 1,000,000 stored contacts.
Hub staff may correct a contact's ``received_at`` later: ``move_received_at`` keeps the
copy in step, in the correction's transaction. Links are made across partnerships as before
(they are filtered when read, README "Repeats across partnerships"), so the lookup takes no
partnership.

Personal data (names, date of birth, postcode): never log a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import cache

from sqlalchemy import Executable, Index, Table, Text, bindparam, union_all, update
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, col

from intake.checks.matching import (
    BLOCKING_SAFE_ABOVE,
    PROBABLE_MATCH_THRESHOLD,
    ChildKey,
    StoredRow,
    blocking_key,
    stored_key,
)
from mashcore.db import among_bound, is_postgres, utc_column
from mashcore.staged import stage

__all__ = ["ContactMatchKey", "StoredRow", "candidate_children", "move_received_at",
           "record_keys"]

assert PROBABLE_MATCH_THRESHOLD > BLOCKING_SAFE_ABOVE, "blocking would miss matches"

# What an index-only scan by either key returns (PostgreSQL INCLUDE; SQLite ignores it).
_CARRIED = ("contact_id", "child_index", "first_name", "last_name", "date_of_birth",
            "postcode")


class ContactMatchKey(SQLModel, table=True):
    """One identified child of a contact: the keys any repeat of that child shares, and what
    scoring it needs."""

    __tablename__ = "contact_match_key"
    # Key, then the window's column: each key's rows in the window are one range of the
    # index, read without visiting the table (see the module docstring).
    __table_args__ = (
        Index("ix_contact_match_key_dob_window", "date_of_birth", "received_at",
              postgresql_include=[c for c in _CARRIED if c != "date_of_birth"]),
        Index("ix_contact_match_key_postcode_window", "postcode", "received_at",
              postgresql_include=[c for c in _CARRIED if c != "postcode"]),
    )

    contact_id: str = Field(primary_key=True, foreign_key="contact.id", max_length=36)
    child_index: int = Field(primary_key=True)
    date_of_birth: date | None = None
    postcode: str | None = Field(default=None, max_length=8)
    first_name: str = Field(sa_type=Text)
    last_name: str = Field(sa_type=Text)
    received_at: datetime = Field(sa_column=utc_column())
    """A copy of ``contact.received_at``, moved with it (``move_received_at``)."""


_TABLE: Table = ContactMatchKey.__table__  # type: ignore[attr-defined]


def record_keys(session: Session, contact_id: str, received_at: datetime,
                children: Sequence[ChildKey]) -> None:
    """Index a new contact's children, in the unit of work that stores the contact: staged,
    written when it commits (``mashcore.staged``; the contact's row, which they refer to, is
    flushed before that). Nothing reads them in that transaction (a contact's own lookup
    leaves out its own rows); as ORM objects they cost a flush of their own, the lookup's
    autoflush (issue 17: about 0.2 ms of intake's CPU per referral)."""
    rows = []
    for index, child in enumerate(children):
        key = stored_key(child)
        if key is not None:
            assert key.first_name is not None and key.last_name is not None
            rows.append({
                "contact_id": contact_id, "child_index": index,
                "date_of_birth": key.date_of_birth, "postcode": key.postcode,
                "first_name": key.first_name, "last_name": key.last_name,
                "received_at": received_at})
    stage(session, _TABLE, rows)


def move_received_at(session: Session, contact_id: str, received_at: datetime) -> None:
    """Keep the index's copy of a contact's corrected ``received_at`` in step (in the
    correction's unit of work)."""
    session.execute(update(ContactMatchKey)
                    .where(col(ContactMatchKey.contact_id) == contact_id)
                    .values(received_at=received_at))


@cache
def _candidates_query(by_date: bool, by_postcode: bool, postgres: bool) -> Executable:
    """The lookup's statement for keys of these kinds, its values bound at execution
    (``dates``, ``postcodes``, ``since``, ``exclude_id``). Built once per shape: SQLAlchemy
    works out a statement's cache key once per statement object (a fresh statement each
    lookup was a few percent of intake's time at 1,000,000 stored contacts, issue 17).

    On PostgreSQL each key's values are one array parameter (``= ANY``, as
    ``mashcore.db.among_bound``): one statement text whatever a referral's number of children,
    with nothing for SQLAlchemy to render at execution; elsewhere an expanding IN.

    One statement: a UNION ALL of a range scan per key, not an OR (which PostgreSQL answers
    with a bitmap scan of the table, not from the indexes). ALL: a child sharing both keys
    with a referral comes back twice and is scored twice alike (``link_repeats`` makes one
    link per contact); removing duplicates would sort every candidate in the server for a
    case that is rare."""
    c = _TABLE.c  # what the index-only scans carry (_CARRIED), in StoredRow's order
    shown = [c.contact_id, c.received_at, c.first_name, c.last_name, c.date_of_birth,
             c.postcode]
    keys = ([among_bound(c.date_of_birth, "dates", postgres=postgres)] if by_date else []) \
        + ([among_bound(c.postcode, "postcodes", postgres=postgres)] if by_postcode else [])
    scans = [sa_select(*shown).where(key, c.received_at >= bindparam("since"),
                                     c.contact_id != bindparam("exclude_id"))
             for key in keys]
    return scans[0] if len(scans) == 1 else union_all(*scans)


def candidate_children(session: Session, children: Sequence[ChildKey], *, since: datetime,
                       exclude_id: str) -> Sequence[StoredRow[str]]:
    """Children of contacts received since ``since`` (other than ``exclude_id``) that could
    be a repeat of one of ``children``: those sharing a date of birth or a full postcode
    with one (a child sharing both, twice), as rows for
    ``intake.checks.matching.find_stored_repeats``."""
    keys = [key for key in map(blocking_key, children) if key is not None]
    dates = sorted({born for born, _ in keys if born is not None})
    postcodes = sorted({postcode for _, postcode in keys if postcode is not None})
    if not keys:
        return []
    connection = session.connection()
    query = _candidates_query(bool(dates), bool(postcodes), is_postgres(connection.engine))
    # On the session's connection: a Core statement needs nothing of the ORM's execution.
    # The rows fetched at once and handed on as they are (each unpacked by position): at
    # 1,000,000 stored contacts some 190 come back per referral, nearly all strangers the
    # name veto turns away before a ChildKey is built (find_stored_repeats; issue 17).
    rows = connection.execute(query, {
        "dates": dates, "postcodes": postcodes, "since": since, "exclude_id": exclude_id})
    return rows.all()  # Rows, each a StoredRow by position
