"""Consumer pacts: what strategy needs from triage and from MASH enquiries.

From triage's ``threshold.decided``: the route (``strategy_discussion``), the BRAG (urgency),
the manager who decided, when, and the rationale (the reason for the discussion). From MASH
enquiries' ``outcome.decided``: the outcome (``strategy_discussion``), the manager, when, and
the rationale. Each example is fed through strategy's real handlers on a migrated SQLite
file, and must request a discussion about every child of the case. Passing, the pacts are
written to ``contracts/pacts/strategy-{triage,mash-enquiries}.json`` for the providers'
verification (``test_pact_providers_meet_strategys_needs.py``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pact import Pact, match
from sqlmodel import Session, select

from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event, parse_time
from mashcore.migrations import upgrade_to_head
from strategy.handlers import decision_handlers, intake_handlers
from strategy.models import Discussion
from strategy.service import SERVICE as STRATEGY
from tests.contract.test_pact_triage_consumes_intake import (
    PACT_DIR,
    RFC3339,
    as_kafka_message,
    cloudevent_headers,
)
from tests.support import contact_received_event, service_context

THRESHOLD_DECIDED = "mash.triage.threshold.decided.v1"
OUTCOME_DECIDED = "mash.enquiries.outcome.decided.v1"
DECIDED_FOR_STRATEGY = "a red case has been decided for a strategy discussion"
OUTCOME_STRATEGY = "an episode's outcome is a strategy discussion"
USER_ID = r"^[^@\s]{1,128}$"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _headers(event_type: str, source: str, event_id: str, reference: str) -> dict[str, Any]:
    headers = cloudevent_headers(event_id=event_id, case_reference=reference,
                                 time="2026-11-24T10:00:00Z", event_type=event_type)
    headers["ce_source"] = match.regex(source, regex=r"^/mash/[a-z-]+$")
    return headers


def triage_pact() -> Pact:
    pact = Pact("strategy", "triage").with_specification("V4")
    (
        pact.upon_receiving(f"{THRESHOLD_DECIDED} routed to a strategy discussion", "Async")
        .given(DECIDED_FOR_STRATEGY)
        .with_body({
            "route": "strategy_discussion",
            "brag": match.regex("red", regex=r"^(amber|red)$"),
            "decided_at": match.regex("2026-11-24T10:00:00+00:00", regex=RFC3339),
            "decided_by": {"user_id": match.regex("tm-1", regex=USER_ID),
                           "role": match.regex("team_manager", regex=r"^[a-z_]+$")},
            "rationale": match.str("Synthetic: disclosure of harm."),
        }, "application/json")
        .with_metadata(_headers(THRESHOLD_DECIDED, "/mash/triage",
                                "4e5f6071-8293-4a41-9cde-3f4a5b6c7d8e", "MASH-2026-STRATEG1"))
    )
    return pact


def enquiries_pact() -> Pact:
    pact = Pact("strategy", "mash-enquiries").with_specification("V4")
    (
        pact.upon_receiving(f"{OUTCOME_DECIDED} of strategy_discussion", "Async")
        .given(OUTCOME_STRATEGY)
        .with_body({
            "outcome": "strategy_discussion",
            "decided_at": match.regex("2026-11-24T10:00:00+00:00", regex=RFC3339),
            "decided_by": {"user_id": match.regex("tm-1", regex=USER_ID),
                           "role": match.regex("team_manager", regex=r"^[a-z_]+$")},
            "rationale": match.str("Synthetic: answers show significant harm."),
        }, "application/json")
        .with_metadata(_headers(OUTCOME_DECIDED, "/mash/mash-enquiries",
                                "5f607182-93a4-4b52-8def-4a5b6c7d8e9f", "MASH-2026-STRATEG2"))
    )
    return pact


def test_strategy_requests_a_discussion_for_each_message_it_expects_and_writes_the_pacts(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'strategy.sqlite'}")
    upgrade_to_head(engine, STRATEGY.migrations)
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="strategy")
    handle = {**intake_handlers(ctx), **decision_handlers(ctx)}
    seen: list[str] = []

    def apply(event: Event) -> None:
        with unit_of_work(engine) as uow:
            handle[event.type](event, uow)
            uow.commit()

    def consumes(body: str | bytes | None, metadata: dict[str, object]) -> None:
        event = Event.from_message(as_kafka_message(body, metadata))
        apply(contact_received_event(event.subject))
        apply(event)
        with Session(engine) as session:
            [discussion] = session.exec(select(Discussion).where(
                Discussion.case_reference == event.subject)).all()
        assert discussion.status == "requested"
        assert discussion.requested_by == event.data["decided_by"]["user_id"]
        assert discussion.requested_at == parse_time(event.data["decided_at"])
        assert discussion.reason == event.data["rationale"]
        assert json.loads(discussion.child_numbers) == [1]
        assert discussion.trigger == ("threshold_decision" if event.type == THRESHOLD_DECIDED
                                      else "mash_outcome")
        seen.append(event.type)

    for pact in (triage_pact(), enquiries_pact()):
        pact.verify(consumes, "Async")
        pact.write_file(PACT_DIR, overwrite=True)
    assert sorted(seen) == sorted([THRESHOLD_DECIDED, OUTCOME_DECIDED])
    assert (PACT_DIR / "strategy-triage.json").is_file()
    assert (PACT_DIR / "strategy-mash-enquiries.json").is_file()
