"""Request and response types shared by intake's concepts (consultations, transfers in)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

RoleText = Annotated[str, Field(min_length=1, max_length=100)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
LongText = Annotated[str, Field(min_length=1, max_length=20000)]


class HubStaffRef(BaseModel):
    """A member of hub staff by user id and role (never a name)."""

    user_id: str
    role: str
