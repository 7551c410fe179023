"""A partnership's own template file is what its referrers receive (issue 16): intake and
notifications on the real PostgreSQL server, the sender speaking SMTP to a real SMTP server
(aiosmtpd). Medway has its own acknowledgement wording; Coventry, without a file, gets the
default wording (the templates folder's default/)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from notifications.sender import send_due
from notifications.template_files import templates_dir
from tests.integration.notifications_support import Inbox, smtp_inbox, system_fixture
from tests.support import auth, eventually, synthetic_referral

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
MAILBOXES = {"medway": {"education": "safeguarding@medway-school.example"},
             "coventry": {"education": "safeguarding@coventry-school.example"}}
OWN = "Subject: Medway hub: contact {reference} received\n\nMedway's own words for {reference}.\n"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Inbox]:
    shutil.copytree(templates_dir() / "default", tmp_path / "templates" / "default")
    folder = tmp_path / "templates" / "medway"
    folder.mkdir(parents=True)
    (folder / "referrer_acknowledgement.txt").write_text(OWN, encoding="utf-8")
    with smtp_inbox(monkeypatch, MASH_NOTIFY_SMTP_HOST="127.0.0.1",
                    MASH_NOTIFY_REFERRER_MAILBOXES=json.dumps(MAILBOXES),
                    MASH_NOTIFY_TEMPLATES_DIR=str(tmp_path / "templates")) as inbox:
        yield inbox


system = system_fixture(["intake", "notifications"], NOW)


async def test_a_partnerships_own_template_is_what_gets_sent(
    system: dict[str, Any], smtp: Inbox,
) -> None:
    references = {}
    for partnership in MAILBOXES:
        school = auth("referrer", "education", subject=f"school-{partnership}",
                      partnership=partnership)
        response = await system["intake"].post(
            "/v1/contacts", json=synthetic_referral(partnership=partnership), headers=school)
        assert response.status_code == 202, response.text
        references[partnership] = response.json()["case_reference"]

    async def both() -> list[Any] | None:
        system["clock"].advance(timedelta(minutes=2))  # past the hold of each once queued
        await asyncio.to_thread(send_due, system["ctx"]["notifications"])
        return smtp.messages if len(smtp.messages) == 2 else None
    await eventually(both, what="both acknowledgements")

    mails = {to[0]: message_from_bytes(raw) for to, raw in smtp.messages}
    medway = mails[MAILBOXES["medway"]["education"]]
    assert medway["Subject"] == f"Medway hub: contact {references['medway']} received"
    assert medway.get_payload(decode=True).decode().strip() == (  # type: ignore[union-attr]
        f"Medway's own words for {references['medway']}.")
    coventry = mails[MAILBOXES["coventry"]["education"]]
    assert coventry["Subject"] == ("We have received your safeguarding contact: "
                                   f"{references['coventry']}")
