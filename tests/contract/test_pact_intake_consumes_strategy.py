"""Consumer pact: what intake's open-case index needs from strategy's ``plan.ended``.

Intake reads the case reference, when the plan ended and why (``index_handlers.plan_ended``):
a plan closed or stepped down to early help closes the indexed case on the day it ended; a
step-down to a child-in-need plan leaves it open (DOMAIN.md §7). Each example is fed
through intake's real handler on a migrated SQLite file whose index holds the case, and
must close it, or leave it open. Passing, the pact is written to
``contracts/pacts/intake-strategy.json`` for strategy's verification
(``test_pact_strategy_provides_its_conference_events.py``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pact import Pact, match
from sqlmodel import Session

from intake.open_cases.api_models import ChildIdentifiersIn, OpenCaseIn
from intake.open_cases.consumers import PLAN_ENDED, event_handlers
from intake.open_cases.models import OpenCase
from intake.open_cases.service import put_open_case
from intake.service import SERVICE as INTAKE
from mashcore.auth import Principal, Role
from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.migrations import upgrade_to_head
from tests.contract.test_pact_triage_consumes_intake import (
    CASE_REFERENCE,
    PACT_DIR,
    RFC3339,
    as_kafka_message,
    cloudevent_headers,
)
from tests.support import service_context

PLAN_CLOSED = "a review conference has closed a plan"
PLAN_TO_CHILD_IN_NEED = "a review conference has stepped a plan down to a child in need plan"
NOW = datetime(2027, 3, 5, 12, 0, tzinfo=UTC)
ENDED_AT = "2027-03-04T11:00:00+00:00"
CASE_SYSTEM = Principal(subject="case-system-1", role=Role.SERVICE, agency="local_authority",
                        partnership="coventry")


def _headers(reference: str, event_id: str) -> dict[str, Any]:
    headers = cloudevent_headers(event_id=event_id, case_reference=reference, time=ENDED_AT,
                                 event_type=PLAN_ENDED)
    headers["ce_source"] = match.regex("/mash/strategy", regex=r"^/mash/strategy$")
    return headers


def strategy_pact() -> Pact:
    pact = Pact("intake", "strategy").with_specification("V4")
    for description, state, reference, event_id, reason in (
        (f"{PLAN_ENDED} closing the plan", PLAN_CLOSED, "MASH-2026-INTAKE01",
         "93a4b5c6-d7e8-4f90-8a1b-2c3d4e5f6071",
         match.regex("ended", regex=r"^(ended|stepped_down_to_early_help)$")),
        (f"{PLAN_ENDED} stepping down to a child in need plan", PLAN_TO_CHILD_IN_NEED,
         "MASH-2026-INTAKE02", "a4b5c6d7-e8f9-4a0b-9b2c-3d4e5f607182",
         "stepped_down_to_child_in_need"),
    ):
        (
            pact.upon_receiving(description, "Async")
            .given(state)
            .with_body({
                "case_reference": match.regex(reference, regex=CASE_REFERENCE),
                "ended_at": match.regex(ENDED_AT, regex=RFC3339),
                "reason": reason,
            }, "application/json")
            .with_metadata(_headers(reference, event_id))
        )
    return pact


def test_intake_closes_or_keeps_the_indexed_case_on_each_message_and_writes_the_pact(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    upgrade_to_head(engine, INTAKE.migrations)
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="intake")
    handle = event_handlers(ctx)
    seen: list[str] = []

    def consumes(body: str | bytes | None, metadata: dict[str, object]) -> None:
        event = Event.from_message(as_kafka_message(body, metadata))
        reference = str(event.data["case_reference"])
        assert reference == event.subject
        put_open_case(ctx, CASE_SYSTEM, reference, OpenCaseIn(
            child=ChildIdentifiersIn(first_name="Synthetic", last_name="Child"),
            status="open", opened_on=date(2026, 1, 5)))
        with unit_of_work(engine) as uow:
            handle[event.type](event, uow)
            uow.commit()
        with Session(engine) as session:
            case = session.get(OpenCase, {"partnership": event.partnership,
                                          "case_reference": reference})
        assert case is not None
        if event.data["reason"] == "stepped_down_to_child_in_need":
            assert (case.status, case.closed_on) == ("open", None)
        else:
            assert (case.status, case.closed_on, case.last_involvement_ended_on) == (
                "closed", date(2027, 3, 4), date(2027, 3, 4))
        seen.append(str(event.data["reason"]))

    pact = strategy_pact()
    pact.verify(consumes, "Async")
    pact.write_file(PACT_DIR, overwrite=True)
    assert sorted(seen) == ["ended", "stepped_down_to_child_in_need"]
    assert (PACT_DIR / "intake-strategy.json").is_file()
