"""Intake's rules: a contact arrives, gets a case reference, and is announced to the hub."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from intake.checks.quality import age_on
from mashcore.ids import new_id, random_bytes

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone
_REFERENCE_LENGTH = 8
_SYMBOL_BITS = 5
assert len(_REFERENCE_ALPHABET) == 1 << _SYMBOL_BITS, "each symbol must take whole bits"


def new_case_reference(received_at: datetime) -> str:
    """A case reference a person can read out: MASH-<year>-<8 characters>."""
    # Decision: 40 bits (5 per symbol of the 32) from the block-read pool (mashcore.ids), not
    # one secrets.choice per symbol: each read of the system's randomness is a getrandom call
    # that gives up the GIL and waits to take it back, which under load cost intake's POST
    # more than the rest of the reference (issue 17's profile). The same uniform choice of
    # 32^8 references from the same CSPRNG.
    bits = int.from_bytes(random_bytes(_SYMBOL_BITS * _REFERENCE_LENGTH // 8))
    suffix = "".join(_REFERENCE_ALPHABET[(bits >> (_SYMBOL_BITS * i)) & 31]
                     for i in range(_REFERENCE_LENGTH))
    return f"MASH-{received_at.year}-{suffix}"


def new_contact_id() -> str:
    """A fresh contact id."""
    return new_id()


CHILD_EVENT_FIELDS = ("first_name", "last_name", "date_of_birth")


def child_for_event(child: dict[str, Any]) -> dict[str, Any]:
    """The part of a child's details that ``contact.received.v1`` carries (its contract)."""
    return {**{field: child.get(field) for field in CHILD_EVENT_FIELDS},
            "identity_unknown": bool(child.get("identity_unknown", False))}


