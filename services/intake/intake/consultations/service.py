"""Front-door requests that are not contacts: consultations and transfers in (DOMAIN.md §3).

* **Request for consultation** [002 §3]: a professional asks for advice without committing to a
  referral. It is held on the confidential consultation log, never as a contact and never with
  a case reference; any child details stay on that log. Hub staff record the advice given,
  which announces ``consultation.recorded`` keyed by the consultation's own id.
* **Transfer-in** [002 §8]: a family with a child protection plan moves in from another
  authority, which sends its transfer form (SOC 1233). Intake gives it a case reference; a team
  manager decides permanent or temporary (or that it is disputed), which announces
  ``transfer-in.received``; a permanent transfer needs a transfer-in conference.

The request and response models live here too; the routes are in ``intake.api_other``.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, Self, get_args

import structlog
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.exc import IntegrityError

from intake import access, domain, lifecycle
from intake.api_models import StrictModel
from intake.models_other import Consultation, TransferIn
from intake.quality import age_on
from mashcore import idempotency
from mashcore.audit import AuditAction, audit, audit_read_or_404
from mashcore.auth import Principal, Role, recordable_user_id
from mashcore.envelope import Event
from mashcore.problems import ProblemHTTPException, invalid_fields
from mashcore.service import ServiceContext
from mashcore.strict_types import IsoDate, IsoDateTime, StrictBool
from mashcore.topics import INTAKE_CONTACTS

log = structlog.get_logger(__name__)

CONSULTATION_RECORDED = "mash.intake.consultation.recorded.v1"
TRANSFER_IN_RECEIVED = "mash.intake.transfer-in.received.v1"
HUB_ROLES = (Role.INFORMATION_OFFICER, Role.TEAM_MANAGER)
TRANSFERRING_AGENCY = "local_authority"
"""The agency of another authority's system: the only partner system that sends SOC 1233s."""
TRANSFER_FORM: Literal["SOC1233"] = "SOC1233"

# --- Request and response models -----------------------------------------------------------

