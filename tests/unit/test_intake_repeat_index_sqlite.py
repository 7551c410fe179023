"""The repeat index on SQLite (the default database of `mash run`): migration 0012 rebuilds it
from stored contacts, the lookup scores its rows, a corrected time moves the window, and the
migration goes down and up again. Synthetic people only."""

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
from intake.checks.repeat_index import ContactMatchKey, move_received_at
from intake.contacts.models import Contact
from intake.contacts.routing import link_repeats
from mashcore.db import UnitOfWork, make_engine

MIGRATIONS = Path(intake.__file__).parent / "migrations"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
SIOBHAN = {"first_name": "Siobhan", "last_name": "Testwright", "date_of_birth": "2014-03-07"}
TRANSPOSED = {"first_name": "Shivon", "last_name": "Testwright", "date_of_birth": "2014-07-03"}


def stored(n: int, children: list[dict[str, Any]], postcode: str | None = None) -> Contact:
    submission: dict[str, Any] = {"kind": "referral", "children": children}
    if postcode:
        submission["address"] = {"postcode": postcode}
    return Contact(id=str(uuid.uuid4()), case_reference=f"MASH-2026-Q{n:07d}", kind="referral",
                   partnership="coventry", referrer_agency="health", referrer_subject="t",
                   status="received", received_at=NOW - timedelta(days=1),
                   submission=json.dumps(submission))


def migrate(engine: Any, config: Config, to: str, down: bool = False) -> None:
    with engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, to)


def linked(engine: Any, n: int) -> list[str]:
    with Session(engine) as session:
        incoming = stored(n, [SIOBHAN], postcode="CV1 2AB")
        session.add(incoming)
        session.flush()
        found = link_repeats(UnitOfWork(session), incoming, json.loads(incoming.submission),
                             NOW, WINDOW)
        session.rollback()
    return found


def test_the_index_is_rebuilt_read_and_moved_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    migrate(engine, config, "0011_repeat_match_keys")
    same_dob, transposed = stored(1, [SIOBHAN]), stored(2, [TRANSPOSED], postcode="cv1 2ab")
    with Session(engine, expire_on_commit=False) as session:
        session.add_all([same_dob, transposed])
        session.commit()
    migrate(engine, config, "head")
    with Session(engine) as session:
        rows = session.exec(select(ContactMatchKey)).all()
        assert {(r.first_name, r.postcode, r.received_at) for r in rows} == {
            ("siobhan", None, same_dob.received_at),
            ("shivon", "CV1 2AB", transposed.received_at)}
    assert sorted(linked(engine, 3)) == sorted([same_dob.id, transposed.id])

    with Session(engine) as session:  # as a time correction does, in its transaction
        move_received_at(session, same_dob.id, NOW - WINDOW - timedelta(days=1))
        session.commit()
    assert linked(engine, 4) == [transposed.id]

    migrate(engine, config, "0011_repeat_match_keys", down=True)
    migrate(engine, config, "head")
    with Session(engine) as session:
        assert len(session.exec(select(ContactMatchKey)).all()) == 2
    engine.dispose()
