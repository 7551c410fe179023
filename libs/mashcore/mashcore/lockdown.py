"""Record-level lock-down (DOMAIN.md §3, §10): the named users of a record, kept by every
service that holds a copy of it (intake decides; triage and MASH enquiries follow
``mash.intake.record.locked-down.v1``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, SQLModel


def named_in(data: Mapping[str, Any]) -> list[str]:
    """The users a ``record.locked-down`` event allows: the list in force, minus any named
    as denied (the staff member, even for their own child's record)."""
    denied = set(data.get("denied_user_ids") or [])
    return [user for user in dict.fromkeys(data["allowed_user_ids"]) if user not in denied]


def replace_named_users(session: Session, table: type[SQLModel], key: str, value: str,
                        user_ids: Iterable[str]) -> None:
    """Make ``user_ids`` the whole access list of one record (``table`` has the columns
    ``key`` and ``user_id``); an earlier list is replaced, never merged."""
    session.execute(delete(table).where(getattr(table, key) == value))
    for user_id in dict.fromkeys(user_ids):
        session.add(table(**{key: value, "user_id": user_id}))
