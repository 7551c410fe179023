"""Triage's commands: initial rating, consent gate, threshold decision, re-rating, consent
revisit. Each is one transaction: the case row is locked, changed, its history appended,
the write audited and the event staged in the outbox together (nothing lost, no event for
a change that did not commit, and a case's events in the order they happened).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select

from mashcore.audit import AuditAction, audit, audit_read_or_404
from mashcore.auth import Principal, Role, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.policy import PolicyPack
from mashcore.problems import ProblemHTTPException, invalid_fields
from mashcore.service import ServiceContext
from mashcore.topics import TRIAGE_CASES
from triage import decision_support, domain, rules
from triage.models import CaseAccess, RatingHistory, TriageCase

ENGLAND = ZoneInfo("Europe/London")


def partnership_of(ctx: ServiceContext, principal: Principal) -> str:
    """The one partnership whose cases a member of hub staff may see (need-to-know)."""
    return principal.partnership or ctx.settings.partnership_default


def named_users(uow: UnitOfWork, case_reference: str) -> set[str]:
    """The users a locked-down case is restricted to (empty: not locked down)."""
    rows = uow.session.exec(select(CaseAccess.user_id)
                            .where(CaseAccess.case_reference == case_reference))
    return set(rows)


def may_see(principal: Principal, partnership: str, case: TriageCase | None,
            named: set[str]) -> bool:
    """Need-to-know (DOMAIN.md §10): the case's partnership; a locked-down case only for
    its named users; a staff-linked case before lock-down only for team managers."""
    if case is None or case.partnership != partnership:
        return False
    if named:
        return principal.subject in named
    if case.restricted:
        return principal.role == Role.TEAM_MANAGER
    return True


def _load(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, case_reference: str,
          action: AuditAction) -> TriageCase:
    """The case, locked for update and audited; a 404 (also audited) if the caller may not
    see it, so nobody learns that a record they may not see exists."""
    case = uow.session.get(TriageCase, case_reference, with_for_update=True)
    allowed = may_see(principal, partnership_of(ctx, principal), case,
                      named_users(uow, case_reference))
    if not allowed:
        audit_read_or_404(uow, principal=principal, what="case", resource="triage_case",
                          resource_id=case_reference, allowed=False, at=ctx.clock.now(),
                          action=action)
    assert case is not None
    audit(uow.session, principal=principal, action=action, resource="triage_case",
          resource_id=case_reference, at=ctx.clock.now(), case_reference=case_reference)
    return case


def _conflict(case: TriageCase, doing: str, expected: tuple[str, ...]) -> ProblemHTTPException:
    return ProblemHTTPException(
        409, "Not possible in this state",
        f"Case {case.case_reference} is {case.status!r}: {doing} needs it to be "
        f"{' or '.join(repr(s) for s in expected)}.",
        extra={"case_status": case.status},
    )


def _emit(ctx: ServiceContext, uow: UnitOfWork, case: TriageCase, event_type: str,
          data: dict[str, Any], at: datetime) -> None:
    ctx.emit(uow, Event(type=event_type, source=ctx.source, subject=case.case_reference,
                        time=at, recordedtime=at, partnership=case.partnership, data=data,
                        correlationid=case.correlation_id or case.case_reference),
             TRIAGE_CASES)


def _history(uow: UnitOfWork, case: TriageCase, *, at: datetime, kind: str,
             principal: Principal, brag: str | None = None, level_code: str | None = None,
             note: str | None = None, suggestion: decision_support.Suggestion | None = None,
             ) -> None:
    uow.session.add(RatingHistory(
        case_reference=case.case_reference, at=at, kind=kind, brag=brag, level_code=level_code,
        by_user=principal.subject, by_role=str(principal.role), note=note,
        suggested_level_code=suggestion.level_code if suggestion else None,
        suggested_brag=suggestion.brag if suggestion else None,
    ))


def referral_of(case: TriageCase) -> dict[str, Any]:
    """What intake's referral.accepted told triage (empty for a plain contact)."""
    return json.loads(case.referral) if case.referral else {}


