"""Triage: BRAG ratings, the consent gate and threshold decisions."""

from pathlib import Path

from mashcore.service import ConsumerSpec, ServiceDefinition
from mashcore.topics import INTAKE_CONTACTS, TRIAGE_CASES
from triage.api import router
from triage.handlers import event_handlers

SERVICE = ServiceDefinition(
    name="triage",
    title="MASH triage",
    description="Information officers rate contacts; team managers decide thresholds.",
    migrations=Path(__file__).parent / "migrations",
    routers=router,
    # orm_only: the handlers read and write cases through the ORM alone (handlers.py).
    consumers=[ConsumerSpec(name="contacts", topics=[INTAKE_CONTACTS], handlers=event_handlers,
                            orm_only=True)],
    produces=[TRIAGE_CASES],
)
