"""What triage shows: queue entries (no child's details) and the whole case view, with the
decision support computed from the case as it stands."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from mashcore.db import UnitOfWork
from mashcore.plainwords import matcher_for
from mashcore.service import ServiceContext
from triage import decision_support, rules
from triage.models import RatingHistory, TriageCase

ENGLAND = ZoneInfo("Europe/London")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def referral_of(case: TriageCase) -> dict[str, Any]:
    """What intake's referral.accepted told triage (empty for a plain contact)."""
    return json.loads(case.referral) if case.referral else {}


def facts(case: TriageCase) -> decision_support.Facts:
    """What decision support matches indicators against."""
    referral = referral_of(case)
    assessment = referral.get("domestic_abuse_assessment") or {}
    return decision_support.Facts(
        concern=case.concern_summary,
        ticked_by_referrer=tuple(referral.get("threshold_indicators") or ()),
        ticked_by_information_officer=tuple(json.loads(case.indicators_ticked)),
        ticked_by_team_manager=tuple(json.loads(case.indicators_ticked_by_manager)),
        domestic_abuse=(bool((referral.get("flags") or {}).get("domestic_abuse"))
                        or case.domestic_abuse_flag == "confirmed"),
        domestic_abuse_risk=assessment.get("risk_level"),
        children_dates_of_birth=tuple(
            date.fromisoformat(child["date_of_birth"]) if child.get("date_of_birth") else None
            for child in json.loads(case.children)),
        received_on=case.received_at.astimezone(ENGLAND).date(),
        referral_signals=tuple(referral.get("signals") or ()),
        answered_flags=("domestic_abuse",) if case.domestic_abuse_flag else (),
    )


def suggestion_for(ctx: ServiceContext, case: TriageCase) -> decision_support.Suggestion:
    """Decision support under the case's partnership pack."""
    return decision_support.suggest(ctx.policy.for_partnership(case.partnership), facts(case),
                                    matcher_for(ctx.policy, case.partnership))


def summary(case: TriageCase, now: datetime) -> dict[str, Any]:
    """A queue entry: identifiers, ratings and deadlines; no child's details."""
    due = (case.consent_revisit_due_at if case.status == rules.DECIDED
           else case.threshold_decision_due_at if case.status in rules.OPEN else None)
    return {
        "case_reference": case.case_reference,
        "contact_id": case.contact_id,
        "partnership": case.partnership,
        "kind": case.kind,
        "status": case.status,
        "restricted": case.restricted,
        "initial_brag": case.initial_brag,
        "brag": case.brag,
        "route": case.route,
        "received_at": _iso(case.received_at),
        "threshold_decision_due_at": _iso(case.threshold_decision_due_at),
        "consent_revisit_due_at": _iso(case.consent_revisit_due_at),
        "enquiries_due_at": _iso(case.enquiries_due_at),
        # The deadline that is this case's next job: the decision while it is open, the
        # consent revisit once decided without consent.
        "overdue": due is not None and due < now,
    }


def _suggestion_view(suggestion: decision_support.Suggestion) -> dict[str, Any]:
    return {
        "level": ({"code": suggestion.level_code, "name": suggestion.level_name}
                  if suggestion.level_code else None),
        "brag": suggestion.brag,
        "explanation": suggestion.explanation,
        "matched_indicators": [
            {"code": m.indicator.code, "domain": m.indicator.domain,
             "level": {"code": m.indicator.level, "name": m.level_name},
             "text": m.indicator.text, "because": list(m.because)}
            for m in suggestion.matches],
        "unknown_indicator_codes": list(suggestion.unknown_codes),
        # Issue 20: the referrer's own words, for the hub only (never logged or sent on).
        "read_in_concern": [
            {"rule": h.rule.code, "kind": h.rule.kind, "about": h.rule.about, "words": h.words,
             "indicator": h.rule.indicator, "flag": h.rule.flag}
            for h in suggestion.read_in_concern],
        "suggested_flags": [
            {"flag": h.rule.flag, "words": h.words,
             "explanation": f"The concern's words suggest {h.rule.about}, but the referral is "
             "not flagged: an information officer confirms the flag (the DASH request follows "
             "confirmation). Suggested only; nothing is set."}
            for h in suggestion.suggested_flags],
    }


def case_view(ctx: ServiceContext, uow: UnitOfWork, case: TriageCase) -> dict[str, Any]:
    """The whole case as the API shows it to someone allowed to see it."""
    pack = ctx.policy.for_partnership(case.partnership)
    referral = referral_of(case)
    history = uow.session.exec(select(RatingHistory)
                               .where(RatingHistory.case_reference == case.case_reference)
                               .order_by(col(RatingHistory.id)))
    decision = None
    if case.decided_at is not None:
        decision = {
            "level": {"code": case.level_code, "name": case.level_name},
            "brag": case.brag, "route": case.route, "rationale": case.rationale,
            "decided_at": _iso(case.decided_at), "decided_by": case.decided_by,
            "policy_version": case.policy_version,
            "suggested": {"level_code": case.suggested_level_code,
                          "brag": case.suggested_brag},
            "overrode_suggestion": (case.suggested_level_code is not None
                                    and (case.suggested_level_code != case.level_code
                                         or case.suggested_brag != case.brag)),
            "proceeding_without_consent": case.proceeding_without_consent,
            "without_consent_reason": case.without_consent_reason,
            "without_consent_basis": case.without_consent_basis,
        }
    return {
        **summary(case, ctx.clock.now()),
        "opened_at": _iso(case.opened_at),
        "policy": {"partnership": pack.partnership, "name": pack.name,
                   "version": pack.version},
        "children": json.loads(case.children),
        "concern_summary": case.concern_summary,
        "referrer": {"agency": case.referrer_agency,
                     "role": (referral.get("referrer") or {}).get("role")},
        "referral": {key: referral.get(key) for key in (
            "form", "consent", "referrer_view_of_need", "flags", "domestic_abuse_assessment",
            "quality", "threshold_indicators", "signals")} if referral else None,
        "safeguarding_concerns": case.safeguarding_concerns,
        "consent_to_referral": case.consent_to_referral,
        "indicators_ticked": json.loads(case.indicators_ticked),
        "indicators_ticked_by_manager": json.loads(case.indicators_ticked_by_manager),
        "consent_gate": ({"outcome": case.gate_outcome, "rationale": case.gate_rationale,
                          "proposed_by": case.gate_proposed_by}
                         if case.gate_outcome else None),
        "decision_support": _suggestion_view(suggestion_for(ctx, case)),
        # Issue 20: hub staff's answer to a suggested flag (triage.flags).
        "flag_answers": ({"domestic_abuse": {
            "answer": case.domestic_abuse_flag, "reason": case.domestic_abuse_flag_reason,
            "by": case.domestic_abuse_flag_by, "at": _iso(case.domestic_abuse_flag_at)}}
            if case.domestic_abuse_flag else {}),
        "decision": decision,
        "history": [{"at": _iso(h.at), "kind": h.kind, "brag": h.brag,
                     "level_code": h.level_code, "by": h.by_user, "role": h.by_role,
                     "note": h.note, "suggested_level_code": h.suggested_level_code,
                     "suggested_brag": h.suggested_brag} for h in history],
    }
