"""PostgreSQL stopped and started again while referrals are posted (issue 12 §3).

Intake and triage run as separate processes over the real Kafka broker and a real PostgreSQL
server of this test's own, which is stopped (``pg_ctl stop -m fast``) mid-stream and started
again. No answer is a 500 or a dropped connection; every 503 says when to retry; a retry with
the same Idempotency-Key is accepted once; every accepted referral reaches triage exactly once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devinfra.postgres import PostgresServer, start_postgres
from devinfra.processes import ServiceProcess
from tests.support import auth, eventually_sync, synthetic_referral

REFERRER = auth("referrer", "health", subject="hospital-ed-system")
IO = auth("information_officer", "local-authority", subject="io-e2e")
TOTAL = 30  # referrals posted, each with its own Idempotency-Key
OUTAGE_ANSWERS = 3  # 503s seen before the database is started again


@pytest.fixture
def postgres_server(tmp_path: Path) -> Iterator[PostgresServer]:
    """This test's own server (overrides the session's): the test stops it."""
    server = start_postgres(tmp_path / "pg")
    try:
        yield server
    finally:
        server.stop(mode="immediate")


def test_referrals_posted_through_a_database_restart_are_503_then_accepted_once(
    launch: Callable[..., ServiceProcess], postgres_server: PostgresServer,
) -> None:
    intake, triage = launch("intake"), launch("triage")
    statuses: Counter[int] = Counter()
    accepted: dict[int, str] = {}  # referral number -> contact id
    unavailable: list[int] = []
    failures: list[BaseException] = []
    outage_seen, resumed = threading.Event(), threading.Event()

    def post(client: httpx.Client, n: int) -> None:
        response = client.post("/v1/contacts", json=synthetic_referral(n),
                               headers={**REFERRER, "Idempotency-Key": f"outage-{n}"})
        statuses[response.status_code] += 1
        if response.status_code == 202:
            contact_id = response.json()["contact_id"]
            assert accepted.setdefault(n, contact_id) == contact_id  # a retry, not a new one
        elif response.status_code == 503:
            assert response.headers["content-type"] == "application/problem+json"
            assert int(response.headers["retry-after"]) > 0
            unavailable.append(n)

    def post_through_the_outage() -> None:
        try:
            with httpx.Client(base_url=intake.url, timeout=30) as client:
                for n in range(TOTAL):
                    post(client, n)
                    if len(unavailable) >= OUTAGE_ANSWERS and not outage_seen.is_set():
                        outage_seen.set()
                        assert resumed.wait(120), "the database was not started again"
                for n in list(dict.fromkeys(unavailable)):
                    if n not in accepted:
                        post(client, n)  # the same key and body, after recovery
        except BaseException as exc:  # surfaced below
            failures.append(exc)
            outage_seen.set()

    poster = threading.Thread(target=post_through_the_outage)
    poster.start()
    try:
        eventually_sync(lambda: len(accepted) >= 5, timeout=60, what="referrals before")
        postgres_server.pause()  # pg_ctl stop -m fast
        assert outage_seen.wait(60), "no 503 during the outage"
        postgres_server.resume()
        resumed.set()
    finally:
        resumed.set()
        poster.join(timeout=180)
    assert not failures, failures
    assert statuses[500] == 0 and set(statuses) <= {202, 503}, statuses
    assert statuses[503] >= OUTAGE_ANSWERS
    assert sorted(accepted) == list(range(TOTAL))  # every 503 was accepted on retry

    def triage_contact_ids() -> list[str]:
        response = httpx.get(f"{triage.url}/v1/cases", params={"limit": 1000}, headers=IO,
                             timeout=10)
        response.raise_for_status()
        return [case["contact_id"] for case in response.json()]

    in_triage = eventually_sync(
        lambda: (ids if set(accepted.values()) <= set(ids := triage_contact_ids()) else None),
        timeout=90, what="every accepted referral in triage")
    assert Counter(in_triage) == Counter(accepted.values())  # each exactly once, no others
    intake.stop()
    triage.stop()
    logged = intake.log_path.read_text() + triage.log_path.read_text()
    assert "unavailable" in logged  # the outage was logged, by class names only
    for personal in ("Testreferrer", "school.example", "Synthetic"):
        assert personal not in logged
