"""Repeat detection's blocking-key index on the real PostgreSQL server: the migrations'
backfill, a submission reading only the children that share a key, from the index alone
(no contact row, no submission), and the index's copy of a corrected ``received_at``.

Every person here is invented: synthetic names, dates and postcodes only.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import intake
from intake.checks.repeat_index import ContactMatchKey, candidate_children
from intake.contacts.models import Contact
from intake.contacts.routing import child_keys, link_repeats
from mashcore.db import UnitOfWork, make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.migrations import upgrade_to_head
from mashcore.settings import Settings
from tests.support import auth, running_services, synthetic_referral

MIGRATIONS = Path(intake.__file__).parent / "migrations"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SCHOOL = auth("referrer", "education", subject="school-mis")
POLICE = auth("referrer", "police", subject="police-niche")


def stored(n: int, children: list[dict[str, Any]], postcode: str | None = None,
           days_ago: int = 1) -> Contact:
    submission: dict[str, Any] = {"kind": "referral", "children": children}
    if postcode:
        submission["address"] = {"postcode": postcode}
    return Contact(id=str(uuid.uuid4()), case_reference=f"MASH-2026-T{n:07d}", kind="referral",
                   partnership="coventry", referrer_agency="health", referrer_subject="t",
                   status="received", received_at=NOW - timedelta(days=days_ago),
                   submission=json.dumps(submission))


SIOBHAN = {"first_name": "Siobhan", "last_name": "Testwright", "date_of_birth": "2014-03-07"}
TRANSPOSED = {"first_name": "Siobhan", "last_name": "Testwright", "date_of_birth": "2014-07-03"}
STRANGER = {"first_name": "Harvey", "last_name": "Otherton", "date_of_birth": "2012-01-09"}
SIOBHAN_BORN, TRANSPOSED_BORN, STRANGER_BORN = (
    date.fromisoformat(c["date_of_birth"]) for c in (SIOBHAN, TRANSPOSED, STRANGER))
UNKNOWN = {"first_name": "Unknown", "last_name": "Testwright", "date_of_birth": "2014-03-07"}


def test_the_backfill_indexes_stored_contacts_and_the_lookup_reads_only_shared_keys(
        postgres_server: Any) -> None:
    engine, _config = migrated(postgres_server, "0010_parked_events")
    same_dob = stored(1, [SIOBHAN])
    transposed_same_postcode = stored(2, [STRANGER, TRANSPOSED], postcode="cv1 2ab")
    stranger = stored(3, [STRANGER], postcode="B1 1AA")
    unknown = stored(4, [UNKNOWN])
    too_old = stored(5, [SIOBHAN], days_ago=60)
    with Session(engine, expire_on_commit=False) as session:
        session.add_all([same_dob, transposed_same_postcode, stranger, unknown, too_old])
        session.commit()

    upgrade_to_head(engine, MIGRATIONS)

    with Session(engine) as session:
        keys = {(k.contact_id, k.child_index): k
                for k in session.exec(select(ContactMatchKey)).all()}
        assert (unknown.id, 0) not in keys  # an unknown child can match nothing
        backfilled = keys[(transposed_same_postcode.id, 1)]
        # What scoring needs, as matching.stored_key gives it, and the contact's own time.
        assert (backfilled.first_name, backfilled.last_name, backfilled.postcode) == (
            "siobhan", "testwright", "CV1 2AB")
        assert backfilled.received_at == transposed_same_postcode.received_at
        assert keys[(stranger.id, 0)].postcode == "B1 1AA"
        incoming = stored(6, [SIOBHAN], postcode="CV1 2AB")
        session.add(incoming)
        session.flush()
        found = candidate_children(session, child_keys(json.loads(incoming.submission)),
                                   since=NOW - timedelta(days=30), exclude_id=incoming.id)
        assert {(contact_id, born) for contact_id, _, _, _, born, _ in found} == {
            (same_dob.id, SIOBHAN_BORN), (transposed_same_postcode.id, TRANSPOSED_BORN),
            (transposed_same_postcode.id, STRANGER_BORN)}
        uow = UnitOfWork(session)
        linked = link_repeats(uow, incoming, json.loads(incoming.submission), NOW,
                              timedelta(days=30))
        session.commit()
        assert set(linked) == {same_dob.id, transposed_same_postcode.id}
        # The new contact's own keys were written in the same transaction as its links.
        assert session.get(ContactMatchKey, (incoming.id, 0)) is not None
    engine.dispose()


def migrated(postgres_server: Any, revision: str = "head") -> tuple[Any, Config]:
    """A database of its own, migrated to ``revision``."""
    name = f"t_{uuid.uuid4().hex[:8]}_intake"
    postgres_server.create_database(name)
    engine = make_engine(postgres_server.url(name))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine, config


def submitted(engine: Any, contact: Contact) -> Contact:
    """``contact`` stored and its children indexed, as a submission leaves them."""
    with Session(engine, expire_on_commit=False) as session:
        session.add(contact)
        session.flush()
        link_repeats(UnitOfWork(session), contact, json.loads(contact.submission), NOW,
                     timedelta(days=30))
        session.commit()
    return contact


def vacuum(engine: Any) -> None:
    """Every page of the index's table all-visible, as autovacuum leaves them.

    Vacuumed until VACUUM says so: the test server commits asynchronously, and a page whose
    rows were committed a moment ago can stay not all-visible for that moment (their hint
    bits wait for the commit to reach the disk)."""
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        for _ in range(100):
            connection.exec_driver_sql("VACUUM (ANALYZE) contact_match_key")
            pages, visible = connection.exec_driver_sql(
                "SELECT relpages, relallvisible FROM pg_class "
                "WHERE relname = 'contact_match_key'").one()
            if visible == pages:
                return
            time.sleep(0.05)
        raise AssertionError(f"{visible} of {pages} pages all-visible after 5 s")


def test_the_lookup_reads_the_index_alone_not_the_contacts_or_their_submissions(
        postgres_server: Any) -> None:
    engine, _ = migrated(postgres_server)
    earlier = submitted(engine, stored(1, [SIOBHAN], postcode="CV1 2AB"))
    vacuum(engine)
    selects: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append((statement, parameters))

    with Session(engine) as session:
        incoming = stored(2, [{**SIOBHAN, "first_name": "Shivon"}], postcode="CV1 2AB")
        session.add(incoming)
        session.flush()
        sa_event.listen(Engine, "before_cursor_execute", seen)
        try:
            linked = link_repeats(UnitOfWork(session), incoming,
                                  json.loads(incoming.submission), NOW, timedelta(days=30))
        finally:
            sa_event.remove(Engine, "before_cursor_execute", seen)
        assert linked == [earlier.id]
        [(lookup, parameters)] = selects
        assert "contact_match_key" in lookup
        assert "submission" not in lookup and "FROM contact " not in lookup + " "
        session.rollback()
    vacuum(engine)  # the rolled-back rows' page all-visible again
    with Session(engine) as session:
        # Small tables are scanned whole; the indexes must still be able to answer alone.
        cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + lookup, parameters)
        plan = json.dumps(cursor.fetchone()[0])
    assert plan.count('"Index Only Scan"') == 2, plan  # one range scan per blocking key
    assert '"Heap Fetches": 0' in plan and '"Heap Fetches": 1' not in plan, plan
    engine.dispose()


def test_the_lookup_is_one_statement_whatever_the_number_of_children(
        postgres_server: Any) -> None:
    # Each key's values go as one array parameter: one statement text for a referral of one
    # child or of three, which psycopg prepares once and PostgreSQL plans once (an IN list
    # was a statement of its own for each number of dates).
    engine, _ = migrated(postgres_server)
    earlier = submitted(engine, stored(1, [SIOBHAN], postcode="CV1 2AB"))
    lookups: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "contact_match_key" in statement and statement.lstrip().upper().startswith(
                "SELECT"):
            lookups.append(statement)

    found = []
    sa_event.listen(Engine, "before_cursor_execute", seen)
    try:
        for n, children in ((2, [{**SIOBHAN, "first_name": "Shivon"}]),
                            (3, [STRANGER, TRANSPOSED, {**SIOBHAN, "last_name": "TEST-WRIGHT"}])):
            with Session(engine) as session:
                incoming = stored(n, children, postcode="B1 1AA")
                session.add(incoming)
                session.flush()
                found.append(link_repeats(UnitOfWork(session), incoming,
                                          json.loads(incoming.submission), NOW,
                                          timedelta(days=30)))
                session.rollback()
    finally:
        sa_event.remove(Engine, "before_cursor_execute", seen)
    assert found == [[earlier.id], [earlier.id]]  # a variant first name; a respelt surname
    assert len(lookups) == 2 and lookups[0] == lookups[1], lookups
    engine.dispose()


def test_the_migration_down_and_up_again_keeps_every_stored_childs_keys(
        postgres_server: Any) -> None:
    engine, config = migrated(postgres_server)
    with Session(engine) as session:
        for n, contact in enumerate([stored(1, [SIOBHAN, STRANGER], postcode="cv1 2ab"),
                                     stored(2, [UNKNOWN])]):
            session.add(contact)
            session.flush()
            link_repeats(UnitOfWork(session), contact, json.loads(contact.submission),
                         NOW + timedelta(minutes=n), timedelta(days=30))
        session.commit()
    with Session(engine) as session:
        before = sorted((k.contact_id, k.child_index, k.date_of_birth, k.postcode, k.first_name,
                         k.last_name, k.received_at)
                        for k in session.exec(select(ContactMatchKey)).all())
    assert len(before) == 2
    with engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0011_repeat_match_keys")
        old = sorted(connection.exec_driver_sql(
            "SELECT contact_id, child_index, date_of_birth, postcode FROM contact_match_key"
        ).all())
        assert old == [row[:4] for row in before]
        command.upgrade(config, "head")
    with Session(engine) as session:
        after = sorted((k.contact_id, k.child_index, k.date_of_birth, k.postcode, k.first_name,
                        k.last_name, k.received_at)
                       for k in session.exec(select(ContactMatchKey)).all())
    assert after == before
    engine.dispose()


async def test_a_repeat_is_looked_for_from_the_corrected_time_of_an_earlier_contact(
        postgres_server: Any, tmp_path: Path) -> None:
    # The index keeps a copy of each contact's received_at: a correction must move it, or a
    # contact corrected out of the window would still be linked (and one corrected into it
    # missed).
    name = f"t_{uuid.uuid4().hex[:8]}_intake"
    postgres_server.create_database(name)
    bus = EmbeddedBus(tmp_path / "bus.sqlite")
    await bus.start()
    settings = Settings(database_url=postgres_server.url(name), data_dir=tmp_path,
                        repeat_window_days=3)
    officer = auth("information_officer", "local-authority", subject="io-7")
    now = datetime.now(UTC)

    async def post(body: dict[str, Any], headers: dict[str, str]) -> str:
        response = await client.post("/v1/contacts", json=body, headers=headers)
        assert response.status_code == 202, response.text
        return str(response.json()["contact_id"])

    async def correct(contact_id: str, days_ago: int) -> None:
        response = await client.post(
            f"/v1/contacts/{contact_id}/time-correction", headers=officer,
            json={"received_at": (now - timedelta(days=days_ago)).isoformat(),
                  "reason_code": "recorded_late", "note": "Synthetic: a call written up late."})
        assert response.status_code == 200, response.text

    async def links(contact_id: str) -> list[str]:
        response = await client.get(f"/v1/contacts/{contact_id}", headers=officer)
        return [link["contact_id"] for link in response.json()["linked_contacts"]]

    async with running_services(settings, ["intake"], bus) as clients:
        client = clients["intake"]
        moved_out = await post(synthetic_referral(children=[SIOBHAN]), POLICE)
        await correct(moved_out, days_ago=4)
        kept_in = await post(synthetic_referral(children=[STRANGER]), POLICE)
        await correct(kept_in, days_ago=2)
        assert await links(await post(synthetic_referral(children=[SIOBHAN]), SCHOOL)) == []
        assert await links(await post(synthetic_referral(children=[STRANGER]), SCHOOL)) == [
            kept_in]
    await bus.stop()
