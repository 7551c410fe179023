"""No personal data in the services' own output (stdout and stderr, every logger at DEBUG),
as separate processes over the real Kafka broker and PostgreSQL (issue 12 §4)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from devinfra.processes import ServiceProcess
from tests.markers import ACCEPTED, SPOILERS, Markers, leaks, referral, refused_with, spoil
from tests.support import auth, eventually_sync

SCHOOL = auth("referrer", "education", subject="school-mis")
OFFICER = auth("information_officer", "local-authority", subject="io-e2e")


def test_no_marker_reaches_the_output_of_any_service_process(
    launch: Callable[..., ServiceProcess], system_env: dict[str, str],
) -> None:
    system_env["MASH_LOG_LEVEL"] = "DEBUG"
    intake, triage = launch("intake"), launch("triage")
    sent: list[tuple[str, Markers]] = []
    accepted: list[str] = []
    with httpx.Client(base_url=intake.url, timeout=30) as client:
        for n, how in enumerate(SPOILERS):
            markers = Markers(50_000 + n)
            payload = spoil(referral(markers, sections=True), how, markers)
            sent.append((how, markers))
            if isinstance(payload, bytes):
                response = client.post("/v1/contacts", content=payload, headers={
                    **SCHOOL, "Content-Type": "application/json"})
            else:
                response = client.post("/v1/contacts", json=payload, headers=SCHOOL)
            assert response.status_code == (202 if how in ACCEPTED else refused_with(how)), (
                how, response)
            if response.status_code == 202:
                accepted.append(response.json()["case_reference"])
        for contact in client.get("/v1/contacts", headers=OFFICER).json():
            # every contact read, the young parent's linked referral (the old 500) included
            read = client.get(f"/v1/contacts/{contact['contact_id']}", headers=OFFICER)
            assert read.status_code == 200, read.text

    def in_triage() -> bool:
        return all(httpx.get(f"{triage.url}/v1/cases/{reference}", headers=OFFICER,
                             timeout=10).status_code == 200 for reference in accepted)

    eventually_sync(in_triage, timeout=60, what="the accepted referrals in triage")
    intake.stop()
    triage.stop()
    logged = intake.log_path.read_text() + triage.log_path.read_text()
    assert all(reference in logged for reference in accepted)  # the services did log
    for how, markers in sent:
        assert not leaks(markers, logged), f"{how}: {leaks(markers, logged)} in the output"
