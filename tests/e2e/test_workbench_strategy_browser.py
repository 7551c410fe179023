"""The strategy pages in a real headless browser (Debian's Chromium), over the running system:
a Red case's MASH outcome "strategy discussion" recorded in the browser → the social worker
schedules the discussion → the chairing team manager records it held with an s47 decision,
signs off and circulates the minutes → the social worker records the child's s47 outcome →
the team manager agrees it. axe-core finds 0 WCAG 2.2 AA violations on every page.

Intake, triage, mash-enquiries and strategy run in-process, each on its own database on the
real PostgreSQL server, sharing an embedded bus and a frozen clock; the workbench is served
by uvicorn and reads their APIs with each user's own token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright, expect

from tests.e2e.test_dashboard_browser import serving
from tests.e2e.test_workbench_browser import (
    AXE,
    CHROMIUM,
    NOW,
    OFFICER,
    SCHOOL,
    TM_TOKEN,
    accessible,
    shoot,
    sign_in,
)
from tests.support import auth, eventually, services_on_postgres, synthetic_referral, token
from workbench.apis import Apis
from workbench.app import WorkbenchSettings, create_workbench

P = "coventry"
SW_TOKEN = token("social_worker", "local_authority", subject="sw-1", partnership=P)
TM = {"Authorization": f"Bearer {TM_TOKEN}"}


async def test_a_case_goes_from_its_mash_outcome_to_an_agreed_s47_outcome_in_the_browser(
        postgres_server: Any, tmp_path: Path) -> None:
    assert AXE.exists(), "run `make node-deps` (axe-core in tools/workbench-assets)"
    page_errors: list[str] = []
    async with services_on_postgres(postgres_server, tmp_path, [
            "intake", "triage", "mash-enquiries", "strategy"], NOW) as system:
        clients = {name: system[name] for name in ("intake", "triage", "mash-enquiries",
                                                   "strategy")}
        app = create_workbench(system["strategy"]._transport.app.state.context.settings,
                               WorkbenchSettings(), apis=Apis(clients), clock=system["clock"])
        reference, child = await a_red_case_with_every_answer_in(clients)
        async with serving(app) as workbench, async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=["--no-sandbox"])
            try:
                await journey(browser, workbench.url, reference, child, tmp_path, page_errors)
            finally:
                await browser.close()
    assert not page_errors, page_errors


async def a_red_case_with_every_answer_in(clients: dict[str, Any]) -> tuple[str, str]:
    """Over REST: a school's referral, decided Red for MASH enquiries; every agency answers."""
    body = synthetic_referral(partnership=P, consent={
        "consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    response = await clients["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    assert response.status_code == 202, response.text
    reference = str(response.json()["case_reference"])

    async def decided() -> bool:
        r = await clients["triage"].post(
            f"/v1/cases/{reference}/threshold-decision", headers=TM,
            json={"level_code": "L4", "brag": "red", "route": "mash_enquiries",
                  "rationale": "Synthetic: urgent enquiries needed."})
        return r.status_code == 200
    await eventually(decided, what="the threshold decision")

    async def episode() -> dict[str, Any] | None:
        listed = (await clients["mash-enquiries"].get("/v1/episodes", headers=TM)).json()
        mine = [e for e in listed if e["case_reference"] == reference]
        if not mine:
            return None
        found: dict[str, Any] = (await clients["mash-enquiries"].get(
            f"/v1/episodes/{mine[0]['episode_id']}", headers=TM)).json()
        return found if found["answers"] else None
    for answer in (await eventually(episode, what="the MASH episode"))["answers"]:
        headers = auth("navigator", answer["agency"], subject=f"nav-{answer['agency']}",
                       partnership=P)
        r = await clients["mash-enquiries"].post(
            f"/v1/requests/{answer['request_id']}/answer", headers=headers,
            json={"known": True, "summary": f"Synthetic: {answer['agency']} has concerns."})
        assert r.status_code == 200, r.text
    return reference, str(body["children"][0]["last_name"])


async def reload_until(page: Page, locator: Any) -> None:
    """The record arrives by event: reload until it is listed."""
    for _ in range(60):
        if await locator.count():
            return
        await page.wait_for_timeout(500)
        await page.reload()
    await expect(locator).to_have_count(1)


async def journey(browser: Any, url: str, reference: str, child: str, tmp_path: Path,
                  page_errors: list[str]) -> None:
    visited: list[str] = []

    def track(page: Page) -> Page:
        page.on("framenavigated", lambda frame: visited.append(frame.url))
        return page

    # The team manager records the MASH outcome "strategy discussion" in the browser.
    manager = track(await sign_in(browser, url, TM_TOKEN, page_errors))
    await expect(manager.get_by_test_id("nav")).to_contain_text("Strategy")
    await reload_until(manager, manager.get_by_test_id("episode-row").filter(
        has_text=reference))
    await manager.get_by_test_id("episode-row").filter(has_text=reference).get_by_role(
        "link").click()
    await manager.get_by_role("radio", name="Strategy discussion").check()
    await manager.get_by_label("Rationale").fill("Synthetic: the answers show significant harm.")
    await manager.get_by_role("button", name="Record the outcome").click()
    await expect(manager.get_by_test_id("outcome")).to_contain_text("Strategy discussion")

    # The social worker's start page is the strategy work list; the request arrives by event.
    worker = track(await sign_in(browser, url, SW_TOKEN, page_errors))
    await expect(worker).to_have_url(f"{url}/strategy")
    row = worker.get_by_test_id("discussion-row").filter(has_text=reference)
    await reload_until(worker, row)
    await expect(row).to_have_attribute("data-status", "requested")
    await expect(row).to_contain_text("Hold by")
    await accessible(worker)
    await shoot(worker, tmp_path, "strategy-list")
    await row.get_by_role("link", name="Child 1").click()
    discussion_url = worker.url
    await expect(worker.get_by_test_id("children")).to_contain_text(child)
    await expect(worker.get_by_test_id("status")).to_have_text("Requested")
    await expect(worker.get_by_role("heading", name="Record the discussion as held")
                 ).to_have_count(0)  # the chair's (or business support's) form, not hers
    await accessible(worker)

    # Scheduled without police: the API's problem by the invitees; nothing typed is lost.
    await worker.get_by_role("radio", name="An online meeting").check()
    await worker.get_by_label("Starts").fill("24/11/2026 08:00")
    await worker.get_by_label("Ends").fill("24/11/2026 08:45")
    await worker.get_by_label("Dial-in").fill("https://meet.example/strategy-1")
    await worker.get_by_label("Chair: the team manager's MASH user id").fill("tm-1")
    await worker.get_by_label("Invitee 1: MASH user id").fill("sw-1")
    await worker.get_by_label("Invitee 2: MASH user id").fill("hv-1")
    await worker.get_by_label("Invitee 3: agency").select_option("")
    await worker.get_by_label("Invitee 3: role").select_option("")
    await worker.get_by_role("button", name="Schedule").click()
    await expect(worker.locator("#invitees-error")).to_contain_text("police")
    await expect(worker.get_by_test_id("error-summary")).to_contain_text("police")
    await expect(worker.get_by_label("Dial-in")).to_have_value("https://meet.example/strategy-1")
    await expect(worker.get_by_label("Invitee 2: MASH user id")).to_have_value("hv-1")
    await accessible(worker)
    await worker.get_by_label("Invitee 3: role").select_option("navigator")
    await worker.get_by_label("Invitee 3: agency").select_option("police")
    await worker.get_by_label("Invitee 3: MASH user id").fill("pc-1")
    await worker.get_by_role("button", name="Schedule").click()
    await expect(worker.get_by_test_id("sent")).to_contain_text("scheduled")
    await expect(worker.get_by_test_id("status")).to_have_text("Scheduled")
    await expect(worker.get_by_test_id("invitees")).to_contain_text("Police (pc-1)")
    await expect(worker.get_by_test_id("invitees")).to_contain_text("Referrer, Education")
    await accessible(worker)
    await shoot(worker, tmp_path, "strategy-discussion")
    colleague = track(await worker.context.new_page())  # will act second
    await colleague.goto(discussion_url)

    # The chair records it held: first without the decisions (the API's problems by the
    # fields, worded for the questions), then with an s47 decision for the child and a
    # criminal investigation.
    await manager.goto(discussion_url)
    await manager.get_by_label("Why (the s47 decision)").fill("Synthetic: reasonable cause.")
    await manager.get_by_role("button", name="Record as held").click()
    each_child = "Select yes or no for section 47 enquiries for each child"
    required = "Select whether a criminal investigation is required"
    await expect(manager.locator("#s47_decisions-error")).to_contain_text(each_child)
    await expect(manager.locator("#criminal_investigation-error")).to_contain_text(required)
    summary = manager.get_by_test_id("error-summary")
    await expect(summary.get_by_role("link", name=each_child)).to_have_attribute(
        "href", "#s47_decisions")
    await expect(summary.get_by_role("link", name=required)).to_have_attribute(
        "href", "#criminal_investigation")
    await expect(summary).not_to_contain_text("Field required")
    await expect(manager.get_by_label("Why (the s47 decision)")).to_have_value(
        "Synthetic: reasonable cause.")
    await accessible(manager)
    await manager.get_by_role("group", name="Criminal investigation").get_by_role(
        "radio", name="Required", exact=True).check()
    await manager.get_by_label("When the criminal investigation starts").fill(
        "25/11/2026 09:00")
    await manager.get_by_role("radio", name="Yes, s47 enquiries").check()
    await manager.get_by_label("Action 1", exact=True).fill("Synthetic: joint visit today.")
    await manager.get_by_label("Action 1: owner's role").select_option("social_worker")
    await manager.get_by_label("Action 1: owner's agency").select_option("local_authority")
    await manager.get_by_role("button", name="Record as held").click()
    await expect(manager.get_by_test_id("sent")).to_contain_text("held")
    await expect(manager.get_by_test_id("status")).to_have_text("Held")
    await expect(manager.get_by_test_id("deadline")).to_contain_text("Minutes due")
    await expect(manager.get_by_test_id("s47-decisions")).to_contain_text("Child 1: yes")
    await accessible(manager)
    await shoot(manager, tmp_path, "strategy-held")
    await manager.get_by_label("Minutes", exact=True).fill("Synthetic minutes: s47 for child 1.")
    await manager.get_by_role("button", name="Sign off the minutes").click()
    await expect(manager.get_by_test_id("status")).to_have_text("Minutes signed off")
    await manager.get_by_role("button", name="Circulate the minutes").click()
    await expect(manager.get_by_test_id("status")).to_have_text("Minutes circulated")
    await expect(manager.get_by_test_id("minutes")).to_contain_text("s47 for child 1")
    await accessible(manager)

    # The colleague's tab, opened before: cancelling now loses the race; words kept.
    await colleague.get_by_label("Why it is called off").fill("Synthetic: police unavailable.")
    await colleague.get_by_role("button", name="Cancel the discussion").click()
    await expect(colleague.get_by_test_id("error-summary")).to_contain_text("Reload")
    await expect(colleague.get_by_label("Why it is called off")).to_have_value(
        "Synthetic: police unavailable.")
    await accessible(colleague)

    # The social worker's s47 outcome: a next step the outcome does not allow is refused
    # by the field; then the ICPC.
    await worker.reload()
    await worker.get_by_role("link", name="the s47 enquiry for child 1").click()
    await expect(worker.get_by_test_id("status")).to_have_text("Open")
    await worker.get_by_role("radio", name="Substantiated, continuing risk").check()
    await worker.get_by_role("radio", name="Supportive services").check()
    await worker.get_by_label("Why").fill("Synthetic: the risk continues at home.")
    await worker.get_by_role("button", name="Record the outcome").click()
    await expect(worker.locator("#next_step-error")).to_contain_text("icpc")
    await expect(worker.get_by_label("Why")).to_have_value("Synthetic: the risk continues at home.")
    await accessible(worker)
    await worker.get_by_role("radio", name="Initial child protection conference").check()
    await worker.get_by_role("button", name="Record the outcome").click()
    await expect(worker.get_by_test_id("status")).to_have_text("Awaiting agreement")
    await expect(worker.get_by_test_id("next-step")).to_have_text(
        "Initial child protection conference")
    await expect(worker.get_by_role("button", name="Record your decision")).to_have_count(0)
    await accessible(worker)
    s47_url = worker.url.split("?")[0]

    # The team manager agrees it, from the case's strategy page.
    await manager.goto(f"{url}/cases/{reference}")
    await manager.get_by_test_id("case-strategy").click()
    await expect(manager.get_by_test_id("s47-row")).to_contain_text("Awaiting agreement")
    await accessible(manager)
    await shoot(manager, tmp_path, "strategy-case")
    await manager.get_by_test_id("s47-row").get_by_role("link").click()
    assert manager.url == s47_url  # the same enquiry, by its id
    await manager.get_by_role("radio", name="Yes, agree it").check()
    await manager.get_by_label("Your rationale").fill("Synthetic: agreed; convene an ICPC.")
    await manager.get_by_role("button", name="Record your decision").click()
    await expect(manager.get_by_test_id("status")).to_have_text("Concluded")
    await expect(manager.get_by_test_id("agreement")).to_contain_text("convene an ICPC")
    await accessible(manager)
    await shoot(manager, tmp_path, "strategy-s47")

    # Strategy is not for an information officer: no menu entry, and the page is a 403.
    officer = track(await sign_in(browser, url, OFFICER, page_errors))
    await expect(officer).to_have_url(f"{url}/officer")
    await expect(officer.get_by_test_id("nav")).to_have_count(0)
    response = await officer.goto(f"{url}/strategy")
    assert response is not None and response.status == 403
    await accessible(officer)
    # A discussion that is not there: the standard 404 page.
    response = await worker.goto(f"{url}/strategy/discussions/00000000-0000-4000-8000-"
                                 "000000000000")
    assert response is not None and response.status == 404
    await accessible(worker)

    assert visited and not [u for u in visited if child in u]  # ids in URLs, never names
