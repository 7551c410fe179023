"""MASH enquiries: partner agency navigators answer information requests; team managers
oversee every episode and decide its outcome (DOMAIN.md §1, §2, §7, §8)."""

from pathlib import Path

from mash_enquiries import chasers, handlers
from mash_enquiries.api import router
from mashcore.service import ConsumerSpec, ServiceDefinition, TimerSpec
from mashcore.topics import ENQUIRIES_EPISODES, INTAKE_CONTACTS, TRIAGE_CASES

SERVICE = ServiceDefinition(
    name="mash-enquiries",
    title="MASH enquiries",
    description=(
        "When a contact is rated Amber or Red, every partner agency is asked what it knows, "
        "within the BRAG timescale, and a team manager decides the outcome from the "
        "answers.\n\n**Navigators**: `GET /v1/requests` is your agency's queue; open a "
        "request, search your systems for the people in it, then answer (or decline). "
        "**Authorize** with a bearer token; on a development system run "
        "`.venv/bin/mash-token --role navigator --agency police --partnership coventry`."
    ),
    migrations=Path(__file__).parent / "migrations",
    routers=router,
    consumers=[
        ConsumerSpec(name="contacts", topics=[INTAKE_CONTACTS],
                     handlers=handlers.intake_handlers),
        ConsumerSpec(name="decisions", topics=[TRIAGE_CASES],
                     handlers=handlers.triage_handlers),
    ],
    produces=[ENQUIRIES_EPISODES],
    timers=[TimerSpec(name="chasers", run=chasers.chase_due_requests, interval=15.0)],
)
