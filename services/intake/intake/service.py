"""Intake: everything a partner agency sends to the front door."""

from pathlib import Path

from fastapi import FastAPI

from intake.api import router
from mashcore.ratelimit import RateLimiter
from mashcore.service import ServiceContext, ServiceDefinition
from mashcore.topics import INTAKE_CONTACTS


def configure(app: FastAPI, ctx: ServiceContext) -> None:
    """Per-client rate limits for partner systems."""
    app.state.rate_limiter = RateLimiter(capacity=ctx.settings.rate_limit_burst,
                                         refill_per_second=ctx.settings.rate_limit_per_second,
                                         clock=ctx.clock)


SERVICE = ServiceDefinition(
    name="intake",
    title="MASH intake",
    description="Partner agency systems submit contacts and referrals here.",
    migrations=Path(__file__).parent / "migrations",
    routers=router,
    produces=[INTAKE_CONTACTS],
    configure=configure,
)
