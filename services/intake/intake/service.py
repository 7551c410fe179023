"""Intake: everything a partner agency sends to the front door."""

from pathlib import Path

from intake.api import router
from mashcore.service import ServiceDefinition
from mashcore.topics import INTAKE_CONTACTS

SERVICE = ServiceDefinition(
    name="intake",
    title="MASH intake",
    description="Partner agency systems submit contacts and referrals here.",
    migrations=Path(__file__).parent / "migrations",
    routers=router,
    produces=[INTAKE_CONTACTS],
)
