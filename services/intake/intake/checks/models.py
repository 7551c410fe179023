"""The log of answered requests for checks."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from mashcore.db import utc_column


class AnsweredCheck(SQLModel, table=True):
    """A request for checks the hub answered: who asked and how they were validated.

    Not a contact and not part of any child's record: it holds no child identifiers, no case
    reference and no answer (the audit log records which records the check read).
    """

    __tablename__ = "answered_check"

    check_id: str = Field(primary_key=True, max_length=36)
    answered_at: datetime = Field(sa_column=utc_column(index=True))
    answered_by: str = Field(max_length=128)
    answered_by_role: str = Field(max_length=50)
    partnership: str = Field(max_length=100)
    requester_body: str = Field(max_length=40)
    identity_validated_by: str = Field(max_length=40)