def facts(case: TriageCase, extra_ticks: list[str] | None = None) -> decision_support.Facts:
    """What decision support matches indicators against."""
    referral = referral_of(case)
    assessment = referral.get("domestic_abuse_assessment") or {}
    children = json.loads(case.children)
    return decision_support.Facts(
        concern=case.concern_summary,
        ticked_by_referrer=tuple(referral.get("threshold_indicators") or ()),
        ticked_by_information_officer=tuple(json.loads(case.indicators_ticked)),
        ticked_by_team_manager=tuple(extra_ticks or ()),
        domestic_abuse=bool((referral.get("flags") or {}).get("domestic_abuse")),
        domestic_abuse_risk=assessment.get("risk_level"),
        children_dates_of_birth=tuple(
            date.fromisoformat(child["date_of_birth"]) if child.get("date_of_birth") else None
            for child in children),
        received_on=case.received_at.astimezone(ENGLAND).date(),
        referral_signals=tuple(referral.get("signals") or ()),
    )


def suggestion_for(ctx: ServiceContext, case: TriageCase,
                   extra_ticks: list[str] | None = None) -> decision_support.Suggestion:
    """Decision support under the case's partnership pack."""
    return decision_support.suggest(ctx.policy.for_partnership(case.partnership),
                                     facts(case, extra_ticks))


def _unknown_indicators(pack: PolicyPack, codes: list[str], field: str) -> None:
    unknown = [code for code in codes if pack.indicator(code) is None]
    if unknown:
        raise invalid_fields("Unknown threshold indicators", [(
            field, f"not indicators of {pack.name}: {', '.join(unknown)} "
            f"(GET /v1/policy lists them)")])


# --- Information officer ----------------------------------------------------------------


@dataclass(frozen=True)
class Rating:
    brag: str
    safeguarding_concerns: bool
    consent_to_referral: str | None
    indicators: list[str]
    rationale: str | None


def rate(ctx: ServiceContext, principal: Principal, case_reference: str,
         rating: Rating) -> dict[str, Any]:
    """The initial BRAG (DOMAIN.md §1, §6) and, with it, the consent gate check (§5)."""
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = _load(ctx, uow, principal, case_reference, AuditAction.WRITE)
        if case.status != rules.AWAITING_INITIAL_RATING:
            raise _conflict(case, "an initial rating", (rules.AWAITING_INITIAL_RATING,))
        pack = ctx.policy.for_partnership(case.partnership)
        _unknown_indicators(pack, rating.indicators, "indicators")
        now = ctx.clock.now()
        case.initial_brag = rating.brag
        case.safeguarding_concerns = rating.safeguarding_concerns
        if rating.consent_to_referral is not None:
            case.consent_to_referral = rating.consent_to_referral
        case.indicators_ticked = json.dumps(sorted(set(rating.indicators)))
        case.status = (rules.AWAITING_CONSENT_GATE
                       if rules.gate_applies(rating.safeguarding_concerns,
                                             case.consent_to_referral)
                       else rules.AWAITING_THRESHOLD_DECISION)
        uow.session.add(case)
        _history(uow, case, at=now, kind="initial", principal=principal, brag=rating.brag,
                 note=rating.rationale)
        _emit(ctx, uow, case, domain.RATING_GIVEN, domain.rating_given_data(
            case_reference=case.case_reference, brag=rating.brag, rated_at=now,
            rated_by=domain.by(user_id, str(principal.role)), rationale=rating.rationale), now)
        uow.commit()
        return case_view(ctx, uow, case)


def apply_consent_gate(ctx: ServiceContext, principal: Principal, case_reference: str, *,
                       outcome: str, rationale: str) -> dict[str, Any]:
    """The gate's exit (DOMAIN.md §5): returned to the referrer now; to the Early Help Hub
    or closed once a team manager agrees."""
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = _load(ctx, uow, principal, case_reference, AuditAction.WRITE)
        if case.status != rules.AWAITING_CONSENT_GATE:
            raise _conflict(case, "the consent gate", (rules.AWAITING_CONSENT_GATE,))
        if outcome == "returned_to_referrer" and case.referrer_agency == "public":
            raise invalid_fields("Cannot return to this referrer", [(
                "outcome", "a member of the public is never sent feedback (DOMAIN.md §7): "
                "forward to the Early Help Hub or close, with a team manager")])
        now = ctx.clock.now()
        case.gate_outcome = outcome
        case.gate_rationale = rationale
        case.gate_proposed_by = user_id
        if rules.gate_needs_manager(outcome):
            case.status = rules.AWAITING_GATE_AGREEMENT
        else:
            _close_at_gate(ctx, uow, case, now, team_manager_id=None)
        uow.session.add(case)
        uow.commit()
        return case_view(ctx, uow, case)