Name = Annotated[str, Field(min_length=1, max_length=100)]
RoleText = Annotated[str, Field(min_length=1, max_length=100)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
LongText = Annotated[str, Field(min_length=1, max_length=20000)]

ProfessionalAgency = Literal[
    "police", "health", "education", "probation", "housing", "camhs", "youth_offending",
    "early_years", "local_authority", "other",
]
PROFESSIONAL_AGENCIES: frozenset[str] = frozenset(get_args(ProfessionalAgency))
ConsultationOutcome = Literal[
    "advice_only", "advised_to_refer", "advised_early_help", "signposted_elsewhere"
]
ConsultationStatus = Literal["awaiting_advice", "advice_recorded"]
AbuseCategory = Literal["neglect", "physical", "emotional", "sexual"]
Arrangement = Literal["permanent", "temporary", "disputed"]
TransferStatus = Literal["awaiting_decision", "disputed", "decided"]



class ConsultingProfessional(StrictModel):
    """Who asks for advice: an agency and a role, never a name."""

    agency: ProfessionalAgency | None = Field(
        default=None,
        description="The professional's agency. A partner system may leave it out (its login "
        "says which agency it is) or must give its own; hub staff recording a phone "
        "consultation must give it.",
    )
    role: RoleText = Field(
        description="The professional's role, e.g. `Nursery manager`; never a name."
    )


class ConsultationChild(StrictModel):
    """The child the professional asks about, if they say. Kept on the confidential
    consultation log only: never on a child's record, never announced."""

    first_name: Name | None = None
    last_name: Name | None = None
    date_of_birth: IsoDate | None = Field(default=None, description="YYYY-MM-DD, if known.")


class ConsultationIn(StrictModel):
    """A request for consultation: advice without a referral (DOMAIN.md §3)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "professional": {"agency": "early_years", "role": "Nursery manager"},
        "question": "Synthetic example: a child has come in twice this month with bruises on "
                    "the arm; the parents say she fell. Should I refer?",
    }]})

    professional: ConsultingProfessional
    question: LongText = Field(description="What the professional asks advice about.")
    child: ConsultationChild | None = Field(
        default=None,
        description="Optional. Stays on the confidential consultation log; a consultation is "
        "not recorded on the child's record. If a referral is needed, send it as a contact.",
    )
    consulted_at: IsoDateTime | None = Field(
        default=None,
        description="When the professional asked (e.g. the time of a phone call), with a "
        "UTC offset. Defaults to now.",
    )


class ConsultationAdviceIn(StrictModel):
    """The advice hub staff gave on a consultation."""

    advice_given: LongText = Field(
        description="The advice given. Do not name the child or family here: it is announced "
        "to the hub's services."
    )
    outcome: ConsultationOutcome


class HubStaffRef(BaseModel):
    """A member of hub staff by user id and role (never a name)."""

    user_id: str
    role: str


class ConsultationAdvice(BaseModel):
    """The advice recorded on a consultation."""

    advice_given: str
    outcome: ConsultationOutcome
    given_by: HubStaffRef
    recorded_at: datetime


class ConsultationView(BaseModel):
    """A consultation as its agency (or the hub) sees it."""

    consultation_id: str
    status: ConsultationStatus
    partnership: str
    professional: ConsultingProfessional
    question: str
    child: ConsultationChild | None
    consulted_at: datetime
    received_at: datetime
    advice: ConsultationAdvice | None


class TransferChild(StrictModel):
    """A child named on the transfer form; an unborn baby has an expected delivery date."""

    first_name: Name | None = Field(default=None, description="Leave empty for an unborn baby.")
    last_name: Name
    date_of_birth: IsoDate | None = Field(
        default=None, description="YYYY-MM-DD. Leave empty for an unborn baby."
    )
    unborn: StrictBool = False
    expected_delivery_date: IsoDate | None = Field(
        default=None, description="Only for an unborn baby, and then required."
    )

    @model_validator(mode="after")
    def born_or_unborn(self) -> Self:
        """A born child has a first name and birth date; an unborn one an expected date."""
        if self.unborn:
            if self.date_of_birth is not None:
                raise ValueError("date_of_birth must be empty for an unborn baby: use "
                                 "expected_delivery_date")
            if self.expected_delivery_date is None:
                raise ValueError("expected_delivery_date required when unborn is true")
        else:
            missing = [f for f in ("first_name", "date_of_birth") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"{' and '.join(missing)} required unless unborn is true")
            if self.expected_delivery_date is not None:
                raise ValueError("expected_delivery_date only applies when unborn is true")
        return self


class ChildProtectionPlan(StrictModel):
    """The child protection plan as the transferring authority held it (DOMAIN.md §7)."""

    categories_of_abuse: Annotated[list[AbuseCategory], Field(min_length=1, max_length=4)]
    plan_started_on: IsoDate
    next_review_due_on: IsoDate | None = None

    @field_validator("categories_of_abuse")
    @classmethod
    def each_category_once(cls, value: list[str]) -> list[str]:
        """A category is named once."""
        if len(set(value)) != len(value):
            raise ValueError("each category of abuse may be given only once")
        return value

    @model_validator(mode="after")
    def review_after_start(self) -> Self:
        """The next review cannot be due before the plan started."""
        if self.next_review_due_on is not None and self.next_review_due_on < self.plan_started_on:
            raise ValueError("next_review_due_on must not be before plan_started_on")
        return self


class TransferInIn(StrictModel):
    """The transferring authority's completed transfer form (SOC 1233)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "from_authority": "Warwickshire County Council",
        "children": [{"first_name": "Sam", "last_name": "Testchild",
                      "date_of_birth": "2018-06-30"}],
        "child_protection_plan": {"categories_of_abuse": ["neglect"],
                                  "plan_started_on": "2026-08-14",
                                  "next_review_due_on": "2027-02-12"},
    }]})

    from_authority: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="The transferring local authority, e.g. `Warwickshire County Council`."
    )
    transfer_form: Literal["SOC1233"] = Field(default=TRANSFER_FORM,
                                              description="The form: always SOC 1233.")
    children: Annotated[list[TransferChild], Field(min_length=1, max_length=20)]
    child_protection_plan: ChildProtectionPlan


