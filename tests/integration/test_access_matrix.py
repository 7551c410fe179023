"""The access matrix (issue 12; OWASP API1, BOLA), generated from the running apps' routes.

Every route of every service is looked up in ONE table, ``MATRIX``: for each role, the
expected outcome in each of four cells, own/other agency by own/other partnership, relative to
a record owned by partnership ``coventry`` and the record's agency. A route that is not in
the table fails the test, so a new endpoint cannot skip the check. A role not listed for a
route must get 403 in every cell. Requests carry real signed tokens; the records are real
(one referral through intake, triage, MASH enquiries and the SLA timekeeper on PostgreSQL).
No response to another partnership ever contains the record's case reference.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from mashcore.auth import Role
from tests.support import auth, eventually, services_on_postgres, synthetic_referral, token

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
OWN_P, OTHER_P = "coventry", "medway"
OTHER_AGENCY = "housing"
SERVICES = ["intake", "triage", "mash-enquiries", "sla-timekeeper", "strategy", "notifications"]

# Outcomes per cell: (own agency, own partnership), (other agency, own partnership),
# (own agency, other partnership), (other agency, other partnership).
OK, NOT_FOUND, FORBIDDEN = "ok", "404", "403"
SHOWN, HIDDEN = "shown", "hidden"  # a list answered 200 with / without the record
ANY = (OK, OK, OK, OK)
PARTNERSHIP = (OK, OK, NOT_FOUND, NOT_FOUND)
AGENCY = (OK, NOT_FOUND, NOT_FOUND, NOT_FOUND)
LIST = (SHOWN, SHOWN, HIDDEN, HIDDEN)
LIST_AGENCY = (SHOWN, HIDDEN, HIDDEN, HIDDEN)
OWN_AGENCY_ONLY = (OK, FORBIDDEN, OK, FORBIDDEN)
PUBLIC = "public"  # no token needed (health, metrics, API pages)

R = Role
IO, TM, REF, NAV, OPS = (R.INFORMATION_OFFICER, R.TEAM_MANAGER, R.REFERRER, R.NAVIGATOR,
                         R.OPS)
HUB_READ = {IO: PARTNERSHIP, TM: PARTNERSHIP}
SW, BS = R.SOCIAL_WORKER, R.BUSINESS_SUPPORT
SOCIAL_CARE = {SW: PARTNERSHIP, TM: PARTNERSHIP, BS: PARTNERSHIP}
NOT_INVOLVED = {**{role: (NOT_FOUND,) * 4 for role in Role}, **SOCIAL_CARE}
CONFERENCE_READERS = {**SOCIAL_CARE, R.IRO: PARTNERSHIP}
CONFERENCE_PEOPLE = {**{role: (NOT_FOUND,) * 4 for role in Role}, **CONFERENCE_READERS}

# (service or "*", method, path) -> (the record's agency, {role: cells}) or PUBLIC.
MATRIX: dict[tuple[str, str, str], tuple[str, dict[Role, tuple[str, ...]]] | str] = {
    **{("*", "GET", path): PUBLIC for path in (
        "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/healthz", "/metrics",
        "/readyz", "/static-offline-docs")},
    # Every service's audit log: a team manager of the case's partnership, or ops.
    ("*", "GET", "/v1/audit"): ("local_authority", {TM: LIST, OPS: (SHOWN,) * 4}),
    ("strategy", "GET", "/v1/audit"): ("local_authority", {TM: ANY, OPS: ANY}),  # no cases yet
    ("notifications", "GET", "/v1/audit"): ("local_authority", {TM: ANY, OPS: ANY}),
    # intake: the contact was sent by a school (education) of coventry.
    ("intake", "POST", "/v1/contacts"): ("education", {REF: ANY, IO: ANY}),
    ("intake", "GET", "/v1/contacts/{contact_id}"): ("education", {REF: AGENCY, **HUB_READ}),
    ("intake", "GET", "/v1/contacts"): ("education", {REF: LIST_AGENCY, IO: LIST, TM: LIST}),
    ("intake", "POST", "/v1/contacts/{contact_id}/forward"): ("education", HUB_READ),
    ("intake", "POST", "/v1/contacts/{contact_id}/lock-down"): ("education",
                                                                {TM: PARTNERSHIP}),
    ("intake", "POST", "/v1/contacts/{contact_id}/time-correction"): ("education", HUB_READ),
    ("intake", "POST", "/v1/consultations"): ("education", {REF: ANY, IO: ANY, TM: ANY}),
    ("intake", "GET", "/v1/consultations/{consultation_id}"): ("education",
                                                               {REF: AGENCY, **HUB_READ}),
    ("intake", "POST", "/v1/consultations/{consultation_id}/advice"): ("education", HUB_READ),
    ("intake", "POST", "/v1/transfers-in"): ("local_authority",
                                             {REF: OWN_AGENCY_ONLY, IO: ANY, TM: ANY}),
    ("intake", "GET", "/v1/transfers-in/{transfer_id}"): ("local_authority",
                                                          {REF: AGENCY, **HUB_READ}),
    ("intake", "POST", "/v1/transfers-in/{transfer_id}/decision"): ("local_authority",
                                                                    {TM: PARTNERSHIP}),
    ("intake", "PUT", "/v1/open-cases/{case_reference}"): ("local_authority",
                                                           {R.SERVICE: ANY, TM: ANY}),
    ("intake", "POST", "/v1/open-cases:bulk"): ("local_authority", {R.SERVICE: ANY, TM: ANY}),
    ("intake", "POST", "/v1/checks"): ("local_authority", {IO: ANY, TM: ANY}),
    # the referrer's own address, for the notifications service only (issue 16).
    ("intake", "GET", "/internal/v1/contacts/{contact_id}/referrer-route"): (
        "education", {R.SERVICE: PARTNERSHIP}),
    # triage: hub staff of the case's partnership, whatever their agency.
    ("triage", "GET", "/v1/policy"): ("local_authority", {role: ANY for role in Role}),
    ("triage", "GET", "/v1/policy/{partnership}"): ("local_authority",
                                                    {role: ANY for role in Role}),
    ("triage", "GET", "/v1/calibration"): ("local_authority", {TM: ANY, OPS: ANY}),
    ("triage", "GET", "/v1/queues/{queue}"): ("local_authority", {IO: LIST, TM: LIST}),
    ("triage", "GET", "/v1/cases"): ("local_authority", {IO: LIST, TM: LIST}),
    ("triage", "GET", "/v1/cases/{case_reference}"): ("local_authority", HUB_READ),
    ("triage", "POST", "/v1/cases/{case_reference}/rating"): ("local_authority", HUB_READ),
    ("triage", "POST", "/v1/cases/{case_reference}/consent-gate"): ("local_authority",
                                                                    {IO: PARTNERSHIP}),
    ("triage", "POST", "/v1/cases/{case_reference}/consent-gate/agreement"): (
        "local_authority", {TM: PARTNERSHIP}),
    ("triage", "POST", "/v1/cases/{case_reference}/re-rating"): ("local_authority", HUB_READ),
    ("triage", "POST", "/v1/cases/{case_reference}/threshold-decision"): (
        "local_authority", {TM: PARTNERSHIP}),
    ("triage", "POST", "/v1/cases/{case_reference}/consent-review"): ("local_authority",
                                                                      {TM: PARTNERSHIP}),
    ("triage", "POST", "/v1/cases/{case_reference}/flags/domestic-abuse"): ("local_authority",
                                                                           HUB_READ),
    # MASH enquiries: the police request goes to police navigators of coventry only.
    ("mash-enquiries", "GET", "/v1/requests"): ("police", {NAV: LIST_AGENCY}),
    ("mash-enquiries", "GET", "/v1/requests/{request_id}"): ("police", {NAV: AGENCY}),
    ("mash-enquiries", "POST", "/v1/requests/{request_id}/answer"): ("police", {NAV: AGENCY}),
    ("mash-enquiries", "POST", "/v1/requests/{request_id}/decline"): ("police", {NAV: AGENCY}),
    ("mash-enquiries", "GET", "/v1/episodes"): ("local_authority", {TM: LIST}),
    ("mash-enquiries", "GET", "/v1/episodes/{episode_id}"): ("local_authority",
                                                             {TM: PARTNERSHIP}),
    ("mash-enquiries", "POST", "/v1/episodes/{episode_id}/close-early"): (
        "local_authority", {TM: PARTNERSHIP}),
    ("mash-enquiries", "POST", "/v1/episodes/{episode_id}/outcome"): ("local_authority",
                                                                      {TM: PARTNERSHIP}),
    ("mash-enquiries", "GET", "/v1/performance"): ("local_authority", {TM: ANY, OPS: ANY}),
    # SLA timekeeper: ops see every partnership, a team manager their own.
    ("sla-timekeeper", "GET", "/dashboard"): PUBLIC,  # the page; its data needs a token
    ("sla-timekeeper", "GET", "/v1/dashboard/summary"): ("local_authority",
                                                         {TM: ANY, OPS: ANY}),
    ("sla-timekeeper", "GET", "/v1/dashboard/stream"): ("local_authority",
                                                        {TM: ANY, OPS: ANY}),
    ("sla-timekeeper", "GET", "/v1/clocks"): ("local_authority", {TM: LIST, OPS: (SHOWN,) * 4}),
    # notifications: the delivery log, ops every partnership, a team manager their own.
    ("notifications", "GET", "/v1/notifications"): ("local_authority",
                                                    {TM: LIST, OPS: (SHOWN,) * 4}),
    # notifications: the webhook registry, a team manager their partnership's, ops any.
    ("notifications", "POST", "/v1/webhooks"): ("local_authority", {TM: ANY, OPS: ANY}),
    ("notifications", "GET", "/v1/webhooks"): ("local_authority", {TM: ANY, OPS: ANY}),
    ("notifications", "POST", "/v1/webhooks/{webhook_id}/secrets"): (
        "local_authority", {TM: PARTNERSHIP, OPS: ANY}),
    ("notifications", "DELETE", "/v1/webhooks/{webhook_id}/secrets/{secret_id}"): (
        "local_authority", {TM: PARTNERSHIP, OPS: ANY}),
    ("notifications", "DELETE", "/v1/webhooks/{webhook_id}"): (
        "local_authority", {TM: PARTNERSHIP, OPS: ANY}),
    ("sla-timekeeper", "POST", "/v1/clocks/{clock_id}/extension"): (
        "local_authority", {TM: PARTNERSHIP, R.IRO: PARTNERSHIP}),
    # strategy: children's social care staff of the case's partnership; anyone else finds a
    # discussion or escalation only when invited to it or part of it (the seeds are not).
    ("strategy", "POST", "/v1/strategy-discussions"): ("local_authority",
                                                       {SW: PARTNERSHIP, TM: PARTNERSHIP}),
    ("strategy", "GET", "/v1/strategy-discussions"): ("local_authority",
                                                      {SW: LIST, TM: LIST, BS: LIST}),
    ("strategy", "GET", "/v1/strategy-discussions/{meeting_id}"): ("local_authority",
                                                                   NOT_INVOLVED),
    ("strategy", "POST", "/v1/strategy-discussions/{meeting_id}/schedule"): (
        "local_authority", SOCIAL_CARE),
    ("strategy", "POST", "/v1/strategy-discussions/{meeting_id}/cancel"): (
        "local_authority", SOCIAL_CARE),
    ("strategy", "POST", "/v1/strategy-discussions/{meeting_id}/held"): (
        "local_authority", {TM: PARTNERSHIP, BS: PARTNERSHIP}),
    ("strategy", "POST", "/v1/strategy-discussions/{meeting_id}/minutes/sign-off"): (
        "local_authority", {TM: PARTNERSHIP}),
    ("strategy", "POST", "/v1/strategy-discussions/{meeting_id}/minutes/circulate"): (
        "local_authority", {TM: PARTNERSHIP, BS: PARTNERSHIP}),
    ("strategy", "GET", "/v1/cases/{case_reference}/strategy-discussions"): (
        "local_authority", SOCIAL_CARE),
    ("strategy", "GET", "/v1/cases/{case_reference}/s47-enquiries"): ("local_authority",
                                                                      SOCIAL_CARE),
    ("strategy", "GET", "/v1/s47-enquiries/{enquiry_id}"): ("local_authority", SOCIAL_CARE),
    ("strategy", "POST", "/v1/s47-enquiries/{enquiry_id}/outcome"): ("local_authority",
                                                                     {SW: PARTNERSHIP}),
    ("strategy", "POST", "/v1/s47-enquiries/{enquiry_id}/agreement"): ("local_authority",
                                                                       {TM: PARTNERSHIP}),
    ("strategy", "POST", "/v1/escalations"): ("local_authority", {
        role: PARTNERSHIP for role in (SW, TM, NAV, IO, R.IRO)}),
    # The stages waiting for an answer: only those escalated to the caller (the seed's goes
    # to coventry's local-authority team manager), for the roles that answer stages.
    ("strategy", "GET", "/v1/escalations"): ("local_authority", {
        TM: (SHOWN, HIDDEN, HIDDEN, HIDDEN), NAV: (HIDDEN,) * 4, R.IRO: (HIDDEN,) * 4}),
    ("strategy", "GET", "/v1/escalations/{escalation_id}"): ("local_authority", NOT_INVOLVED),
    ("strategy", "POST", "/v1/escalations/{escalation_id}/answer"): ("local_authority",
                                                                     NOT_INVOLVED),
    ("strategy", "POST", "/v1/escalations/{escalation_id}/escalate"): ("local_authority",
                                                                       NOT_INVOLVED),
    # Conferences, plans, core groups, reviews: social care staff and IROs of the case's
    # partnership see them all; anyone else only one they are invited to or in the core
    # group of (the seeds invite none of the callers); the IRO records the conferences.
    ("strategy", "GET", "/v1/conferences"): ("local_authority", {
        role: LIST for role in CONFERENCE_READERS}),
    **{("strategy", "GET", path): ("local_authority", CONFERENCE_READERS) for path in (
        "/v1/cases/{case_reference}/conferences", "/v1/cases/{case_reference}/plans")},
    **{("strategy", method, path): ("local_authority", CONFERENCE_PEOPLE) for method, path in (
        ("GET", "/v1/conferences/{meeting_id}"),
        ("POST", "/v1/conferences/{meeting_id}/reports/{agency}/received"),
        ("GET", "/v1/plans/{plan_id}"), ("GET", "/v1/core-groups/{meeting_id}"),
        ("POST", "/v1/core-groups/{meeting_id}/held"),
        ("POST", "/v1/core-groups/{meeting_id}/minutes"),
        ("GET", "/v1/review-conferences/{meeting_id}"))},
    **{("strategy", "POST", path): ("local_authority", SOCIAL_CARE) for path in (
        "/v1/conferences/{meeting_id}/schedule", "/v1/plans/{plan_id}/actions",
        "/v1/plans/{plan_id}/copy-given-to-child", "/v1/plans/{plan_id}/core-groups",
        "/v1/plans/{plan_id}/reviews", "/v1/conferences/{meeting_id}/cancel",
        "/v1/core-groups/{meeting_id}/cancel", "/v1/review-conferences/{meeting_id}/cancel")},
    **{("strategy", "POST", path): ("local_authority", {R.IRO: PARTNERSHIP}) for path in (
        "/v1/conferences/{meeting_id}/held", "/v1/review-conferences/{meeting_id}/held")},
}

STRATEGY_PEOPLE = [{"role": "social_worker", "agency": "local_authority"},
                   {"role": "practitioner", "agency": "health"},
                   {"role": "practitioner", "agency": "police"}]
STRATEGY_SCHEDULE = {"format": "phone_calls", "starts_at": "2026-11-24T09:00:00+00:00",
                     "ends_at": "2026-11-24T09:30:00+00:00", "dial_in": "0300 000 0000",
                     "chair_id": "team_manager.local_authority.coventry",
                     "invitees": STRATEGY_PEOPLE}
STRATEGY_HELD = {"held_at": "2026-11-24T09:30:00+00:00", "attendees": STRATEGY_PEOPLE,
                 "criminal_investigation": "not_required",
                 "s47_decisions": [{"child_number": 1, "s47": True}],
                 "s47_decision_rationale": "Synthetic."}

CONFERENCE_PEOPLE_IN = [{"role": "social_worker", "agency": "local_authority"},
                        {"role": "practitioner", "agency": "health"},
                        {"role": "parent_or_carer"}]
# The seeded conference is held at 09:45, between the s47's discussion and NOW.
CONFERENCE_HELD = {"held_at": "2026-11-24T09:45:00+00:00", "attendees": CONFERENCE_PEOPLE_IN,
                   "decisions": [{"child_number": 1, "plan": True,
                                  "category_of_abuse": ["neglect"],
                                  "core_group": CONFERENCE_PEOPLE_IN,
                                  "first_review_due_on": "2027-01-20"}],
                   "decision_summary": "Synthetic."}

# A valid body per write, so that an allowed caller gets past validation to the access check.
BODIES: dict[str, Any] = {
    "/v1/contacts": synthetic_referral(1300),
    "/v1/contacts/{contact_id}/lock-down": {"reason_code": "other_sensitive"},
    # The seeds are received at NOW (a Tuesday 10:00): an hour earlier, the same morning.
    "/v1/contacts/{contact_id}/time-correction": {"received_at": "2026-11-24T09:00:00+00:00",
                                                  "reason_code": "recorded_late",
                                                  "note": "Synthetic."},
    "/v1/consultations": {"professional": {"agency": "education", "role": "Teacher"},
                          "question": "Synthetic: should I refer?"},
    "/v1/consultations/{consultation_id}/advice": {"advice_given": "Synthetic advice.",
                                                   "outcome": "advice_only"},
    "/v1/transfers-in": {"from_authority": "Synthetic County Council",
                         "children": [{"first_name": "Synthetic", "last_name": "Mover",
                                       "date_of_birth": "2018-06-30"}],
                         "child_protection_plan": {"categories_of_abuse": ["neglect"],
                                                   "plan_started_on": "2026-08-14",
                                                   "next_review_due_on": "2027-02-12"}},
    "/v1/transfers-in/{transfer_id}/decision": {"arrangement": "temporary",
                                                "rationale": "Synthetic."},
    "/v1/open-cases/{case_reference}": {"child": {"first_name": "Synthetic",
                                                  "last_name": "Indexed"}, "status": "open"},
    "/v1/open-cases:bulk": {"cases": []},
    "/v1/cases/{case_reference}/flags/domestic-abuse": {"confirmed": False,
                                                        "reason": "not_domestic_abuse"},
    "/v1/webhooks": {"agency": "police", "url": "https://partner.example/mash"},
    "/v1/checks": {"requester": {"body": "police",
                                 "identity_validated_by": "call_back_via_switchboard",
                                 "active_involvement_confirmed": True},
                   "child": {"first_name": "Synthetic", "last_name": "Nobody"}},
    "/v1/cases/{case_reference}/rating": {"brag": "red", "safeguarding_concerns": True},
    "/v1/cases/{case_reference}/consent-gate": {"outcome": "returned_to_referrer",
                                                "rationale": "Synthetic."},
    "/v1/cases/{case_reference}/consent-gate/agreement": {"agree": True},
    "/v1/cases/{case_reference}/re-rating": {"brag": "red", "reason": "Synthetic."},
    "/v1/cases/{case_reference}/threshold-decision": {
        "level_code": "L4", "brag": "red", "route": "mash_enquiries",
        "rationale": "Synthetic: urgent enquiries needed."},
    "/v1/cases/{case_reference}/consent-review": {"consent_to_referral": "given",
                                                  "reason": "Synthetic."},
    "/v1/requests/{request_id}/answer": {"known": False, "summary": "Synthetic: not known."},
    "/v1/requests/{request_id}/decline": {"reason_code": "other",
                                          "explanation": "Synthetic."},
    "/v1/episodes/{episode_id}/close-early": {"reason": "Synthetic."},
    "/v1/episodes/{episode_id}/outcome": {"outcome": "nfa", "rationale": "Synthetic."},
    "/v1/clocks/{clock_id}/extension": {"new_due_at": "2027-06-01T10:00:00+00:00",
                                        "reason_code": "other"},
    "/v1/strategy-discussions": {"case_reference": "{case_reference}", "reason": "Synthetic.",
                                 "urgency": "within_3_working_days"},
    "/v1/strategy-discussions/{meeting_id}/schedule": STRATEGY_SCHEDULE,
    "/v1/strategy-discussions/{meeting_id}/cancel": {"reason": "Synthetic."},
    "/v1/strategy-discussions/{meeting_id}/held": STRATEGY_HELD,
    "/v1/strategy-discussions/{meeting_id}/minutes/sign-off": {"minutes": "Synthetic."},
    "/v1/s47-enquiries/{enquiry_id}/outcome": {"outcome": "not_substantiated",
                                               "next_step": "no_further_action",
                                               "rationale": "Synthetic."},
    "/v1/s47-enquiries/{enquiry_id}/agreement": {"agree": True, "rationale": "Synthetic."},
    "/v1/escalations": {"case_reference": "{case_reference}", "about": "threshold_decision",
                        "summary": "Synthetic.", "escalated_to": {
                            "role": "team_manager", "agency": "local_authority",
                            "user_id": "team_manager.local_authority.coventry"}},
    "/v1/escalations/{escalation_id}/answer": {"resolved": False, "resolution": "Synthetic."},
    "/v1/escalations/{escalation_id}/escalate": {"summary": "Synthetic.", "escalated_to": {
        "role": "service_manager", "agency": "local_authority", "user_id": "sm-1"}},
    "/v1/conferences/{meeting_id}/schedule": {"scheduled_for": "2026-11-24T09:40:00+00:00",
                                              "chaired_by_iro": "iro-1",
                                              "invitees": CONFERENCE_PEOPLE_IN},
    "/v1/conferences/{meeting_id}/held": CONFERENCE_HELD,
    **{f"{prefix}{{meeting_id}}/cancel": {"reason": "arranged_in_error"} for prefix in (
        "/v1/conferences/", "/v1/core-groups/", "/v1/review-conferences/")},
    "/v1/plans/{plan_id}/actions": {"new_actions": [{
        "what": "Synthetic: weekly visit.", "owner_role": "social_worker",
        "owner_agency": "local_authority", "due_on": "2026-12-18"}]},
    "/v1/plans/{plan_id}/copy-given-to-child": {"given_on": "2026-11-24", "form": "easy_read"},
    "/v1/plans/{plan_id}/core-groups": {"scheduled_for": "2026-12-01T10:00:00+00:00",
                                        "invitees": CONFERENCE_PEOPLE_IN},
    "/v1/core-groups/{meeting_id}/held": {"held_at": "2026-11-24T09:50:00+00:00",
                                          "attendees": CONFERENCE_PEOPLE_IN},
    "/v1/core-groups/{meeting_id}/minutes": {"minutes": "Synthetic."},
    "/v1/plans/{plan_id}/reviews": {"scheduled_for": "2027-01-20T10:00:00+00:00",
                                    "chaired_by_iro": "iro-1",
                                    "invitees": CONFERENCE_PEOPLE_IN},
    "/v1/review-conferences/{meeting_id}/held": {
        "held_at": "2026-11-24T09:55:00+00:00", "attendees": CONFERENCE_PEOPLE_IN,
        "decision": "continue", "category_of_abuse": ["neglect"],
        "next_review_due_on": "2027-05-20", "rationale": "Synthetic."},
}
# Paths whose {meeting_id} is another kind of meeting than a strategy discussion.
MEETINGS = {"/v1/conferences/": "conference_id", "/v1/core-groups/": "core_group_id",
            "/v1/review-conferences/": "review_id"}
QUERIES = {"/v1/clocks": "case_reference={case_reference}",
           "/v1/notifications": "case_reference={case_reference}",
           "/v1/audit": "case_reference={case_reference}"}
# Writes that change what the others may do: after them, in this order (lock-down restricts
# the record; after the threshold decision only a team manager re-rates).
LAST = ("/v1/cases/{case_reference}/threshold-decision",
        "/v1/cases/{case_reference}/consent-review", "/v1/contacts/{contact_id}/lock-down",
        "/v1/webhooks/{webhook_id}/secrets/{secret_id}", "/v1/webhooks/{webhook_id}")
REFERENCE = {"mash-enquiries": "decided_reference"}  # the record a list must show or hide


def subject(role: Role, agency: str, partnership: str) -> str:
    return f"{role}.{agency}.{partnership}"


def headers(role: Role, agency: str, partnership: str) -> dict[str, str]:
    return auth(role, agency, subject=subject(role, agency, partnership),
                partnership=partnership)


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path, SERVICES, NOW) as running:
        yield running


async def seed(system: dict[str, Any]) -> dict[str, str]:
    """One record of each kind owned by coventry and its agency."""
    intake, triage = system["intake"], system["triage"]
    school = headers(REF, "education", OWN_P)
    tm = headers(TM, "local_authority", OWN_P)
    consent = {"consent": {"consent_to_referral": "yes", "consent_to_information_sharing": "yes"}}
    contact = (await intake.post("/v1/contacts", headers=school, json=synthetic_referral(
        1301, partnership=OWN_P, **consent))).json()
    decided = (await intake.post("/v1/contacts", headers=school, json=synthetic_referral(
        1302, partnership=OWN_P, **consent))).json()
    consultation = (await intake.post("/v1/consultations", headers=school,
                                      json=BODIES["/v1/consultations"])).json()
    transfer = (await intake.post("/v1/transfers-in", json=BODIES["/v1/transfers-in"],
                                  headers=headers(REF, "local_authority", OWN_P))).json()

    async def decide() -> bool:
        response = await triage.post(
            f"/v1/cases/{decided['case_reference']}/threshold-decision", headers=tm,
            json=BODIES["/v1/cases/{case_reference}/threshold-decision"])
        return response.status_code == 200
    await eventually(decide, what="the threshold decision")

    async def episode() -> dict[str, Any] | None:
        listed = (await system["mash-enquiries"].get("/v1/episodes", headers=tm)).json()
        return next((e for e in listed if e["case_reference"] == decided["case_reference"]),
                    None)
    episode_id = (await eventually(episode, what="the MASH episode"))["episode_id"]
    detail = (await system["mash-enquiries"].get(f"/v1/episodes/{episode_id}",
                                                 headers=tm)).json()
    request_id = next(str(a["request_id"]) for a in detail["answers"]
                      if a["agency"] == "police")

    async def clock() -> str | None:
        listed = (await system["sla-timekeeper"].get(
            "/v1/clocks", params={"case_reference": contact["case_reference"]},
            headers=tm)).json()
        return next((c["clock_id"] for c in listed), None)
    clock_id = await eventually(clock, what="the SLA clock")

    strategy_ids = await seed_strategy(system, contact["case_reference"])
    hook = (await system["notifications"].post("/v1/webhooks", headers=tm, json={
        "agency": "health", "url": "https://partner.example/mash"})).json()

    async def in_triage() -> bool:
        return (await triage.get(f"/v1/cases/{contact['case_reference']}",
                                 headers=tm)).status_code == 200
    await eventually(in_triage, what="the case in triage")
    return {"contact_id": contact["contact_id"], "case_reference": contact["case_reference"],
            "decided_reference": decided["case_reference"],
            "consultation_id": consultation["consultation_id"],
            "transfer_id": transfer["transfer_id"], "transfer_reference":
            transfer["case_reference"], "request_id": request_id, "episode_id": episode_id,
            "clock_id": clock_id, "queue": "rating", "partnership": OWN_P,
            "webhook_id": hook["webhook_id"], "secret_id": hook["secrets"][0]["secret_id"],
            **strategy_ids}


async def seed_strategy(system: dict[str, Any], reference: str) -> dict[str, str]:
    """A strategy discussion about the case, held with s47 (an s47 enquiry), and an
    escalation, all by coventry's social care staff."""
    strategy = system["strategy"]
    sw, tm = headers(SW, "local_authority", OWN_P), headers(TM, "local_authority", OWN_P)

    async def known() -> bool:
        return (await strategy.get(f"/v1/cases/{reference}/strategy-discussions",
                                   headers=sw)).status_code == 200
    await eventually(known, what="the case in strategy")
    asked = await strategy.post("/v1/strategy-discussions", headers=sw, json={
        **BODIES["/v1/strategy-discussions"], "case_reference": reference})
    meeting_id = asked.json()["meeting_id"]
    url = f"/v1/strategy-discussions/{meeting_id}"
    assert (await strategy.post(f"{url}/schedule", headers=tm,
                                json=STRATEGY_SCHEDULE)).status_code == 200
    assert (await strategy.post(f"{url}/held", headers=tm,
                                json=STRATEGY_HELD)).status_code == 200
    [enquiry] = (await strategy.get(f"/v1/cases/{reference}/s47-enquiries",
                                    headers=sw)).json()
    escalation = await strategy.post("/v1/escalations", headers=sw, json={
        **BODIES["/v1/escalations"], "case_reference": reference})
    return {"meeting_id": meeting_id, "enquiry_id": enquiry["s47_enquiry_id"],
            "escalation_id": escalation.json()["escalation_id"],
            **await seed_conference(system, reference, enquiry["s47_enquiry_id"])}


