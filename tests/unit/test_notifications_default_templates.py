"""The built-in wording lives in ``policy/notifications/default/<kind>.txt`` (issue 16) and
reads byte for byte as it did when it was Python: every kind, including meeting updates and
cancellations, rendered with a fixed notification, is compared with the wording recorded
from the Python templates (``notifications_built_in_wording.json``, body split by line)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifications.models import Notification
from notifications.templates import Links, render

MEETING = {"start": "2026-11-24T16:30:00Z", "title": "Strategy discussion",
           "location": "Room 2", "page": "strategy/discussions/m-1"}
CASES = {
    "referrer_acknowledgement": ("referrer_acknowledgement", None, None),
    "referrer_outcome": ("referrer_outcome", "early_help", None),
    "referrer_outcome_unknown": ("referrer_outcome", "something_new", None),
    "consent_return": ("consent_return", None, None),
    "dash_request": ("dash_request", "r-1 2026-11-24T16:30:00Z KT/123", None),
    "dash_request_no_due": ("dash_request", "r-1", None),
    "navigator_request": ("navigator_request", "req-9 2026-11-25T09:00:00Z", None),
    "navigator_chaser": ("navigator_chaser", "req-9 2026-11-25T09:15:00Z", None),
    "meeting_invitation": ("meeting_invitation", None, json.dumps(MEETING)),
    "meeting_update": ("meeting_invitation", None, json.dumps(
        {**MEETING, "title": None, "location": None, "dial_in": "0800 000", "sequence": 1})),
    "meeting_cancellation": ("meeting_invitation", None,
                             json.dumps({**MEETING, "cancelled": True})),
    "sla_breach_alert": ("sla_breach_alert", "c-1 threshold_decision 2026-11-24T17:00:00Z",
                         None),
    "manager_alert": ("manager_alert", "c-1 some_new_clock 2026-11-24T17:00:00Z", None),
}
LINKS = Links("https://mash.example/", "https://api.mash.example", "https://mash.example/dashboard")
WORDING = json.loads((Path(__file__).parent / "notifications_built_in_wording.json")
                     .read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_default_wording_is_unchanged(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASH_NOTIFY_TEMPLATES_DIR", raising=False)
    kind, detail, payload = CASES[case]
    notification = Notification(
        id="n-1", case_reference="MASH-2026-000123", partnership="no-own-files", kind=kind,
        channel="email", recipient_role="referrer", recipient_agency="police",
        caused_by_event_id="e-1", caused_by_event_type="t", detail=detail, payload=payload,
        created_at=datetime(2026, 11, 24, tzinfo=UTC))
    subject, body = render(notification, LINKS)
    assert (subject, body.split("\n")) == (WORDING[case]["subject"], WORDING[case]["body"])
