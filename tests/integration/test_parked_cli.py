"""``mash parked`` on the real PostgreSQL: what waits for what, codes only (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mash_app.cli import main
from mash_enquiries.service import SERVICE as ENQUIRIES
from mashcore.clock import FrozenClock
from mashcore.db import make_engine
from mashcore.migrations import upgrade_to_head
from mashcore.parking import ParkingLot
from mashcore.topics import INTAKE_CONTACTS
from tests.support import contact_received_event

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_mash_parked_lists_what_waits_for_what_without_personal_data(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASH_DATABASE_URL", pg_url)
    engine = make_engine(pg_url)
    upgrade_to_head(engine, ENQUIRIES.migrations)
    assert main(["parked"]) == 0
    assert "no parked events" in capsys.readouterr().out

    reference = "MASH-2026-PARKED01"
    event = contact_received_event(reference, first_name="Zebedee")
    ParkingLot(engine, FrozenClock(NOW)).park(
        "mash-enquiries.contacts", event.to_message(INTAKE_CONTACTS), event,
        f"contact:{reference}")
    engine.dispose()
    capsys.readouterr()  # the consumer's own log lines

    assert main(["parked"]) == 0
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if reference in line]
    assert line.split() == ["mash-enquiries.contacts", reference, event.type,
                            f"contact:{reference}", NOW.isoformat(), "0", "-"]
    assert "Zebedee" not in out
