"""Notifications: Tells referrers, navigators, attendees and managers what they need to know.

No behaviour yet: the service runs, migrates its database and answers /healthz.
"""

from pathlib import Path

from mashcore.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="notifications",
    title="MASH Notifications",
    description="Tells referrers, navigators, attendees and managers what they need to know.",
    migrations=Path(__file__).parent / "migrations",
)