class TransferDecisionIn(StrictModel):
    """The team manager's decision on a transfer-in."""

    arrangement: Arrangement = Field(
        description="`permanent` (records created and a transfer-in conference arranged), "
        "`temporary`, or `disputed` (the authorities disagree: managers escalate, and the "
        "transfer can be decided again once resolved)."
    )
    rationale: Text | None = Field(default=None, description="Why, in plain words.")
    strategy_discussion_required: StrictBool = Field(
        default=False, description="The transfer needs a strategy discussion (new concerns "
        "since the plan was made: strategy requests one about every child, DOMAIN.md §7).")
    strategy_discussion_reason: Text | None = Field(
        default=None, description="Why there is reasonable cause to suspect significant "
        "harm: required when a strategy discussion is needed.")


class TransferDecision(BaseModel):
    """The decision recorded on a transfer-in."""

    arrangement: Arrangement
    rationale: str | None
    decided_by: HubStaffRef
    decided_at: datetime
    transfer_in_conference_required: bool


class TransferInView(BaseModel):
    """A transfer-in as the hub (or the authority that sent it) sees it."""

    transfer_id: str
    case_reference: str
    status: TransferStatus
    partnership: str
    from_authority: str
    transfer_form: Literal["SOC1233"]
    received_at: datetime
    children: list[TransferChild]
    child_protection_plan: ChildProtectionPlan
    decision: TransferDecision | None


# --- Shared helpers ------------------------------------------------------------------------


def _client(principal: Principal) -> str:
    # The partnership too: another partnership's system may have the same subject (issue 12).
    return f"{principal.partnership or ''}:{principal.agency}:{principal.subject}"


def _partnership_of(ctx: ServiceContext, principal: Principal) -> str:
    """The one partnership whose records the caller works in (need-to-know)."""
    return principal.partnership or ctx.settings.partnership_default


def _replay_or_none(uow: Any, principal: Principal, key: str | None,
                    request_hash: str) -> JSONResponse | None:
    if not key:
        return None
    return idempotency.replay(uow.session, client=_client(principal), key=key,
                              request_hash=request_hash)


def _commit(uow: Any, principal: Principal, key: str | None,
            request_hash: str) -> JSONResponse | None:
    """Commit; if the same Idempotency-Key raced us and won, the response it stored."""
    try:
        uow.commit()
    except IntegrityError:
        uow.session.rollback()
        replayed = _replay_or_none(uow, principal, key, request_hash)
        if replayed is not None:
            return replayed
        raise
    return None


# --- Consultations -------------------------------------------------------------------------

CONSULTATION_SKEW = timedelta(minutes=5)


def professional_agency(principal: Principal, body: ConsultationIn) -> str:
    """The asking professional's agency: a partner system's own, or what hub staff say."""
    given = body.professional.agency
    if principal.role in HUB_ROLES:
        if given is None:
            raise invalid_fields("Invalid consultation", [(
                "professional.agency", "required when hub staff record a consultation")])
        return given
    own = principal.agency if principal.agency in PROFESSIONAL_AGENCIES else "other"
    if given is not None and given != own:
        raise invalid_fields("Invalid consultation", [(
            "professional.agency", "must be your own agency (as your login says) or left out")])
    return own


def _consultation_date_errors(body: ConsultationIn, now: datetime) -> list[tuple[str, str]]:
    errors = []
    if body.consulted_at is not None and body.consulted_at > now + CONSULTATION_SKEW:
        errors.append(("consulted_at", "must not be in the future"))
    if (body.child is not None and body.child.date_of_birth is not None
            and body.child.date_of_birth > domain.local_today(now)):
        errors.append(("child.date_of_birth", "must not be in the future"))
    return errors


def consultation_view(consultation: Consultation) -> ConsultationView:
    """A consultation row as the API shows it."""
    advice = None
    if consultation.advice_recorded_at is not None:
        advice = {
            "advice_given": consultation.advice_given,
            "outcome": consultation.outcome,
            "given_by": {"user_id": consultation.advice_given_by,
                         "role": consultation.advice_given_by_role},
            "recorded_at": consultation.advice_recorded_at,
        }
    return ConsultationView.model_validate({
        "consultation_id": consultation.id,
        "status": consultation.status,
        "partnership": consultation.partnership,
        "professional": {"agency": consultation.professional_agency,
                         "role": consultation.professional_role},
        "question": consultation.question,
        "child": (json.loads(consultation.child_details)
                  if consultation.child_details else None),
        "consulted_at": consultation.consulted_at,
        "received_at": consultation.received_at,
        "advice": advice,
    })


