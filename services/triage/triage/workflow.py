"""Triage's commands: initial rating, consent gate, threshold decision, re-rating, consent
review. Each is one transaction: the case is loaded (version-checked on update), changed,
its history appended, the write audited and the event staged in the outbox together
(nothing lost, no event for a change that did not commit, a case's events in order).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from mashcore.auth import Principal, Role, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.ids import new_id
from mashcore.policy import PolicyPack
from mashcore.problems import ProblemHTTPException, invalid_fields
from mashcore.service import ServiceContext
from mashcore.topics import TRIAGE_CASES
from triage import access, decision_support, domain, rules, views
from triage.models import RatingHistory, TriageCase

P = ParamSpec("P")
R = TypeVar("R")


def command(
    fn: Callable[Concatenate[ServiceContext, Principal, str, P], R],
) -> Callable[Concatenate[ServiceContext, Principal, str, P], R]:
    """A change to one case whose refusals are audited too (access.refusals_audited)."""
    def run(ctx: ServiceContext, principal: Principal, case_reference: str, /,
            *args: P.args, **kwargs: P.kwargs) -> R:
        with access.refusals_audited(ctx, principal, case_reference):
            return fn(ctx, principal, case_reference, *args, **kwargs)
    run.__doc__, run.__name__ = fn.__doc__, fn.__name__
    return run


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


def _unknown_indicators(pack: PolicyPack, codes: list[str], field: str) -> None:
    unknown = [code for code in codes if pack.indicator(code) is None]
    if unknown:
        raise invalid_fields("Unknown threshold indicators", [(
            field, f"not indicators of {pack.name}: {', '.join(unknown)} "
            f"(GET /v1/policy lists them)")])


def _done(ctx: ServiceContext, uow: UnitOfWork, case: TriageCase) -> dict[str, Any]:
    uow.commit()
    return views.case_view(ctx, uow, case)


# --- Information officer ----------------------------------------------------------------


@dataclass(frozen=True)
class Rating:
    brag: str
    safeguarding_concerns: bool
    consent_to_referral: str | None
    indicators: list[str]
    rationale: str | None


@command
def rate(ctx: ServiceContext, principal: Principal, case_reference: str,
         rating: Rating) -> dict[str, Any]:
    """The initial BRAG (DOMAIN.md §1, §6) and, with it, the consent gate check (§5)."""
    user_id = recordable_user_id(principal)
    errors = rules.rating_errors(rating.brag, rating.safeguarding_concerns)
    if errors:
        raise invalid_fields("Rating refused", errors)
    with ctx.unit_of_work() as uow:
        case = access.load_for_change(ctx, uow, principal, case_reference)
        if case.status != rules.AWAITING_INITIAL_RATING:
            raise _conflict(case, "an initial rating", (rules.AWAITING_INITIAL_RATING,))
        _unknown_indicators(ctx.policy.for_partnership(case.partnership), rating.indicators,
                            "indicators")
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
        return _done(ctx, uow, case)


@command
def apply_consent_gate(ctx: ServiceContext, principal: Principal, case_reference: str, *,
                       outcome: str, rationale: str) -> dict[str, Any]:
    """The gate's exit (DOMAIN.md §5): returned to the referrer now; to the Early Help Hub
    or closed once a team manager agrees."""
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = access.load_for_change(ctx, uow, principal, case_reference)
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
        _history(uow, case, at=now, kind="consent_gate", principal=principal,
                 note=f"{outcome}: {rationale}")
        return _done(ctx, uow, case)


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


@command
def agree_consent_gate(ctx: ServiceContext, principal: Principal, case_reference: str, *,
                       agree: bool, note: str | None) -> dict[str, Any]:
    """A second person, a team manager, agrees the information officer's gate exit, or
    sends the case on to a threshold decision instead."""
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = access.load_for_change(ctx, uow, principal, case_reference)
        if case.status != rules.AWAITING_GATE_AGREEMENT:
            raise _conflict(case, "agreeing the consent gate", (rules.AWAITING_GATE_AGREEMENT,))
        if case.gate_proposed_by == user_id:
            raise ProblemHTTPException(403, detail="The agreement must come from a team "
                                       "manager other than the person who proposed the exit.")
        now = ctx.clock.now()
        if agree:
            _close_at_gate(ctx, uow, case, now, team_manager_id=user_id)
        else:
            case.status = rules.AWAITING_THRESHOLD_DECISION
            case.gate_outcome = None
        _history(uow, case, at=now, kind="consent_gate", principal=principal,
                 note=("agreed" if agree else "not agreed") + (f": {note}" if note else ""))
        uow.session.add(case)
        return _done(ctx, uow, case)


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


@command
def decide(ctx: ServiceContext, principal: Principal, case_reference: str,
           decision: Decision) -> dict[str, Any]:
    """The threshold decision (DOMAIN.md §6): level, final BRAG, route and rationale under
    the partnership's pack. The suggestion the manager saw is kept with it, to calibrate
    the packs: whether it was confirmed or overridden."""
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = access.load_for_change(ctx, uow, principal, case_reference)
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
        shown = views.suggestion_for(ctx, case)  # before the manager's own ticks
        level = pack.level(decision.level_code)
        assert level is not None
        without = decision.proceeding_without_consent
        case.indicators_ticked_by_manager = json.dumps(sorted(set(decision.indicators)))
        case.consent_to_referral = consent
        case.level_code, case.level_name = level.code, level.name
        case.brag, case.route, case.rationale = decision.brag, decision.route, decision.rationale
        case.decided_at, case.decided_by = now, user_id
        case.policy_version = pack.version
        case.suggested_level_code, case.suggested_brag = shown.level_code, shown.brag
        case.proceeding_without_consent = without
        case.without_consent_reason = decision.without_consent_reason if without else None
        case.without_consent_basis = decision.without_consent_basis if without else None
        case.consent_revisit_due_at = (pack.due(pack.consent.revisit_within, now)
                                       if without else None)
        if decision.route == "mash_enquiries":
            case.enquiries_started_at = now
            case.enquiries_due_at = rules.enquiries_due(pack, decision.brag, now)
        case.status = rules.DECIDED
        uow.session.add(case)
        _history(uow, case, at=now, kind="threshold", principal=principal,
                 brag=decision.brag, level_code=level.code, note=decision.rationale,
                 suggestion=shown)
        _emit(ctx, uow, case, domain.THRESHOLD_DECIDED, domain.threshold_decided_data(
            case_reference=case.case_reference, decided_at=now,
            decided_by=domain.by(user_id, str(principal.role)),
            level={"code": level.code, "name": level.name},
            suggested_level=({"code": shown.level_code, "name": shown.level_name}
                             if shown.level_code and shown.level_name else None),
            brag=decision.brag, route=decision.route, rationale=decision.rationale,
            proceeding_without_consent=without,
            without_consent_reason=case.without_consent_reason,
            without_consent_basis=case.without_consent_basis,
            consent_revisit_due_at=case.consent_revisit_due_at,
            enquiries_due_at=case.enquiries_due_at), now)
        return _done(ctx, uow, case)


@command
def re_rate(ctx: ServiceContext, principal: Principal, case_reference: str, *, brag: str,
            reason: str, route: str | None) -> dict[str, Any]:
    """Change a case's BRAG with the reason, keeping the history; the event tells the
    clocks. Before the threshold decision an information officer (or manager) changes the
    initial rating; after it only a team manager changes the final one, with a new route
    when the colour no longer allows the old one (the enquiries clock starts or stops)."""
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = access.load_for_change(ctx, uow, principal, case_reference)
        now = ctx.clock.now()
        pack = ctx.policy.for_partnership(case.partnership)
        if case.status == rules.DECIDED:
            if principal.role != Role.TEAM_MANAGER:
                raise ProblemHTTPException(403, detail="After the threshold decision only a "
                                           "team manager re-rates a case.")
            previous = case.brag
            new_route = route or case.route
            # Only a changed route is news: the same route again starts nothing downstream.
            changed_route = route if route != case.route else None
            assert previous is not None and new_route is not None
            _check_re_rating(previous, brag)
            errors = rules.re_rating_errors(
                pack, brag=brag, route=new_route, consent_to_referral=case.consent_to_referral,
                proceeding_without_consent=case.proceeding_without_consent)
            if errors:
                raise invalid_fields("Re-rating refused", errors)
            _follow_enquiries(pack, case, previous=previous, brag=brag, route=new_route,
                              now=now)
            case.brag, case.route = brag, new_route
        elif case.status in (rules.AWAITING_THRESHOLD_DECISION, rules.AWAITING_CONSENT_GATE):
            changed_route = None
            if route is not None:
                raise invalid_fields("Re-rating refused", [
                    ("route", "the route is the threshold decision's: decide the case")])
            previous = case.initial_brag
            assert previous is not None
            _check_re_rating(previous, brag)
            case.initial_brag = brag
            if brag in rules.WITHOUT_CONSENT_BRAGS:
                # A safeguarding concern after all: never leave through the consent gate.
                case.safeguarding_concerns = True
                case.status = rules.AWAITING_THRESHOLD_DECISION
        else:
            raise _conflict(case, "re-rating", (rules.AWAITING_THRESHOLD_DECISION,
                                                rules.AWAITING_CONSENT_GATE, rules.DECIDED))
        uow.session.add(case)
        _history(uow, case, at=now, kind="re_rating", principal=principal, brag=brag,
                 note=reason)
        _emit(ctx, uow, case, domain.CASE_RE_RATED, domain.re_rated_data(
            case_reference=case.case_reference, previous_brag=previous, new_brag=brag,
            re_rated_at=now, re_rated_by=domain.by(user_id, str(principal.role)),
            reason=reason, enquiries_due_at=case.enquiries_due_at,
            route=changed_route), now)
        return _done(ctx, uow, case)


def _check_re_rating(previous: str, brag: str) -> None:
    if brag == previous:
        raise invalid_fields("Re-rating refused", [("brag", f"the case is already {brag}")])


def _follow_enquiries(pack: PolicyPack, case: TriageCase, *, previous: str, brag: str,
                      route: str, now: datetime) -> None:
    """The MASH enquiries clock after a re-rating: started, moved or stopped."""
    if route != "mash_enquiries":
        case.enquiries_started_at = case.enquiries_due_at = None
    elif case.enquiries_due_at is None or case.enquiries_started_at is None:
        case.enquiries_started_at = now
        case.enquiries_due_at = rules.enquiries_due(pack, brag, now)
    else:
        case.enquiries_due_at = rules.re_rated_enquiries_due(
            pack, previous_brag=previous, new_brag=brag, started_at=case.enquiries_started_at,
            current_due=case.enquiries_due_at, now=now)


@command
def review_consent(ctx: ServiceContext, principal: Principal, case_reference: str, *,
                   consent_to_referral: str, reason: str, basis: str | None) -> dict[str, Any]:
    """Consent after the threshold decision (DOMAIN.md §5). Consent given ends any decision
    to proceed without it; consent refused, withdrawn or not obtainable needs a manager's
    recorded decision to go on without it (Amber or Red only), revisited again later."""
    user_id = recordable_user_id(principal)
    with ctx.unit_of_work() as uow:
        case = access.load_for_change(ctx, uow, principal, case_reference)
        if case.status != rules.DECIDED:
            raise _conflict(case, "a consent review", (rules.DECIDED,))
        now = ctx.clock.now()
        pack = ctx.policy.for_partnership(case.partnership)
        assert case.brag is not None
        if consent_to_referral == "given":
            if not case.proceeding_without_consent and case.consent_to_referral == "given":
                raise ProblemHTTPException(409, "Nothing to change",
                                           f"Case {case_reference} already has consent.")
            ended = case.current_override_id
            case.proceeding_without_consent = False
            case.consent_revisit_due_at = None
            case.current_override_id = None
            _emit(ctx, uow, case, domain.CONSENT_OBTAINED, domain.consent_obtained_data(
                case_reference=case.case_reference, recorded_at=now,
                recorded_by=domain.by(user_id, str(principal.role)), reason=reason,
                ends_override_id=ended), now)
        else:
            errors: rules.FieldErrors = []
            if case.brag not in rules.WITHOUT_CONSENT_BRAGS:
                errors.append(("consent_to_referral", f"a {case.brag.title()} case cannot go "
                               "on without consent (DOMAIN.md §5): re-rate it, or close it "
                               "with the family's refusal recorded"))
            if basis is None:
                errors.append(("basis", "record the lawful basis for going on without consent"))
            if errors:
                raise invalid_fields("Consent review refused", errors)
            assert basis is not None
            override_id = new_id()
            case.proceeding_without_consent = True
            case.consent_revisit_due_at = pack.due(pack.consent.revisit_within, now)
            case.without_consent_basis, case.without_consent_reason = basis, reason
            _emit(ctx, uow, case, domain.CONSENT_OVERRIDE_RECORDED, domain.consent_override_data(
                override_id=override_id, case_reference=case.case_reference, recorded_at=now,
                decided_by=domain.by(user_id, str(principal.role)), brag=case.brag,
                consent_position=consent_to_referral, basis=basis, reason=reason,
                revisit_due_at=case.consent_revisit_due_at,
                supersedes=case.current_override_id), now)
            case.current_override_id = override_id
        case.consent_to_referral = consent_to_referral
        uow.session.add(case)
        _history(uow, case, at=now, kind="consent", principal=principal,
                 note=f"consent {consent_to_referral}: {reason}")
        return _done(ctx, uow, case)


def read_case(ctx: ServiceContext, principal: Principal, case_reference: str) -> dict[str, Any]:
    """One case with everything the IO and TM need, audited."""
    with ctx.unit_of_work() as uow:
        case = access.read(ctx, uow, principal, case_reference)
        return views.case_view(ctx, uow, case)
