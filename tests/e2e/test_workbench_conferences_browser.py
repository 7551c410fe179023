"""The conference pages in a real headless browser (Debian's Chromium): a case carried to an
ICPC through the public APIs (as tests/e2e/test_conferences_over_kafka.py does), then in the
workbench the social worker arranges it, the IRO records it held with a plan, the team
manager arranges and records the first core group, and the social worker arranges the first
review. axe-core checks every conference page: 0 WCAG 2.2 AA violations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright, expect

from mashcore.clock import FrozenClock
from mashcore.embedded_bus import EmbeddedBus
from mashcore.settings import Settings
from tests.e2e.test_dashboard_browser import serving
from tests.e2e.test_workbench_browser import AXE, CHROMIUM, accessible, shoot, sign_in
from tests.support import auth, eventually, running_services, synthetic_referral, token
from workbench.apis import Apis
from workbench.app import WorkbenchSettings, create_workbench

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 09:00
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-s", partnership=P)
SW = auth("social_worker", "local_authority", subject="sw-s", partnership=P)
BS = auth("business_support", "local_authority", subject="bs-s", partnership=P)
SW_TOKEN = token("social_worker", "local_authority", subject="sw-s", partnership=P)
TM_TOKEN = token("team_manager", "local_authority", subject="tm-s", partnership=P)
IRO_TOKEN = token("iro", "local_authority", subject="iro-s", partnership=P)
OFFICER_TOKEN = token("information_officer", "local_authority", subject="io-1", partnership=P)
PEOPLE = [{"role": "social_worker", "agency": "local_authority", "user_id": "sw-s"},
          {"role": "practitioner", "agency": "health", "user_id": "hv-s"},
          {"role": "practitioner", "agency": "police", "user_id": "pc-s"}]
PEOPLE_LINES = "social_worker, local_authority, sw-s\npractitioner, health, hv-s\n" \
               "practitioner, police, pc-s"


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202), response.text
    body: dict[str, Any] = response.json()
    return body


async def a_case_awaiting_its_icpc(clients: dict[str, Any]) -> str:
    """Through the public APIs: a referral, a red decision for a strategy discussion, the
    discussion held deciding an s47, the s47's outcome of continuing risk agreed."""
    body = synthetic_referral(23, partnership=P, consent={
        "consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    reference: str = ok(await clients["intake"].post("/v1/contacts", json=body,
                                                     headers=SCHOOL))["case_reference"]

    async def decided() -> bool:
        response = await clients["triage"].post(
            f"/v1/cases/{reference}/threshold-decision", headers=TM, json={
                "level_code": "L4", "brag": "red", "route": "strategy_discussion",
                "rationale": "Synthetic: disclosure of harm."})
        return bool(response.status_code == 200)
    await eventually(decided, timeout=30, what="the threshold decision")

    async def listed(path: str) -> list[dict[str, Any]]:
        response = await clients["strategy"].get(f"/v1/cases/{reference}/{path}", headers=SW)
        return list(response.json()) if response.status_code == 200 else []
    [discussion] = await eventually(lambda: listed("strategy-discussions"), timeout=30,
                                    what="the requested discussion")
    url = f"/v1/strategy-discussions/{discussion['meeting_id']}"
    t0 = NOW - timedelta(hours=2)
    ok(await clients["strategy"].post(f"{url}/schedule", headers=BS, json={
        "format": "phone_calls", "starts_at": t0.isoformat(),
        "ends_at": (t0 + timedelta(minutes=20)).isoformat(), "dial_in": "0300 000 0000",
        "chair_id": "tm-s", "invitees": PEOPLE}))
    ok(await clients["strategy"].post(f"{url}/held", headers=TM, json={
        "held_at": t0.isoformat(), "attendees": PEOPLE,
        "criminal_investigation": "not_required",
        "s47_decisions": [{"child_number": 1, "s47": True}],
        "s47_decision_rationale": "Synthetic: reasonable cause to suspect harm."}))
    [enquiry] = await listed("s47-enquiries")
    s47 = f"/v1/s47-enquiries/{enquiry['s47_enquiry_id']}"
    ok(await clients["strategy"].post(f"{s47}/outcome", headers=SW, json={
        "outcome": "substantiated_continuing_risk", "next_step": "icpc",
        "rationale": "Synthetic: continuing risk."}))
    ok(await clients["strategy"].post(f"{s47}/agreement", headers=TM, json={
        "agree": True, "rationale": "Synthetic: agreed."}))
    return reference


async def test_a_case_goes_from_its_icpc_to_a_plan_a_core_group_and_a_review_in_the_browser(
    tmp_path: Path,
) -> None:
    assert AXE.exists(), "run `make node-deps` (axe-core in tools/workbench-assets)"
    settings = Settings(data_dir=tmp_path)
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    clock = FrozenClock(NOW)
    page_errors: list[str] = []
    try:
        async with running_services(settings, ["intake", "triage", "mash-enquiries", "strategy"],
                                    bus,
                                    clock) as clients:
            reference = await a_case_awaiting_its_icpc(clients)
            # The clock jumps days below, between arrangement and meeting: a session
            # policy that outlasts the jumps (the policy itself is tested elsewhere).
            app = create_workbench(settings, WorkbenchSettings(session_idle_minutes=60 * 24 * 30,
                                                               session_max_hours=24 * 30),
                                   apis=Apis(clients), clock=clock)
            async with serving(app) as workbench, async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                           args=["--no-sandbox"])
                try:
                    await journey(browser, workbench.url, reference, tmp_path, page_errors,
                                  clock)
                finally:
                    await browser.close()
    finally:
        await bus.stop()
    assert not page_errors, page_errors