def consultation_recorded_data(consultation: Consultation) -> dict[str, Any]:
    """The data of ``consultation.recorded.v1``: no case reference, no child or family."""
    assert consultation.advice_recorded_at is not None
    return {
        "consultation_id": consultation.id,
        "consulted_at": consultation.consulted_at.isoformat(),
        "recorded_at": consultation.advice_recorded_at.isoformat(),
        "professional": {"agency": consultation.professional_agency,
                         "role": consultation.professional_role},
        "advice_given": consultation.advice_given,
        "given_by": {"user_id": consultation.advice_given_by,
                     "role": consultation.advice_given_by_role},
        "outcome": consultation.outcome,
    }


def submit_consultation(
    ctx: ServiceContext, principal: Principal, body: ConsultationIn, idempotency_key: str | None
) -> JSONResponse:
    """Put a request for consultation on the confidential log. No contact, no case reference."""
    request_hash = idempotency.fingerprint(
        {"request": "POST /v1/consultations", "body": body.model_dump(mode="json")})
    now = ctx.clock.now()
    errors = _consultation_date_errors(body, now)
    if errors:
        raise invalid_fields("Invalid consultation", errors)
    agency = professional_agency(principal, body)

    with ctx.unit_of_work() as uow:
        replayed = _replay_or_none(uow, principal, idempotency_key, request_hash)
        if replayed is not None:
            return replayed
        consultation = Consultation(
            id=str(uuid.uuid4()),
            partnership=_partnership_of(ctx, principal),
            status=lifecycle.AWAITING_ADVICE,
            professional_agency=agency,
            professional_role=body.professional.role,
            submitted_by_agency=principal.agency,
            submitted_by_role=str(principal.role),
            submitted_by_subject=principal.subject,
            question=body.question,
            child_details=body.child.model_dump_json() if body.child else None,
            consulted_at=body.consulted_at or now,
            received_at=now,
        )
        uow.session.add(consultation)
        response_body = consultation_view(consultation).model_dump(mode="json")
        location = f"/v1/consultations/{consultation.id}"
        if idempotency_key:
            idempotency.remember(uow.session, client=_client(principal), key=idempotency_key,
                                 request_hash=request_hash, status_code=201,
                                 body=response_body, location=location, at=now)
        audit(uow.session, principal=principal, action=AuditAction.WRITE,
              resource="consultation", resource_id=consultation.id, at=now)
        raced = _commit(uow, principal, idempotency_key, request_hash)
        if raced is not None:
            return raced
    log.info("consultation received", consultation_id=consultation.id,
             agency=consultation.professional_agency, partnership=consultation.partnership)
    return JSONResponse(response_body, status_code=201, headers={"Location": location})


def record_advice(
    ctx: ServiceContext, principal: Principal, consultation_id: str,
    body: ConsultationAdviceIn, idempotency_key: str | None,
) -> JSONResponse:
    """Record the advice given, and announce it keyed by the consultation's own id.

    Recorded once (intake.lifecycle.CONSULTATION): a second advice is a 409, also when two
    arrive at once (the consultation is locked and read again before recording).
    """
    request_hash = idempotency.fingerprint(
        {"request": f"POST /v1/consultations/{consultation_id}/advice",
         "body": body.model_dump(mode="json")})
    user_id = recordable_user_id(principal)
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        replayed = _replay_or_none(uow, principal, idempotency_key, request_hash)
        if replayed is not None:
            return replayed
        consultation = access.consultation_for_change(ctx, uow, principal, consultation_id)
        if consultation is None:  # audited for its owner, committed, and a 404
            audit_read_or_404(uow, principal=principal, what="consultation",
                              resource="consultation", resource_id=consultation_id,
                              allowed=False, at=now, action=AuditAction.WRITE,
                              owner=access.consultation_owner(uow, consultation_id))
        assert consultation is not None  # audit_read_or_404 raised the 404 otherwise
        if not lifecycle.CONSULTATION.may_move(consultation, lifecycle.ADVICE_RECORDED):
            raise ProblemHTTPException(409, "Advice already recorded",
                                       "The advice on this consultation is already recorded.")
        consultation.advice_given = body.advice_given
        consultation.outcome = body.outcome
        consultation.advice_given_by = user_id
        consultation.advice_given_by_role = str(principal.role)
        consultation.advice_recorded_at = now
        lifecycle.CONSULTATION.move(uow, consultation, lifecycle.ADVICE_RECORDED)
        ctx.emit(uow, Event(
            type=CONSULTATION_RECORDED, source=ctx.source, subject=consultation.id,
            time=now, recordedtime=now, partnership=consultation.partnership,
            data=consultation_recorded_data(consultation),
        ), INTAKE_CONTACTS)
        response_body = consultation_view(consultation).model_dump(mode="json")
        if idempotency_key:
            idempotency.remember(uow.session, client=_client(principal), key=idempotency_key,
                                 request_hash=request_hash, status_code=200,
                                 body=response_body, location=None, at=now)
        audit(uow.session, principal=principal, action=AuditAction.WRITE,
              resource="consultation", resource_id=consultation.id, at=now)
        raced = _commit(uow, principal, idempotency_key, request_hash)
        if raced is not None:
            return raced
    log.info("consultation advice recorded", consultation_id=consultation.id,
             outcome=consultation.outcome, partnership=consultation.partnership)
    return JSONResponse(response_body, status_code=200)


