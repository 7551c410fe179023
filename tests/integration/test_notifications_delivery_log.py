"""The delivery log (issue 16): ``GET /v1/notifications`` on the real PostgreSQL server.

Ops see every partnership's notifications, a team manager only their own (in the query);
each listed case is audited under its partnership; no address is ever answered; bad query
values are 422 problems naming the parameter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from mashcore.audit import AuditEntry
from notifications.models import DEAD, SENT, Notification
from tests.support import auth, services_on_postgres

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
OPS = auth("ops", "local_authority", subject="ops-1", partnership="coventry")
TM_COV = auth("team_manager", "local_authority", subject="tm-cov", partnership="coventry")
TM_MED = auth("team_manager", "local_authority", subject="tm-med", partnership="medway")
COV_REF, MED_REF = "MASH-2026-COV00001", "MASH-2026-MED00001"


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path, ["notifications"],
                                    NOW) as running:
        yield running


def _row(reference: str, partnership: str, status: str, minutes: int) -> Notification:
    return Notification(
        id=str(uuid.uuid4()), case_reference=reference, partnership=partnership,
        kind="referrer_acknowledgement", channel="email", recipient_role="referrer",
        recipient_agency="education", caused_by_event_id=str(uuid.uuid4()),
        caused_by_event_type="mash.intake.contact.received.v1", status=status,
        attempts=5 if status == DEAD else 1,
        last_failure_code="provider_unavailable" if status == DEAD else None,
        created_at=NOW - timedelta(minutes=minutes),
        sent_at=NOW if status == SENT else None)


def _seed(system: dict[str, Any]) -> None:
    with Session(system["ctx"]["notifications"].engine) as session:
        session.add(_row(COV_REF, "coventry", DEAD, 30))
        session.add(_row(COV_REF, "coventry", SENT, 20))
        session.add(_row(MED_REF, "medway", DEAD, 10))
        session.commit()


def _audit(system: dict[str, Any], actor: str) -> list[AuditEntry]:
    with Session(system["ctx"]["notifications"].engine) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.actor == actor,
                                                          AuditEntry.resource ==
                                                          "notification")).all())


async def test_ops_see_every_partnership_and_a_manager_only_their_own(
    system: dict[str, Any],
) -> None:
    _seed(system)
    api = system["notifications"]

    dead = await api.get("/v1/notifications", params={"status": "dead"}, headers=OPS)
    assert dead.status_code == 200, dead.text
    assert [(n["case_reference"], n["status"]) for n in dead.json()] == [
        (MED_REF, "dead"), (COV_REF, "dead")]  # newest first
    one = dead.json()[1]
    assert one["attempts"] == 5 and one["last_failure_code"] == "provider_unavailable"
    assert one["recipient_role"] == "referrer" and one["recipient_agency"] == "education"
    assert one["caused_by_event_type"] == "mash.intake.contact.received.v1"
    assert not any("@" in str(v) for n in dead.json() for v in n.values())
    assert {(e.case_reference, e.partnership, e.outcome) for e in _audit(system, "ops-1")} == {
        (COV_REF, "coventry", "allowed"), (MED_REF, "medway", "allowed")}

    mine = await api.get("/v1/notifications", params={"case_reference": COV_REF},
                         headers=TM_COV)
    assert sorted(n["status"] for n in mine.json()) == ["dead", "sent"]
    own_dead = await api.get("/v1/notifications", params={"status": "dead"}, headers=TM_COV)
    assert [n["case_reference"] for n in own_dead.json()] == [COV_REF]

    # Another partnership's case: an empty list, the attempt audited for its owner.
    other = await api.get("/v1/notifications", params={"case_reference": COV_REF},
                          headers=TM_MED)
    assert other.status_code == 200 and other.json() == []
    assert [(e.case_reference, e.partnership, e.outcome)
            for e in _audit(system, "tm-med")] == [(COV_REF, "coventry", "refused")]

    since = await api.get("/v1/notifications", headers=OPS, params={
        "created_since": (NOW - timedelta(minutes=25)).isoformat()})
    assert [n["status"] for n in since.json()] == ["dead", "sent"]


async def test_refuses_other_roles_and_bad_query_values(system: dict[str, Any]) -> None:
    api = system["notifications"]
    school = auth("referrer", "education", subject="school-1", partnership="coventry")
    assert (await api.get("/v1/notifications", params={"status": "dead"},
                          headers=school)).status_code == 403
    for params, field in (({"status": "lost"}, "status"),
                          ({"created_since": "2026-11-24T10:00:00"}, "created_since"),
                          ({"created_since": "1764000000"}, "created_since")):
        answer = await api.get("/v1/notifications", params=params, headers=OPS)
        assert answer.status_code == 422, params
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in answer.text
