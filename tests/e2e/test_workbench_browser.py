"""The workbench in a real headless browser (Debian's Chromium, never a downloaded one).

Intake, triage and mash-enquiries run in-process on one embedded bus and SQLite with a
frozen clock; the workbench is served by uvicorn on a free local port and reads their APIs
(httpx, the user's own bearer token). axe-core (from tools/workbench-assets, never a CDN)
checks every page visited against WCAG 2.2 AA: 0 violations.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright, expect

from mashcore.clock import FrozenClock
from mashcore.embedded_bus import EmbeddedBus
from mashcore.settings import Settings
from tests.e2e.test_dashboard_browser import serving
from tests.support import auth, running_services, synthetic_referral, token
from workbench.apis import Apis
from workbench.app import WorkbenchSettings, create_workbench

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 09:00
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM_TOKEN = token("team_manager", "local_authority", subject="tm-1", partnership=P)
OFFICER = token("information_officer", "local_authority", subject="io-1", partnership=P)
NAVIGATOR = token("navigator", "police", subject="nav-police-1", partnership=P)
CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tools" / "workbench-assets" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


async def accessible(page: Page) -> None:
    """axe-core on the page as it is now: no WCAG 2.2 AA violation."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=AXE.read_text())
    result = await page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_22_AA)
    violations = [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]}
                  for v in result["violations"]]
    assert not violations, f"{page.url}: {json.dumps(violations)}"


async def shoot(page: Page, tmp_path: Path, name: str) -> None:
    shot = (ROOT / "docs" / "screenshots" / f"workbench-{name}.png"
            if os.environ.get("MASH_UPDATE_SCREENSHOT") else tmp_path / f"{name}.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shot), full_page=True, animations="disabled")
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


async def test_a_police_navigator_answers_a_red_request_in_the_browser(tmp_path: Path) -> None:
    assert AXE.exists(), "run `make node-deps` (axe-core in tools/workbench-assets)"
    settings = Settings(data_dir=tmp_path)
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    clock = FrozenClock(NOW)
    page_errors: list[str] = []
    try:
        async with running_services(settings, ["intake", "triage", "mash-enquiries"], bus,
                                    clock) as clients:
            # The clock jumps five hours below: a session policy that outlasts it.
            app = create_workbench(settings, WorkbenchSettings(refresh_seconds=1,
                                                               session_idle_minutes=600),
                                   apis=Apis(clients), clock=clock)
            async with serving(app) as workbench, async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                           args=["--no-sandbox"])
                try:
                    await journey(browser, workbench.url, clients, tmp_path, page_errors, clock)
                finally:
                    await browser.close()
    finally:
        await bus.stop()
    assert not page_errors, page_errors