def _close_at_gate(ctx: ServiceContext, uow: UnitOfWork, case: TriageCase, now: datetime, *,
                   team_manager_id: str | None) -> None:
    assert case.gate_outcome and case.gate_rationale and case.gate_proposed_by
    case.status = rules.GATE_CLOSES_AS[case.gate_outcome]
    case.closed_at = now
    _emit(ctx, uow, case, domain.CONSENT_GATE_APPLIED, domain.consent_gate_data(
        case_reference=case.case_reference, applied_at=now, outcome=case.gate_outcome,
        consent_to_referral=(case.consent_to_referral
                             if case.consent_to_referral in ("refused", "not_sought")
                             else "unknown"),
        rationale=case.gate_rationale, information_officer_id=case.gate_proposed_by,
        team_manager_id=team_manager_id), now)


# --- Team manager -------------------------------------------------------------------------


def agree_consent_gate(ctx: ServiceContext, principal: Principal, case_reference: str, *,
                       agree: bool, note: str | None) -> dict[str, Any]:
    """A team manager agrees the information officer's gate exit, or sends the case on to
    a threshold decision instead."""
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = _load(ctx, uow, principal, case_reference, AuditAction.WRITE)
        if case.status != rules.AWAITING_GATE_AGREEMENT:
            raise _conflict(case, "agreeing the consent gate", (rules.AWAITING_GATE_AGREEMENT,))
        now = ctx.clock.now()
        if agree:
            _close_at_gate(ctx, uow, case, now, team_manager_id=user_id)
        else:
            case.status = rules.AWAITING_THRESHOLD_DECISION
            case.gate_outcome = None
        _history(uow, case, at=now, kind="consent_gate", principal=principal,
                 note=("agreed" if agree else "not agreed") + (f": {note}" if note else ""))
        uow.session.add(case)
        uow.commit()
        return case_view(ctx, uow, case)


@dataclass(frozen=True)
class Decision:
    level_code: str
    brag: str
    route: str
    rationale: str
    indicators: list[str]
    consent_to_referral: str | None
    proceeding_without_consent: bool
    without_consent_reason: str | None
    without_consent_basis: str | None


DECIDABLE = (rules.AWAITING_INITIAL_RATING, rules.AWAITING_THRESHOLD_DECISION,
             rules.AWAITING_CONSENT_GATE)


def decide(ctx: ServiceContext, principal: Principal, case_reference: str,
           decision: Decision) -> dict[str, Any]:
    """The threshold decision (DOMAIN.md §6): level, final BRAG, route and rationale, under
    the partnership's pack; the suggestion it confirms or overrides is recorded with it."""
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = _load(ctx, uow, principal, case_reference, AuditAction.WRITE)
        if case.status not in DECIDABLE:
            raise _conflict(case, "a threshold decision (use re-rating after one)", DECIDABLE)
        pack = ctx.policy.for_partnership(case.partnership)
        _unknown_indicators(pack, decision.indicators, "indicators")
        consent = decision.consent_to_referral or case.consent_to_referral
        errors = rules.decision_errors(
            pack, level_code=decision.level_code, brag=decision.brag, route=decision.route,
            consent_to_referral=consent,
            proceeding_without_consent=decision.proceeding_without_consent,
            without_consent_reason=decision.without_consent_reason,
            without_consent_basis=decision.without_consent_basis)
        if errors:
            raise invalid_fields("Threshold decision refused", errors)
        now = ctx.clock.now()
        suggestion = suggestion_for(ctx, case, decision.indicators)
        level = pack.level(decision.level_code)
        assert level is not None
        case.consent_to_referral = consent
        case.level_code, case.level_name = level.code, level.name
        case.brag, case.route, case.rationale = decision.brag, decision.route, decision.rationale
        case.decided_at, case.decided_by = now, user_id
        case.policy_version = pack.version
        case.suggested_level_code, case.suggested_brag = suggestion.level_code, suggestion.brag
        case.proceeding_without_consent = decision.proceeding_without_consent
        case.without_consent_basis = decision.without_consent_basis
        case.consent_revisit_due_at = (pack.due(pack.consent.revisit_within, now)
                                       if decision.proceeding_without_consent else None)
        if decision.route == "mash_enquiries":
            case.enquiries_started_at = now
            case.enquiries_due_at = rules.enquiries_due(pack, decision.brag, now)
        case.status = rules.DECIDED
        uow.session.add(case)
        _history(uow, case, at=now, kind="threshold", principal=principal,
                 brag=decision.brag, level_code=level.code, note=decision.rationale,
                 suggestion=suggestion)
        suggested = ({"code": suggestion.level_code, "name": suggestion.level_name}
                     if suggestion.level_code and suggestion.level_name else None)
        _emit(ctx, uow, case, domain.THRESHOLD_DECIDED, domain.threshold_decided_data(
            case_reference=case.case_reference, decided_at=now,
            decided_by=domain.by(user_id, str(principal.role)),
            level={"code": level.code, "name": level.name}, suggested_level=suggested,
            brag=decision.brag, route=decision.route, rationale=decision.rationale,
            proceeding_without_consent=decision.proceeding_without_consent,
            without_consent_reason=(decision.without_consent_reason
                                    if decision.proceeding_without_consent else None),
            without_consent_basis=(decision.without_consent_basis
                                   if decision.proceeding_without_consent else None),
            consent_revisit_due_at=case.consent_revisit_due_at,
            enquiries_due_at=case.enquiries_due_at), now)
        uow.commit()
        return case_view(ctx, uow, case)


