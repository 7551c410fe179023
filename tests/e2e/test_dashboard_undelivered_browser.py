"""Undelivered notices on the ops dashboard, live, in a real headless browser (issue 16: "a
hub must know the school was never told").

The sla-timekeeper is served by uvicorn (SQLite, an embedded bus, a frozen clock); the
notifications service's outcomes are published on its topic as it emits them. A team
manager's dashboard shows their partnership's notices that failed for good, by case
reference, as they happen, and drops one when a resend delivers it; each reference shown is
audited once for that stream, however often the summary is pushed again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from playwright.async_api import async_playwright, expect
from sqlmodel import Session, col, select

from mash_app.services import iter_definitions
from mashcore.audit import AuditEntry
from mashcore.clock import FrozenClock
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.service import create_app
from mashcore.settings import Settings
from mashcore.topics import NOTIFICATIONS
from sla_timekeeper.undelivered import FAILED, SENT
from tests.e2e.test_dashboard_browser import CHROMIUM, serving
from tests.support import token

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
P = "coventry"
TM = token("team_manager", "local_authority", subject="tm-u", partnership=P)


def outcome(notification_id: str, reference: str, partnership: str = P, *,
            sent: bool = False) -> Event:
    data = {"notification_id": notification_id, "case_reference": reference,
            "kind": "referrer_acknowledgement", "channel": "email",
            "recipient": {"role": "referrer", "agency": "education"},
            "caused_by_event_id": str(uuid.uuid4()),
            "caused_by_event_type": "mash.intake.contact.received.v1", "attempt": 5}
    if sent:
        data["sent_at"] = NOW.isoformat()
    else:
        data.update(failed_at=NOW.isoformat(), failure_reason_code="address_rejected",
                    will_retry=False, next_attempt_at=None)
    return Event(type=SENT if sent else FAILED, source="/mash/notifications",
                 subject=reference, time=NOW, recordedtime=NOW, partnership=partnership,
                 data=data)


async def test_a_manager_sees_notices_never_delivered_live_each_audited_once(
    tmp_path: Path,
) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    [timekeeper] = iter_definitions(["sla-timekeeper"])
    app = create_app(timekeeper, Settings(data_dir=tmp_path), bus=bus,
                     clock=FrozenClock(NOW), manage_bus=False)
    page_errors: list[str] = []
    first, second = "MASH-2026-UNTOLD01", "MASH-2026-UNTOLD02"
    first_id = str(uuid.uuid4())

    async def publish(*events: Event) -> None:
        await bus.publish([e.to_message(NOTIFICATIONS) for e in events])

    def audited() -> list[str | None]:
        with Session(app.state.context.engine) as session:
            return [e.case_reference for e in session.exec(
                select(AuditEntry).where(AuditEntry.resource == "undelivered_notice",
                                         AuditEntry.actor == "tm-u")
                .order_by(col(AuditEntry.id)))]

    try:
        async with serving(app) as sla, async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=["--no-sandbox"])
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                page.on("pageerror", lambda error: page_errors.append(str(error)))
                await page.goto(f"{sla.url}/dashboard#token={TM}")
                await expect(page.get_by_test_id("connection")).to_have_attribute(
                    "data-state", "live", timeout=20_000)
                await expect(page.locator("#undelivered-empty")).to_be_visible()

                # Another partnership's failure never reaches this manager's wall.
                await publish(outcome(first_id, first),
                              outcome(str(uuid.uuid4()), "MASH-2026-0THERP01", "medway"))
                mine = page.locator('[data-testid="undelivered-partnership"]'
                                    f'[data-name="{P}"]')
                await expect(mine).to_contain_text(first, timeout=20_000)
                await expect(mine).to_contain_text(": 1")
                await expect(page.get_by_test_id("undelivered")).not_to_contain_text(
                    "0THERP01")

                # A second one, pushed live: the first is not audited again.
                await publish(outcome(str(uuid.uuid4()), second))
                await expect(mine).to_contain_text(second, timeout=20_000)
                assert audited() == [first, second]

                # A resend delivered the first: off the wall.
                await publish(outcome(first_id, first, sent=True))
                await expect(mine).not_to_contain_text(first, timeout=20_000)
                await expect(mine).to_contain_text(": 1")
            finally:
                await browser.close()
    finally:
        await bus.stop()
    assert not page_errors, page_errors
