"""Intake: everything a partner agency sends to the front door."""

from pathlib import Path

from fastapi import FastAPI

from intake import contact_time, index_handlers, referrer_route, triage_handlers
from intake.api import router
from intake.api_index import routers as index_routers
from intake.api_other import routers as other_routers
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
    routers=lambda ctx: [*router(ctx), *other_routers(ctx), *index_routers(ctx),
                         *contact_time.routers(ctx), *referrer_route.routers(ctx)],
    # The open-case index follows strategy: an ended plan closes the case.
    consumers=[ConsumerSpec(name=index_handlers.CONSUMER,
                            topics=[STRATEGY_CASES],
                            handlers=index_handlers.event_handlers),
               # A contact returned at triage's consent gate goes back to its referrer.
               ConsumerSpec(name=triage_handlers.CONSUMER, topics=triage_handlers.TOPICS,
                            handlers=triage_handlers.event_handlers)],
    produces=[INTAKE_CONTACTS],
    configure=configure,
)
