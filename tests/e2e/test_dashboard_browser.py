"""The ops dashboard in a real headless browser (Debian's Chromium, never a downloaded one).

Intake and triage run in-process (ASGI); the sla-timekeeper is served by uvicorn on a free
local port, since a browser needs real HTTP for the page and its Server-Sent Events. One
embedded bus, SQLite, a frozen clock: nothing else is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from playwright.async_api import async_playwright, expect

from mash_app.services import iter_definitions
from mashcore.clock import FrozenClock
from mashcore.embedded_bus import EmbeddedBus
from mashcore.messages import Message
from mashcore.service import create_app
from mashcore.settings import Settings
from mashcore.topics import SLA
from tests.support import auth, eventually, running_services, synthetic_referral, token

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 09:00
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
OPS = token("ops", "local_authority", subject="ops-1")
CHROMIUM = "/usr/bin/chromium"
# The README's screenshot is refreshed on request (MASH_UPDATE_SCREENSHOT=1), so a test run
# never rewrites a tracked file; otherwise it goes to the test's temporary folder.
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
BREACHED = "mash.sla.clock.breached.v1"
# The one timing the issue asks for: a breach is on the wall within a second of its event.
BREACH_SHOWN_WITHIN = 1.0
# Installs `window.shown`, which resolves with the browser's wall-clock time (ms) at the DOM
# change that shows `selector`: timed in the page, not by polling it from the test
# (Playwright's own waits poll every 500 ms, half the budget).
WATCH = """(selector) => {
  window.shown = new Promise((resolve) => {
    if (document.querySelector(selector)) { resolve(Date.now()); return; }
    const observer = new MutationObserver(() => {
      if (document.querySelector(selector)) { observer.disconnect(); resolve(Date.now()); }
    });
    observer.observe(document.body, {subtree: true, childList: true, attributes: true});
  });
}"""


class StampedBus(EmbeddedBus):
    """The embedded bus, noting the moment each SLA breach was appended to its topic."""

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.breached_at: dict[tuple[str, str], float] = {}

    async def publish(self, messages: Sequence[Message]) -> None:
        await super().publish(messages)
        now = time.time()  # appended (durably) and subscribers woken: it is on the topic
        for message in messages:
            if message.topic == SLA and message.header("ce_type") == BREACHED:
                data = json.loads(message.value)
                self.breached_at.setdefault((data["case_reference"], data["clock"]), now)


class _Server(uvicorn.Server):
    """uvicorn leaving the test process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Served:
    """An app served over real HTTP on a free local port, in this event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{port}"
        # A graceful-shutdown limit: an open event stream would otherwise hold the exit.
        self.server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                             lifespan="on", timeout_graceful_shutdown=2))
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        task = self.task

        async def started() -> bool:
            if task.done():
                raise AssertionError(f"uvicorn stopped before it started: {task!r}")
            return self.server.started

        await eventually(started, timeout=60, what="the sla-timekeeper serving HTTP")

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.server.should_exit = True
            await asyncio.wait_for(self.task, timeout=30)
        self.sock.close()


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[Served]:
    served = Served(app)
    try:
        await served.start()
        yield served
    finally:
        await served.stop()


async def test_the_ops_dashboard_shows_a_breach_within_a_second_with_no_personal_data(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    bus = StampedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    clock = FrozenClock(NOW)
    [timekeeper] = iter_definitions(["sla-timekeeper"])
    app = create_app(timekeeper, settings, bus=bus, clock=clock, manage_bus=False)
    page_errors: list[str] = []
    try:
        async with (running_services(settings, ["intake", "triage"], bus, clock) as clients,
                    serving(app) as sla, async_playwright() as playwright):
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=["--no-sandbox"])
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                page.on("pageerror", lambda error: page_errors.append(str(error)))
                await page.goto(f"{sla.url}/dashboard#token={OPS}")
                connection = page.get_by_test_id("connection")
                await expect(connection).to_have_attribute("data-state", "live", timeout=20_000)

                # Another case, decided on time and rated red for MASH enquiries: the wall
                # then shows more than one stage and BRAG rating.
                consent = {"consent_to_referral": "yes", "consent_to_information_sharing": "yes"}
                other_body = synthetic_referral(partnership=P, consent=consent)
                other = await clients["intake"].post("/v1/contacts", json=other_body,
                                                     headers=SCHOOL)
                assert other.status_code == 202, other.text
                other_reference = other.json()["case_reference"]

                async def decided() -> bool:
                    r = await clients["triage"].post(
                        f"/v1/cases/{other_reference}/threshold-decision", headers=TM,
                        json={"level_code": "L4", "brag": "red", "route": "mash_enquiries",
                              "rationale": "Synthetic: urgent enquiries needed."})
                    return r.status_code == 200

                await eventually(decided, what="the other case, decided")
                await expect(page.locator(
                    f'[data-testid="urgent-row"][data-case="{other_reference}"]'
                    '[data-clock="mash_enquiries"]')).to_have_count(1, timeout=20_000)

                body = synthetic_referral(partnership=P)
                response = await clients["intake"].post("/v1/contacts", json=body,
                                                        headers=SCHOOL)
                assert response.status_code == 202, response.text
                reference = response.json()["case_reference"]

                # The new case's threshold decision appears among the most urgent, live.
                decision = (f'[data-testid="urgent-row"][data-case="{reference}"]'
                            '[data-clock="threshold_decision"]')
                row = page.locator(f'[data-testid="most-urgent"] {decision}')
                await expect(row).to_have_attribute("data-breached", "false", timeout=20_000)
                await expect(row).to_contain_text("left")
                await expect(page.get_by_test_id("stage-threshold_decision")).to_be_visible()

                # Coventry: one working day, so Tuesday 09:00 is due at the end of Wednesday.
                # Watch for the breach before the clock moves, then move it past the due time.
                await page.evaluate(WATCH, f'{decision}[data-breached="true"], '
                                           '[data-testid="recent-item"][data-kind="breached"]'
                                           f'[data-case="{reference}"]'
                                           '[data-clock="threshold_decision"]')
                clock.set(datetime(2026, 11, 26, 0, 0, 1, tzinfo=UTC))
                shown_ms = await asyncio.wait_for(page.evaluate("() => window.shown"), timeout=20)
                shown_at = float(shown_ms) / 1000

                # The summary is read from the timekeeper's own tables, so a heartbeat could
                # show the breach before the relay publishes it: wait for the event either way.
                key = (reference, "threshold_decision")

                async def published() -> float | None:
                    return bus.breached_at.get(key)

                published_at = await eventually(published, what="the breach on mash.sla.v1")
                delay = shown_at - published_at
                assert delay <= BREACH_SHOWN_WITHIN, (
                    f"the breach reached the page {delay:.3f} s after its event")

                await expect(row).to_have_attribute("data-breached", "true")
                await expect(row).to_contain_text("overdue")
                await expect(page.locator(
                    f'[data-testid="recent"] [data-testid="recent-item"][data-kind="breached"]'
                    f'[data-case="{reference}"]').first).to_be_visible()
                await expect(page.get_by_test_id("breaches-today")).not_to_have_text("0")
                await expect(connection).to_have_attribute("data-state", "live")

                # Case references only: nothing personal anywhere in the page.
                html = await page.content()
                text = await page.inner_text("body")
                assert reference in text
                for sent in (body, other_body):
                    child = sent["children"][0]
                    for secret in (child["first_name"], child["last_name"],
                                   sent["referrer"]["name"], sent["referrer"]["email"],
                                   sent["concern"]["summary"]):
                        assert secret not in html, f"{secret!r} is on the dashboard"

                shot = (README_SCREENSHOT if os.environ.get("MASH_UPDATE_SCREENSHOT")
                        else tmp_path / "dashboard.png")
                shot.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(shot), animations="disabled")
                assert shot.stat().st_size > 10_000  # a rendered page, not a blank one

                # The stream ends: the indicator turns grey.
                await sla.stop()
                await expect(connection).to_have_attribute("data-state", "disconnected",
                                                           timeout=15_000)
            finally:
                await browser.close()
    finally:
        await bus.stop()
    assert not page_errors, page_errors
