"""PostgreSQL sessions run in UTC, so timestamps come back in Python's own UTC zone (issue 17:
nothing left for UtcDateTime to convert), whatever the server's default zone, and the instant
is the one stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, select, text

from mashcore.db import UtcDateTime, make_engine


def test_a_timestamp_is_read_in_utc_whatever_the_servers_zone(postgres_server: Any) -> None:
    name = f"t_{uuid.uuid4().hex[:8]}_tz"
    postgres_server.create_database(name)
    engine = make_engine(postgres_server.url(name))
    table = Table("stamps", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", UtcDateTime()))
    written = datetime(2026, 7, 1, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    try:
        with engine.begin() as connection:
            connection.execute(text(f"ALTER DATABASE {name} SET TimeZone = 'Europe/London'"))
            table.create(connection)
            connection.execute(table.insert().values(id=1, at=written))
        engine.dispose()  # new sessions: the database's default zone is now London's
        with engine.connect() as connection:
            assert connection.execute(text("SHOW TimeZone")).scalar() == "UTC"
            raw = connection.exec_driver_sql("SELECT at FROM stamps").scalar()
            read = connection.execute(select(table.c.at)).scalar()
        assert raw.tzinfo is UTC  # the driver's own reading, before any conversion of ours
        assert read == written and read.tzinfo is UTC
    finally:
        engine.dispose()
