"""The referrer's own contact route, read service-to-service for referrer feedback
(DOMAIN.md §7, §10; issue 16).

Notifications asks, at send time, where a professional referrer's acknowledgement, outcome
or consent-return notice goes: ``GET /internal/v1/contacts/{contact_id}/referrer-route``,
with a ``service`` token. Only what is needed is answered (the email, and that the referrer
is a professional); a member of the public, an anonymous referrer, a referrer without an
email and a linked referral the hub created itself are 404 (no feedback goes to them). The
partnership (the token's, else the ``partnership`` parameter of a service-wide token) is
in the query; every read is audited (resource ``referrer_feedback_route``: the purpose,
referrer feedback). Nothing here is logged.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import col, exists, select

from intake.contacts.models import Contact, ContactLink
from mashcore.audit import audit_read_or_404
from mashcore.auth import Principal, Role, require_roles
from mashcore.problems import ProblemHTTPException, problem_responses
from mashcore.service import Context, ServiceContext

Service = Annotated[Principal, Depends(require_roles(Role.SERVICE))]
PUBLIC = "public"
HUB_CREATED = "parent_carer_under_18"
RESOURCE = "referrer_feedback_route"


class ReferrerRoute(BaseModel):
    """Where referrer feedback goes: the referrer's own email (personal data: use it for
    this one send, never store it, log it or put it on a topic)."""

    email: str
    professional: bool


def referrer_route(ctx: ServiceContext, principal: Principal, contact_id: str,
                   partnership: str | None) -> ReferrerRoute:
    scope = principal.partnership or partnership
    if scope is None or (partnership is not None and partnership != scope):
        raise ProblemHTTPException(
            422, "Partnership needed", "Faulty fields: partnership",
            extra={"errors": [{"field": "partnership", "message":
                               "give the contact's partnership (the token's, if it has one)"}]})
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        hub_created = exists().where(col(ContactLink.contact_id) == Contact.id,
                                     col(ContactLink.reason) == HUB_CREATED)
        contact = uow.session.exec(
            select(Contact).where(col(Contact.id) == contact_id,
                                  col(Contact.partnership) == scope,
                                  col(Contact.referrer_agency) != PUBLIC,
                                  ~hub_created)).first()
        email = None
        if contact is not None:
            referrer = json.loads(contact.submission).get("referrer") or {}
            if not referrer.get("anonymous"):
                email = referrer.get("email") or None
        audit_read_or_404(uow, principal=principal, what="Contact", resource=RESOURCE,
                          resource_id=contact_id, allowed=email is not None, at=now,
                          case_reference=contact.case_reference if contact else None,
                          partnership=contact.partnership if contact else None)
    assert email is not None
    return ReferrerRoute(email=str(email), professional=True)


def routers(_ctx: ServiceContext) -> list[APIRouter]:
    """The referrer's contact route, for the notifications service only."""
    api = APIRouter(prefix="/internal/v1", tags=["service to service"],
                    responses=problem_responses())

    @api.get("/contacts/{contact_id}/referrer-route", response_model=ReferrerRoute)
    def get_referrer_route(
        contact_id: str, ctx: Context, principal: Service,
        partnership: Annotated[str | None, Query(
            max_length=100, description="The contact's partnership, for a service token "
            "without a partnership claim.")] = None,
    ) -> ReferrerRoute:
        """Where a professional referrer's feedback goes (the notifications service only;
        audited). 404 for the public, anonymous referrers, referrers without an email and
        linked referrals the hub created itself."""
        return referrer_route(ctx, principal, contact_id, partnership)

    return [api]