def get_consultation(
    ctx: ServiceContext, principal: Principal, consultation_id: str
) -> ConsultationView:
    """A consultation, to the agency that asked or the hub; every read (and refusal) audited."""
    with ctx.unit_of_work() as uow:
        consultation = access.find_consultation(ctx, uow, principal, consultation_id)
        allowed = consultation is not None
        # Not a child's case: the audit entry carries no case reference.
        audit_read_or_404(uow, principal=principal, what="consultation",
                          resource="consultation", resource_id=consultation_id,
                          allowed=allowed, at=ctx.clock.now(),
                          partnership=consultation.partnership if consultation else None,
                          owner=None if allowed else access.consultation_owner(
                              uow, consultation_id))
    assert consultation is not None
    return consultation_view(consultation)


# --- Transfers in --------------------------------------------------------------------------

UNBORN_OVERDUE = timedelta(days=14)


def _transfer_date_errors(body: TransferInIn, today: date) -> list[tuple[str, str]]:
    errors = []
    for i, child in enumerate(body.children):
        path = f"children[{i}]"
        if child.date_of_birth is not None:
            if child.date_of_birth > today:
                errors.append((f"{path}.date_of_birth",
                               "must not be in the future; for an unborn baby set unborn and "
                               "give expected_delivery_date"))
            elif age_on(child.date_of_birth, today) >= 18:
                errors.append((f"{path}.date_of_birth",
                               "a child protection plan is for a child under 18: correct the "
                               "date of birth"))
        if (child.expected_delivery_date is not None
                and child.expected_delivery_date < today - UNBORN_OVERDUE):
            errors.append((f"{path}.expected_delivery_date",
                           "is more than two weeks in the past: if the baby has been born, "
                           "give the date of birth instead"))
    if body.child_protection_plan.plan_started_on > today:
        errors.append(("child_protection_plan.plan_started_on", "must not be in the future"))
    return errors


def _conference_required(arrangement: str) -> bool:
    """A permanent transfer always needs a transfer-in conference (DOMAIN.md §3)."""
    return arrangement == "permanent"


def transfer_view(transfer: TransferIn) -> TransferInView:
    """A transfer-in row as the API shows it."""
    decision = None
    if transfer.decided_at is not None and transfer.arrangement is not None:
        decision = {
            "arrangement": transfer.arrangement,
            "rationale": transfer.decision_rationale,
            "decided_by": {"user_id": transfer.decided_by, "role": transfer.decided_by_role},
            "decided_at": transfer.decided_at,
            "transfer_in_conference_required": _conference_required(transfer.arrangement),
        }
    return TransferInView.model_validate({
        "transfer_id": transfer.id,
        "case_reference": transfer.case_reference,
        "status": transfer.status,
        "partnership": transfer.partnership,
        "from_authority": transfer.from_authority,
        "transfer_form": TRANSFER_FORM,
        "received_at": transfer.received_at,
        "children": json.loads(transfer.children),
        "child_protection_plan": json.loads(transfer.child_protection_plan),
        "decision": decision,
    })


