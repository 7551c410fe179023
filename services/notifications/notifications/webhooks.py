"""The webhook registry (issue 16): partner systems' endpoints per partnership and agency,
registered by the partnership's team managers (or ops), for navigator requests and chasers.

``POST /v1/webhooks`` registers an endpoint (HTTPS; ``http://127.0.0.1`` only when
``MASH_NOTIFY_ALLOW_HTTP_WEBHOOKS`` is set, for development) and answers its first
``whsec_`` secret once; ``GET /v1/webhooks`` lists endpoints and their secrets' ids, never a
secret. Rotation without downtime: ``POST /v1/webhooks/{id}/secrets`` adds a secret
(answered once) and every secret signs (Standard Webhooks allows several signatures in
``webhook-signature``) until the old one is removed with
``DELETE /v1/webhooks/{id}/secrets/{secret_id}`` (the last one cannot be).
``DELETE /v1/webhooks/{id}`` removes the endpoint. Secrets are stored encrypted (Fernet,
``cryptography``) with ``MASH_NOTIFY_WEBHOOK_KEY``; without it a development key is used and
a warning logged. The partnership is in every query (a team manager's own; ops any, naming
it); every change and listing is audited. The sender uses a registered endpoint first, then
``MASH_NOTIFY_NAVIGATOR_WEBHOOKS``.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Annotated, Any

import structlog
from cryptography.fernet import Fernet
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import Column, Text, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field as SqlField
from sqlmodel import Session, SQLModel, col, delete, select

from mashcore.access import scope_of
from mashcore.audit import AuditAction, audit, owner_of
from mashcore.auth import Principal, Role, require_roles
from mashcore.db import UnitOfWork, utc_column
from mashcore.ids import new_id
from mashcore.problems import ProblemHTTPException, problem_responses
from mashcore.service import Context, ServiceContext
from notifications.settings import NotifySettings, Webhook

Manager = Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER, Role.OPS))]
RESOURCE = "webhook"
# Development only (a warning is logged): set MASH_NOTIFY_WEBHOOK_KEY in every deployment.
DEV_KEY = base64.urlsafe_b64encode(b"mash-development-webhook-key-32b").decode()
log = structlog.get_logger(__name__)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: str = SqlField(primary_key=True, max_length=36)
    partnership: str = SqlField(max_length=100, index=True)
    agency: str = SqlField(max_length=60)
    url: str = SqlField(max_length=2000)
    created_by: str = SqlField(max_length=200)
    created_at: datetime = SqlField(sa_column=utc_column())
    # Removed endpoints are kept (soft delete) so that a repeated DELETE answers 204 again.
    deleted_at: datetime | None = SqlField(default=None, sa_column=utc_column(nullable=True))


class WebhookSecret(SQLModel, table=True):
    __tablename__ = "webhook_secret"

    id: str = SqlField(primary_key=True, max_length=36)
    endpoint_id: str = SqlField(foreign_key="webhook_endpoint.id", max_length=36, index=True)
    encrypted: str = SqlField(sa_column=Column(Text, nullable=False))
    created_at: datetime = SqlField(sa_column=utc_column())


class WebhookIn(BaseModel):
    """A partner system's endpoint for one agency's navigator requests and chasers."""

    model_config = ConfigDict(extra="forbid")

    agency: str = Field(min_length=1, max_length=60, pattern=r"^[a-z_]+$",
                        description="The agency whose requests go there, e.g. `police`.")
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s]+$",
                     description="The endpoint: `https://…`.")
    partnership: str | None = Field(default=None, min_length=1, max_length=100,
                                    description="Ops only: the partnership (a team manager's "
                                    "is their own).")


class SecretOut(BaseModel):
    secret_id: str
    created_at: datetime


class NewSecretOut(SecretOut):
    secret: str = Field(description="`whsec_…`: shown once; give it to the partner.")


class WebhookOut(BaseModel):
    webhook_id: str
    partnership: str
    agency: str
    url: str
    created_at: datetime
    secrets: list[SecretOut] = Field(description="Newest first; never the secrets.")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="`whsec_…`: shown once; give it to the partner.")


def _fernet() -> Fernet:
    key = NotifySettings().webhook_key
    return Fernet(key.get_secret_value() if key else DEV_KEY)


def check_key() -> None:
    """At start-up: a malformed key stops the service; a missing one is warned about."""
    if NotifySettings().webhook_key is None:
        log.warning("webhook secrets encrypted with the development key; set "
                    "MASH_NOTIFY_WEBHOOK_KEY")
    _fernet()


def _new_secret(endpoint_id: str, now: datetime) -> tuple[WebhookSecret, str]:
    plain = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    row = WebhookSecret(id=new_id(), endpoint_id=endpoint_id,
                        encrypted=_fernet().encrypt(plain.encode()).decode(), created_at=now)
    return row, plain


def registered(session: Session, partnership: str, agency: str) -> Webhook | None:
    """The endpoint registered for this partnership's agency, with its secrets (newest
    first), if any."""
    endpoint = session.exec(select(WebhookEndpoint).where(
        col(WebhookEndpoint.partnership) == partnership,
        col(WebhookEndpoint.agency) == agency, col(WebhookEndpoint.deleted_at).is_(None))
        .order_by(col(WebhookEndpoint.created_at).desc())).first()
    if endpoint is None:
        return None
    rows = session.exec(select(WebhookSecret).where(
        col(WebhookSecret.endpoint_id) == endpoint.id)
        .order_by(col(WebhookSecret.created_at).desc())).all()
    fernet = _fernet()
    return Webhook(url=endpoint.url, secrets=[
        SecretStr(fernet.decrypt(row.encrypted.encode()).decode()) for row in rows])


def _invalid(field: str, message: str) -> ProblemHTTPException:
    return ProblemHTTPException(422, "Invalid webhook", f"Faulty fields: {field}",
                                extra={"errors": [{"field": field, "message": message}]})


def _partnership(ctx: ServiceContext, principal: Principal) -> str:
    return scope_of(principal, ctx.settings.partnership_default).partnership


def _visible(ctx: ServiceContext, principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.OPS:
        return true()
    predicate: ColumnElement[bool] = (
        col(WebhookEndpoint.partnership) == _partnership(ctx, principal))
    return predicate


def _view(session: Session, endpoint: WebhookEndpoint) -> dict[str, Any]:
    rows = session.exec(select(WebhookSecret).where(
        col(WebhookSecret.endpoint_id) == endpoint.id)
        .order_by(col(WebhookSecret.created_at).desc(), col(WebhookSecret.id))).all()
    return {"webhook_id": endpoint.id, "partnership": endpoint.partnership,
            "agency": endpoint.agency, "url": endpoint.url, "created_at": endpoint.created_at,
            "secrets": [{"secret_id": r.id, "created_at": r.created_at} for r in rows]}


def _audit(session: Session, principal: Principal, action: AuditAction, resource_id: str,
           at: datetime, partnership: str | None, outcome: str = "allowed") -> None:
    audit(session, principal=principal, action=action, resource=RESOURCE,
          resource_id=resource_id, at=at, partnership=partnership, outcome=outcome)


def _endpoint(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
              webhook_id: str, *, removed: bool = False) -> WebhookEndpoint:
    """The caller's endpoint (its partnership in the query): 404 otherwise, or if removed
    (unless ``removed``: a repeated DELETE). A refusal is audited under the endpoint's
    partnership (``refused``), or ``not_found``."""
    endpoint = uow.session.exec(select(WebhookEndpoint).where(
        col(WebhookEndpoint.id) == webhook_id, _visible(ctx, principal))).first()
    if endpoint is None or (endpoint.deleted_at is not None and not removed):
        owner = owner_of(uow.session, col(WebhookEndpoint.id), webhook_id,
                         partnership_column=col(WebhookEndpoint.partnership))
        _audit(uow.session, principal, AuditAction.WRITE, webhook_id, ctx.clock.now(),
               owner.partnership if owner else None,
               outcome="refused" if owner and endpoint is None else "not_found")
        uow.commit()
        raise ProblemHTTPException(404, "Not found", "No such webhook.")
    return endpoint


def router(_ctx: ServiceContext) -> list[APIRouter]:
    api = APIRouter(prefix="/v1", tags=["webhooks"], responses=problem_responses())

    @api.post("/webhooks", status_code=201, response_model=WebhookCreated,
              responses=problem_responses(409))
    def register(body: WebhookIn, ctx: Context, principal: Manager) -> dict[str, Any]:
        """Register a partner system's endpoint for an agency's navigator requests and
        chasers; the first secret is answered once (audited)."""
        mine = _partnership(ctx, principal)
        if body.partnership is not None and principal.role != Role.OPS \
                and body.partnership != mine:
            raise _invalid("partnership", "a team manager registers for their own "
                           "partnership only")
        settings = NotifySettings()
        if not body.url.startswith("https://") and not (
                settings.allow_http_webhooks and body.url.startswith("http://127.0.0.1")):
            raise _invalid("url", "must be https://")
        partnership = body.partnership or mine
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            taken = uow.session.exec(select(WebhookEndpoint).where(
                col(WebhookEndpoint.partnership) == partnership,
                col(WebhookEndpoint.agency) == body.agency,
                col(WebhookEndpoint.deleted_at).is_(None))).first()
            if taken is not None:
                raise ProblemHTTPException(
                    409, "Already registered", "This agency already has an endpoint: "
                    "delete it first, or rotate its secret.")
            endpoint = WebhookEndpoint(id=new_id(), partnership=partnership,
                                       agency=body.agency, url=body.url,
                                       created_by=principal.subject, created_at=now)
            uow.session.add(endpoint)
            uow.session.flush()
            row, plain = _new_secret(endpoint.id, now)
            uow.session.add(row)
            uow.session.flush()
            _audit(uow.session, principal, AuditAction.WRITE, endpoint.id, now, partnership)
            answer = {**_view(uow.session, endpoint), "secret": plain}
            try:
                uow.commit()
            except IntegrityError as exc:  # registered at the same moment by another call
                raise ProblemHTTPException(409, "Already registered",
                                           "This agency already has an endpoint.") from exc
        return answer

    @api.get("/webhooks", response_model=list[WebhookOut])
    def list_webhooks(ctx: Context, principal: Manager) -> list[dict[str, Any]]:
        """The registered endpoints (a team manager: their partnership's; ops: all), with
        their secrets' ids, never the secrets."""
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            rows = uow.session.exec(select(WebhookEndpoint).where(
                _visible(ctx, principal), col(WebhookEndpoint.deleted_at).is_(None))
                                    .order_by(col(WebhookEndpoint.created_at))).all()
            answer = [_view(uow.session, r) for r in rows]
            _audit(uow.session, principal, AuditAction.READ, "*", now,
                   None if principal.role == Role.OPS else _partnership(ctx, principal))
            uow.commit()
        return answer

    @api.post("/webhooks/{webhook_id}/secrets", status_code=201, response_model=NewSecretOut)
    def add_secret(webhook_id: str, ctx: Context, principal: Manager) -> dict[str, Any]:
        """Add a secret (answered once): every secret signs until the old one is removed."""
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            endpoint = _endpoint(ctx, uow, principal, webhook_id)
            row, plain = _new_secret(endpoint.id, now)
            uow.session.add(row)
            _audit(uow.session, principal, AuditAction.WRITE, endpoint.id, now,
                   endpoint.partnership)
            uow.commit()
        return {"secret_id": row.id, "created_at": now, "secret": plain}

    @api.delete("/webhooks/{webhook_id}/secrets/{secret_id}", status_code=204,
                responses=problem_responses(409))
    def remove_secret(webhook_id: str, secret_id: str, ctx: Context,
                      principal: Manager) -> Response:
        """Remove a secret (after the partner switched to the new one); not the last. A secret
        already removed: 204 again (idempotent)."""
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            endpoint = _endpoint(ctx, uow, principal, webhook_id, removed=True)
            rows = uow.session.exec(select(WebhookSecret).where(
                col(WebhookSecret.endpoint_id) == endpoint.id)).all()
            if secret_id not in {r.id for r in rows}:
                return Response(status_code=204)
            if len(rows) == 1 and endpoint.deleted_at is None:
                raise ProblemHTTPException(409, "Last secret",
                                           "Add a new secret before removing the last one.")
            uow.session.execute(delete(WebhookSecret).where(
                col(WebhookSecret.id) == secret_id))
            _audit(uow.session, principal, AuditAction.WRITE, endpoint.id, now,
                   endpoint.partnership)
            uow.commit()
        return Response(status_code=204)

    @api.delete("/webhooks/{webhook_id}", status_code=204)
    def remove(webhook_id: str, ctx: Context, principal: Manager) -> Response:
        """Remove the endpoint and its secrets: the agency's requests go by email (or the
        configured webhook) again. Already removed: 204 again (idempotent)."""
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            endpoint = _endpoint(ctx, uow, principal, webhook_id, removed=True)
            uow.session.execute(delete(WebhookSecret).where(
                col(WebhookSecret.endpoint_id) == endpoint.id))
            endpoint.deleted_at = endpoint.deleted_at or now
            uow.session.add(endpoint)
            _audit(uow.session, principal, AuditAction.WRITE, endpoint.id, now,
                   endpoint.partnership)
            uow.commit()
        return Response(status_code=204)

    return [api]
