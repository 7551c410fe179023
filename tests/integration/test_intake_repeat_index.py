"""Repeat detection's blocking-key index on the real PostgreSQL server: the migration's
backfill, and a submission reading only the contacts that share a key.

Every person here is invented: synthetic names, dates and postcodes only.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlmodel import Session, select

import intake
from intake.checks.repeat_index import ContactMatchKey, candidate_contacts
from intake.contacts.models import Contact
from intake.contacts.routing import child_keys, link_repeats
from mashcore.db import UnitOfWork, make_engine
from mashcore.migrations import upgrade_to_head

MIGRATIONS = Path(intake.__file__).parent / "migrations"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


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
UNKNOWN = {"first_name": "Unknown", "last_name": "Testwright", "date_of_birth": "2014-03-07"}


def test_the_backfill_indexes_stored_contacts_and_the_lookup_reads_only_shared_keys(
        postgres_server: Any) -> None:
    name = f"t_{uuid.uuid4().hex[:8]}_intake"
    postgres_server.create_database(name)
    engine = make_engine(postgres_server.url(name))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, "0010_parked_events")
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
        keys = {(k.contact_id, k.child_index): (k.date_of_birth, k.postcode)
                for k in session.exec(select(ContactMatchKey)).all()}
        assert (unknown.id, 0) not in keys  # an unknown child can match nothing
        assert keys[(transposed_same_postcode.id, 1)][1] == "CV1 2AB"
        incoming = stored(6, [SIOBHAN], postcode="CV1 2AB")
        session.add(incoming)
        session.flush()
        found = candidate_contacts(session, child_keys(json.loads(incoming.submission)),
                                   since=NOW - timedelta(days=30), exclude_id=incoming.id)
        assert {c.id for c in found} == {same_dob.id, transposed_same_postcode.id}
        uow = UnitOfWork(session)
        linked = link_repeats(uow, incoming, json.loads(incoming.submission), NOW,
                              timedelta(days=30))
        session.commit()
        assert set(linked) == {same_dob.id, transposed_same_postcode.id}
        # The new contact's own keys were written in the same transaction as its links.
        assert session.get(ContactMatchKey, (incoming.id, 0)) is not None
    engine.dispose()
