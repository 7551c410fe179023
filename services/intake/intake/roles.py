"""Who may call intake's routes: the principals the routes of every concept declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from mashcore.auth import Principal, Role, require_roles

HubStaff = Annotated[
    Principal, Depends(require_roles(Role.INFORMATION_OFFICER, Role.TEAM_MANAGER))
]
TeamManager = Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER))]
Reader = Annotated[
    Principal,
    Depends(require_roles(Role.REFERRER, Role.INFORMATION_OFFICER, Role.TEAM_MANAGER)),
]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]