def _child_for_event(child: dict[str, Any]) -> dict[str, Any]:
    data = {"first_name": child.get("first_name"), "last_name": child["last_name"],
            "date_of_birth": child.get("date_of_birth"), "unborn": bool(child.get("unborn"))}
    if data["unborn"]:
        data["expected_delivery_date"] = child.get("expected_delivery_date")
    return data


def transfer_in_received_data(transfer: TransferIn,
                              strategy_reason: str | None = None) -> dict[str, Any]:
    """The data of ``transfer-in.received.v1``, once the team manager has decided; with
    the reason when the decision asks strategy for a discussion."""
    assert transfer.decided_at is not None and transfer.arrangement is not None
    plan = json.loads(transfer.child_protection_plan)
    return {
        "transfer_id": transfer.id,
        "case_reference": transfer.case_reference,
        "received_at": transfer.received_at.isoformat(),
        "from_authority": transfer.from_authority,
        "transfer_form": TRANSFER_FORM,
        "children": [_child_for_event(c) for c in json.loads(transfer.children)],
        "child_protection_plan": {
            "categories_of_abuse": plan["categories_of_abuse"],
            "plan_started_on": plan["plan_started_on"],
            "next_review_due_on": plan.get("next_review_due_on"),
        },
        "arrangement": transfer.arrangement,
        "decided_by": {"user_id": transfer.decided_by, "role": transfer.decided_by_role},
        "decided_at": transfer.decided_at.isoformat(),
        "transfer_in_conference_required": _conference_required(transfer.arrangement),
        "strategy_discussion_required": strategy_reason is not None,
        "strategy_discussion_reason": strategy_reason,
    }


def submit_transfer_in(
    ctx: ServiceContext, principal: Principal, body: TransferInIn, idempotency_key: str | None
) -> JSONResponse:
    """Record the transfer form under a new case reference; a team manager decides next."""
    submission = body.model_dump(mode="json")
    request_hash = idempotency.fingerprint(
        {"request": "POST /v1/transfers-in", "body": submission})
    now = ctx.clock.now()
    errors = _transfer_date_errors(body, domain.local_today(now))
    if errors:
        raise invalid_fields("Invalid transfer-in", errors)

    with ctx.unit_of_work() as uow:
        replayed = _replay_or_none(uow, principal, idempotency_key, request_hash)
        if replayed is not None:
            return replayed
        transfer = TransferIn(
            id=str(uuid.uuid4()),
            case_reference=domain.new_case_reference(now),
            partnership=_partnership_of(ctx, principal),
            status=lifecycle.AWAITING_DECISION,
            from_authority=body.from_authority,
            submitted_by_agency=principal.agency,
            submitted_by_role=str(principal.role),
            submitted_by_subject=principal.subject,
            children=json.dumps(submission["children"]),
            child_protection_plan=json.dumps(submission["child_protection_plan"]),
            received_at=now,
        )
        uow.session.add(transfer)
        response_body = transfer_view(transfer).model_dump(mode="json")
        location = f"/v1/transfers-in/{transfer.id}"
        if idempotency_key:
            idempotency.remember(uow.session, client=_client(principal), key=idempotency_key,
                                 request_hash=request_hash, status_code=201,
                                 body=response_body, location=location, at=now)
        audit(uow.session, principal=principal, action=AuditAction.WRITE, resource="transfer_in",
              resource_id=transfer.id, case_reference=transfer.case_reference, at=now,
              partnership=transfer.partnership)
        raced = _commit(uow, principal, idempotency_key, request_hash)
        if raced is not None:
            return raced
    log.info("transfer-in received", transfer_id=transfer.id,
             case_reference=transfer.case_reference, partnership=transfer.partnership)
    return JSONResponse(response_body, status_code=201, headers={"Location": location})


