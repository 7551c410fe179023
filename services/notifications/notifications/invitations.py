"""Meeting invitations as iCalendar (RFC 5545) attachments, built with the icalendar
library: one stable UID per meeting and the organiser's SEQUENCE, so a calendar updates
(rescheduled) or removes (cancelled, METHOD:CANCEL) the event it already has instead of
adding a second one. The summary names the case by reference only, never a child."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

from mashcore.envelope import Event as CloudEvent
from mashcore.envelope import parse_time

FORMATS = {"meeting": "meeting", "video_call": "video call", "phone_calls": "phone calls"}
DEFAULT_LENGTH = timedelta(hours=1)


def meeting_payload(event: CloudEvent, *, cancelled: bool,
                    title: str = "Strategy discussion", page: str = "strategy/discussions") -> str:
    """What the invitation needs from strategy's scheduled/cancelled event (no names);
    ``page``: the meeting's page in the workbench, under the hub's web address.

    Events without strategy's ``sequence`` (conferences and core groups before strategy
    carries one) use the (re)scheduling time in epoch seconds: it only ever grows, so a
    reschedule still updates the calendar entry with the same UID."""
    data = event.data
    sequence = data.get("sequence")
    if sequence is None:
        sequence = int(parse_time(str(data["scheduled_at"])).timestamp()) \
            if data.get("rescheduled") and data.get("scheduled_at") else 0
    return json.dumps({
        "meeting_id": data["meeting_id"], "sequence": int(sequence), "title": title,
        "page": f"{page}/{data['meeting_id']}",
        "start": data["scheduled_for"], "end": data.get("ends_at"),
        "format": data.get("format"), "location": data.get("location"),
        "dial_in": data.get("dial_in"), "cancelled": cancelled,
        "stamp": data.get("cancelled_at") if cancelled else data.get("scheduled_at"),
    })


def ics(payload: str, case_reference: str, organiser: str, attendee: str) -> bytes:
    """The invitation (or its cancellation) for one recipient."""
    meeting: dict[str, Any] = json.loads(payload)
    start = parse_time(meeting["start"])
    end = parse_time(meeting["end"]) if meeting.get("end") else start + DEFAULT_LENGTH
    cal = Calendar()
    cal.add("prodid", "-//MASH front door//notifications//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if meeting["cancelled"] else "REQUEST")
    vevent = Event()
    vevent.add("uid", f"{meeting['meeting_id']}@mash-front-door")
    vevent.add("sequence", meeting["sequence"])
    vevent.add("dtstamp", parse_time(meeting["stamp"]) if meeting.get("stamp") else start)
    vevent.add("dtstart", start)
    vevent.add("dtend", end)
    title = str(meeting.get("title") or "Strategy discussion")
    vevent.add("summary", f"{title} {case_reference}")
    how = FORMATS.get(meeting.get("format") or "", "meeting")
    vevent.add("description", f"{title} ({how}) for MASH case {case_reference}. "
               "Details of the case are in the MASH system: do not add names to this invite.")
    if meeting.get("location") or meeting.get("dial_in"):
        vevent.add("location", vText(str(meeting.get("location") or meeting.get("dial_in"))))
    vevent.add("status", "CANCELLED" if meeting["cancelled"] else "CONFIRMED")
    vevent["organizer"] = vCalAddress(f"mailto:{organiser}")
    who = vCalAddress(f"mailto:{attendee}")
    who.params["role"] = vText("REQ-PARTICIPANT")
    who.params["rsvp"] = vText("TRUE")
    vevent.add("attendee", who, encode=False)
    cal.add_component(vevent)
    return bytes(cal.to_ical())
