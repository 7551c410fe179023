"""Intake's open-case index and requests for checks, on the real PostgreSQL server.

Every person here is invented: synthetic names, dates and staff ids only.
"""

from __future__ import annotations

import asyncio
import json
import typing
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from intake.checks.api_models import IdentityValidatedBy, RequesterBody
from intake.checks.matching import ChildKey
from intake.checks.models import AnsweredCheck
from intake.contacts.models import Contact
from intake.open_cases.lookup import MEDWAY_RECENT_INVOLVEMENT, OpenCaseMatch, find_open_case
from intake.open_cases.models import OpenCase
from mashcore.audit import AuditEntry
from mashcore.clock import FrozenClock
from mashcore.db import make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.inbox import InboxRecord
from mashcore.settings import Settings
from mashcore.topics import INTAKE_CONTACTS, STRATEGY_CASES
from tests.support import auth, eventually, running_services

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
CASE_SYSTEM = auth("service", "local-authority", subject="case-system-1")
IO = auth("information_officer", "local-authority", subject="io-0107")
SCHEMAS = Path(__file__).parents[2] / "contracts" / "events"

CHILD = {"first_name": "Siobhan", "last_name": "Testwright", "date_of_birth": "2016-03-14",
         "postcode": "CV1 9ZZ"}
CHILD_SPELT_OTHERWISE = {"first_name": "Shivon", "last_name": "Testwright",
                         "date_of_birth": "2016-03-14"}
REQUESTER = {"body": "cafcass", "identity_validated_by": "call_back_via_switchboard",
             "active_involvement_confirmed": True}


@pytest.fixture
async def intake(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    name = f"t_{uuid.uuid4().hex[:8]}_intake"
    postgres_server.create_database(name)
    settings = Settings(database_url=postgres_server.url(name), data_dir=tmp_path)
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    async with running_services(settings, ["intake"], bus, clock=FrozenClock(NOW)) as clients:
        yield {"client": clients["intake"], "bus": bus, "settings": settings}
    await bus.stop()


@pytest.fixture
def engine(intake: dict[str, Any]) -> Iterator[Engine]:
    engine = make_engine(intake["settings"].database_url_for("intake"))
    yield engine
    engine.dispose()


def a_case(status: str = "open", **changes: Any) -> dict[str, Any]:
    """A case as the case management system describes it (synthetic)."""
    body: dict[str, Any] = {"child": CHILD, "status": status, "allocated_worker_id": "staff-0315",
                            "allocated_manager_id": "staff-0042", "team": "Synthetic Team A",
                            "opened_on": "2026-01-05"}
    if status == "closed":
        body["closed_on"] = "2026-09-01"
    body.update(changes)
    return body


def a_child(first: str, last: str, born: str, postcode: str | None = None) -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "date_of_birth": born, "postcode": postcode}


def key(child: dict[str, Any]) -> ChildKey:
    born = child.get("date_of_birth")
    return ChildKey(first_name=child["first_name"], last_name=child["last_name"],
                    date_of_birth=date.fromisoformat(born) if born else None,
                    postcode=child.get("postcode"))


def lookup(engine: Engine, child: dict[str, Any], recent_involvement: timedelta | None,
           partnership: str = "default") -> OpenCaseMatch | None:
    with Session(engine) as session:
        return find_open_case(session, key(child), now=NOW,
                              recent_involvement=recent_involvement, partnership=partnership)


def rows(engine: Engine, model: Any) -> list[Any]:
    """Every row of a table, in the order written (audit entries) or by primary key."""
    with Session(engine) as session:
        order = model.id if model is AuditEntry else next(iter(model.__table__.primary_key))
        return list(session.exec(select(model).order_by(order)).all())