async def journey(browser: Any, url: str, reference: str, tmp_path: Path,
                  page_errors: list[str], clock: FrozenClock) -> None:
    icpc_at = "2026-11-26T10:00"
    review_on = (NOW + timedelta(days=60)).date().isoformat()

    # The social worker: the case's conferences, the ICPC awaiting its date, arranged.
    sw = await sign_in(browser, url, SW_TOKEN, page_errors)
    await sw.get_by_role("link", name="Conferences", exact=True).click()
    listed = sw.get_by_test_id("open-conferences").locator("tbody tr")
    await expect(listed).to_have_count(1)
    await expect(listed.first).to_contain_text(reference)
    await expect(listed.first).to_contain_text("Awaiting schedule")
    await accessible(sw)
    await shoot(sw, tmp_path, "conference-list")
    await listed.first.get_by_role("link", name="all conferences and plans").click()
    rows = sw.get_by_test_id("conferences").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Awaiting schedule")
    await expect(rows.first).to_contain_text("left")
    await accessible(sw)
    await shoot(sw, tmp_path, "conference-case")
    await rows.first.get_by_role("link").click()
    await expect(sw.get_by_test_id("status")).to_have_text("Awaiting schedule")
    await accessible(sw)

    # Without a chair or invitees the API refuses; its problems, worded for the questions,
    # sit next to the fields.
    await sw.get_by_label("When (date and time, UTC)").fill(icpc_at)
    await sw.get_by_role("button", name="Arrange the conference").click()
    summary = sw.get_by_test_id("error-summary")
    await expect(summary).to_be_visible()
    await expect(summary.get_by_role("link", name="Enter the chairing IRO's user ID")
                 ).to_have_attribute("href", "#chaired_by_iro")
    await expect(summary.get_by_role("link", name="Enter who is invited, one a line")
                 ).to_have_attribute("href", "#invitees")
    await expect(summary).not_to_contain_text("Field required")
    await expect(sw.locator("#invitees-error")).to_contain_text(
        "Enter who is invited, one a line")
    await expect(sw.locator("#chaired_by_iro-error")).to_contain_text(
        "Enter the chairing IRO's user ID")
    await expect(sw.get_by_label("When (date and time, UTC)")).to_have_value(icpc_at)
    await accessible(sw)
    await shoot(sw, tmp_path, "conference-icpc-errors")
    await sw.get_by_label("Chairing IRO's user id").fill("iro-s")
    await sw.get_by_label("Invitees").fill(PEOPLE_LINES + "\nparent_or_carer")
    await sw.get_by_role("group", name="How").get_by_role(
        "radio", name="A meeting in person").check()
    await sw.get_by_label("Office address (in person)").fill("Synthetic hub office, room 1")
    await sw.get_by_role("button", name="Arrange the conference").click()
    await expect(sw.get_by_test_id("sent")).to_have_text("The conference was arranged")
    await expect(sw.get_by_test_id("status")).to_have_text("Scheduled")
    await expect(sw.get_by_test_id("reports")).to_contain_text("awaited")
    await accessible(sw)
    await shoot(sw, tmp_path, "conference-icpc-scheduled")
    await sw.get_by_role("button", name="Mark health's report received").click()
    await expect(sw.get_by_test_id("sent")).to_have_text("The report was marked received")
    await expect(sw.get_by_test_id("reports")).to_contain_text("Health: received")
    await accessible(sw)
    icpc_url = sw.url.split("?")[0]

    # The IRO records it held: a plan for child 1, neglect, its core group, a first review.
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    iro = await sign_in(browser, url, IRO_TOKEN, page_errors)
    await iro.goto(icpc_url)
    await expect(iro.get_by_role("button", name="Arrange the conference")).to_have_count(0)
    await iro.get_by_label("When it was held (date and time, UTC)").fill(icpc_at)
    await iro.get_by_label("Who attended").fill(PEOPLE_LINES)
    await iro.get_by_role("group", name="make a child protection plan?").get_by_role(
        "radio", name="Yes").check()
    await iro.get_by_role("button", name="Record the conference held").click()
    # A plan needs a category of abuse: the API names it, shown on child 1's field.
    await expect(iro.locator("#child-1-category_of_abuse-error")).to_be_visible()
    await expect(iro.get_by_role("radio", name="Yes")).to_be_checked()
    await accessible(iro)
    await iro.get_by_role("checkbox", name="Neglect").check()
    await iro.get_by_label("Core group members").fill(PEOPLE_LINES + "\nparent_or_carer")
    await iro.get_by_label("First review due by").fill(review_on)
    await iro.get_by_role("button", name="Record the conference held").click()
    await expect(iro.get_by_test_id("sent")).to_have_text("The conference was recorded as held")
    await expect(iro.get_by_test_id("decisions")).to_contain_text("neglect")
    await accessible(iro)
    await shoot(iro, tmp_path, "conference-icpc-held")

    # The social worker's page still offers to rearrange it: held meanwhile, the API answers
    # 409 and the page asks for a reload, keeping what was typed.
    await sw.get_by_label("Office address (in person)").fill("Synthetic hub office, room 2")
    await sw.get_by_role("button", name="Rearrange the conference").click()
    await expect(sw.get_by_test_id("error-summary")).to_contain_text("Reload the page")
    await expect(sw.get_by_label("Office address (in person)")).to_have_value(
        "Synthetic hub office, room 2")
    await accessible(sw)
    missing = await sw.goto(f"{url}/conferences/00000000-0000-4000-8000-000000000000")
    assert missing is not None and missing.status == 404
    await expect(sw.locator("h1")).to_have_text("Conference not found")
    await accessible(sw)

    # The team manager chairs the first core group: arranged from the plan, then held.
    clock.set(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    tm = await sign_in(browser, url, TM_TOKEN, page_errors)
    await tm.goto(f"{url}/cases/{reference}/conferences")
    await tm.get_by_test_id("plans").get_by_role("link").click()
    await expect(tm.get_by_test_id("plan")).to_contain_text("Neglect")
    await accessible(tm)
    form = tm.locator("form", has=tm.get_by_role("button", name="Arrange the next core group"))
    await form.get_by_label("When (date and time, UTC)").fill("2026-11-30T10:00")
    await form.get_by_label("Invitees").fill(PEOPLE_LINES)
    await form.get_by_role("button").click()
    await expect(tm.get_by_test_id("sent")).to_have_text("The core group was arranged")
    await accessible(tm)
    await tm.get_by_label("When it was held (date and time, UTC)").fill("2026-11-30T10:00")
    await tm.get_by_label("Who attended").fill(PEOPLE_LINES)
    await tm.get_by_label("New actions for the plan").fill(
        f"Synthetic: weekly visit; social_worker, local_authority; {review_on}")
    await tm.get_by_role("button", name="Record the core group held").click()
    await expect(tm.get_by_test_id("sent")).to_have_text("The core group was recorded as held")
    await expect(tm.get_by_test_id("status")).to_have_text("Held")
    await accessible(tm)
    await shoot(tm, tmp_path, "conference-core-group")

    # The social worker arranges the first review; the plan shows the action and both.
    await sw.goto(f"{url}/cases/{reference}/conferences")
    await sw.get_by_test_id("plans").get_by_role("link").click()
    await sw.get_by_label("Given on").fill("2026-11-27")
    await sw.get_by_role("radio", name="Easy read").check()
    await sw.get_by_role("button", name="Record the child's copy").click()
    await expect(sw.get_by_test_id("sent")).to_have_text("The child's copy was recorded")
    await expect(sw.get_by_test_id("plan")).to_contain_text("2026-11-27 (easy read)")
    await accessible(sw)
    form = sw.locator("form", has=sw.get_by_role("button",
                                                 name="Arrange the next review conference"))
    await form.get_by_label("When (date and time, UTC)").fill(f"{review_on}T10:00")
    await form.get_by_label("Chairing IRO's user id").fill("iro-s")
    await form.get_by_label("Invitees").fill(PEOPLE_LINES)
    await form.get_by_role("button").click()
    await expect(sw.get_by_test_id("sent")).to_have_text("The review conference was arranged")
    await expect(sw.get_by_test_id("status")).to_have_text("Scheduled")
    await accessible(sw)
    await shoot(sw, tmp_path, "conference-review")
    # Calling it off needs a coded reason: the question's message sits on the radios.
    await sw.get_by_role("button", name="Call off the review conference").click()
    await expect(sw.locator("#reason-error")).to_contain_text("Select why it is called off")
    await expect(sw.get_by_test_id("error-summary").get_by_role(
        "link", name="Select why it is called off")).to_have_attribute("href", "#reason")
    await expect(sw.get_by_test_id("status")).to_have_text("Scheduled")
    await accessible(sw)
    await sw.get_by_role("link", name="Back to the plan").click()
    await expect(sw.get_by_test_id("actions")).to_contain_text("Synthetic: weekly visit")
    await expect(sw.get_by_test_id("core-groups")).to_contain_text("held")
    await expect(sw.get_by_test_id("reviews")).to_contain_text("scheduled")
    await accessible(sw)
    await shoot(sw, tmp_path, "conference-plan")

    # An information officer has no conference pages: no navigation entry, the 403 page.
    officer: Page = await sign_in(browser, url, OFFICER_TOKEN, page_errors)
    await expect(officer.get_by_role("link", name="Conferences", exact=True)).to_have_count(0)
    response = await officer.goto(f"{url}/cases/{reference}/conferences")
    assert response is not None and response.status == 403
    await accessible(officer)
