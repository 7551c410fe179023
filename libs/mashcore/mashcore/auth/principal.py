"""Who is calling: the authenticated principal and the roles the MASH recognises."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Principal", "Role"]


class Role(StrEnum):
    """A role carried in the ``role`` claim of a MASH access token."""

    REFERRER = "referrer"
    """A partner agency system posting contacts into the front door."""
    INFORMATION_OFFICER = "information_officer"
    TEAM_MANAGER = "team_manager"
    NAVIGATOR = "navigator"
    SOCIAL_WORKER = "social_worker"
    IRO = "iro"
    """Independent Reviewing Officer."""
    BUSINESS_SUPPORT = "business_support"
    """Organises meetings and takes minutes on a chair's behalf (DOMAIN.md §7)."""
    OPS = "ops"
    SERVICE = "service"
    """Another MASH service calling service-to-service."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller, built from a verified access token."""

    subject: str
    role: Role
    agency: str
    """The caller's agency, e.g. police, health, education, probation, housing."""
    partnership: str | None = None
    """The safeguarding partnership the caller acts for, e.g. coventry."""
    name: str | None = field(default=None, repr=False)
    """A display name; personal data, so it is never logged and kept out of repr."""

    def has_role(self, *roles: Role) -> bool:
        """Return whether this principal holds one of ``roles``."""
        return self.role in roles
