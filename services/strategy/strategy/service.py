"""Strategy: strategy discussions and s47 enquiries (DOMAIN.md §2, §7, §8)."""

from pathlib import Path

from mashcore.service import ConsumerSpec, ServiceDefinition
from mashcore.topics import ENQUIRIES_EPISODES, INTAKE_CONTACTS, STRATEGY_CASES, TRIAGE_CASES
from strategy import handlers
from strategy.api import router
from strategy.conferences import transfer_in
from strategy.conferences.api import router as conference_router

SERVICE = ServiceDefinition(
    name="strategy",
    title="MASH Strategy",
    description=(
        "Strategy discussions and section 47 enquiries. A threshold decision or MASH outcome "
        "of `strategy_discussion` requests a discussion, as can a social worker or team "
        "manager on any case; it is scheduled with invitees by role and agency, held, its "
        "s47 decision recorded per child, its minutes signed off by the chair and "
        "circulated; each child's s47 outcome is recorded by the social worker and agreed "
        "by a team manager.\n\n**Authorize** with a bearer token; on a development system "
        "run `.venv/bin/mash-token --role team_manager --agency local_authority "
        "--partnership coventry`."
    ),
    migrations=Path(__file__).parent / "migrations",
    routers=lambda ctx: [*router(ctx), *conference_router(ctx)],
    consumers=[
        ConsumerSpec(name="contacts", topics=[INTAKE_CONTACTS],
                     handlers=lambda ctx: handlers.merged(handlers.intake_handlers(ctx),
                                                          transfer_in.handlers(ctx))),
        ConsumerSpec(name="decisions", topics=[TRIAGE_CASES, ENQUIRIES_EPISODES],
                     handlers=handlers.decision_handlers),
    ],
    produces=[STRATEGY_CASES],
)