def re_rate(ctx: ServiceContext, principal: Principal, case_reference: str, *, brag: str,
            reason: str) -> dict[str, Any]:
    """Change a case's BRAG with the reason, keeping the history; an event tells the clocks.

    Before the threshold decision an information officer (or manager) changes the initial
    rating; after it only a team manager changes the final one (the contract's rule).
    """
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = _load(ctx, uow, principal, case_reference, AuditAction.WRITE)
        if case.status == rules.DECIDED:
            if principal.role != Role.TEAM_MANAGER:
                raise ProblemHTTPException(403, detail="After the threshold decision only a "
                                           "team manager re-rates a case.")
            previous = case.brag
        elif case.status in (rules.AWAITING_THRESHOLD_DECISION, rules.AWAITING_CONSENT_GATE):
            previous = case.initial_brag
        else:
            raise _conflict(case, "re-rating", (rules.AWAITING_THRESHOLD_DECISION,
                                                rules.AWAITING_CONSENT_GATE, rules.DECIDED))
        assert previous is not None
        if brag == previous:
            raise invalid_fields("Re-rating refused", [("brag", f"the case is already {brag}")])
        pack = ctx.policy.for_partnership(case.partnership)
        now = ctx.clock.now()
        if case.status == rules.DECIDED:
            if case.proceeding_without_consent and brag not in rules.WITHOUT_CONSENT_BRAGS:
                raise invalid_fields("Re-rating refused", [(
                    "brag", f"the case proceeds without consent, which only Amber or Red may "
                    f"do (DOMAIN.md §5): seek consent, or close the episode, before rating "
                    f"it {brag.title()}")])
            case.brag = brag
            if case.enquiries_due_at is not None and case.enquiries_started_at is not None:
                case.enquiries_due_at = rules.re_rated_enquiries_due(
                    pack, previous_brag=previous, new_brag=brag,
                    started_at=case.enquiries_started_at, current_due=case.enquiries_due_at,
                    now=now)
        else:
            case.initial_brag = brag
        uow.session.add(case)
        _history(uow, case, at=now, kind="re_rating", principal=principal, brag=brag,
                 note=reason)
        _emit(ctx, uow, case, domain.CASE_RE_RATED, domain.re_rated_data(
            case_reference=case.case_reference, previous_brag=previous, new_brag=brag,
            re_rated_at=now, re_rated_by=domain.by(user_id, str(principal.role)),
            reason=reason, enquiries_due_at=case.enquiries_due_at), now)
        uow.commit()
        return case_view(ctx, uow, case)


