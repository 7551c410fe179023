"""A database outage is a 503 with Retry-After on every service, the dashboard stream included.

Issue 12 review: ``tests/integration/test_database_outage.py`` stops PostgreSQL under intake
only. Here each service runs under a real uvicorn on its own real PostgreSQL server, which
is paused; its reads (the audit log every service has, readiness) must answer 503, never 500
or a dropped connection. The SLA dashboard's Server-Sent Events stream answered ``200`` and
then broke off the connection when the database was down as it opened (the first summary
was read only after the response had started), so a browser saw neither a problem nor a
Retry-After: it must be a 503 problem too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from devinfra.postgres import PostgresServer, free_port
from mash_app.services import SERVICE_MODULES, iter_definitions
from mashcore.embedded_bus import EmbeddedBus
from mashcore.service import create_app
from mashcore.settings import Settings
from tests.integration.test_database_outage import own_postgres
from tests.support import auth, eventually, token

__all__ = ["own_postgres"]  # the fixture, shared with test_database_outage

CASE = "MASH-2026-ABCD1234"
MANAGER = auth("team_manager", "local_authority", subject="tm-1")


@contextlib.asynccontextmanager
async def served(service: str, server: PostgresServer, tmp_path: Path) -> AsyncIterator[str]:
    """The service's app under a real uvicorn (its lifespan included) on a free port."""
    server.create_database(service.replace("-", "_"))
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    [definition] = iter_definitions([service])
    settings = Settings(database_url=server.url(service.replace("-", "_")), data_dir=tmp_path)
    app = create_app(definition, settings, bus=bus, manage_bus=False)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on",
                                       log_config=None, timeout_keep_alive=60))
    serving = asyncio.create_task(uv.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, result=uv.started), what="uvicorn started")
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        await serving
        await bus.stop()


def assert_outage(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0


@pytest.mark.parametrize("service", sorted(SERVICE_MODULES))
async def test_every_service_answers_503_while_its_database_is_down(
    own_postgres: PostgresServer, tmp_path: Path, service: str,
) -> None:
    async with served(service, own_postgres, tmp_path) as url, httpx.AsyncClient(
        base_url=url, timeout=30,
    ) as client:
        assert (await client.get("/v1/audit", params={"case_reference": CASE},
                                 headers=MANAGER)).status_code == 200
        await asyncio.to_thread(own_postgres.pause)
        try:
            assert_outage(await client.get("/v1/audit", params={"case_reference": CASE},
                                           headers=MANAGER))
            assert (await client.get("/readyz")).status_code == 503
            metrics = await client.get("/metrics")
            assert metrics.status_code in (200, 503)
            if metrics.status_code == 503:
                assert_outage(metrics)
        finally:
            await asyncio.to_thread(own_postgres.resume)


async def test_the_dashboard_stream_is_a_503_problem_while_the_database_is_down(
    own_postgres: PostgresServer, tmp_path: Path,
) -> None:
    ops = token("ops", "local_authority", subject="ops-1")
    async with served("sla-timekeeper", own_postgres, tmp_path) as url, httpx.AsyncClient(
        base_url=url, timeout=30,
    ) as client:
        await asyncio.to_thread(own_postgres.pause)
        try:
            async with client.stream("GET", "/v1/dashboard/stream",
                                     params={"access_token": ops}) as response:
                await response.aread()
            assert_outage(response)
            assert response.json()["status"] == 503
        finally:
            await asyncio.to_thread(own_postgres.resume)
        async with client.stream("GET", "/v1/dashboard/stream",
                                 params={"access_token": ops}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                assert line == "event: summary"  # the first summary, at once
                break
