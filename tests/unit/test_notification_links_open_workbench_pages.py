"""The links people get by email open a page of the workbench (issue 16 with issue 18): a
navigator's request and chaser, and each kind of meeting invitation. A link to a path the
workbench does not serve would be a dead link in every such email."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from starlette.routing import Match
from starlette.types import Scope

from mashcore.envelope import Event
from mashcore.settings import Settings
from notifications.invitations import meeting_payload
from notifications.models import Notification
from notifications.templates import Links, personalisation
from workbench.app import WorkbenchSettings, create_workbench

LINKS = Links("https://workbench.hub.example", "https://api.hub.example",
              "https://sla.hub.example/dashboard")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _served_by_the_workbench(url: str) -> bool:
    app = create_workbench(Settings(), WorkbenchSettings(session_secret="s" * 32))
    scope: Scope = {"type": "http", "method": "GET", "path": urlsplit(url).path,
                    "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


def _notification(kind: str, detail: str | None = None,
                  payload: str | None = None) -> Notification:
    return Notification(
        id="n-1", case_reference="MASH-2026-000123", partnership="p", kind=kind,
        channel="email", recipient_role="navigator", recipient_agency="police",
        caused_by_event_id="e-1", caused_by_event_type="t", detail=detail, payload=payload,
        created_at=NOW)


@pytest.mark.parametrize("kind", ["navigator_request", "navigator_chaser"])
def test_a_navigator_s_email_opens_the_request_s_page(kind: str) -> None:
    link = personalisation(_notification(kind, "req-9 2026-11-24T13:00:00Z"), LINKS, "")["link"]
    assert link == "https://workbench.hub.example/navigator/requests/req-9"
    assert _served_by_the_workbench(link)


@pytest.mark.parametrize(("title", "page"), [
    ("Strategy discussion", "strategy/discussions"),
    ("Child protection conference", "conferences"),
    ("Review child protection conference", "review-conferences"),
    ("Core group meeting", "core-groups"),
])
def test_an_invitation_opens_the_meeting_s_page(title: str, page: str) -> None:
    event = Event(type="t", source="/mash/strategy", subject="MASH-2026-000123", time=NOW,
                  recordedtime=NOW, partnership="p", data={
                      "meeting_id": "m-1", "sequence": 1, "scheduled_for": NOW.isoformat(),
                      "scheduled_at": NOW.isoformat()})
    payload = meeting_payload(event, cancelled=False, title=title, page=page)
    link = personalisation(_notification("meeting_invitation", payload=payload), LINKS,
                           "")["link"]
    assert link == f"https://workbench.hub.example/{page}/m-1"
    assert _served_by_the_workbench(link)


def test_a_link_to_a_page_the_workbench_does_not_serve_is_noticed() -> None:
    assert not _served_by_the_workbench("https://workbench.hub.example/contacts")


@pytest.mark.parametrize("kind", ["referrer_acknowledgement", "dash_request", "consent_return"])
def test_any_other_message_s_link_is_the_case_s_page(kind: str) -> None:
    """A hub's own template may use ``{link}`` in a referrer's message too: the case's page
    (for hub staff), never a path nothing serves. The default wording has no link there:
    referrers have no pages in the workbench."""
    link = personalisation(_notification(kind), LINKS, "")["link"]
    assert link == "https://workbench.hub.example/cases/MASH-2026-000123"
    assert _served_by_the_workbench(link)
