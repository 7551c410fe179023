"""Service runtime: the composition root every service uses (app, database, bus, relay, consumers).

A service supplies a ``ServiceDefinition`` (its routers, consumers, migrations, topics); this
module wires the shared plumbing around it, the same way in embedded and Kafka mode.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from sqlalchemy.engine import Engine

from mashcore import topology
from mashcore.auth import DEFAULT_DEV_KEY, AuthConfig, TokenVerifier
from mashcore.bus import Bus, Subscription
from mashcore.clock import Clock, SystemClock
from mashcore.consumer import BatchHandler, EventConsumer, EventHandler, RetryPolicy
from mashcore.db import UnitOfWork, make_engine, unit_of_work
from mashcore.envelope import Event
from mashcore.http_guards import HttpGuards
from mashcore.messages import Message
from mashcore.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from mashcore.metrics import MetricsSource, messaging_metrics, render
from mashcore.migrations import upgrade_to_head
from mashcore.openapi_responses import document_common_responses
from mashcore.outbox import Outbox
from mashcore.parking import ParkingLot
from mashcore.policy import PolicyBook
from mashcore.problems import install_problem_handlers
from mashcore.relay import OutboxRelay
from mashcore.retention import retention_metrics, retention_timer
from mashcore.schemas import SchemaRegistry, default_registry
from mashcore.settings import Settings
from mashcore.tasks import Alarm, WakeableLoop
from mashcore.topics import TopicNamer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    """A consumer of some topics; its name keys the inbox and the consumer group."""

    name: str
    topics: Sequence[str]
    handlers: Callable[[ServiceContext], Mapping[str, EventHandler]]
    # Optional: applies a batch of some of these events at once (mashcore/consumer_batch.py).
    batch_handler: Callable[[ServiceContext], BatchHandler] | None = None
    # True only when every handler reaches the database through the ORM alone (its queries,
    # and its UPDATE and DELETE statements, flush what is pending first): a batch is then
    # flushed once, not after each event, and writes the same in fewer statements.
    orm_only: bool = False


@dataclass(frozen=True)
class TimerSpec:
    """Work a service does on the clock, not on an event: ``run`` is called every
    ``interval`` seconds (in a worker thread) and returns how many things it did; while it
    finds work it is called again at once (a backlog is worked off, not paced). It must
    be safe with several replicas (claim rows with SKIP LOCKED or a version check)."""

    name: str
    run: Callable[[ServiceContext], int]
    interval: float = 15.0
    # Optional: the timer then sleeps until its next work is due (``interval`` at most, the
    # fallback for changes made by other replicas) and is woken when it changes.
    alarm: Callable[[ServiceContext], Alarm] | None = None


@dataclass(frozen=True)
class FeedSpec:
    """A live view of topics for this process only (no inbox, no shared group): every
    replica sees every message, e.g. to push it to the browsers connected to it."""

    name: str
    topics: Sequence[str]
    handler: Callable[[ServiceContext], Callable[[Message], Awaitable[None]]]


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service is: its name, HTTP routes, consumers, migrations and produced topics."""

    name: str
    title: str
    migrations: Path
    routers: Callable[[ServiceContext], Sequence[APIRouter]] = lambda _ctx: ()
    consumers: Sequence[ConsumerSpec] = ()
    produces: Sequence[str] = ()
    description: str = ""
    configure: Callable[[FastAPI, ServiceContext], None] | None = None
    timers: Sequence[TimerSpec] = ()
    feeds: Sequence[FeedSpec] = ()
    metrics: Callable[[ServiceContext], Sequence[MetricsSource]] | None = None


