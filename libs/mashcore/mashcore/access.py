"""Need-to-know as SQL (DOMAIN.md §10; OWASP API1, broken object-level authorisation).

Every service reads a child's record through these predicates: the caller's partnership and,
for a partner system, its agency go into the query's WHERE clause, so a record of another
partnership or agency is never loaded at all (never fetch-then-check). A record the caller may
not see is then indistinguishable from a missing one: the answer is a 404 either way.

The caller's scope comes from the token: its ``partnership`` claim, otherwise
``MASH_PARTNERSHIP_DEFAULT``; its ``agency`` and ``role`` claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, false, or_, true
from sqlalchemy.sql.elements import ColumnElement

from mashcore.auth import Principal, Role

__all__ = ["HUB_ROLES", "Scope", "lock_down_visible", "own_agency", "own_partnership",
           "role_in", "scope_of"]

HUB_ROLES = (Role.INFORMATION_OFFICER, Role.TEAM_MANAGER)
"""Hub staff: they see their partnership's records, not only their own agency's."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose records a caller may see: one partnership, one agency, one role."""

    subject: str
    role: Role
    agency: str
    partnership: str

    @property
    def is_hub(self) -> bool:
        return self.role in HUB_ROLES


def scope_of(principal: Principal, partnership_default: str) -> Scope:
    """The caller's scope: the token's partnership, else the deployment's default."""
    return Scope(subject=principal.subject, role=principal.role, agency=principal.agency,
                 partnership=principal.partnership or partnership_default)


def own_partnership(scope: Scope, column: Any) -> ColumnElement[bool]:
    """Rows of the caller's partnership only."""
    predicate: ColumnElement[bool] = column == scope.partnership
    return predicate


def own_agency(scope: Scope, column: Any) -> ColumnElement[bool]:
    """Rows of the caller's agency only."""
    predicate: ColumnElement[bool] = column == scope.agency
    return predicate


def role_in(scope: Scope, *roles: Role) -> ColumnElement[bool]:
    """``true()`` when the caller holds one of ``roles``, else ``false()``."""
    return true() if scope.role in roles else false()


def lock_down_visible(scope: Scope, *, record_key: Any, restricted: Any, named_table: Any,
                      named_key: Any, named_user: Any) -> ColumnElement[bool]:
    """Staff-linked records (DOMAIN.md §1): a locked-down record only for its named users; a
    restricted one not yet locked down only for team managers; anything else for anyone.

    ``record_key`` is the listed row's key column, ``restricted`` its restricted flag (or
    ``false()``), and ``named_table``/``named_key``/``named_user`` the table of named users.
    """
    named_any = exists().select_from(named_table).where(named_key == record_key)
    named_me = exists().select_from(named_table).where(named_key == record_key,
                                                       named_user == scope.subject)
    manager = role_in(scope, Role.TEAM_MANAGER)
    return or_(named_me, and_(~named_any, or_(~restricted, manager)))