def decide_transfer_in(
    ctx: ServiceContext, principal: Principal, transfer_id: str, body: TransferDecisionIn,
    idempotency_key: str | None,
) -> JSONResponse:
    """The team manager's decision: permanent, temporary or disputed; announced to the hub.

    A disputed transfer may be decided (permanent or temporary) once the managers resolve
    it; a permanent or temporary decision is final here, and disputing a disputed transfer
    again is a 409 (intake.lifecycle.TRANSFER_IN). One writer per case: the case is locked
    and the transfer read again before deciding, so of two decisions at once the second
    sees the first.
    """
    request_hash = idempotency.fingerprint(
        {"request": f"POST /v1/transfers-in/{transfer_id}/decision",
         "body": body.model_dump(mode="json")})
    user_id = recordable_user_id(principal)
    now = ctx.clock.now()
    if body.strategy_discussion_required and not body.strategy_discussion_reason:
        raise invalid_fields("Invalid transfer-in decision", [(
            "strategy_discussion_reason", "required when strategy_discussion_required is "
            "true: why there is reasonable cause to suspect significant harm")])
    strategy_reason = (body.strategy_discussion_reason
                       if body.strategy_discussion_required else None)
    with ctx.unit_of_work() as uow:
        replayed = _replay_or_none(uow, principal, idempotency_key, request_hash)
        if replayed is not None:
            return replayed
        transfer = access.transfer_for_change(ctx, uow, principal, transfer_id)
        if transfer is None:  # audited for its owner, committed, and a 404
            audit_read_or_404(uow, principal=principal, what="transfer-in",
                              resource="transfer_in", resource_id=transfer_id, allowed=False,
                              at=now, action=AuditAction.WRITE,
                              owner=access.transfer_owner(uow, transfer_id))
        assert transfer is not None  # audit_read_or_404 raised the 404 otherwise
        target = lifecycle.DISPUTED if body.arrangement == "disputed" else lifecycle.DECIDED
        if not lifecycle.TRANSFER_IN.may_move(transfer, target):
            if transfer.status == lifecycle.DISPUTED:
                raise ProblemHTTPException(
                    409, "Transfer-in already disputed",
                    "This transfer-in is already disputed: once the managers resolve it, "
                    "decide permanent or temporary.")
            raise ProblemHTTPException(
                409, "Transfer-in already decided",
                f"This transfer-in was already decided as {transfer.arrangement}.")
        transfer.arrangement = body.arrangement
        transfer.decision_rationale = body.rationale
        transfer.decided_by = user_id
        transfer.decided_by_role = str(principal.role)
        transfer.decided_at = now
        lifecycle.TRANSFER_IN.move(uow, transfer, target)
        ctx.emit(uow, Event(
            type=TRANSFER_IN_RECEIVED, source=ctx.source, subject=transfer.case_reference,
            time=now, recordedtime=now, partnership=transfer.partnership,
            data=transfer_in_received_data(transfer, strategy_reason),
        ), INTAKE_CONTACTS)
        response_body = transfer_view(transfer).model_dump(mode="json")
        if idempotency_key:
            idempotency.remember(uow.session, client=_client(principal), key=idempotency_key,
                                 request_hash=request_hash, status_code=200,
                                 body=response_body, location=None, at=now)
        audit(uow.session, principal=principal, action=AuditAction.WRITE, resource="transfer_in",
              resource_id=transfer.id, case_reference=transfer.case_reference, at=now,
              partnership=transfer.partnership)
        raced = _commit(uow, principal, idempotency_key, request_hash)
        if raced is not None:
            return raced
    log.info("transfer-in decided", transfer_id=transfer.id,
             case_reference=transfer.case_reference, arrangement=transfer.arrangement)
    return JSONResponse(response_body, status_code=200)


def get_transfer_in(ctx: ServiceContext, principal: Principal, transfer_id: str) -> TransferInView:
    """A transfer-in, to the hub or the system that sent it; every read (and refusal) audited."""
    with ctx.unit_of_work() as uow:
        transfer = access.find_transfer(ctx, uow, principal, transfer_id)
        allowed = transfer is not None
        audit_read_or_404(uow, principal=principal, what="transfer-in", resource="transfer_in",
                          resource_id=transfer_id, allowed=allowed, at=ctx.clock.now(),
                          case_reference=transfer.case_reference if transfer else None,
                          partnership=transfer.partnership if transfer else None,
                          owner=None if allowed else access.transfer_owner(uow, transfer_id))
    assert transfer is not None
    return transfer_view(transfer)
