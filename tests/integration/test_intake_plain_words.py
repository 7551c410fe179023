"""Intake asks why a reported fact lacks its context (issue 20), on the real PostgreSQL server.

The question is in the referrer's own feedback only: the event carries released codes, and
neither it nor the finding repeats the referrer's words.
"""

from __future__ import annotations

import json
from typing import Any

from tests.integration.test_intake_referrals import events_of, intake
from tests.support import auth, synthetic_referral

__all__ = ["intake"]  # the fixture, shared with the referral tests


async def test_a_missed_appointment_without_why_is_asked_about_in_the_feedback_only(
    intake: dict[str, Any],
) -> None:
    body = synthetic_referral(concern={"summary": "Synthetic: missed 3 apointments at clinic."})
    response = await intake["client"].post("/v1/contacts", json=body,
                                            headers=auth("referrer", "education"))
    assert response.status_code == 202
    asked = [f for f in response.json()["quality"]["findings"]
             if f["code"] == "fact_without_context"]
    assert [f["field"] for f in asked] == ["concern.summary"]
    assert "a missed appointment but not why, since when or how often" in asked[0]["message"]
    assert "apointments" not in asked[0]["message"]

    events = await events_of(intake["bus"], response.json()["case_reference"])
    accepted = events["mash.intake.referral.accepted.v1"].data
    assert "fact_without_context" not in json.dumps(accepted)