async def load(intake: dict[str, Any], reference: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await intake["client"].put(f"/v1/open-cases/{reference}", json=body,
                                          headers=CASE_SYSTEM)
    assert response.status_code in (200, 201), response.text
    stored: dict[str, Any] = response.json()
    return stored


async def published_checks(bus: EmbeddedBus, check_id: str) -> Event:
    """The checks.answered event keyed by this check id, read back from the bus."""
    async def found() -> Event | None:
        messages = await asyncio.to_thread(bus._read, "inspector", [INTAKE_CONTACTS], 1000)
        events = [Event.from_message(m) for m in messages if m.key == check_id.encode()]
        return events[0] if events else None

    return await eventually(found, what="the checks.answered event")


def plan_ended(reference: str, ended_at: datetime, reason: str = "ended") -> Event:
    """Strategy's event: the child protection plan ended (as the strategy service emits it)."""
    data: dict[str, Any] = {
        "case_reference": reference, "plan_id": str(uuid.uuid4()), "reason": reason,
        "review_meeting_id": str(uuid.uuid4()), "ended_at": ended_at.isoformat(),
    }
    return Event(type="mash.strategy.plan.ended.v1", source="/mash/strategy", subject=reference,
                 time=ended_at, recordedtime=ended_at, partnership="default", data=data)


# --- The index and the lookup ----------------------------------------------------------------


async def test_a_loaded_case_is_found_again_under_a_spelling_variant_of_the_childs_name(
    intake: dict[str, Any], engine: Engine,
) -> None:
    first = await load(intake, "MASH-2026-K7QX3MZP", a_case())
    again = await load(intake, "MASH-2026-K7QX3MZP", a_case())

    assert first["outcome"] == "created"
    assert again["outcome"] == "unchanged"
    assert "Siobhan" not in json.dumps(first)  # the loader is told identifiers, not details
    match = lookup(engine, CHILD_SPELT_OTHERWISE, recent_involvement=None)
    assert match is not None
    assert (match.case_reference, match.allocated_worker_id, match.reason) == (
        "MASH-2026-K7QX3MZP", "staff-0315", "open_case")
    assert match.allocated_manager_id == "staff-0042"
    assert match.last_involvement_ended_on is None
    twin = a_child("Sinead", "Testwright", "2016-03-14", "CV1 9ZZ")
    assert lookup(engine, twin, recent_involvement=MEDWAY_RECENT_INVOLVEMENT) is None
    writes = [(a.action, a.resource, a.case_reference, a.actor) for a in rows(engine, AuditEntry)]
    assert writes == [("write", "open_case", "MASH-2026-K7QX3MZP", "case-system-1")] * 2


async def test_a_date_of_birth_with_day_and_month_swapped_matches_only_with_the_postcode(
    intake: dict[str, Any], engine: Engine,
) -> None:
    await load(intake, "CMS-SWAP001", a_case(child=a_child("Kaitlyn", "Testwright",
                                                           "2016-03-07", "CV1 9ZZ")))

    swapped = a_child("Caitlin", "Testwright", "2016-07-03", "CV1 9ZZ")
    assert lookup(engine, swapped, recent_involvement=None) is not None
    assert lookup(engine, {**swapped, "postcode": None}, recent_involvement=None) is None


async def test_a_reload_with_a_new_worker_replaces_what_the_index_held(
    intake: dict[str, Any], engine: Engine,
) -> None:
    await load(intake, "CMS-000123", a_case())
    replaced = await load(intake, "CMS-000123", a_case(allocated_worker_id="staff-0777"))

    assert replaced["outcome"] == "updated"
    match = lookup(engine, CHILD, recent_involvement=None)
    assert match is not None
    assert match.allocated_worker_id == "staff-0777"


async def test_a_case_closed_within_twelve_weeks_names_the_worker_only_when_the_policy_is_on(
    intake: dict[str, Any], engine: Engine,
) -> None:
    ended = TODAY - timedelta(weeks=12)  # the last day the 12-week rule still covers
    await load(intake, "CMS-RECENT1", a_case("closed", closed_on=ended.isoformat()))

    on = lookup(engine, CHILD_SPELT_OTHERWISE, recent_involvement=MEDWAY_RECENT_INVOLVEMENT)
    off = lookup(engine, CHILD_SPELT_OTHERWISE, recent_involvement=None)

    assert on is not None
    assert (on.case_reference, on.allocated_worker_id, on.reason, on.last_involvement_ended_on) \
        == ("CMS-RECENT1", "staff-0315", "recent_involvement_12_weeks", ended)
    assert off is None


async def test_a_case_closed_longer_than_twelve_weeks_ago_is_not_recent_involvement(
    intake: dict[str, Any], engine: Engine,
) -> None:
    ended = TODAY - timedelta(weeks=12, days=1)
    await load(intake, "CMS-OLDER01", a_case("closed", closed_on="2026-06-01",
                                             last_involvement_ended_on=ended.isoformat()))

    assert lookup(engine, CHILD, recent_involvement=MEDWAY_RECENT_INVOLVEMENT) is None
    assert lookup(engine, CHILD, recent_involvement=timedelta(weeks=13)) is not None


async def test_an_open_case_wins_over_a_recently_closed_one(
    intake: dict[str, Any], engine: Engine,
) -> None:
    await load(intake, "CMS-CLOSED1", a_case("closed", closed_on=TODAY.isoformat(),
                                             allocated_worker_id="staff-0001"))
    await load(intake, "CMS-OPEN001", a_case(allocated_worker_id="staff-0002"))

    match = lookup(engine, CHILD_SPELT_OTHERWISE, recent_involvement=MEDWAY_RECENT_INVOLVEMENT)

    assert match is not None
    assert (match.case_reference, match.reason) == ("CMS-OPEN001", "open_case")


async def test_a_bulk_load_stores_every_case_or_none(
    intake: dict[str, Any], engine: Engine,
) -> None:
    cases = [{"case_reference": f"CMS-BULK{n:03d}",
              **a_case(child=a_child("Synthetic", f"Bulkchild{n}", "2015-06-01"))}
             for n in range(3)]
    client = intake["client"]

    first = await client.post("/v1/open-cases:bulk", json={"cases": cases}, headers=CASE_SYSTEM)
    again = await client.post("/v1/open-cases:bulk", json={"cases": cases}, headers=CASE_SYSTEM)
    broken = [*cases, {**cases[0], "case_reference": "CMS-BULK999",
                       "child": {**cases[0]["child"], "date_of_birth": "not a date"}}]
    refused = await client.post("/v1/open-cases:bulk", json={"cases": broken},
                                headers=CASE_SYSTEM)
    twice = await client.post("/v1/open-cases:bulk", json={"cases": [cases[0], cases[0]]},
                              headers=CASE_SYSTEM)

    assert first.json() == {"created": 3, "updated": 0, "unchanged": 0}
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 3}
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["cases[3].child.date_of_birth"]
    assert twice.status_code == 422
    assert sorted(c.case_reference for c in rows(engine, OpenCase)) == [
        "CMS-BULK000", "CMS-BULK001", "CMS-BULK002"]


