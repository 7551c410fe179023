"""The walking skeleton as separate processes over the real Kafka broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devinfra.processes import ServiceProcess
from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.topics import ENQUIRIES_EPISODES, INTAKE_CONTACTS, TRIAGE_CASES
from tests.support import auth, eventually_sync, synthetic_referral

REFERRER = auth("referrer", "health", subject="hospital-ed-system")
IO = auth("information_officer", "local-authority", subject="io-e2e")


def triage_contact_ids(triage: ServiceProcess) -> list[str]:
    response = httpx.get(f"{triage.url}/v1/cases", params={"limit": 1000}, headers=IO,
                         timeout=10)
    response.raise_for_status()
    return [case["contact_id"] for case in response.json()]


def post_referral(intake: ServiceProcess, n: int, **headers: str) -> dict[str, Any]:
    response = httpx.post(f"{intake.url}/v1/contacts", json=synthetic_referral(n),
                          headers={**REFERRER, **headers}, timeout=10)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


def read_topic(bootstrap: str, topic: str, until: Callable[[list[Any]], bool]) -> list[Any]:
    """Read a topic from the start with an independent consumer until `until` holds."""

    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        records: list[Any] = []
        try:
            for _ in range(300):
                for batch in (await consumer.getmany(timeout_ms=100)).values():
                    records.extend(batch)
                if until(records):
                    return records
            raise AssertionError(f"{topic}: condition not met with {len(records)} records")
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_a_referral_travels_from_intake_to_triage_between_processes(
    launch: Callable[..., ServiceProcess],
) -> None:
    intake, triage = launch("intake"), launch("triage")
    accepted = post_referral(intake, 1)
    eventually_sync(lambda: accepted["contact_id"] in triage_contact_ids(triage),
                    timeout=30, what="the referral in triage")
    case = httpx.get(f"{triage.url}/v1/cases/{accepted['case_reference']}", headers=IO).json()
    assert case["status"] == "awaiting_initial_rating"
    assert case["children"][0]["last_name"] == "Child1"


def test_the_services_logs_carry_case_references_but_no_personal_data(
    launch: Callable[..., ServiceProcess],
) -> None:
    intake, triage = launch("intake"), launch("triage")
    referral = synthetic_referral(424242)
    response = httpx.post(f"{intake.url}/v1/contacts", json=referral, headers=REFERRER)
    accepted = response.json()
    eventually_sync(lambda: accepted["contact_id"] in triage_contact_ids(triage), timeout=30,
                    what="the referral in triage")
    intake.stop()
    triage.stop()
    logs = intake.log_tail(10_000) + triage.log_tail(10_000)
    assert accepted["case_reference"] in logs
    for personal in ("Child424242", "Testreferrer 424242", "dsl424242@school.example",
                     "Synthetic concern number 424242"):
        assert personal not in logs


def test_every_referral_reaches_triage_exactly_once_when_triage_is_killed_mid_stream(
    launch: Callable[..., ServiceProcess], system_env: dict[str, str],
) -> None:
    intake, triage = launch("intake"), launch("triage")
    posted: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def post_continuously() -> None:
        try:
            for n in range(1000):
                if stop.is_set():
                    return
                posted.append(post_referral(intake, n, **{"Idempotency-Key": f"k-{n}"})
                              ["contact_id"])
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    poster = threading.Thread(target=post_continuously)
    poster.start()
    try:
        eventually_sync(lambda: len(triage_contact_ids(triage)) >= 20, timeout=60,
                        what="triage to be consuming")
        triage.kill_hard()
        before_restart = len(posted)
        eventually_sync(lambda: len(posted) >= before_restart + 30, timeout=60,
                        what="more referrals while triage is down")
        triage = launch("triage", port=triage.port)
        eventually_sync(lambda: len(posted) >= before_restart + 60, timeout=60,
                        what="more referrals after the restart")
    finally:
        stop.set()
        poster.join(timeout=60)
    assert not failures, failures

    eventually_sync(lambda: set(triage_contact_ids(triage)) >= set(posted), timeout=90,
                    what="every posted referral in triage")
    assert set(triage_contact_ids(triage)) == set(posted)

    # Downstream sees one case-opened event per referral (a re-published copy keeps its id).
    topic = f"{system_env['MASH_TOPIC_NAMESPACE']}{TRIAGE_CASES}"
    records = read_topic(system_env["MASH_KAFKA_BOOTSTRAP"], topic,
                         lambda rs: len(rs) >= len(posted))
    ids_per_contact: dict[str, set[str]] = {}
    for record in records:
        event = Event.from_message(Message(topic, record.key, record.value,
                                           tuple(record.headers)))
        ids_per_contact.setdefault(str(event.data["contact_id"]), set()).add(event.id)
    assert set(ids_per_contact) == set(posted)
    assert {len(ids) for ids in ids_per_contact.values()} == {1}


def test_a_malformed_message_lands_in_the_dead_letter_topic_and_the_next_is_processed(
    launch: Callable[..., ServiceProcess], system_env: dict[str, str],
) -> None:
    intake, triage = launch("intake"), launch("triage")
    topic = f"{system_env['MASH_TOPIC_NAMESPACE']}{INTAKE_CONTACTS}"

    async def produce_garbage() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=system_env["MASH_KAFKA_BOOTSTRAP"])
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"\x00not an event", key=b"MASH-2026-GARBAGE1")
        finally:
            await producer.stop()

    asyncio.run(produce_garbage())
    accepted = post_referral(intake, 7)
    eventually_sync(lambda: accepted["contact_id"] in triage_contact_ids(triage), timeout=30,
                    what="the good referral after the poison message")

    [dead] = read_topic(system_env["MASH_KAFKA_BOOTSTRAP"], f"{topic}.dlq",
                        lambda rs: len(rs) >= 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert dead.value == b"\x00not an event"
    assert "missing or invalid CloudEvents attributes" in headers["dlq_reason"]
    assert headers["dlq_original_topic"] == topic
    assert headers["dlq_consumer"] == "triage.contacts"


def test_intakes_routing_rules_emit_their_events_over_the_broker(
    launch: Callable[..., ServiceProcess], system_env: dict[str, str],
) -> None:
    intake = launch("intake")
    police = auth("referrer", "police", subject="police-system")
    body = synthetic_referral(
        11, domestic_abuse={"flag": True, "dash_completed": False},
        parents_carers=[{"first_name": "Young", "last_name": "Testparent",
                         "relationship": "father", "date_of_birth": "2010-01-01",
                         "phone": "07700 900456"}])
    response = httpx.post(f"{intake.url}/v1/contacts", json=body, headers=police, timeout=10)
    assert response.status_code == 202, response.text
    reference = response.json()["case_reference"]

    topic = f"{system_env['MASH_TOPIC_NAMESPACE']}{INTAKE_CONTACTS}"
    expected = {"mash.intake.contact.received.v1", "mash.intake.referral.accepted.v1",
                "mash.intake.dash.requested.v1", "mash.intake.linked-referral.created.v1"}

    def types_seen(records: list[Any]) -> set[str]:
        return {dict(r.headers)["ce_type"].decode() for r in records}

    records = read_topic(system_env["MASH_KAFKA_BOOTSTRAP"], topic,
                         lambda rs: expected <= types_seen(rs))
    about_the_child = {dict(r.headers)["ce_type"].decode() for r in records
                       if r.key == reference.encode()}
    assert about_the_child == expected - {"mash.intake.linked-referral.created.v1"}


def test_a_team_managers_threshold_decision_reaches_the_next_stage_over_the_broker(
    launch: Callable[..., ServiceProcess], system_env: dict[str, str],
) -> None:
    intake, triage = launch("intake"), launch("triage")
    school = auth("referrer", "education", subject="school-cov", partnership="coventry")
    io = auth("information_officer", "local_authority", subject="io-cov", partnership="coventry")
    tm = auth("team_manager", "local_authority", subject="tm-cov", partnership="coventry")
    body = synthetic_referral(
        12, partnership="coventry",
        concern={"summary": "Synthetic: a sibling says the girl is at risk of female genital "
                            "mutilation on a trip abroad."},
        consent={"consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    response = httpx.post(f"{intake.url}/v1/contacts", json=body, headers=school, timeout=10)
    assert response.status_code == 202, response.text
    reference = response.json()["case_reference"]

    def rating_queue() -> list[str]:
        queue = httpx.get(f"{triage.url}/v1/queues/rating", headers=io, timeout=10).json()
        return [entry["case_reference"] for entry in queue]

    eventually_sync(lambda: reference in rating_queue(), timeout=30, what="the rating queue")
    rated = httpx.post(f"{triage.url}/v1/cases/{reference}/rating", headers=io, timeout=10,
                       json={"brag": "red", "safeguarding_concerns": True})
    assert rated.status_code == 200, rated.text
    queue = httpx.get(f"{triage.url}/v1/queues/decisions", headers=tm, timeout=10).json()
    assert reference in [entry["case_reference"] for entry in queue]
    case = httpx.get(f"{triage.url}/v1/cases/{reference}", headers=tm, timeout=10).json()
    support = case["decision_support"]
    assert support["level"]["name"] == "L4 Statutory"
    assert any("female genital mutilation" in " ".join(m["because"])
               for m in support["matched_indicators"])

    decided = httpx.post(
        f"{triage.url}/v1/cases/{reference}/threshold-decision", headers=tm, timeout=10,
        json={"level_code": "L4", "brag": "red", "route": "mash_enquiries",
              "rationale": "Synthetic: risk of FGM abroad; urgent MASH enquiries."})
    assert decided.status_code == 200, decided.text

    topic = f"{system_env['MASH_TOPIC_NAMESPACE']}{TRIAGE_CASES}"

    def about_the_case(records: list[Any]) -> list[str]:
        return [dict(r.headers)["ce_type"].decode() for r in records
                if r.key == reference.encode()]

    records = read_topic(system_env["MASH_KAFKA_BOOTSTRAP"], topic,
                         lambda rs: "mash.triage.threshold.decided.v1" in about_the_case(rs))
    assert about_the_case(records) == ["mash.triage.case.opened.v1",
                                       "mash.triage.rating.given.v1",
                                       "mash.triage.threshold.decided.v1"]
    [message] = [r for r in records if r.key == reference.encode()
                 and dict(r.headers)["ce_type"] == b"mash.triage.threshold.decided.v1"]
    event = Event.from_message(Message(topic=topic, key=message.key, value=message.value,
                                       headers=tuple(message.headers)))
    assert event.partnership == "coventry"
    assert event.data["level_of_need"] == {"code": "L4", "name": "L4 Statutory"}
    assert event.data["route"] == "mash_enquiries"

    # What a new user runs to watch it arrive: `mash watch mash.triage.cases.v1`.
    watcher = subprocess.Popen(
        [sys.executable, "-m", "mash_app", "watch", TRIAGE_CASES],
        env={**os.environ, **system_env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    try:
        lines = _lines_until(watcher, lambda line: reference in line
                             and "threshold.decided" in line)
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
    decided_line = lines[-1]
    assert "brag=red route=mash_enquiries level_of_need=L4 (L4 Statutory)" in decided_line
    assert "FGM" not in "".join(lines)  # the rationale is never printed


def _lines_until(process: subprocess.Popen[str], done: Callable[[str], bool]) -> list[str]:
    """Lines of a process's output until one satisfies ``done`` (or fail after 60 s)."""
    found: list[str] = []
    finished = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            found.append(line)
            if done(line):
                finished.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert finished.wait(timeout=60), f"not seen; output so far: {found[-5:]}"
    return found


