"""Intake: everything a partner agency sends to the front door."""

from pathlib import Path

from fastapi import FastAPI

from intake.checks import api as checks_api
from intake.consultations import api as consultations_api
from intake.contacts import api as contacts_api
from intake.contacts import consumers as contact_consumers
from intake.contacts import dash_on_confirmation, referrer_route, time_corrections
from intake.open_cases import api as open_cases_api
from intake.open_cases import consumers as open_case_consumers
from intake.transfers_in import api as transfers_in_api
from mashcore.ratelimit import RateLimiter
from mashcore.service import ConsumerSpec, ServiceContext, ServiceDefinition
from mashcore.topics import INTAKE_CONTACTS, STRATEGY_CASES


def configure(app: FastAPI, ctx: ServiceContext) -> None:
    """Per-client rate limits for partner systems."""
    app.state.rate_limiter = RateLimiter(capacity=ctx.settings.rate_limit_burst,
                                         refill_per_second=ctx.settings.rate_limit_per_second,
                                         clock=ctx.clock)


SERVICE = ServiceDefinition(
    name="intake",
    title="MASH intake",
    description=(
        "Partner agency systems submit contacts and referrals here, and read back their "
        "own submissions with feedback on what is missing.\n\n"
        "**Authorize** with a bearer token. Production tokens come from your identity "
        "provider; on a development system run "
        "`.venv/bin/mash-token --role referrer --agency education` (or your agency) and paste "
        "the token. Send an `Idempotency-Key` header with every POST so a retry never "
        "creates a second referral."
    ),
    migrations=Path(__file__).parent / "migrations",
    # One package per concept, each with its routes in api.py (the order is the API page's).
    routers=lambda ctx: [*contacts_api.router(ctx), *consultations_api.routers(ctx),
                         *transfers_in_api.routers(ctx), *open_cases_api.routers(ctx),
                         *checks_api.routers(ctx), *time_corrections.routers(ctx),
                         *referrer_route.routers(ctx)],
    # The open-case index follows strategy: an ended plan closes the case.
    consumers=[ConsumerSpec(name=open_case_consumers.CONSUMER,
                            topics=[STRATEGY_CASES],
                            handlers=open_case_consumers.event_handlers),
               # A contact returned at triage's consent gate goes back to its referrer.
               ConsumerSpec(name=contact_consumers.CONSUMER, topics=contact_consumers.TOPICS,
                            handlers=lambda ctx: {
                                **contact_consumers.event_handlers(ctx),
                                # Issue 20: a confirmed domestic-abuse flag asks for the DASH.
                                **dash_on_confirmation.event_handlers(ctx)})],
    produces=[INTAKE_CONTACTS],
    configure=configure,
)