async def test_each_partnerships_index_is_its_own_and_reveals_nothing_of_another(
    intake: dict[str, Any], engine: Engine,
) -> None:
    """Keyed on (partnership, case_reference): a reference another partnership holds is
    answered exactly like a new one (no 409 "held by another partnership"), and neither
    index sees or changes the other's case."""
    coventry = auth("service", "local-authority", subject="cms-cov", partnership="coventry")
    medway = auth("service", "local-authority", subject="cms-med", partnership="medway")
    medway_child = a_child("Synthetic", "Medwaychild", "2015-05-05")
    stored = await intake["client"].put("/v1/open-cases/CMS-COV0001", json=a_case(),
                                        headers=coventry)
    held_elsewhere = await intake["client"].put(
        "/v1/open-cases/CMS-COV0001", json=a_case(child=medway_child), headers=medway)
    never_used = await intake["client"].put(
        "/v1/open-cases/CMS-MED0002", json=a_case(child=medway_child), headers=medway)
    checked = await intake["client"].post(
        "/v1/checks", json={"requester": REQUESTER, "child": CHILD},
        headers=auth("information_officer", "local-authority", partnership="medway"))

    assert stored.status_code == 201
    # Nothing tells medway that coventry holds CMS-COV0001: the same answer as a new one.
    assert (held_elsewhere.status_code, held_elsewhere.json()["outcome"]) == (201, "created")
    assert ({k: v for k, v in held_elsewhere.json().items() if k != "case_reference"}
            == {k: v for k, v in never_used.json().items() if k != "case_reference"})
    assert checked.json()["facts"]["known"] is False
    by_partnership = {(c.partnership, c.case_reference): c.first_name
                      for c in rows(engine, OpenCase)}
    assert by_partnership == {("coventry", "CMS-COV0001"): "Siobhan",
                              ("medway", "CMS-COV0001"): "Synthetic",
                              ("medway", "CMS-MED0002"): "Synthetic"}
    # Each partnership's audit entries name only its own index.
    assert not [a for a in rows(engine, AuditEntry) if a.outcome == "refused"]
    # A contact about coventry's child sent in medway finds no open case there.
    assert lookup(engine, CHILD, recent_involvement=None, partnership="coventry") is not None
    with Session(engine) as session:
        assert find_open_case(session, key(CHILD), now=NOW, recent_involvement=None,
                              partnership="medway") is None