@dataclass
class ServiceContext:
    """Everything a handler needs, created once per service instance."""

    name: str
    settings: Settings
    engine: Engine
    bus: Bus
    clock: Clock
    registry: SchemaRegistry
    topics: TopicNamer
    verifier: TokenVerifier
    relay: OutboxRelay
    policy: PolicyBook
    outbox: Outbox = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.registry, self.topics)

    @property
    def source(self) -> str:
        """The CloudEvents source of this service's events."""
        return f"/mash/{self.name}"

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """A transaction whose commit wakes the outbox relay."""
        return unit_of_work(self.engine, self.relay.notify)

    def emit(self, uow: UnitOfWork, event: Event, topic: str) -> None:
        """Stage an event in the transaction (validated against its contract)."""
        self.outbox.add(uow, event, topic)


def _timer_loop(service: str, spec: TimerSpec, context: ServiceContext) -> WakeableLoop:
    async def step() -> bool:
        done = await asyncio.to_thread(spec.run, context)
        if done:
            log.info("timer ran", service=service, timer=spec.name, count=done)
        return done > 0

    alarm = spec.alarm(context) if spec.alarm is not None else None
    loop = WakeableLoop(f"{service}.{spec.name}", step, spec.interval, stop_timeout=5.0,
                        pause=alarm.seconds_left if alarm is not None else None)
    if alarm is not None:
        alarm.bind(loop.wake_threadsafe)
    return loop


