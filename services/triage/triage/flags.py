"""Hub staff confirm or decline a domestic-abuse flag the concern's words suggest (issue 20).

Decision support only suggests the flag (``decision_support.suggested_flags``, with the
words that triggered it); an information officer or team manager answers it here. A
confirmation flags the case for decision support and announces
``mash.triage.domestic-abuse.confirmed.v1``; intake, which owns the contact and already asks
the police for a missing DASH when the referrer ticks the flag, consumes it and emits the same
``mash.intake.dash.requested.v1`` (intake.contacts.dash_on_confirmation), so notifications'
request to the police mailbox and the sla-timekeeper follow unchanged. A decline is recorded
too, so the suggestion stops showing; it announces nothing.

One transaction like triage's other commands (triage.workflow): partnership in the query,
the case's lock, its version checked, the write audited, the event in the outbox. Repeating
the same answer changes nothing (no second event); a different answer once one is recorded
is a 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import Field

from mashcore.auth import Principal, Role, recordable_user_id, require_roles
from mashcore.problems import ProblemHTTPException, invalid_fields, problem_responses
from mashcore.service import Context, ServiceContext
from mashcore.strict_types import StrictBool
from triage import access, domain, rules, views, workflow
from triage.api_models import Body
from triage.models import TriageCase

DOMESTIC_ABUSE_CONFIRMED = "mash.triage.domestic-abuse.confirmed.v1"
CONFIRMED, DECLINED = "confirmed", "declined"
Reason = Literal["described_in_concern", "confirmed_with_referrer", "known_to_police",
                 "not_domestic_abuse", "words_not_about_this_household", "reported_as_negated"]
CONFIRM_REASONS = ("described_in_concern", "confirmed_with_referrer", "known_to_police")
DECLINE_REASONS = ("not_domestic_abuse", "words_not_about_this_household",
                   "reported_as_negated")
ANSWERABLE = (*rules.OPEN, rules.DECIDED)

HubStaff = Annotated[
    Principal, Depends(require_roles(Role.INFORMATION_OFFICER, Role.TEAM_MANAGER))
]


class DomesticAbuseFlagIn(Body):
    """Your answer to the domestic-abuse flag the concern's words suggest."""

    confirmed: StrictBool = Field(
        description="true: the case is domestic abuse (the DASH request to the police "
        "follows); false: it is not, and the suggestion stops showing.")
    reason: Reason = Field(
        description="Why, as a code: to confirm `described_in_concern`, "
        "`confirmed_with_referrer` or `known_to_police`; to decline `not_domestic_abuse`, "
        "`words_not_about_this_household` or `reported_as_negated`.")


def confirmed_data(*, case: TriageCase, confirmed_at: datetime, confirmed_by: dict[str, str],
                   reason: str, rules_matched: list[str]) -> dict[str, Any]:
    """``domestic-abuse.confirmed.v1``: identifiers, codes and times; never the words."""
    return {"case_reference": case.case_reference, "contact_id": case.contact_id,
            "confirmed_at": confirmed_at.isoformat(), "confirmed_by": confirmed_by,
            "reason": reason, "suggested_by_rules": rules_matched}


def _already_flagged(case: TriageCase) -> bool:
    return bool((views.referral_of(case).get("flags") or {}).get("domestic_abuse"))


@workflow.command
def answer_domestic_abuse(ctx: ServiceContext, principal: Principal, case_reference: str, *,
                          confirmed: bool, reason: str) -> dict[str, Any]:
    """Record the answer; on a first confirmation announce it (the DASH request follows)."""
    user_id = recordable_user_id(principal)
    if reason not in (CONFIRM_REASONS if confirmed else DECLINE_REASONS):
        raise invalid_fields("Domestic-abuse flag refused", [(
            "reason", f"to {'confirm' if confirmed else 'decline'} give one of "
            f"{', '.join(CONFIRM_REASONS if confirmed else DECLINE_REASONS)}")])
    answer = CONFIRMED if confirmed else DECLINED
    with ctx.unit_of_work() as uow:
        case = access.load_for_change(ctx, uow, principal, case_reference)
        if case.domestic_abuse_flag == answer:
            return views.case_view(ctx, uow, case)  # the same answer again: nothing changes
        if case.domestic_abuse_flag is not None:
            raise ProblemHTTPException(
                409, "Already answered",
                f"The domestic-abuse flag of case {case_reference} was already "
                f"{case.domestic_abuse_flag} by {case.domestic_abuse_flag_by}.",
                extra={"domestic_abuse_flag": case.domestic_abuse_flag})
        if _already_flagged(case):
            raise ProblemHTTPException(
                409, "Already flagged", f"The referrer flagged case {case_reference} as "
                "domestic abuse: the DASH was asked for on arrival.")
        if case.status not in ANSWERABLE:
            raise workflow._conflict(case, "answering the domestic-abuse flag", ANSWERABLE)
        now = ctx.clock.now()
        suggested = [hit.rule.code for hit in views.suggestion_for(ctx, case).suggested_flags
                     if hit.rule.flag == "domestic_abuse"]
        case.domestic_abuse_flag, case.domestic_abuse_flag_reason = answer, reason
        case.domestic_abuse_flag_by, case.domestic_abuse_flag_at = user_id, now
        uow.session.add(case)
        workflow._history(uow, case, at=now, kind="flag", principal=principal,
                          note=f"domestic abuse {answer}: {reason}")
        if confirmed:
            workflow._emit(ctx, uow, case, DOMESTIC_ABUSE_CONFIRMED, confirmed_data(
                case=case, confirmed_at=now, confirmed_by=domain.by(user_id,
                                                                     str(principal.role)),
                reason=reason, rules_matched=sorted(set(suggested))), now)
        return workflow._done(ctx, uow, case)


def routers(_ctx: ServiceContext) -> list[APIRouter]:
    """The flag's route."""
    api = APIRouter(prefix="/v1", responses=problem_responses())

    @api.post("/cases/{case_reference}/flags/domestic-abuse", tags=["information officer"],
              responses=problem_responses(409, 422))
    def domestic_abuse_flag(case_reference: str, body: DomesticAbuseFlagIn, ctx: Context,
                            principal: HubStaff) -> dict[str, Any]:
        """Confirm or decline the domestic-abuse flag the concern's words suggest
        (`decision_support.suggested_flags`). A confirmation flags the case and the DASH
        request goes to the police as for a referral the referrer flagged; a decline is
        recorded and the suggestion stops showing. The same answer again changes nothing."""
        return answer_domestic_abuse(ctx, principal, case_reference,
                                     confirmed=body.confirmed, reason=body.reason)

    return [api]
