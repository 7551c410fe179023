"""Who sees what of a strategy discussion, and one winner for concurrent changes, on the
real PostgreSQL server.

Police and health attendees see the meeting and its minutes, never the case file (the
children's names, the case's other discussions, its s47 enquiries); every read, and every
refusal, is in the audit log. Two chairs' sign-offs of one discussion's minutes forced to
overlap (tests.concurrency): one is signed off, the other is a 409.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

import strategy.access as strategy_access
from mashcore.audit import AuditEntry
from mashcore.auth import Principal, Role
from mashcore.db import make_engine, unit_of_work
from mashcore.problems import ProblemHTTPException
from strategy import discussions
from tests.concurrency import Rendezvous, in_threads
from tests.integration.test_strategy import (
    NOW,
    POLICE,
    SW,
    TM,
    UNINVITED_POLICE,
    held_body,
    red_strategy_discussion,
    schedule_body,
)
from tests.support import auth, services_on_postgres

HEALTH = auth("navigator", "health", subject="hv-1", partnership="coventry")


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path,
                                    ["intake", "triage", "strategy"], NOW) as running:
        yield running


async def held_discussion(system: dict[str, Any]) -> tuple[str, str]:
    reference, meeting = await red_strategy_discussion(system)
    strategy: httpx.AsyncClient = system["strategy"]
    r = await strategy.post(f"/v1/strategy-discussions/{meeting}/schedule", headers=TM,
                            json=schedule_body())
    assert r.status_code == 200, r.text
    system["clock"].advance(hours=6)
    r = await strategy.post(f"/v1/strategy-discussions/{meeting}/held", headers=TM,
                            json=held_body(held_at=(NOW + timedelta(hours=5)).isoformat()))
    assert r.status_code == 200, r.text
    return reference, meeting


def audit_of(system: dict[str, Any], actor: str) -> list[tuple[str, str, str]]:
    engine = make_engine(system["db_url"]["strategy"])
    try:
        with unit_of_work(engine) as uow:
            return [(e.resource, e.resource_id, e.outcome) for e in uow.session.exec(
                select(AuditEntry).where(AuditEntry.actor == actor,
                                         AuditEntry.action == "read"))]
    finally:
        engine.dispose()


async def test_police_and_health_attendees_see_the_meeting_and_minutes_not_the_case_file(
    system: dict[str, Any],
) -> None:
    reference, meeting = await held_discussion(system)
    strategy: httpx.AsyncClient = system["strategy"]
    minutes = {"minutes": "Synthetic minutes."}
    assert (await strategy.post(f"/v1/strategy-discussions/{meeting}/minutes/sign-off",
                                headers=TM, json=minutes)).status_code == 200
    assert (await strategy.post(f"/v1/strategy-discussions/{meeting}/minutes/circulate",
                                headers=TM)).status_code == 200
    staff_view = (await strategy.get(f"/v1/strategy-discussions/{meeting}",
                                     headers=SW)).json()
    assert "children" in staff_view
    for attendee in (POLICE, HEALTH):
        seen = await strategy.get(f"/v1/strategy-discussions/{meeting}", headers=attendee)
        assert seen.status_code == 200, seen.text
        body = seen.json()
        assert body["minutes"]["text"] == "Synthetic minutes."
        assert body["held"]["s47_decisions"] and body["schedule"]["invitees"]
        assert "children" not in body  # no names, dates of birth: the case file is staff's
        enquiry_id = body["held"]["s47_decisions"][0]["s47_enquiry_id"]
        for path in (f"/v1/cases/{reference}/strategy-discussions",
                     f"/v1/cases/{reference}/s47-enquiries", f"/v1/s47-enquiries/{enquiry_id}",
                     "/v1/strategy-discussions"):
            refused = await strategy.get(path, headers=attendee)
            assert refused.status_code in (403, 404), (path, refused.status_code)
    assert (await strategy.get(f"/v1/strategy-discussions/{meeting}",
                               headers=UNINVITED_POLICE)).status_code == 404
    # Every read of the discussion is audited, the refused one too.
    for actor, outcome in (("pc-1", "allowed"), ("hv-1", "allowed"), ("pc-2", "denied")):
        entries = audit_of(system, actor)
        assert ("strategy_discussion", meeting) in {(r, i) for r, i, _ in entries}, actor
        assert {o for r, i, o in entries if i == meeting} != set(), actor
        if outcome == "allowed":
            assert all(o == "allowed" for r, i, o in entries if i == meeting), entries
        else:
            assert all(o != "allowed" for r, i, o in entries if i == meeting), entries


async def test_two_sign_offs_of_one_discussion_s_minutes_at_once_one_wins_one_is_409(
    system: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _reference, meeting = await held_discussion(system)
    ctx = system["ctx"]["strategy"]
    chair = Principal(subject="tm-1", role=Role.TEAM_MANAGER, agency="local_authority",
                      partnership="coventry")
    # Both have loaded the discussion (held, not yet signed off) before either commits,
    # unless the case lock makes the second wait for the first.
    meeting_point = Rendezvous(ctx.engine)
    monkeypatch.setattr(strategy_access, "discussion",
                        meeting_point.wrap(strategy_access.discussion, after=True))

    def sign_off(text: str) -> int:
        try:
            discussions.sign_off_minutes(ctx, chair, meeting, minutes=text)
        except ProblemHTTPException as exc:
            return exc.status_code
        return 200

    results = await asyncio.to_thread(in_threads, lambda: sign_off("Synthetic: first."),
                                      lambda: sign_off("Synthetic: second."))
    assert sorted(results) == [200, 409]
    assert not meeting_point.met  # the second waited for the case, not at the rendezvous
    d = (await system["strategy"].get(f"/v1/strategy-discussions/{meeting}",
                                      headers=TM)).json()
    assert d["status"] == "minutes_signed_off"
    assert d["minutes"]["text"] in ("Synthetic: first.", "Synthetic: second.")
