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
    consumers=[ConsumerSpec(name="contacts", topics=[INTAKE_CONTACTS], handlers=event_handlers)],
    produces=[TRIAGE_CASES],
)
