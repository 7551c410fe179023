"""The workbench's error messages and its signed-out page, in a real headless browser.

Intake and triage run in-process on one embedded bus and SQLite (as in
``test_workbench_browser.py``); the workbench is served by uvicorn and driven by Debian's
Chromium. The rating form refused by triage's API shows GOV.UK wording for each question, in
the error summary and beside the field; an idle session ends and the live queue says so;
axe-core finds 0 WCAG 2.2 AA violations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright, expect

from mashcore.clock import FrozenClock
from mashcore.embedded_bus import EmbeddedBus
from mashcore.settings import Settings
from tests.e2e.test_dashboard_browser import serving
from tests.e2e.test_workbench_browser import (
    AXE,
    CHROMIUM,
    NAVIGATOR,
    OFFICER,
    SCHOOL,
    accessible,
)
from tests.support import running_services, synthetic_referral
from workbench.apis import Apis
from workbench.app import WorkbenchSettings, create_workbench

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def test_the_rating_form_says_what_to_fix_for_each_question_then_sign_out(
        tmp_path: Path) -> None:
    assert AXE.exists(), "run `make node-deps` (axe-core in tools/workbench-assets)"
    settings = Settings(data_dir=tmp_path)
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    clock = FrozenClock(NOW)
    page_errors: list[str] = []
    try:
        async with running_services(settings, ["intake", "triage", "mash-enquiries"], bus,
                                    clock) as clients:
            body = synthetic_referral(partnership="coventry")
            response = await clients["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
            assert response.status_code == 202, response.text
            app = create_workbench(settings, WorkbenchSettings(refresh_seconds=1),
                                   apis=Apis(clients), clock=clock)
            async with serving(app) as workbench, async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                           args=["--no-sandbox"])
                try:
                    await rate_with_mistakes(browser, workbench.url,
                                             response.json()["case_reference"], page_errors)
                    await idle_navigator_is_signed_out(browser, workbench.url, clock)
                finally:
                    await browser.close()
    finally:
        await bus.stop()
    assert not page_errors, page_errors


async def rate_with_mistakes(browser: Any, url: str, reference: str,
                             page_errors: list[str]) -> None:
    context = await browser.new_context(bypass_csp=True)  # only so axe can be injected
    page = await context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    await page.goto(f"{url}/sign-in")
    await page.get_by_label("Access token").fill(OFFICER)
    await page.get_by_role("button", name="Sign in").click()
    row = page.get_by_test_id("case-row").filter(has_text=reference)
    for _ in range(30):  # the case is opened from intake's event: reload until it is listed
        if await row.count():
            break
        await page.wait_for_timeout(500)
        await page.reload()
    await row.get_by_role("link").click()

    # Nothing chosen and a reason over triage's limit: one message per question, worded
    # for it, in the summary (linking to the field) and beside the field.
    await page.get_by_label("Why this rating").fill("x" * 4001)
    await page.get_by_role("button", name="Save the rating").click()
    summary = page.get_by_test_id("error-summary")
    await expect(summary.get_by_role("listitem")).to_have_text([
        "Select a BRAG rating", "Select yes if there are safeguarding concerns",
        "The reason for this rating must be 4000 characters or fewer"])
    await expect(summary).not_to_contain_text("Field required")
    await expect(page.locator("#brag-error")).to_have_text("Error: Select a BRAG rating")
    await expect(page.locator("#safeguarding_concerns-error")).to_contain_text(
        "Select yes if there are safeguarding concerns")
    await expect(page.locator("#rationale-error")).to_contain_text(
        "The reason for this rating must be 4000 characters or fewer")
    await expect(page.get_by_label("Why this rating")).to_have_class(
        "govuk-textarea govuk-textarea--error")
    await expect(page.get_by_label("Why this rating")).to_have_value("x" * 4001)  # kept
    await expect(summary.get_by_role("link", name="Select a BRAG rating")).to_have_attribute(
        "href", "#brag")
    await accessible(page)

    # Signing out ends the session and says so on a page of its own.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{url}/signed-out")
    await expect(page.get_by_test_id("signed-out")).to_have_text("You have signed out")
    await accessible(page)
    await page.goto(f"{url}/officer")
    assert page.url == f"{url}/sign-in"
    await context.close()


async def idle_navigator_is_signed_out(browser: Any, url: str, clock: FrozenClock) -> None:
    """The live queue keeps refreshing, but that is not use: after 30 idle minutes (the
    injected clock) the page itself goes to the signed-out page and says why."""
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    await page.goto(f"{url}/sign-in")
    await page.get_by_label("Access token").fill(NAVIGATOR)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{url}/navigator")
    clock.advance(timedelta(minutes=31))
    await expect(page).to_have_url(f"{url}/signed-out?reason=timeout", timeout=15_000)
    await expect(page.get_by_test_id("timed-out")).to_contain_text("30 minutes")
    await accessible(page)
    assert "wb_session" not in {c["name"] for c in await context.cookies()}
    await context.close()
