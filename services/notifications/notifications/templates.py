"""What each message says: plain English, GOV.UK style, a case reference and a link; never
a child's or family member's name, never the concern (DOMAIN.md §10)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from mashcore.envelope import parse_time
from notifications.models import Notification

if TYPE_CHECKING:
    from notifications.settings import NotifySettings

LONDON = ZoneInfo("Europe/London")

OUTCOMES = {
    "nfa": "no further action by children's social care",
    "information_and_advice": "information and advice",
    "early_help": "support from early help",
    "s17_assessment": "a child in need assessment",
    "strategy_discussion": "a strategy discussion",
    "local_social_work_unit": "passed to the local social work team",
    "allocated_worker": "passed to the allocated social worker",
    "mash_enquiries": "multi-agency enquiries",
}


@dataclass(frozen=True)
class Links:
    """Where a message's link points. ``web``: the hub's pages (the workbench), for people:
    a navigator's email opens the request's page there; ``api``: the address a partner system
    reads a request through (a webhook's link); ``dashboard``: the SLA dashboard (alerts)."""

    web: str
    api: str
    dashboard: str

    @classmethod
    def of(cls, settings: NotifySettings) -> Links:
        """The links configured (``MASH_NOTIFY_LINK_BASE``, ``_API_BASE``, ``_DASHBOARD_URL``)."""
        return cls(settings.link_base.rstrip("/"), settings.api_base.rstrip("/"),
                   settings.dashboard_url)


def render(notification: Notification, links: Links) -> tuple[str, str]:
    """The subject and body of ``notification``: the partnership's own template file if it
    has one, else the default file (``policy/notifications/default``; see
    ``notifications.template_files``)."""
    from notifications import template_files

    return template_files.render(notification, _values(notification, links))


CLOCKS = {"threshold_decision": "threshold decision",
          "referrer_acknowledged": "referrer acknowledgement",
          "mash_enquiries": "MASH enquiries", "partner_information_request":
          "partner information request", "strategy_minutes": "strategy minutes",
          "icpc": "initial child protection conference", "referrer_outcome": "referrer outcome"}


def _when(value: str) -> str:
    """A deadline as people in England read it, e.g. '4:30pm on Tuesday 24 November 2026'."""
    try:
        at = parse_time(value).astimezone(LONDON)
    except ValueError:
        return value
    hour = at.strftime("%I").lstrip("0")
    minute = "" if at.minute == 0 else at.strftime(":%M")
    return f"{hour}{minute}{at.strftime('%p').lower()} on {at.strftime('%A')} {at.day} " \
           f"{at.strftime('%B %Y')}"


def personalisation(notification: Notification, links: Links,
                    subject: str) -> dict[str, str]:
    """A GOV.UK Notify template's fields: the case reference, the link, the deadline or
    meeting time (``due``, empty if none) and the subject line (which says the same: a
    reference and a time, never a name)."""
    ref, base = notification.case_reference, links.web.rstrip("/")
    detail = [*(notification.detail or "").split(" "), "", "", ""]
    link, due = f"{base}/cases/{ref}", ""  # the case's page in the workbench (hub staff)
    if notification.kind in ("navigator_request", "navigator_chaser"):
        link, due = f"{base}/navigator/requests/{detail[0]}", _when(detail[1])
    elif notification.kind in ("sla_breach_alert", "manager_alert"):
        link, due = links.dashboard, _when(detail[2])
    elif notification.kind == "dash_request" and detail[1]:
        due = _when(detail[1])
    elif notification.kind == "meeting_invitation":
        meeting = json.loads(notification.payload or "{}")
        due = _when(str(meeting.get("start", "")))
        if meeting.get("page"):  # the meeting's page in the workbench
            link = f"{base}/{meeting['page']}"
    return {"reference": ref, "link": link, "due": due, "subject": subject}


def webhook_payload(notification: Notification, links: Links) -> dict[str, Any]:
    """A navigator request or chaser for a partner system: the reference, the request's id,
    deadline and link; who it is about is read through the API, never sent."""
    request_id, _, deadline = (notification.detail or "").partition(" ")
    return {"type": f"mash.{notification.kind}",
            "timestamp": notification.created_at.isoformat(),
            "data": {"case_reference": notification.case_reference,
                     "request_id": request_id, "deadline": deadline,
                     "link": f"{links.api.rstrip('/')}/v1/requests/{request_id}"}}


def _values(notification: Notification, links: Links) -> dict[str, str]:
    """What a template file is filled with: references, times, links and codes' wording
    only (never a name)."""
    values = personalisation(notification, links, "")
    detail = [*(notification.detail or "").split(" "), "", "", ""]
    meeting = json.loads(notification.payload or "{}") if notification.payload else {}
    title = str(meeting.get("title") or "Strategy discussion")
    values |= {
        "outcome": OUTCOMES.get(notification.detail or "", "a decision has been made"),
        "police_reference": detail[2],
        "police_reference_line": f"Your reference: {detail[2]}\n" if detail[2] else "",
        "send_by": f"by {values['due']}" if values["due"] else "today",
        "title": title,
        "title_lower": title.lower(),
        "updated": "Updated: " if meeting.get("sequence") else "",
        "place": str(meeting.get("location") or meeting.get("dial_in")
                     or "see the MASH system"),
        "clock": CLOCKS.get(detail[1], detail[1].replace("_", " ")),
    }
    return values
