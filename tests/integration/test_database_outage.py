"""A database outage is a 503 with Retry-After on a kept connection, never a 500 (issue 12 §3).

Intake runs under a real uvicorn on its own real PostgreSQL server, which the test stops and
starts again; one real httpx client reuses one keep-alive connection throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import mashcore.db
from devinfra.postgres import PostgresServer, free_port, start_postgres
from mash_app.services import iter_definitions
from mashcore.db import make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.outage import is_outage
from mashcore.service import create_app
from mashcore.settings import Settings
from mashcore.topics import INTAKE_CONTACTS
from tests.support import auth, eventually, synthetic_referral

SCHOOL = auth("referrer", "education", subject="school-mis")


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test alone: it is stopped mid-test."""
    server = start_postgres(tmp_path / "pg")
    try:
        yield server
    finally:
        server.stop(mode="immediate")


@contextlib.asynccontextmanager
async def served_intake(server: PostgresServer, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Intake's app under a real uvicorn (its lifespan included) on a free port."""
    server.create_database("intake")
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    [definition] = iter_definitions(["intake"])
    app = create_app(definition, Settings(database_url=server.url("intake"), data_dir=tmp_path),
                     bus=bus, manage_bus=False)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on",
                                       log_config=None, timeout_keep_alive=60))
    serving = asyncio.create_task(uv.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, result=uv.started), what="uvicorn started")
        yield {"url": f"http://127.0.0.1:{port}", "bus": bus}
    finally:
        uv.should_exit = True
        await serving
        await bus.stop()


def local_port(response: httpx.Response) -> int:
    """The client side port of the connection the response came on."""
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


async def test_an_outage_is_a_503_with_retry_after_and_the_retry_is_accepted_once(
    own_postgres: PostgresServer, tmp_path: Path,
) -> None:
    async with served_intake(own_postgres, tmp_path) as intake, httpx.AsyncClient(
        base_url=intake["url"], timeout=30,
        # httpx drops an idle connection after 5 s by default: stopping PostgreSQL on a loaded
        # machine can take longer, and the test would then see a new connection, not a closed one.
        limits=httpx.Limits(max_connections=1, keepalive_expiry=120),
    ) as client:
        before = await client.post("/v1/contacts", json=synthetic_referral(1),
                                   headers={**SCHOOL, "Idempotency-Key": "k-1"})
        assert before.status_code == 202
        connection = local_port(before)

        await asyncio.to_thread(own_postgres.pause)
        referral = synthetic_referral(2)
        during = await client.post("/v1/contacts", json=referral,
                                   headers={**SCHOOL, "Idempotency-Key": "k-2"})
        assert during.status_code == 503, during.text
        assert during.headers["content-type"] == "application/problem+json"
        assert int(during.headers["retry-after"]) > 0
        assert during.json()["status"] == 503
        assert during.headers.get("connection") != "close"
        read = await client.get(f"/v1/contacts/{before.json()['contact_id']}", headers=SCHOOL)
        assert read.status_code == 503
        assert "retry-after" in read.headers
        assert {local_port(during), local_port(read)} == {connection}  # the connection kept

        await asyncio.to_thread(own_postgres.resume)
        retried = await client.post("/v1/contacts", json=referral,
                                    headers={**SCHOOL, "Idempotency-Key": "k-2"})
        assert retried.status_code == 202, retried.text
        assert "idempotent-replayed" not in retried.headers  # the 503 left no record
        again = await client.post("/v1/contacts", json=referral,
                                  headers={**SCHOOL, "Idempotency-Key": "k-2"})
        assert again.status_code == 202
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["contact_id"] == retried.json()["contact_id"]
        assert local_port(again) == connection

        bus: EmbeddedBus = intake["bus"]

        async def received() -> list[str]:
            messages = await asyncio.to_thread(bus._read, "inspector", [INTAKE_CONTACTS], 10_000)
            events = [Event.from_message(m) for m in messages]
            ids = [e.data["contact_id"] for e in events
                   if e.type == "mash.intake.contact.received.v1"]
            return ids if len(set(ids)) >= 2 else []

        # The relay publishes at least once (a batch whose marking the outage cut short is
        # sent again; consumers' inboxes make that exactly once in effect, see tests/e2e).
        ids = await eventually(received, what="both contacts published")
        assert set(ids) == {before.json()["contact_id"], retried.json()["contact_id"]}



@pytest.mark.parametrize("idle_after", [0.0, 1e9])
def test_after_a_restart_an_idle_pooled_connection_is_pinged_and_replaced(
    own_postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch, idle_after: float,
) -> None:
    # Issue 17: no ping before every transaction, only once a connection sat idle past
    # mashcore.db.PING_AFTER_IDLE_SECONDS. Past it, the restart's dead connection is found by
    # the ping and replaced (no error); within it, it is not pinged and its first statement
    # fails as an outage (a 503 in a service) and the pool is invalidated for the next one.
    monkeypatch.setattr(mashcore.db, "PING_AFTER_IDLE_SECONDS", idle_after)
    own_postgres.create_database("pinged")
    engine = make_engine(own_postgres.url("pinged"))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
        own_postgres.pause()
        own_postgres.resume()
        if idle_after == 0.0:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 2")).scalar_one() == 2
        else:
            with pytest.raises(OperationalError) as failed, engine.connect() as connection:
                connection.execute(text("SELECT 2"))
            assert is_outage(failed.value)
            with engine.connect() as connection:  # the pool was invalidated: a new one
                assert connection.execute(text("SELECT 3")).scalar_one() == 3
    finally:
        engine.dispose()
