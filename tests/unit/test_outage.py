"""Which failures are outages (503), and that a 500 carries no exception text (issue 12 §3)."""

from __future__ import annotations

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, UnknownTopicOrPartitionError
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from mashcore.outage import is_outage
from mashcore.problems import install_problem_handlers

pytestmark = pytest.mark.unit

MARKER = "Zq7Marker 2009-04-01"


def _wrapped(outer: Exception, inner: Exception) -> Exception:
    try:
        try:
            raise inner
        except Exception as exc:
            raise outer from exc
    except Exception as raised:
        return raised


@pytest.mark.parametrize("exc", [
    OperationalError("SELECT 1", {}, Exception("connection refused")),
    PoolTimeoutError("QueuePool limit reached"),
    KafkaConnectionError("no broker"),
    UnknownTopicOrPartitionError(),  # retriable: the broker is catching up
    ConnectionRefusedError(),
    ExceptionGroup("task group", [ValueError(), ConnectionResetError()]),
    _wrapped(RuntimeError("while saving"), OperationalError("x", {}, Exception("gone"))),
])
def test_unreachable_infrastructure_is_an_outage(exc: Exception) -> None:
    assert is_outage(exc)


@pytest.mark.parametrize("exc", [
    ValueError(MARKER), KeyError("x"),
    IntegrityError("INSERT", {}, Exception("duplicate key")),
])
def test_bugs_and_bad_data_are_not_outages(exc: Exception) -> None:
    assert not is_outage(exc)


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/bug")
    def bug() -> None:
        raise ValueError(f"invalid literal: {MARKER!r}")

    @app.get("/outage")
    def outage() -> None:
        raise OperationalError("SELECT 1", {}, Exception(f"could not connect {MARKER}"))

    return app


async def test_a_bug_is_a_generic_500_without_exception_text_and_an_outage_a_503() -> None:
    transport = httpx.ASGITransport(app=make_app())  # raise_app_exceptions: none escapes
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        bug = await client.get("/bug")
        outage = await client.get("/outage")
    assert bug.status_code == 500
    assert bug.headers["content-type"] == "application/problem+json"
    assert "retry-after" not in bug.headers
    assert outage.status_code == 503
    assert outage.headers["content-type"] == "application/problem+json"
    assert int(outage.headers["retry-after"]) > 0
    for response in (bug, outage):
        assert MARKER not in response.text
        assert "ValueError" not in response.text and "OperationalError" not in response.text
