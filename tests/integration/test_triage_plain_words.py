"""The hub's case view reads the concern's own words (issue 20), on the real PostgreSQL server.

A child's words count for the abuse indicator with the matched words shown; domestic abuse in
the text is suggested for the information officer to confirm, never set; the words appear in
the hub's own case view only, not in the events triage publishes.
"""

from __future__ import annotations

import json
from typing import Any

from tests.integration.test_triage_workflow import (
    CONSENTED,
    TRIAGE_CASES,
    staff,
    submit,
    system,
)

__all__ = ["system"]  # the fixture, shared with the workflow tests

CONCERN = {"concern": {"summary": "Synthetic: police were called to a domestic last night. "
                       "Child told the teacher 'mum's boyfriend hits me with the belt'."}}


async def test_the_case_view_explains_the_words_and_suggests_the_flag(
    system: dict[str, Any],
) -> None:
    s = staff("coventry")
    reference = await submit(system, "coventry", **CONSENTED, **CONCERN)
    case = (await system["triage"].get(f"/v1/cases/{reference}", headers=s["tm"])).json()
    support = case["decision_support"]
    assert {(r["rule"], r["words"]) for r in support["read_in_concern"]} == {
        ("da.text", "domestic"), ("disclosure.physical", "hits me")}
    assert [(f["flag"], f["words"]) for f in support["suggested_flags"]] == [
        ("domestic_abuse", "domestic")]
    assert "information officer confirms" in support["suggested_flags"][0]["explanation"]
    assert case["referral"]["flags"]["domestic_abuse"] is False  # suggested, not set

    messages = system["bus"]._read("inspect-plain-words", [TRIAGE_CASES], 10000)
    published = [json.loads(m.value) for m in messages if m.key == reference.encode()]
    assert published and "hits me" not in json.dumps(published)
