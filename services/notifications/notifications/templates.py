"""What each message says: plain English, GOV.UK style, a case reference and a link; never
a child's or family member's name, never the concern (DOMAIN.md §10)."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from mashcore.envelope import parse_time
from notifications.models import Notification

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


def render(notification: Notification, link_base: str) -> tuple[str, str]:
    """The subject and body of ``notification``: the partnership's own template file if it
    has one (``notifications.template_files``), else the built-in wording."""
    own = _partnership_template(notification, link_base)
    if own is not None:
        return own
    ref = notification.case_reference
    link = f"{link_base.rstrip('/')}/contacts?case_reference={ref}"
    if notification.kind == "referrer_acknowledgement":
        return (f"We have received your safeguarding contact: {ref}",
                f"We have received your contact about a child.\n\n"
                f"Reference: {ref}\n\n"
                "A manager will decide what happens next within 1 working day. We will tell "
                "you the outcome when our work on it is finished.\n\n"
                f"You can see its status at {link}\n\n"
                "Quote the reference if you contact us. Do not reply with personal details "
                "by email.\n")
    if notification.kind == "referrer_outcome":
        outcome = OUTCOMES.get(notification.detail or "", "a decision has been made")
        return (f"Outcome of your safeguarding contact: {ref}",
                f"Our work on your contact is finished.\n\n"
                f"Reference: {ref}\n"
                f"Outcome: {outcome}\n\n"
                f"You can see more at {link}\n")
    if notification.kind == "consent_return":
        return (f"Your safeguarding contact has been returned to you: {ref}",
                "We have not accepted your contact as a referral. There were no "
                "safeguarding concerns and the family has not agreed to the referral.\n\n"
                f"Reference: {ref}\n\n"
                "Please talk to the family about the referral and get their consent, then "
                "send it again. You can read our guidance and resubmit at "
                f"{link}\n\n"
                "If you think a child is at risk of significant harm, contact us straight "
                "away.\n")
    if notification.kind == "dash_request":
        _request_id, due, police_ref = [*(notification.detail or "").split(" "), "", ""][:3]
        yours = f"Your reference: {police_ref}\n" if police_ref else ""
        by = f"Please send it by {_when(due)}.\n\n" if due else "Please send it today.\n\n"
        return (f"DASH risk assessment needed: {ref}",
                "Your domestic abuse referral reached the MASH without a complete DASH risk "
                "assessment. We need it to decide what happens next.\n\n"
                f"Reference: {ref}\n{yours}\n{by}"
                f"Add it to the contact at {link}\n")
    if notification.kind in ("navigator_request", "navigator_chaser"):
        request_id, _, deadline = (notification.detail or "").partition(" ")
        request = f"{link_base.rstrip('/')}/v1/requests/{request_id}"
        due = _when(deadline)
        if notification.kind == "navigator_request":
            return (f"New MASH information request: {ref}",
                    "The MASH has asked your agency what it knows about the people in a "
                    f"case.\n\nReference: {ref}\nAnswer by: {due}\n\n"
                    f"Open the request to see who it is about and answer it: {request}\n")
        return (f"Reminder: MASH information request {ref} is due by {due}",
                "Your agency has not answered a MASH information request yet.\n\n"
                f"Reference: {ref}\nAnswer by: {due}\n\n"
                f"Open the request to answer it, or decline it with a reason: {request}\n")
    if notification.kind == "meeting_invitation":
        meeting = json.loads(notification.payload or "{}")
        start = _when(str(meeting.get("start", "")))
        title = str(meeting.get("title") or "Strategy discussion")
        if meeting.get("cancelled"):
            return (f"Cancelled: {title.lower()} {ref}, {start}",
                    f"The {title.lower()} for MASH case {ref} on {start} is cancelled.\n"
                    "Your calendar will remove it when you open the attachment.\n")
        place = meeting.get("location") or meeting.get("dial_in") or "see the MASH system"
        updated = "Updated: " if meeting.get("sequence") else ""
        return (f"{updated}{title} {ref}, {start}",
                f"You are invited to a {title.lower()} for MASH case {ref}.\n\n"
                f"When: {start}\nWhere: {place}\n\n"
                f"Case details are in the MASH system: {link}\n"
                "Do not add names to the calendar entry.\n")
    if notification.kind in ("sla_breach_alert", "manager_alert"):
        _clock_id, clock, due = [*(notification.detail or "").split(" "), "", "", ""][:3]
        name = CLOCKS.get(clock, clock.replace("_", " "))
        dashboard = f"{link_base.rstrip('/')}/dashboard"
        if notification.kind == "sla_breach_alert":
            return (f"Breached: {name} for {ref}",
                    f"The {name} timescale for MASH case {ref} was due by {_when(due)} and "
                    f"has not been met.\n\nSee the dashboard: {dashboard}\n")
        return (f"Due soon: {name} for {ref}",
                f"The {name} timescale for MASH case {ref} is due by {_when(due)}.\n\n"
                f"See the dashboard: {dashboard}\n")
    raise ValueError(f"no template for {notification.kind}")


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


def personalisation(notification: Notification, link_base: str,
                    subject: str) -> dict[str, str]:
    """A GOV.UK Notify template's fields: the case reference, the link, the deadline or
    meeting time (``due``, empty if none) and the subject line (which says the same: a
    reference and a time, never a name)."""
    ref, base = notification.case_reference, link_base.rstrip("/")
    detail = [*(notification.detail or "").split(" "), "", "", ""]
    link, due = f"{base}/contacts?case_reference={ref}", ""
    if notification.kind in ("navigator_request", "navigator_chaser"):
        link, due = f"{base}/v1/requests/{detail[0]}", _when(detail[1])
    elif notification.kind in ("sla_breach_alert", "manager_alert"):
        link, due = f"{base}/dashboard", _when(detail[2])
    elif notification.kind == "dash_request" and detail[1]:
        due = _when(detail[1])
    elif notification.kind == "meeting_invitation":
        due = _when(str(json.loads(notification.payload or "{}").get("start", "")))
    return {"reference": ref, "link": link, "due": due, "subject": subject}


def webhook_payload(notification: Notification, link_base: str) -> dict[str, Any]:
    """A navigator request or chaser for a partner system: the reference, the request's id,
    deadline and link; who it is about is read through the API, never sent."""
    request_id, _, deadline = (notification.detail or "").partition(" ")
    return {"type": f"mash.{notification.kind}",
            "timestamp": notification.created_at.isoformat(),
            "data": {"case_reference": notification.case_reference,
                     "request_id": request_id, "deadline": deadline,
                     "link": f"{link_base.rstrip('/')}/v1/requests/{request_id}"}}


def _partnership_template(notification: Notification,
                          link_base: str) -> tuple[str, str] | None:
    """The partnership's template file's wording, filled with references, times, links and
    codes' wording only (never a name)."""
    from notifications import template_files

    values = personalisation(notification, link_base, "")
    detail = [*(notification.detail or "").split(" "), "", "", ""]
    meeting = json.loads(notification.payload or "{}") if notification.payload else {}
    values |= {
        "outcome": OUTCOMES.get(notification.detail or "", "a decision has been made"),
        "police_reference": detail[2],
        "title": str(meeting.get("title") or "Strategy discussion"),
        "place": str(meeting.get("location") or meeting.get("dial_in")
                     or "see the MASH system"),
        "clock": CLOCKS.get(detail[1], detail[1].replace("_", " ")),
    }
    return template_files.render(notification, values)