def test_four_navigators_answer_one_red_episode_and_the_outcome_reaches_the_broker(
    launch: Callable[..., ServiceProcess], system_env: dict[str, str],
) -> None:
    intake, triage, enquiries = launch("intake"), launch("triage"), launch("mash-enquiries")
    p = "nottingham"
    school = auth("referrer", "education", subject="school-nott", partnership=p)
    tm = auth("team_manager", "local_authority", subject="tm-nott", partnership=p)
    body = synthetic_referral(
        13, partnership=p,
        parents_carers=[{"first_name": "Synthetic", "last_name": "Mother",
                         "relationship": "mother", "date_of_birth": "1991-01-01",
                         "phone": "07700 900333"}],
        consent={"consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    response = httpx.post(f"{intake.url}/v1/contacts", json=body, headers=school, timeout=10)
    assert response.status_code == 202, response.text
    reference = response.json()["case_reference"]

    def decided() -> bool:
        r = httpx.post(f"{triage.url}/v1/cases/{reference}/threshold-decision", headers=tm,
                       timeout=10, json={"level_code": "L5", "brag": "red",
                                         "route": "mash_enquiries",
                                         "rationale": "Synthetic: urgent enquiries."})
        return r.status_code == 200
    eventually_sync(decided, timeout=30, what="the threshold decision")

    for agency in ("police", "health", "education", "probation"):
        navigator = auth("navigator", agency, subject=f"nav-{agency}", partnership=p)

        def my_request(headers: dict[str, str] = navigator) -> list[dict[str, Any]]:
            queue = httpx.get(f"{enquiries.url}/v1/requests", headers=headers, timeout=10)
            return [r for r in queue.json() if r["case_reference"] == reference]
        [entry] = eventually_sync(my_request, timeout=30, what=f"the {agency} request")
        assert "subjects" not in entry  # the queue carries no names
        request = httpx.get(f"{enquiries.url}/v1/requests/{entry['request_id']}",
                            headers=navigator, timeout=10).json()
        assert [s["relationship"] for s in request["subjects"]] == ["child", "parent"]
        answered = httpx.post(f"{enquiries.url}/v1/requests/{request['request_id']}/answer",
                              headers=navigator, timeout=10,
                              json={"known": agency != "probation",
                                    "summary": f"Synthetic: {agency} answer."})
        assert answered.status_code == 200, answered.text

    [episode] = [e for e in httpx.get(f"{enquiries.url}/v1/episodes", headers=tm,
                                      timeout=10).json() if e["case_reference"] == reference]
    assert episode["requests"]["provided"] == 4
    outcome = httpx.post(f"{enquiries.url}/v1/episodes/{episode['episode_id']}/outcome",
                         headers=tm, timeout=10,
                         json={"outcome": "strategy_discussion",
                               "rationale": "Synthetic: answers show significant harm."})
    assert outcome.status_code == 200, outcome.text

    topic = f"{system_env['MASH_TOPIC_NAMESPACE']}{ENQUIRIES_EPISODES}"

    def about(records: list[Any]) -> list[str]:
        return [dict(r.headers)["ce_type"].decode() for r in records
                if r.key == reference.encode()]
    records = read_topic(system_env["MASH_KAFKA_BOOTSTRAP"], topic,
                         lambda rs: "mash.enquiries.outcome.decided.v1" in about(rs))
    types = about(records)
    assert types.count("mash.enquiries.information.requested.v1") == 4
    assert types.count("mash.enquiries.information.provided.v1") == 4
    assert types[-2:] == ["mash.enquiries.enquiries.completed.v1",
                          "mash.enquiries.outcome.decided.v1"]