async def journey(browser: Any, url: str, clients: dict[str, Any], tmp_path: Path,
                  page_errors: list[str], clock: FrozenClock) -> None:
    # bypass_csp: only so the test can inject axe-core; the pages never run inline script.
    context = await browser.new_context(viewport={"width": 1280, "height": 900},
                                        bypass_csp=True)
    page = await context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))

    # Signed out: every page leads to the sign-in page, which explains mash-token.
    await page.goto(f"{url}/navigator")
    assert page.url == f"{url}/sign-in"
    await expect(page.locator("main")).to_contain_text("mash-token")
    await accessible(page)
    await shoot(page, tmp_path, "sign-in")
    await page.get_by_label("Access token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("error-summary")).to_contain_text("valid")
    await accessible(page)

    await page.get_by_label("Access token").fill(NAVIGATOR)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{url}/navigator")
    await expect(page.get_by_test_id("who")).to_contain_text("Navigator, police · coventry")
    cookies = {c["name"]: c for c in await context.cookies()}
    assert cookies["wb_session"]["httpOnly"] and cookies["wb_session"]["sameSite"] == "Strict"
    assert NAVIGATOR not in cookies["wb_session"]["value"]  # encoded and signed
    await expect(page.get_by_test_id("queue-empty")).to_be_visible()
    await accessible(page)

    # A school refers; the information officer rates it Red in the browser; the manager
    # decides Red, MASH enquiries, in the browser too.
    body = synthetic_referral(partnership=P, consent={
        "consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    response = await clients["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    assert response.status_code == 202, response.text
    reference = response.json()["case_reference"]
    await rate_red_as_the_information_officer(browser, url, reference, body, tmp_path,
                                              page_errors)

    await consent_gate_as_the_information_officer(browser, url, clients, tmp_path, page_errors)
    manager = await sign_in(browser, url, TM_TOKEN, page_errors)
    await decide_red_as_the_team_manager(manager, url, reference, tmp_path)

    # The request appears in the open queue without a reload, with its time left.
    row = page.get_by_test_id("queue-row").filter(has_text=reference)
    await expect(row).to_have_attribute("data-status", "pending", timeout=30_000)
    await expect(row).to_contain_text("Red")
    await expect(row).to_contain_text("left")
    await expect(row).to_have_attribute("data-late", "false")

    # Past its deadline (the injected clock), the same row turns late, still live.
    [entry] = [e for e in (await clients["mash-enquiries"].get(
        "/v1/requests", headers={"Authorization": f"Bearer {NAVIGATOR}"})).json()
        if e["case_reference"] == reference]
    clock.set(datetime.fromisoformat(entry["deadline"]) + timedelta(hours=1, minutes=5))
    await expect(row).to_have_attribute("data-late", "true", timeout=15_000)
    await expect(row).to_contain_text("Late by 1 hour 5 minutes")
    await accessible(page)
    await shoot(page, tmp_path, "navigator-queue")

    await row.get_by_role("link").click()
    request_url = page.url
    child = body["children"][0]
    await expect(page.get_by_test_id("subjects")).to_contain_text(child["last_name"])
    for secret in (child["first_name"], child["last_name"]):
        assert secret not in request_url  # ids in URLs, never names
    await accessible(page)

    # A colleague's tab, opened now: it will act second.
    other = await context.new_page()
    await other.goto(request_url)

    # The answer without saying whether anything is known: the API's problem, by the field.
    await page.get_by_label("What your systems show").fill("Synthetic: one call-out in 2025.")
    await page.get_by_role("button", name="Send answer").click()
    await expect(page.get_by_test_id("error-summary")).to_be_visible()
    await expect(page.locator("#known-error")).to_be_visible()
    await expect(page.get_by_label("What your systems show")).to_have_value(
        "Synthetic: one call-out in 2025.")  # nothing typed is lost
    await accessible(page)
    await shoot(page, tmp_path, "navigator-answer-errors")

    await page.get_by_role("radio", name="Yes").check()
    await page.get_by_role("button", name="Send answer").click()
    await expect(page.get_by_test_id("sent")).to_contain_text("Your answer was sent")
    await expect(page.get_by_test_id("status")).to_have_text("Answered")
    await expect(page.get_by_test_id("reply")).to_contain_text("one call-out in 2025")
    await accessible(page)
    await shoot(page, tmp_path, "navigator-answered")

    # The colleague declines after the answer: told to reload, their words kept.
    await other.get_by_role("radio", name="Wrong agency").check()
    await other.get_by_label("Explanation").fill("Synthetic: not ours.")
    await other.get_by_role("button", name="Decline the request").click()
    await expect(other.get_by_test_id("error-summary")).to_contain_text("Reload")
    await expect(other.get_by_label("Explanation")).to_have_value("Synthetic: not ours.")
    await accessible(other)

    await record_the_outcome(manager, url, reference, clients, tmp_path)

    # Signing out ends the session.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{url}/signed-out")
    await page.goto(f"{url}/navigator")
    assert page.url == f"{url}/sign-in"


async def sign_in(browser: Any, url: str, bearer: str, page_errors: list[str]) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900},
                                        bypass_csp=True)
    page = await context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    await page.goto(f"{url}/sign-in")
    await page.get_by_label("Access token").fill(bearer)
    await page.get_by_role("button", name="Sign in").click()
    return page


async def rate_red_as_the_information_officer(browser: Any, url: str, reference: str,
                                              body: dict[str, Any], tmp_path: Path,
                                              page_errors: list[str]) -> None:
    page = await sign_in(browser, url, OFFICER, page_errors)
    await expect(page).to_have_url(f"{url}/officer")
    await expect(page.get_by_test_id("who")).to_contain_text("Information officer")
    row = page.get_by_test_id("case-row").filter(has_text=reference)
    for _ in range(30):  # the case is opened from intake's event: reload until it is listed
        if await row.count():
            break
        await page.wait_for_timeout(500)
        await page.reload()
    await accessible(page)
    await shoot(page, tmp_path, "officer-queue")
    await row.get_by_role("link").click()
    await expect(page.get_by_test_id("children")).to_contain_text(
        body["children"][0]["last_name"])
    await expect(page.get_by_test_id("concern")).to_contain_text(body["concern"]["summary"])
    await expect(page.get_by_test_id("decision-support")).to_be_visible()
    await expect(page.get_by_test_id("quality")).to_contain_text("complete")
    await accessible(page)

    # No rating chosen: the API's problem is shown by the field; the rationale is kept.
    await page.get_by_label("Why this rating").fill("Synthetic: immediate risk.")
    await page.get_by_role("button", name="Save the rating").click()
    await expect(page.locator("#brag-error")).to_be_visible()
    await expect(page.get_by_label("Why this rating")).to_have_value("Synthetic: immediate risk.")
    await accessible(page)

    await page.get_by_role("radio", name="Red").check()
    await page.get_by_role("group", name="Are there safeguarding concerns?").get_by_role(
        "radio", name="Yes").check()
    await page.get_by_role("button", name="Save the rating").click()
    await expect(page.get_by_test_id("sent")).to_be_visible()
    await expect(page.get_by_test_id("case-brag")).to_have_text("Red")
    await accessible(page)
    await shoot(page, tmp_path, "officer-case")
    await page.context.close()


async def decide_red_as_the_team_manager(page: Page, url: str, reference: str,
                                         tmp_path: Path) -> None:
    await expect(page).to_have_url(f"{url}/manager")
    row = page.get_by_test_id("case-row").filter(has_text=reference)
    await expect(row).to_have_count(1)
    await accessible(page)
    await shoot(page, tmp_path, "manager-queue")
    await row.get_by_role("link").click()
    await expect(page.get_by_test_id("decision-support")).to_be_visible()
    # The partnership's own levels (Coventry's pack) and its routes.
    levels = page.get_by_role("group", name="Level of need")
    await expect(levels.get_by_role("radio")).to_have_count(4)
    await levels.get_by_role("radio", name="L4 Statutory").check()
    await page.get_by_role("group", name="Final BRAG rating").get_by_role(
        "radio", name="Red").check()
    await page.get_by_role("group", name="Route").get_by_role(
        "radio", name="Mash enquiries").check()
    await page.get_by_role("button", name="Record the decision").click()
    await expect(page.locator("#rationale-error")).to_be_visible()  # required by the API
    await expect(page.get_by_role("radio", name="L4 Statutory")).to_be_checked()
    await accessible(page)
    await page.get_by_label("Rationale").fill("Synthetic: urgent enquiries needed.")
    await page.get_by_role("button", name="Record the decision").click()
    await expect(page.get_by_test_id("sent")).to_be_visible()
    await accessible(page)
    await shoot(page, tmp_path, "manager-decision")


async def record_the_outcome(page: Page, url: str, reference: str, clients: dict[str, Any],
                             tmp_path: Path) -> None:
    # The other agencies answer from their own systems (over REST).
    tm = {"Authorization": f"Bearer {TM_TOKEN}"}
    [summary] = [e for e in (await clients["mash-enquiries"].get("/v1/episodes", headers=tm)
                             ).json() if e["case_reference"] == reference]
    episode = (await clients["mash-enquiries"].get(f"/v1/episodes/{summary['episode_id']}",
                                                   headers=tm)).json()
    for answer in episode["answers"]:
        if answer["status"] == "pending":
            headers = auth("navigator", answer["agency"], subject=f"nav-{answer['agency']}",
                           partnership=P)
            r = await clients["mash-enquiries"].post(
                f"/v1/requests/{answer['request_id']}/answer", headers=headers,
                json={"known": False, "summary": f"Synthetic: {answer['agency']} holds nothing."})
            assert r.status_code == 200, r.text

    await page.goto(f"{url}/manager")
    await page.get_by_test_id("episode-row").filter(has_text=reference).get_by_role(
        "link").click()
    police = page.get_by_test_id("answer-row").and_(page.locator('[data-agency="police"]'))
    await expect(police).to_contain_text("one call-out in 2025")
    await expect(page.get_by_test_id("answer-row")).to_have_count(len(episode["answers"]))
    await accessible(page)
    await shoot(page, tmp_path, "manager-episode")
    await page.get_by_role("radio", name="Strategy discussion").check()
    await page.get_by_label("Rationale").fill("Synthetic: the answers show significant harm.")
    await page.get_by_role("button", name="Record the outcome").click()
    await expect(page.get_by_test_id("sent")).to_be_visible()
    await expect(page.get_by_test_id("outcome")).to_contain_text("Strategy discussion")
    await accessible(page)


async def consent_gate_as_the_information_officer(browser: Any, url: str,
                                                  clients: dict[str, Any], tmp_path: Path,
                                                  page_errors: list[str]) -> None:
    """No safeguarding concerns and no consent: the officer chooses the consent gate's exit."""
    body = synthetic_referral(partnership=P, consent={
        "consent_to_referral": "no", "consent_to_information_sharing": "no",
        "reasons_if_not": "Synthetic: parents not yet asked."})
    response = await clients["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    assert response.status_code == 202, response.text
    reference = response.json()["case_reference"]
    page = await sign_in(browser, url, OFFICER, page_errors)
    row = page.get_by_test_id("case-row").filter(has_text=reference)
    for _ in range(30):  # the case is opened from intake's event: reload until it is listed
        if await row.count():
            break
        await page.wait_for_timeout(500)
        await page.reload()
    await row.get_by_role("link").click()
    await page.get_by_role("radio", name="Green").check()
    await page.get_by_role("group", name="Are there safeguarding concerns?").get_by_role(
        "radio", name="No").check()
    await page.get_by_role("button", name="Save the rating").click()
    await expect(page.get_by_test_id("case-status")).to_have_text("Awaiting consent gate")
    await page.get_by_role("button", name="Record the exit").click()
    await expect(page.locator("#outcome-error")).to_be_visible()
    await accessible(page)
    await page.get_by_role("radio", name="Return to the referrer").check()
    await page.get_by_label("Why").fill("Synthetic: the family should be asked first.")
    await page.get_by_role("button", name="Record the exit").click()
    await expect(page.get_by_test_id("sent")).to_be_visible()
    await expect(page.get_by_role("button", name="Record the exit")).to_have_count(0)
    await accessible(page)
    await shoot(page, tmp_path, "officer-consent-gate")
    await page.context.close()