async def seed_conference(system: dict[str, Any], reference: str,
                          enquiry_id: str) -> dict[str, str]:
    """The s47's agreed continuing-risk outcome, its ICPC held with a plan, the plan's first
    core group and first review scheduled: coventry's staff and IRO, none of them invited."""
    strategy = system["strategy"]
    sw, tm = headers(SW, "local_authority", OWN_P), headers(TM, "local_authority", OWN_P)
    iro = headers(R.IRO, "local_authority", OWN_P)
    url = f"/v1/s47-enquiries/{enquiry_id}"
    assert (await strategy.post(f"{url}/outcome", headers=sw, json={
        "outcome": "substantiated_continuing_risk", "next_step": "icpc",
        "rationale": "Synthetic."})).status_code == 200
    assert (await strategy.post(f"{url}/agreement", headers=tm, json={
        "agree": True, "rationale": "Synthetic."})).status_code == 200
    [conference] = (await strategy.get(f"/v1/cases/{reference}/conferences",
                                       headers=sw)).json()
    url = f"/v1/conferences/{conference['meeting_id']}"
    r = await strategy.post(f"{url}/schedule", headers=tm,
                            json=BODIES["/v1/conferences/{meeting_id}/schedule"])
    assert r.status_code == 200, r.text
    r = await strategy.post(f"{url}/held", headers=iro, json=CONFERENCE_HELD)
    assert r.status_code == 200, r.text
    plan_id = r.json()["decisions"][0]["plan_id"]
    core_group = await strategy.post(f"/v1/plans/{plan_id}/core-groups", headers=tm,
                                     json=BODIES["/v1/plans/{plan_id}/core-groups"])
    assert core_group.status_code == 200, core_group.text
    review = await strategy.post(f"/v1/plans/{plan_id}/reviews", headers=tm,
                                 json=BODIES["/v1/plans/{plan_id}/reviews"])
    assert review.status_code == 200, review.text
    return {"conference_id": conference["meeting_id"], "plan_id": plan_id, "agency": "health",
            "core_group_id": core_group.json()["meeting_id"],
            "review_id": review.json()["meeting_id"]}