def verifier_from(settings: Settings) -> TokenVerifier:
    """JWKS in production, a development key otherwise."""
    if settings.jwks_url:
        config = AuthConfig(dev_key=None, jwks_url=settings.jwks_url,
                            issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    else:
        if not settings.jwt_dev_key:
            if settings.bus == "kafka":
                # Deployed mode must never fall back to a signing key printed in the README.
                raise RuntimeError("MASH_BUS=kafka needs MASH_JWKS_URL (or, for development, "
                                   "an explicit MASH_JWT_DEV_KEY)")
            log.warning("using the insecure development signing key; set MASH_JWKS_URL")
        config = AuthConfig(dev_key=settings.jwt_dev_key or DEFAULT_DEV_KEY, jwks_url=None,
                            issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    return TokenVerifier(config)


async def get_context(request: Request) -> ServiceContext:
    """FastAPI dependency: the service context of the app serving the request (``async``:
    a plain ``def`` would cost every request a worker-thread hop to read an attribute)."""
    context: ServiceContext = request.app.state.context
    return context


Context = Annotated[ServiceContext, Depends(get_context)]


def create_app(
    definition: ServiceDefinition,
    settings: Settings,
    *,
    bus: Bus,
    clock: Clock | None = None,
    manage_bus: bool = True,
    retry: RetryPolicy | None = None,
) -> FastAPI:
    """A FastAPI app whose lifespan migrates, starts the relay and the consumers, then stops."""
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url_for(definition.name))
    topics = TopicNamer(settings.topic_namespace)
    relay = OutboxRelay(engine, bus, clock)
    context = ServiceContext(
        name=definition.name,
        settings=settings,
        engine=engine,
        bus=bus,
        clock=clock,
        registry=default_registry(),
        topics=topics,
        verifier=verifier_from(settings),
        relay=relay,
        # An invalid pack stops the service here, naming the file, line and field.
        policy=PolicyBook.load(settings.policy_dir),
    )
    readiness: dict[str, Any] = {"ready": False, "subscriptions": []}
    used_topics = [topics(t) for t in topology.topics_of(definition)]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_to_head, engine, definition.migrations)
        if manage_bus:
            await bus.start()
        await bus.ensure_topics(used_topics)
        await relay.start()
        subscriptions: list[Subscription] = []
        parking = ParkingLot(engine, clock, max_age=timedelta(hours=settings.park_max_hours))
        for spec in definition.consumers:
            consumer_name = f"{definition.name}.{spec.name}"
            handler = EventConsumer(
                name=consumer_name, engine=engine, bus=bus, registry=context.registry,
                clock=clock, handlers=spec.handlers(context), retry=retry,
                on_commit=relay.notify, parking=parking, batch_size=settings.consumer_batch,
                batch_handler=(spec.batch_handler(context) if spec.batch_handler is not None
                               else None),
                flush_per_event=not spec.orm_only,
            )
            subscriptions.append(bus.subscribe(
                topics(consumer_name), [topics(t) for t in spec.topics], handler
            ))
        # Started together: a consumer whose topic is missing or whose broker is slow waits up
        # to FIRST_START_S (then keeps trying in the background), and one after another a
        # service with five consumers took five times that to come up.
        await asyncio.gather(*(subscription.start() for subscription in subscriptions))
        readiness["subscriptions"] = subscriptions
        for feed in definition.feeds:
            # A fresh group per process start, from now: a feed is a live view, not a work
            # queue, and need not replay the topic's history.
            subscription = bus.subscribe(
                topics(f"{definition.name}.{feed.name}.{uuid.uuid4().hex}"),
                [topics(t) for t in feed.topics], feed.handler(context), from_now=True)
            await subscription.start()
            subscriptions.append(subscription)
        timers = [_timer_loop(definition.name, spec, context)
                  for spec in [*definition.timers, retention_timer()]]
        if definition.consumers:
            timers.append(parking.loop(definition.name, settings.park_retry_seconds))
        for loop in timers:
            loop.start()
        readiness["ready"] = True
        log.info("service started", service=definition.name, bus=settings.bus)
        try:
            yield
        finally:
            readiness["ready"] = False
            # All at once, each within its own budget (5-6 s), so a service stops within
            # 10 s even while Kafka is unreachable.
            await asyncio.gather(*(loop.stop() for loop in timers),
                                 *(subscription.stop() for subscription in subscriptions),
                                 relay.stop())
            if manage_bus:
                await bus.stop()
            engine.dispose()
            log.info("service stopped", service=definition.name)

    # The API pages are served with their own copy of Swagger UI and ReDoc: hub and partner
    # networks are often closed, and a page that needs a CDN shows nothing there.
    app = FastAPIOffline(title=definition.title, description=definition.description,
                         version="0.1.0", lifespan=lifespan)
    app.state.context = context
    app.state.token_verifier = context.verifier
    install_problem_handlers(app)
    app.add_middleware(HttpGuards, max_body_bytes=settings.max_body_bytes)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness: the process is serving HTTP."""
        return {"status": "ok", "service": definition.name}

    metric_sources = [messaging_metrics(definition.name, context.unit_of_work, clock.now),
                      retention_metrics(definition.name),
                      *(definition.metrics(context) if definition.metrics else ())]

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus metrics: outbox backlog, events handled, and the service's own."""
        return PlainTextResponse(render(metric_sources), media_type=METRICS_CONTENT_TYPE)

    @app.get("/readyz", tags=["operations"], response_model=None, responses={503: {
        "description": "Not ready: starting, or the database does not answer",
        "content": {"application/json": {"schema": {
            "type": "object", "required": ["status"],
            "properties": {"status": {"type": "string"}}}}}}})
    def readyz() -> Any:
        """Readiness: migrated, consuming, and the database answers."""
        # And the bus can publish to and read every topic the service uses (Kafka: a broker
        # answered lately, each topic exists and has leaders) and every consumer is in its
        # group; deploy/README.md lists the checks. (The docstring is the OpenAPI text.)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        if not readiness["ready"]:
            return JSONResponse({"status": "starting"}, status_code=503)
        problems = [*bus.problems(used_topics),
                    *(p for sub in readiness["subscriptions"] for p in sub.problems())]
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return {"status": "ready", "service": definition.name}

    if definition.configure is not None:
        definition.configure(app, context)
    from mashcore.audit_api import router as audit_router  # it needs this module's types

    for router in [*definition.routers(context), audit_router()]:
        app.include_router(router)
    document_common_responses(app)
    return app


def load_definitions(modules: Mapping[str, str],
                     names: Sequence[str]) -> Iterator[ServiceDefinition]:
    """Load the named services' definitions from a registry (name -> module defining
    ``SERVICE``). The deployable's composition root (mash_app.services) holds the registry:
    the shared runtime lists no services."""
    import importlib

    for name in names:
        module = importlib.import_module(modules[name])
        yield module.SERVICE
