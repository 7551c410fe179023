"""The escalation pages in a real headless browser (Debian's Chromium): a school's designated
safeguarding lead, working in the hub as the education navigator, disagrees over REST with a
case's threshold decision; the team manager finds it under "Escalations", is told what the
answer form lacks, answers it "not resolved"; the lead escalates it to stage 2 in the browser
(the API's ladder refusals shown by the field first); the service manager, signed in as a
team manager, answers it resolved, and a stale second tab is told to reload with its answer
kept. An information officer raises a disagreement from the case page but has no
"Escalations" entry and gets a 403 for the list. axe-core finds 0 WCAG 2.2 AA violations on
every page.

Intake, triage, mash-enquiries and strategy run in-process, each on its own database on the
real PostgreSQL server, sharing an embedded bus and a frozen clock; the workbench is served
by uvicorn and reads their APIs with each user's own token.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright, expect

from tests.e2e.test_dashboard_browser import serving
from tests.e2e.test_workbench_browser import AXE, CHROMIUM, NOW, SCHOOL, accessible, shoot, sign_in
from tests.support import auth, eventually, services_on_postgres, synthetic_referral, token
from workbench.apis import Apis
from workbench.app import WorkbenchSettings, create_workbench

P = "coventry"
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
TM_TOKEN = token("team_manager", "local_authority", subject="tm-1", partnership=P)
DSL = auth("navigator", "education", subject="dsl-1", partnership=P)
DSL_TOKEN = token("navigator", "education", subject="dsl-1", partnership=P)
HEAD_TOKEN = token("team_manager", "local_authority", subject="sm-1", partnership=P)
OFFICER_TOKEN = token("information_officer", "local_authority", subject="io-1", partnership=P)
SW = auth("social_worker", "local_authority", subject="sw-1", partnership=P)
# Only ids and case references in the workbench's URLs (and ?sent= after a form).
URL_SHAPE = re.compile(r"^http://[^/]+(/[A-Za-z0-9/_.-]*)?(\?sent=[a-z_]+)?$")


async def test_a_disagreement_goes_up_the_ladder_and_is_resolved_in_the_browser(
        postgres_server: Any, tmp_path: Path) -> None:
    assert AXE.exists(), "run `make node-deps` (axe-core in tools/workbench-assets)"
    page_errors: list[str] = []
    async with services_on_postgres(postgres_server, tmp_path, [
            "intake", "triage", "mash-enquiries", "strategy"], NOW) as system:
        clients = {name: system[name] for name in ("intake", "triage", "mash-enquiries",
                                                   "strategy")}
        app = create_workbench(system["strategy"]._transport.app.state.context.settings,
                               WorkbenchSettings(), apis=Apis(clients), clock=system["clock"])
        reference = await a_decided_case(clients)
        raised = await clients["strategy"].post("/v1/escalations", headers=DSL, json={
            "case_reference": reference, "about": "threshold_decision",
            "summary": "Synthetic: the school has seen new bruising; we ask for a strategy "
                       "discussion rather than MASH enquiries.",
            "escalated_to": {"role": "team_manager", "agency": "local_authority",
                             "user_id": "tm-1"}})
        assert raised.status_code == 201, raised.text
        escalation_id = str(raised.json()["escalation_id"])
        async with serving(app) as workbench, async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=["--no-sandbox"])
            try:
                await journey(browser, workbench.url, reference, escalation_id, tmp_path,
                              page_errors)
            finally:
                await browser.close()
    assert not page_errors, page_errors


async def a_decided_case(clients: dict[str, Any]) -> str:
    """Over REST: a school's referral, decided Red for MASH enquiries; strategy knows it."""
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

    async def known() -> bool:
        r = await clients["strategy"].get(f"/v1/cases/{reference}/strategy-discussions",
                                          headers=SW)
        return r.status_code == 200
    await eventually(known, what="strategy knows the case")
    return reference