def contact_received_data(
    *,
    contact_id: str,
    case_reference: str,
    kind: str,
    partnership: str,
    referrer_agency: str,
    referrer_role: str,
    children: list[dict[str, Any]],
    concern_summary: str,
    received_at: datetime,
    staff_linked: bool = False,
    family: list[dict[str, Any]] | None = None,
    postcode: str | None = None,
    address: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The data of ``contact.received.v1``."""
    return {
        "contact_id": contact_id,
        "case_reference": case_reference,
        "kind": kind,
        "partnership": partnership,
        "referrer": {"agency": referrer_agency, "role": referrer_role},
        "children": [child_for_event(child) for child in children],
        "concern": {"summary": concern_summary},
        "received_at": received_at.isoformat(),
        "staff_linked": staff_linked,
        "family": family or [],
        "postcode": postcode if postcode and POSTCODE.match(postcode) else None,
        "address": ({"lines": list(address.get("lines") or [])[:4],
                     "town": address.get("town"), "postcode": address.get("postcode")}
                    if address and (address.get("lines") or address.get("postcode")) else None),
    }


POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
_FAMILY_LISTS = (("parents_carers", "parent"), ("siblings", "sibling"),
                 ("other_adults_in_home", "other_adult_in_household"),
                 ("other_children_in_home", "other_child_in_household"))


def family_for_event(submission: dict[str, Any]) -> list[dict[str, Any]]:
    """The family and household as partner agencies search for them: relationship, names and
    date of birth only (DOMAIN.md §4). Never the referrer."""
    family = []
    for key, relationship in _FAMILY_LISTS:
        for person in submission.get(key) or []:
            if not (person.get("first_name") or person.get("last_name")):
                continue
            family.append({"relationship": relationship,
                           "first_name": person.get("first_name"),
                           "last_name": person.get("last_name"),
                           "date_of_birth": person.get("date_of_birth")})
    return family[:50]


LONDON = ZoneInfo("Europe/London")

_CONSENT = {"yes": "given", "no": "refused", "not_sought": "not_sought", None: "unknown"}


def local_today(now: datetime) -> date:
    """Today's date in England (a newborn born 'today' at 00:30 BST is not in the future)."""
    return now.astimezone(LONDON).date()


def referrer_agency(agency: str, anonymous: bool, *, via_hub_worker: bool = False) -> str:
    """The referrer's agency: a member of the public, phoned in to a hub worker or anonymous,
    is 'public' (DOMAIN.md §1); a partner system's referral is its own agency's."""
    return "public" if anonymous or via_hub_worker else agency


def dash_missing(agency: str, domestic_abuse: dict[str, Any] | None) -> bool:
    """A police domestic-abuse referral without its DASH risk assessment (DOMAIN.md §3)."""
    return (agency == "police" and domestic_abuse is not None
            and bool(domestic_abuse.get("flag")) and not domestic_abuse.get("dash_completed"))


def _domestic_abuse_assessment(agency: str, da: dict[str, Any] | None) -> dict[str, Any] | None:
    if not da or not da.get("flag"):
        return None
    scale = ("caada_dash_ric" if da.get("dash_completed") or da.get("caada_ric_score") is not None
             else "barnardos" if da.get("barnardos_scale") is not None else None)
    barnardos = da.get("barnardos_scale")
    level = da.get("dash_risk_level") or ("high" if barnardos is not None and barnardos >= 3
                                          else "unknown")
    dash = ("attached" if da.get("dash_completed")
            else "missing" if agency == "police" else "not_applicable")
    return {"dash": dash, "risk_scale": scale, "risk_level": level}


def referral_accepted_data(
    *, contact_id: str, case_reference: str, accepted_at: datetime, submission: dict[str, Any],
    agency: str, quality: dict[str, Any],
) -> dict[str, Any]:
    """The data of ``referral.accepted.v1``: what triage decides on, no child details."""
    referrer = submission["referrer"]
    consent = submission.get("consent") or {}
    view = submission.get("referrer_view_of_need") or {}
    domestic_abuse = submission.get("domestic_abuse")
    anonymous = bool(referrer.get("anonymous"))
    explanation = consent.get("reasons_if_not")
    return {
        "contact_id": contact_id,
        "case_reference": case_reference,
        "accepted_at": accepted_at.isoformat(),
        "submitted_as": submission["kind"],
        "form": submission.get("form") or ("police_referral" if agency == "police" else "marf"),
        "referrer": {"agency": referrer_agency(agency, anonymous),
                     "role": "member of the public"
                     if referrer_agency(agency, anonymous) == "public" else referrer["role"]},
        "consent": {
            "discussed_with_parents": consent.get("discussed_with_parents"),
            "parents_aware": consent.get("parents_aware"),
            "referral": _CONSENT[consent.get("consent_to_referral")],
            "information_sharing": _CONSENT[consent.get("consent_to_information_sharing")],
            "given_by": ("child_16_or_over" if consent.get("child_over_16_consented")
                         else "parent_or_carer" if consent.get("consent_to_referral") == "yes"
                         else None),
            "not_sought_basis": consent.get("not_sought_basis"),
            "explanation": explanation[:4000] if explanation else None,
        },
        "referrer_view_of_need": ({"code": view["level_code"], "name": view["level_code"]}
                                  if view.get("level_code") else None),
        "flags": {
            "domestic_abuse": bool(domestic_abuse and domestic_abuse.get("flag")),
            "anonymous_referrer": anonymous,
            "staff_linked": bool(submission.get("staff_linked")),
        },
        "domestic_abuse_assessment": _domestic_abuse_assessment(agency, domestic_abuse),
        "quality": quality,
        "threshold_indicators": sorted(set(view.get("indicators") or [])),
        "signals": referral_signals(submission, local_today(accepted_at)),
    }


LOW_SAFETY_SCALE = 3  # a Signs of Safety scale at or below this is a signal (0 = act now)


def referral_signals(submission: dict[str, Any], today: date) -> list[str]:
    """Facts in the full referral that threshold indicators can be matched on, for triage's
    decision support (the child details themselves stay at intake)."""
    found: set[str] = set()
    for child in submission["children"]:
        if child.get("unborn"):
            found.add("unborn_child")
        if child.get("date_of_birth"):
            age = age_on(date.fromisoformat(child["date_of_birth"]), today)
            if age < 1:
                found.add("child_under_1")
            if age >= 16:
                found.add("child_16_or_over")
    for parent in submission.get("parents_carers") or []:
        if parent.get("date_of_birth") and age_on(
                date.fromisoformat(parent["date_of_birth"]), today) < 18:
            found.add("young_parent_under_18")
    scales = ((submission.get("signs_of_safety") or {}).get("scales")) or []
    if any(scale["score"] <= LOW_SAFETY_SCALE for scale in scales):
        found.add("low_safety_scale")
    return sorted(found)


def dash_requested_data(
    *, request_id: str, contact_id: str, case_reference: str, requested_at: datetime,
) -> dict[str, Any]:
    """The data of ``dash.requested.v1``: ask the police referrer for the missing DASH."""
    return {
        "request_id": request_id,
        "case_reference": case_reference,
        "contact_id": contact_id,
        "requested_at": requested_at.isoformat(),
        "requested_from": "police",
        "reason": "dash_missing",
        "requested_by": None,  # automatic, at intake
    }
