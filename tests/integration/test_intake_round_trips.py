"""The SQL round trips of one `POST /v1/contacts` on the real PostgreSQL server (issue 17).

Intake's POST was the bench's limit, mostly waiting on PostgreSQL; each statement is a round
trip. This counts the statements (and commits) one contact and one referral send, so a change
that adds one fails here: a count, never a time. Synthetic people only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg.pq import Trace
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from mash_app.services import iter_definitions
from mashcore.db import make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.migrations import upgrade_to_head
from mashcore.service import create_app
from mashcore.settings import Settings
from tests.support import auth, synthetic_referral

SCHOOL = auth("referrer", "education", subject="school-mis")

# The counts after issue 17's round-trip work, for a contact or a referral about one identified
# child (before it: 8 statements, 11 round trips; see the README's Benchmark section).
MAX_STATEMENTS = {"contact": 7, "referral": 7}
MAX_ROUND_TRIPS = {"contact": 9, "referral": 9}


class Wire:
    """Every connection any pool opens, traced by libpq to its own file: each Sync or simple
    Query the client sends waits for the server once, so these lines are the round trips
    (the pool's pre-ping, BEGIN and COMMIT included, which SQLAlchemy's statement events
    never see)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[Any] = []

    def on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        handle = (self.folder / f"wire-{len(self.files)}.txt").open("w")
        self.files.append(handle)
        dbapi_connection.pgconn.trace(handle.fileno())
        dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)

    def lines(self) -> list[str]:
        """Every round trip so far, in no particular order across connections."""
        found: list[str] = []
        for handle in self.files:
            for line in Path(handle.name).read_text().splitlines():
                fields = line.split("\t")
                if fields[0] == "F" and len(fields) > 2 and fields[2] in ("Sync", "Query"):
                    found.append(" ".join(fields[2:])[:80])
        return found


@contextmanager
def counted(wire: Wire) -> Iterator[dict[str, list[str]]]:
    """The statements (SQLAlchemy's events) and the round trips (the wire) of the block."""
    seen: dict[str, list[str]] = {"statements": [], "round_trips": []}

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen["statements"].append(" ".join(statement.split())[:120])

    before = len(wire.lines())
    sa_event.listen(Engine, "before_cursor_execute", on_statement)
    try:
        yield seen
    finally:
        sa_event.remove(Engine, "before_cursor_execute", on_statement)
        seen["round_trips"] = wire.lines()[before:]


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[Wire]:
    """Traces every PostgreSQL connection opened during the test."""
    traced = Wire(tmp_path)
    sa_event.listen(Pool, "connect", traced.on_connect)
    yield traced
    sa_event.remove(Pool, "connect", traced.on_connect)


@pytest.fixture
def intake_url(postgres_server: Any) -> str:
    """A database of this test's own on the shared PostgreSQL server."""
    name = f"t_{uuid.uuid4().hex[:12]}_intake"
    postgres_server.create_database(name)
    return str(postgres_server.url(name))


@pytest.fixture
def intake_client(intake_url: str, tmp_path: Path, wire: Wire) -> Iterator[TestClient]:
    """Intake's app on its own PostgreSQL database, migrated, without its lifespan: no relay
    or consumer runs, so every statement counted is the request's own."""
    url = intake_url
    [definition] = iter_definitions(["intake"])
    migrator = make_engine(url)
    upgrade_to_head(migrator, definition.migrations)
    migrator.dispose()
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    app = create_app(definition, Settings(database_url=url, data_dir=tmp_path), bus=bus,
                     manage_bus=False)
    client = TestClient(app)
    # A first request warms the pool (its connect and the dialect's first-connect queries).
    assert client.post("/v1/contacts", json=synthetic_referral(900, kind="contact"),
                       headers={**SCHOOL, "Idempotency-Key": "warm"}).status_code == 202
    yield client


def identified(n: int, kind: str = "referral") -> dict[str, Any]:
    """A synthetic referral about an identified invented child with a full postcode, so the
    repeat index is written and searched as for a real one."""
    return synthetic_referral(
        n, kind=kind,
        children=[{"first_name": "Ottoline", "last_name": f"Testbury{n}",
                   "date_of_birth": "2015-06-01"}],
        address={"postcode": "CV1 2AB"})


@pytest.mark.parametrize("kind", ["contact", "referral"])
def test_one_post_sends_no_more_statements_than_counted(intake_client: TestClient,
                                                         kind: str, wire: Wire) -> None:
    with counted(wire) as seen:
        response = intake_client.post(
            "/v1/contacts", json=identified(1, kind),
            headers={**SCHOOL, "Idempotency-Key": f"count-{kind}"})
    assert response.status_code == 202
    statements = seen["statements"]
    assert len(statements) <= MAX_STATEMENTS[kind], "\n".join(statements)
    round_trips = seen["round_trips"]
    assert len(round_trips) <= MAX_ROUND_TRIPS[kind], "\n".join(round_trips)
    assert sum("COMMIT" in r for r in round_trips) == 1, round_trips
    # The contact, its outbox events, its audit entry and its idempotency record are all
    # in the one transaction that committed.
    joined = "\n".join(statements)
    for table in ("INSERT INTO contact ", "INSERT INTO contact_match_key",
                  "SELECT contact_match_key.", "INSERT INTO outbox", "INSERT INTO audit",
                  "INSERT INTO idempotency"):
        assert table in joined, joined
    # The repeat lookup scores the index's rows: no stored contact or submission is read.
    assert not [s for s in statements if s.startswith("SELECT") and "contact." in s], joined


COUNTS = {
    "contact": "SELECT count(*) FROM contact",
    "outbox": "SELECT count(*) FROM outbox",
    "idempotency_key": "SELECT count(*) FROM idempotency_key",
    "audit_log": "SELECT count(*) FROM audit_log",
}


def stored_counts(url: str) -> dict[str, int]:
    """Rows of every table a contact POST writes."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {table: int(connection.execute(text(query)).scalar_one())
                    for table, query in COUNTS.items()}
    finally:
        engine.dispose()


def test_a_retry_replays_the_stored_answer_and_stores_nothing_more(
        intake_client: TestClient, intake_url: str) -> None:
    # Without the lookup first, a retry makes the change again and the key's unique row
    # refuses it at the commit: it must roll back whole and answer what was stored.
    url = intake_url
    body = synthetic_referral(2)
    headers = {**SCHOOL, "Idempotency-Key": "count-retry"}
    before = stored_counts(url)
    first = intake_client.post("/v1/contacts", json=body, headers=headers)
    assert first.status_code == 202
    after_first = stored_counts(url)
    assert all(after_first[table] > before[table] for table in before)
    again = intake_client.post("/v1/contacts", json=body, headers=headers)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    reused = intake_client.post("/v1/contacts", json=synthetic_referral(3), headers=headers)
    assert reused.status_code == 422  # the same key for another request: refused
    assert stored_counts(url) == after_first