async def test_an_ended_plan_closes_only_its_own_partnerships_case(
    intake: dict[str, Any], engine: Engine,
) -> None:
    for partnership in ("default", "medway"):
        stored = await intake["client"].put(
            "/v1/open-cases/MASH-2026-TW0P4RTS", json=a_case(),
            headers=auth("service", "local-authority", subject=f"cms-{partnership}",
                         partnership=partnership))
        assert stored.status_code == 201
    ended_at = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    await intake["bus"].publish([plan_ended("MASH-2026-TW0P4RTS", ended_at).to_message(
        STRATEGY_CASES)])

    def statuses() -> dict[str, str] | None:
        found = {c.partnership: c.status for c in rows(engine, OpenCase)}
        return found if found.get("default") == "closed" else None

    assert await eventually(lambda: asyncio.to_thread(statuses),
                            what="the case closed") == {"default": "closed", "medway": "open"}


# --- Events ------------------------------------------------------------------------------------


async def test_an_ended_plan_closes_the_case_and_starts_the_twelve_weeks(
    intake: dict[str, Any], engine: Engine,
) -> None:
    await load(intake, "MASH-2026-B4TR7WQ2", a_case())
    ended_at = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)

    await intake["bus"].publish([plan_ended("MASH-2026-B4TR7WQ2", ended_at).to_message(
        STRATEGY_CASES)])

    def closed() -> OpenCase | None:
        with Session(engine) as session:
            case = session.get(OpenCase, {"partnership": "default",
                                          "case_reference": "MASH-2026-B4TR7WQ2"})
            return case if case is not None and case.status == "closed" else None

    case = await eventually(lambda: asyncio.to_thread(closed), what="the case closed")
    assert (case.closed_on, case.last_involvement_ended_on) == (date(2026, 11, 20),) * 2
    recent = lookup(engine, CHILD_SPELT_OTHERWISE, recent_involvement=MEDWAY_RECENT_INVOLVEMENT)
    assert recent is not None
    assert (recent.reason, recent.allocated_worker_id, recent.last_involvement_ended_on) == (
        "recent_involvement_12_weeks", "staff-0315", date(2026, 11, 20))
    assert lookup(engine, CHILD, recent_involvement=None) is None
    consumer_writes = [a.actor for a in rows(engine, AuditEntry)
                       if a.actor.startswith("intake.")]
    assert consumer_writes == ["intake.strategy-cases"]


async def test_a_step_down_to_a_child_in_need_plan_leaves_the_case_open(
    intake: dict[str, Any], engine: Engine,
) -> None:
    await load(intake, "MASH-2026-C5DN8XR3", a_case())
    event = plan_ended("MASH-2026-C5DN8XR3", NOW, reason="stepped_down_to_child_in_need")

    await intake["bus"].publish([event.to_message(STRATEGY_CASES)])

    def handled() -> bool:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(InboxRecord).where(
                col(InboxRecord.event_id) == event.id)).one() == 1

    await eventually(lambda: asyncio.to_thread(handled), what="the event handled")
    match = lookup(engine, CHILD, recent_involvement=None)
    assert match is not None
    assert match.reason == "open_case"


# --- Requests for checks ---------------------------------------------------------------------


async def test_a_check_answers_only_the_four_facts_and_records_no_contact(
    intake: dict[str, Any], engine: Engine,
) -> None:
    await load(intake, "CMS-SIB0001", a_case(child=a_child("Aiden", "Testwright", "2013-02-02")))
    await load(intake, "CMS-SIB0002", a_case(
        "closed", child=a_child("Millie", "Testwright", "2011-08-09")))
    await load(intake, "CMS-CHILD01", a_case(siblings=["CMS-SIB0001", "CMS-SIB0002",
                                                       "CMS-NOTHELD"]))

    response = await intake["client"].post(
        "/v1/checks", json={"requester": REQUESTER, "child": CHILD_SPELT_OTHERWISE}, headers=IO)

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"check_id", "answered_at", "facts"}
    assert answer["facts"] == {
        "known": True, "case_status": "open", "allocated_social_worker_id": "staff-0315",
        "allocated_manager_id": "staff-0042",
        "siblings": [{"case_open": True}, {"case_open": False}, {"case_open": False}],
    }
    for never in ("CMS-", "Testwright", "Siobhan", "Synthetic Team", "2016-03-14", "CV1"):
        assert never not in response.text
    assert rows(engine, Contact) == []
    event = await published_checks(intake["bus"], answer["check_id"])
    assert event.subject == answer["check_id"]
    assert event.data["facts"] == answer["facts"]
    assert event.data["requester"] == REQUESTER
    assert event.data["answered_by"] == "io-0107"
    assert "CMS-" not in json.dumps(dict(event.data))
    reads = [(a.action, a.resource_id, a.case_reference) for a in rows(engine, AuditEntry)
             if a.resource == "check"]
    assert reads == [("read", answer["check_id"], ref)
                     for ref in ("CMS-CHILD01", "CMS-SIB0001", "CMS-SIB0002")]
    [logged] = rows(engine, AnsweredCheck)
    assert (logged.requester_body, logged.identity_validated_by, logged.answered_by) == (
        "cafcass", "call_back_via_switchboard", "io-0107")


