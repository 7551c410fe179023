"""Referrer feedback as separate processes over the real Kafka broker and PostgreSQL (issue
16): a professional referral's acknowledgement is received by a real SMTP server (aiosmtpd)
and the timekeeper's clock is met; an anonymous public referral sends nothing and starts no
feedback clock; with intake's address configured, the acknowledgement goes to the referrer's
own email, read from intake over HTTP at send time."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from devinfra.processes import ServiceProcess
from tests.integration.notifications_support import Inbox, free_port
from tests.support import auth, eventually_sync, synthetic_referral, token

P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-n", partnership=P)
HUB_WORKER = auth("information_officer", "local_authority", subject="io-n", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-n", partnership=P)
MAILBOX = "safeguarding@school.example"


def test_a_professional_is_acknowledged_by_email_and_the_public_gets_nothing(
    launch: Callable[..., ServiceProcess], system_env: dict[str, str], postgres_server: Any,
) -> None:
    prefix = system_env["MASH_TOPIC_NAMESPACE"].removesuffix(".")
    for service in ("notifications", "sla_timekeeper"):
        postgres_server.create_database(f"{prefix}_{service}")
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        system_env.update({"MASH_NOTIFY_SMTP_PORT": str(port),
                           "MASH_NOTIFY_HOLD_SECONDS": "0",
                           "MASH_NOTIFY_REFERRER_MAILBOXES": json.dumps(
                               {P: {"education": MAILBOX}})})
        intake, _ = launch("intake"), launch("notifications")
        timekeeper = launch("sla-timekeeper")

        def refer(body: dict[str, Any], headers: dict[str, str]) -> str:
            r = httpx.post(f"{intake.url}/v1/contacts", json=body, headers=headers,
                           timeout=10)
            assert r.status_code == 202, r.text
            return str(r.json()["case_reference"])

        public = refer(synthetic_referral(31, partnership=P, referrer={
            "role": "Neighbour", "anonymous": True}), HUB_WORKER)
        professional = refer(synthetic_referral(32, partnership=P), SCHOOL)

        def clocks(reference: str) -> dict[str, dict[str, Any]]:
            r = httpx.get(f"{timekeeper.url}/v1/clocks", headers=TM, timeout=10,
                          params={"case_reference": reference})
            return {c["clock"]: c for c in r.json()} if r.status_code == 200 else {}

        # The sender's timer runs every 15 seconds.
        [(to, raw)] = eventually_sync(lambda: inbox.messages, timeout=60,
                                      what="the acknowledgement email")
        assert to == [MAILBOX] and professional.encode() in raw
        assert b"Child32" not in raw
        eventually_sync(
            lambda: clocks(professional).get("referrer_acknowledged", {}).get("status")
            == "met", timeout=30, what="the acknowledgement clock met")
        assert clocks(professional)["referrer_outcome"]["status"] == "running"
        seen = eventually_sync(lambda: clocks(public), timeout=30, what="the public's clocks")
        assert "threshold_decision" in seen
        assert not {"referrer_acknowledged", "referrer_outcome"} & set(seen)
        assert len(inbox.messages) == 1  # nothing went to the public referrer
    finally:
        controller.stop()


def test_the_acknowledgement_reaches_the_referrer_s_own_email_read_from_intake(
    launch: Callable[..., ServiceProcess], system_env: dict[str, str], postgres_server: Any,
    tmp_path: Path,
) -> None:
    prefix = system_env["MASH_TOPIC_NAMESPACE"].removesuffix(".")
    postgres_server.create_database(f"{prefix}_notifications")
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        intake = launch("intake")
        # The school's shared mailbox is configured too: the referrer's own address wins.
        system_env.update({"MASH_NOTIFY_SMTP_PORT": str(port),
                           "MASH_NOTIFY_HOLD_SECONDS": "0",
                           "MASH_NOTIFY_REFERRER_MAILBOXES": json.dumps(
                               {P: {"education": MAILBOX}}),
                           "MASH_NOTIFY_INTAKE_URL": intake.url,
                           "MASH_NOTIFY_INTAKE_TOKEN": token("service", "mash",
                                                             subject="notifications")})
        launch("notifications")
        body = synthetic_referral(33, partnership=P)
        r = httpx.post(f"{intake.url}/v1/contacts", json=body, headers=SCHOOL, timeout=10)
        assert r.status_code == 202, r.text
        reference = str(r.json()["case_reference"])

        # The sender's timer runs every 15 seconds.
        [(to, raw)] = eventually_sync(lambda: inbox.messages, timeout=60,
                                      what="the acknowledgement email")
        own = body["referrer"]["email"]
        assert to == [own] and reference.encode() in raw
        assert b"Child33" not in raw
        # The address was used for that send only: in no service's log.
        logs = sorted((tmp_path / "logs").glob("*.log"))
        assert [log.name for log in logs] == ["intake.log", "notifications.log"]
        for log in logs:
            assert own not in log.read_text(encoding="utf-8", errors="replace"), log.name
    finally:
        controller.stop()