async def journey(browser: Any, url: str, reference: str, escalation_id: str,
                  tmp_path: Path, page_errors: list[str]) -> None:
    visited: list[str] = []

    async def signed_in(bearer: str) -> Page:
        page = await sign_in(browser, url, bearer, page_errors)
        page.on("framenavigated", lambda frame: visited.append(frame.url))
        return page

    # Stage 1: the team manager finds it under Escalations.
    manager = await signed_in(TM_TOKEN)
    await manager.get_by_test_id("nav").get_by_role("link", name="Escalations").click()
    rows = manager.get_by_test_id("escalations").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(reference)
    await expect(rows.first).to_contain_text("The threshold decision")
    await expect(rows.first).to_contain_text("1: Line or team manager")
    await expect(rows.first).to_contain_text("Education")
    await expect(rows.first).to_contain_text("left")
    await accessible(manager)
    await shoot(manager, tmp_path, "escalation-list")
    await rows.first.get_by_role("link", name=reference).click()
    await expect(manager).to_have_url(f"{url}/escalations/{escalation_id}")
    await expect(manager.get_by_test_id("status")).to_have_text("Awaiting an answer")
    await expect(manager.get_by_test_id("summary")).to_contain_text("new bruising")
    await expect(manager.get_by_role("heading", name="Escalate to stage 2")).to_have_count(0)
    await accessible(manager)

    # The empty answer form: the API's problems, worded for each question.
    await manager.get_by_role("button", name="Record your answer").click()
    summary = manager.get_by_test_id("error-summary")
    await expect(summary).to_contain_text("Select yes if the disagreement is resolved")
    await expect(summary).to_contain_text("Enter your answer")
    await expect(manager.locator("#resolved-error")).to_contain_text(
        "Select yes if the disagreement is resolved")
    await expect(manager.locator("#resolution-error")).to_contain_text("Enter your answer")
    await accessible(manager)
    await shoot(manager, tmp_path, "escalation-answer-errors")
    await manager.get_by_label("No, it is not resolved").check()
    await manager.get_by_label("Your answer").fill(
        "Synthetic: the decision stands: the enquiries are under way within 24 hours.")
    await manager.get_by_role("button", name="Record your answer").click()
    await expect(manager.get_by_test_id("sent")).to_contain_text("Your answer was recorded")
    await expect(manager.get_by_test_id("status")).to_have_text("Not resolved")
    await expect(manager.get_by_test_id("stages").locator("tbody tr")).to_have_count(1)
    await expect(manager.get_by_role("heading", name="Answer stage 1")).to_have_count(0)
    await accessible(manager)
    await manager.get_by_test_id("nav").get_by_role("link", name="Escalations").click()
    await expect(manager.get_by_test_id("none")).to_be_visible()

    # The lead (a hub navigator) escalates it: first to whoever answered stage 1, with a
    # stage 1 role: the ladder's refusals by the field; then to a service manager.
    lead = await signed_in(DSL_TOKEN)
    await lead.get_by_test_id("nav").get_by_role("link", name="Escalations").click()
    await expect(lead.get_by_test_id("none")).to_be_visible()  # none for her to answer
    await lead.goto(f"{url}/escalations/{escalation_id}")
    await expect(lead.get_by_test_id("status")).to_have_text("Not resolved")
    await lead.get_by_label("Why the answer does not resolve it").fill(
        "Synthetic: the bruising is new information the decision did not weigh.")
    await lead.get_by_label("Their role").select_option("team_manager")
    await lead.get_by_label("Their agency").select_option("local_authority")
    await lead.get_by_label("Their MASH user ID").fill("tm-1")
    await lead.get_by_role("button", name="Escalate").click()
    await expect(lead.locator("#escalated_to_role-error")).to_contain_text(
        "is answered by designated_safeguarding_lead or service_manager")
    await expect(lead.locator("#escalated_to_user_id-error")).to_contain_text(
        "they answered an earlier stage")
    await expect(lead.get_by_label("Why the answer does not resolve it")).to_have_value(
        "Synthetic: the bruising is new information the decision did not weigh.")
    await accessible(lead)
    await shoot(lead, tmp_path, "escalation-escalate-errors")
    await lead.get_by_label("Their role").select_option("service_manager")
    await lead.get_by_label("Their MASH user ID").fill("sm-1")
    await lead.get_by_role("button", name="Escalate").click()
    await expect(lead.get_by_test_id("sent")).to_contain_text("escalated to the next stage")
    await expect(lead.get_by_test_id("stage")).to_have_text("2")
    await expect(lead.get_by_test_id("status")).to_have_text("Awaiting an answer")
    await accessible(lead)

    # Stage 2: the service manager (a team manager's token) answers it resolved; a second
    # tab opened before then is told to reload, and keeps what was typed.
    head = await signed_in(HEAD_TOKEN)
    await head.get_by_test_id("nav").get_by_role("link", name="Escalations").click()
    row = head.get_by_test_id("escalations").locator("tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.first).to_contain_text("2: Designated safeguarding leads or service "
                                            "managers")
    await row.first.get_by_role("link").click()
    stale = await head.context.new_page()
    await stale.goto(head.url)
    await head.get_by_label("Yes, it is resolved").check()
    await head.get_by_label("Your answer").fill(
        "Synthetic: agreed: a strategy discussion is requested today.")
    await head.get_by_role("button", name="Record your answer").click()
    await expect(head.get_by_test_id("status")).to_have_text("Resolved")
    await expect(head.get_by_test_id("stages").locator("tbody tr")).to_have_count(2)
    await accessible(head)
    await shoot(head, tmp_path, "escalation-resolved")
    await stale.get_by_label("No, it is not resolved").check()
    await stale.get_by_label("Your answer").fill("Synthetic: a second thought.")
    await stale.get_by_role("button", name="Record your answer").click()
    await expect(stale.get_by_test_id("error-summary")).to_contain_text("Reload the page")
    await expect(stale.get_by_label("Your answer")).to_have_value("Synthetic: a second thought.")
    await accessible(stale)

    # An information officer raises one from the case page, but answers none.
    officer = await signed_in(OFFICER_TOKEN)
    await expect(officer.get_by_role("link", name="Escalations")).to_have_count(0)
    await officer.goto(f"{url}/cases/{reference}")
    await officer.get_by_test_id("case-raise-disagreement").click()
    await expect(officer).to_have_url(f"{url}/cases/{reference}/escalations/new")
    await accessible(officer)
    await officer.get_by_role("button", name="Raise the disagreement").click()
    summary = officer.get_by_test_id("error-summary")
    await expect(summary).to_contain_text("Select the decision you disagree with")
    await expect(summary).to_contain_text("Select the role of the person it goes to")
    await expect(officer.locator("#escalated_to_user_id-error")).to_contain_text(
        "Enter their MASH user ID")
    await accessible(officer)
    await shoot(officer, tmp_path, "escalation-raise-errors")
    await officer.get_by_label("Sharing information").check()
    await officer.get_by_label("The disagreement and what you ask to be reconsidered").fill(
        "Synthetic: health's information should be shared with the school.")
    await officer.get_by_label("Their role").select_option("team_manager")
    await officer.get_by_label("Their agency").select_option("local_authority")
    await officer.get_by_label("Their MASH user ID").fill("tm-1")
    await officer.get_by_role("button", name="Raise the disagreement").click()
    await expect(officer.get_by_test_id("sent")).to_contain_text("The disagreement was raised")
    await expect(officer.get_by_test_id("about")).to_have_text("Sharing information")
    await expect(officer.get_by_test_id("status")).to_have_text("Awaiting an answer")
    await accessible(officer)
    response = await officer.goto(f"{url}/escalations")
    assert response is not None and response.status == 403
    await accessible(officer)

    # The team manager's list has the new one.
    await manager.reload()
    await expect(manager.get_by_test_id("escalations").locator("tbody tr")).to_have_count(1)
    await expect(manager.get_by_test_id("escalations")).to_contain_text("Sharing information")

    assert visited and all(URL_SHAPE.match(u) for u in visited), visited