async def test_a_check_on_a_closed_case_names_no_worker(
    intake: dict[str, Any],
) -> None:
    await load(intake, "CMS-CLOSED2", a_case("closed"))

    response = await intake["client"].post(
        "/v1/checks", json={"requester": {**REQUESTER, "body": "police"}, "child": CHILD},
        headers=auth("team_manager", "local-authority", subject="tm-0042"))

    assert response.json()["facts"] == {
        "known": True, "case_status": "closed", "allocated_social_worker_id": None,
        "allocated_manager_id": None, "siblings": []}
    await published_checks(intake["bus"], response.json()["check_id"])  # valid against schema


async def test_a_check_on_an_unknown_child_says_so_and_audits_the_search(
    intake: dict[str, Any], engine: Engine,
) -> None:
    await load(intake, "CMS-OTHER01", a_case())
    body = {"requester": {**REQUESTER, "body": "other_local_authority",
                          "identity_validated_by": "secure_email_from_listed_body"},
            "child": a_child("Synthetic", "Unknownchild", "2019-01-01")}

    response = await intake["client"].post("/v1/checks", json=body, headers=IO)

    assert response.json()["facts"] == {
        "known": False, "case_status": None, "allocated_social_worker_id": None,
        "allocated_manager_id": None, "siblings": []}
    [read] = [a for a in rows(engine, AuditEntry) if a.resource == "check"]
    assert (read.outcome, read.case_reference) == ("not_found", None)
    await published_checks(intake["bus"], response.json()["check_id"])


async def test_a_requester_body_not_on_the_list_is_refused_naming_the_field(
    intake: dict[str, Any], engine: Engine,
) -> None:
    unlisted = {"requester": {**REQUESTER, "body": "housing"}, "child": CHILD}
    unvalidated = {"requester": {**REQUESTER, "active_involvement_confirmed": False},
                   "child": CHILD}

    refused = await intake["client"].post("/v1/checks", json=unlisted, headers=IO)
    not_involved = await intake["client"].post("/v1/checks", json=unvalidated, headers=IO)

    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == ["requester.body"]
    assert [e["field"] for e in not_involved.json()["errors"]] == [
        "requester.active_involvement_confirmed"]
    assert rows(engine, AnsweredCheck) == []


def test_the_listed_bodies_and_validations_are_the_released_contracts() -> None:
    schema = json.loads((SCHEMAS / "mash.intake.checks.answered.v1.schema.json").read_text())
    requester = schema["properties"]["requester"]["properties"]
    assert list(typing.get_args(RequesterBody)) == requester["body"]["enum"]
    assert list(typing.get_args(IdentityValidatedBy)) == requester["identity_validated_by"]["enum"]


@pytest.mark.parametrize(("method", "path", "role"), [
    ("PUT", "/v1/open-cases/CMS-ROLES01", "referrer"),
    ("PUT", "/v1/open-cases/CMS-ROLES01", "information_officer"),
    ("POST", "/v1/open-cases:bulk", "social_worker"),
    ("POST", "/v1/checks", "referrer"),
    ("POST", "/v1/checks", "service"),
    ("POST", "/v1/checks", "navigator"),
])
async def test_callers_without_the_right_role_are_refused(
    intake: dict[str, Any], engine: Engine, method: str, path: str, role: str,
) -> None:
    body: dict[str, Any] = {
        "/v1/open-cases/CMS-ROLES01": a_case(),
        "/v1/open-cases:bulk": {"cases": [{"case_reference": "CMS-ROLES01", **a_case()}]},
        "/v1/checks": {"requester": REQUESTER, "child": CHILD},
    }[path]

    response = await intake["client"].request(method, path, json=body, headers=auth(role))
    anonymous = await intake["client"].request(method, path, json=body)

    assert response.status_code == 403
    assert anonymous.status_code == 401
    assert rows(engine, OpenCase) == []
    assert rows(engine, AnsweredCheck) == []