def review_consent(ctx: ServiceContext, principal: Principal, case_reference: str, *,
                   consent_to_referral: str, reason: str, basis: str | None) -> dict[str, Any]:
    """The revisit of a decision to proceed without consent (DOMAIN.md §5): consent now
    given ends it; otherwise the manager records why the case goes on without it, and when
    consent is to be sought again."""
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = _load(ctx, uow, principal, case_reference, AuditAction.WRITE)
        if case.status != rules.DECIDED or not case.proceeding_without_consent:
            raise ProblemHTTPException(409, "Nothing to revisit",
                                       f"Case {case_reference} is not proceeding without "
                                       "consent.")
        now = ctx.clock.now()
        pack = ctx.policy.for_partnership(case.partnership)
        case.consent_to_referral = consent_to_referral
        if consent_to_referral == "given":
            case.proceeding_without_consent = False
            case.consent_revisit_due_at = None
        else:
            if basis is None:
                raise invalid_fields("Consent revisit refused", [(
                    "basis", "record the lawful basis for going on without consent")])
            assert case.brag is not None
            override_id = str(uuid.uuid4())
            case.consent_revisit_due_at = pack.due(pack.consent.revisit_within, now)
            case.without_consent_basis = basis
            _emit(ctx, uow, case, domain.CONSENT_OVERRIDE_RECORDED, domain.consent_override_data(
                override_id=override_id, case_reference=case.case_reference, recorded_at=now,
                decided_by=domain.by(user_id, str(principal.role)), brag=case.brag,
                consent_position=(consent_to_referral
                                  if consent_to_referral in ("refused", "not_sought")
                                  else "not_obtainable"),
                basis=basis, reason=reason, revisit_due_at=case.consent_revisit_due_at,
                supersedes=case.current_override_id), now)
            case.current_override_id = override_id
        uow.session.add(case)
        _history(uow, case, at=now, kind="consent", principal=principal,
                 note=f"consent {consent_to_referral}: {reason}")
        uow.commit()
        return case_view(ctx, uow, case)


# --- Reading ------------------------------------------------------------------------------


def read_case(ctx: ServiceContext, principal: Principal, case_reference: str) -> dict[str, Any]:
    """One case with everything the IO and TM need, audited."""
    with ctx.unit_of_work() as uow:
        case = uow.session.get(TriageCase, case_reference)
        allowed = may_see(principal, partnership_of(ctx, principal), case,
                          named_users(uow, case_reference))
        audit_read_or_404(uow, principal=principal, what="case", resource="triage_case",
                          resource_id=case_reference, allowed=allowed, at=ctx.clock.now(),
                          case_reference=case_reference)
        assert case is not None
        return case_view(ctx, uow, case)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def summary(case: TriageCase, *, restricted_from_caller: bool = False) -> dict[str, Any]:
    """A queue entry: identifiers, ratings and deadlines; no child's details."""
    return {
        "case_reference": case.case_reference,
        "contact_id": case.contact_id,
        "partnership": case.partnership,
        "kind": case.kind,
        "status": case.status,
        "restricted": case.restricted,
        "visible_to_you": not restricted_from_caller,
        "initial_brag": case.initial_brag,
        "brag": case.brag,
        "route": case.route,
        "received_at": _iso(case.received_at),
        "threshold_decision_due_at": _iso(case.threshold_decision_due_at),
        "consent_revisit_due_at": _iso(case.consent_revisit_due_at),
        "enquiries_due_at": _iso(case.enquiries_due_at),
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
    }


def case_view(ctx: ServiceContext, uow: UnitOfWork, case: TriageCase) -> dict[str, Any]:
    """The whole case as the API shows it to someone allowed to see it."""
    pack = ctx.policy.for_partnership(case.partnership)
    referral = referral_of(case)
    history = uow.session.exec(select(RatingHistory)
                               .where(RatingHistory.case_reference == case.case_reference)
                               .order_by(RatingHistory.id))  # type: ignore[arg-type]
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
            "without_consent_basis": case.without_consent_basis,
        }
    return {
        **summary(case),
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
        "consent_gate": ({"outcome": case.gate_outcome, "rationale": case.gate_rationale,
                          "proposed_by": case.gate_proposed_by}
                         if case.gate_outcome else None),
        "decision_support": _suggestion_view(suggestion_for(ctx, case)),
        "decision": decision,
        "history": [{"at": _iso(h.at), "kind": h.kind, "brag": h.brag,
                     "level_code": h.level_code, "by": h.by_user, "role": h.by_role,
                     "note": h.note, "suggested_level_code": h.suggested_level_code,
                     "suggested_brag": h.suggested_brag} for h in history],
    }