def ids_for(path: str, seeded: dict[str, str]) -> dict[str, str]:
    """The seeded ids for ``path``: its {meeting_id} is the meeting of its kind."""
    kind = next((key for prefix, key in MEETINGS.items() if path.startswith(prefix)), None)
    return {**seeded, "meeting_id": seeded[kind]} if kind else seeded


def routes(system: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(service, method, path) of every route of every running app."""
    found = []
    for service in SERVICES:
        app = system[service]._transport.app
        for route in iter_route_contexts(app.routes):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                found.append((service, method, str(route.path)))
    return found


def expected(service: str, method: str, path: str) -> Any:
    return MATRIX.get((service, method, path), MATRIX.get(("*", method, path)))


def role_refused(status: int, body: str) -> bool:
    """A 403 for the role (mashcore.auth.require_roles), not a business rule's 403."""
    return status == 403 and "requires the role" in body


def cell_result(outcome: str, status: int, body: str, reference: str, write: bool) -> bool:
    """Whether a response is the expected outcome. An allowed write has passed the access
    checks: it may still be refused by the workflow (409, 422, a business rule's 403)."""
    if outcome == OK:
        if write:
            return status not in (401, 404) and status < 500 and not role_refused(status, body)
        return status == 200
    if outcome in (SHOWN, HIDDEN):
        return status == 200 and ((reference in body) == (outcome == SHOWN))
    return status == int(outcome)


async def test_every_route_every_role_own_and_other_agency_and_partnership(
    system: dict[str, Any],
) -> None:
    found = routes(system)
    missing = [route for route in found if expected(*route) is None]
    assert not missing, f"routes missing from the access matrix: {missing}"
    seeded = await seed(system)
    references = {seeded["case_reference"], seeded["decided_reference"],
                  seeded["transfer_reference"]}
    reads = [r for r in found if r[1] == "GET"]
    writes = sorted((r for r in found if r[1] != "GET"),
                    key=lambda r: LAST.index(r[2]) + 1 if r[2] in LAST else 0)
    failures = []
    for service, method, path in reads + writes:
        rule = expected(service, method, path)
        if rule == PUBLIC:
            continue
        record_agency, by_role = rule
        url = path.format(**ids_for(path, seeded))
        reference = seeded[REFERENCE.get(service, "case_reference")]
        query = QUERIES.get(path, "").format(**{**seeded, "case_reference": reference})
        body = BODIES.get(path)
        if body is not None and body.get("case_reference") == "{case_reference}":
            body = {**body, "case_reference": reference}
        for role in Role:
            cells = by_role.get(role, (FORBIDDEN,) * 4)
            for (agency, partnership), outcome in zip(
                    [(record_agency, OWN_P), (OTHER_AGENCY, OWN_P), (record_agency, OTHER_P),
                     (OTHER_AGENCY, OTHER_P)], cells, strict=True):
                if path == "/v1/dashboard/stream":
                    if outcome == FORBIDDEN:  # an allowed stream never ends: refusals only
                        tok = token(role, agency, subject=subject(role, agency, partnership),
                                    partnership=partnership)
                        response = await system[service].get(url, params={"access_token": tok})
                        if response.status_code != 403:
                            failures.append((service, method, path, role, agency, partnership,
                                             outcome, response.status_code))
                    continue
                if path == "/v1/contacts/{contact_id}/lock-down" and body is not None:
                    body = {**body, "allowed_user_ids": [
                        subject(r, a, OWN_P) for r in (IO, TM)
                        for a in (record_agency, OTHER_AGENCY)]}
                sent = headers(role, agency, partnership)
                if body is not None:
                    sent["Content-Type"] = "application/json"
                response = await system[service].request(
                    method, url + (f"?{query}" if query else ""), headers=sent,
                    content=None if body is None else json.dumps(body))
                text = response.text
                if not cell_result(outcome, response.status_code, text, reference,
                                   method != "GET"):
                    failures.append((service, method, path, str(role), agency, partnership,
                                     outcome, response.status_code, text[:200]))
                if partnership == OTHER_P and not (role == OPS and outcome != NOT_FOUND):
                    # Never a reference the caller did not send itself.
                    sent_body = json.dumps(body) if body is not None else ""
                    leaked = [ref for ref in references if ref in text and ref not in url
                              and ref not in query and ref not in sent_body]
                    if leaked:
                        failures.append((service, method, path, str(role), agency,
                                         partnership, "leaked", leaked))
    assert not failures, "\n".join(map(str, failures))

    # Every list read above is in the audit log, under each record listed.
    ops = headers(OPS, "local_authority", OTHER_P)
    for service, resource, reference in (
            ("intake", "contact_list", seeded["case_reference"]),
            ("triage", "triage_case_list", seeded["case_reference"]),
            ("mash-enquiries", "episode_list", seeded["decided_reference"]),
            ("mash-enquiries", "information_request_list", seeded["decided_reference"])):
        entries = (await system[service].get("/v1/audit", params={"case_reference": reference},
                                             headers=ops)).json()
        assert any(e["resource"] == resource and e["action"] == "read" for e in entries), (
            service, resource)
