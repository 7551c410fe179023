"""Test helpers: synthetic people, tokens, and polling with a deadline (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy.engine import Engine

from mash_app.services import iter_definitions
from mashcore.auth import DEFAULT_DEV_KEY, Role, issue_dev_token
from mashcore.bus import Bus
from mashcore.clock import Clock, FrozenClock
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.policy import PolicyBook
from mashcore.relay import OutboxRelay
from mashcore.schemas import default_registry
from mashcore.service import ServiceContext, create_app, verifier_from
from mashcore.settings import Settings
from mashcore.topics import TopicNamer

T = TypeVar("T")
_counter = itertools.count(1)


def token(role: Role | str, agency: str = "police", subject: str | None = None,
          partnership: str | None = None, key: str = DEFAULT_DEV_KEY) -> str:
    """A development bearer token."""
    return issue_dev_token(key, subject=subject or f"test-{role}-{agency}", role=Role(role),
                           agency=agency, partnership=partnership)


def auth(role: Role | str, agency: str = "police", **kwargs: Any) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token(role, agency, **kwargs)}"}


def synthetic_referral(n: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A referral about an invented child (synthetic data only)."""
    n = n if n is not None else next(_counter)
    body: dict[str, Any] = {
        "kind": "referral",
        "referrer": {"name": f"Testreferrer {n}", "role": "Designated safeguarding lead",
                     "email": f"dsl{n}@school.example"},
        "children": [{"first_name": "Synthetic", "last_name": f"Child{n}",
                      "date_of_birth": "2015-06-01"}],
        "concern": {"summary": f"Synthetic concern number {n} for testing."},
    }
    body.update(overrides)
    return body


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0,
                     interval: float = 0.05, what: str = "condition") -> T:
    """Poll an async check until it returns a truthy value, or fail after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def eventually_sync(check: Callable[[], T | None], *, timeout: float = 20.0,
                    interval: float = 0.05, what: str = "condition") -> T:
    """Blocking version of eventually()."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@contextlib.asynccontextmanager
async def running_services(
    settings: Settings, services: list[str], bus: Bus, clock: Clock | None = None
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Services' apps in this process with their lifespans running, sharing one bus.

    Yields an httpx client per service, talking to the app in-process (ASGI).
    """
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for definition in iter_definitions(services):
            app = create_app(definition, settings, bus=bus, clock=clock, manage_bus=False)
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[definition.name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                  base_url=f"http://{definition.name}")
            )
        yield clients


@contextlib.asynccontextmanager
async def services_on_postgres(
    postgres_server: Any, tmp_path: Path, services: list[str], now: datetime,
) -> AsyncIterator[dict[str, Any]]:
    """Services in this process, each with its own fresh database on the real PostgreSQL
    server, sharing an embedded bus and a frozen clock set to ``now``.

    Yields the clients by service name, plus ``bus``, ``clock``, ``db_url`` (by service) and
    ``ctx`` (each service's context, by name, for its timers and handlers).
    """
    prefix = f"t_{uuid.uuid4().hex[:8]}"
    db_urls = {}
    for service in services:
        database = f"{prefix}_{service.replace('-', '_')}"
        postgres_server.create_database(database)
        db_urls[service] = postgres_server.url(database)
    settings = Settings(database_url_template=postgres_server.url(f"{prefix}_{{service}}"),
                        data_dir=tmp_path)
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    clock = FrozenClock(now)
    try:
        async with running_services(settings, services, bus, clock) as clients:
            contexts = {name: client._transport.app.state.context  # type: ignore[attr-defined]
                        for name, client in clients.items()}
            yield {"bus": bus, "clock": clock, "db_url": db_urls, "ctx": contexts, **clients}
    finally:
        await bus.stop()


SAMPLE_TIME = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def case_opened_event(case_reference: str = "MASH-2026-AAAAAAAA", **data: Any) -> Event:
    """A valid ``mash.triage.case.opened.v1`` event (identifiers only, no personal data)."""
    body: dict[str, Any] = {
        "case_reference": case_reference,
        "contact_id": "3f2b8c1e-7a4d-4e55-9a61-2c0f4b7d9e10",
        "partnership": "default",
        "status": "awaiting_initial_rating",
        "received_at": SAMPLE_TIME.isoformat(),
        "opened_at": SAMPLE_TIME.isoformat(),
        "threshold_decision_due_at": SAMPLE_TIME.isoformat(),
    }
    body.update(data)
    return Event(type="mash.triage.case.opened.v1", source="/mash/test", subject=case_reference,
                 time=SAMPLE_TIME, recordedtime=SAMPLE_TIME, partnership="default", data=body)


def contact_received_event(case_reference: str, *, contact_id: str | None = None,
                           partnership: str = "default", summary: str = "Synthetic concern.",
                           **children: Any) -> Event:
    """A valid ``mash.intake.contact.received.v1`` event about one synthetic child."""
    child = {"first_name": "Synthetic", "last_name": "Child", "date_of_birth": "2015-06-01",
             "identity_unknown": False, **children}
    return Event(
        type="mash.intake.contact.received.v1", source="/mash/test", subject=case_reference,
        time=SAMPLE_TIME, recordedtime=SAMPLE_TIME, partnership=partnership,
        data={"contact_id": contact_id or "3f2b8c1e-7a4d-4e55-9a61-2c0f4b7d9e10",
              "case_reference": case_reference, "kind": "referral", "partnership": partnership,
              "referrer": {"agency": "education", "role": "DSL"}, "children": [child],
              "concern": {"summary": summary},
              "received_at": SAMPLE_TIME.isoformat()},
    )


def service_context(engine: Engine, bus: Bus, clock: Clock, namespace: str = "",
                    name: str = "triage") -> ServiceContext:
    """A real service context around an engine and a bus (as create_app builds it)."""
    return ServiceContext(name=name, settings=Settings(), engine=engine, bus=bus, clock=clock,
                          registry=default_registry(), topics=TopicNamer(namespace),
                          verifier=verifier_from(Settings()),
                          relay=OutboxRelay(engine, bus, clock), policy=PolicyBook.load())
