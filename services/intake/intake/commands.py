"""The sequence every idempotent command in intake follows, written once.

A command that creates or changes a record runs in one unit of work: replay a retried request
(same client, same ``Idempotency-Key``, same request), make the change and its events, remember
the response under the key, and commit. If another request with the same key committed first
(the unique key raced), answer with what it stored instead of failing.

The client is the caller's partnership, agency and subject: another partnership's system may
have the same subject (issue 12).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from mashcore import idempotency
from mashcore.audit import AuditAction, audit
from mashcore.auth import Principal
from mashcore.db import UnitOfWork
from mashcore.service import ServiceContext
from mashcore.topics import INTAKE_CONTACTS

if TYPE_CHECKING:
    from pydantic import BaseModel

    from intake.contacts.models import Contact


def client_of(principal: Principal) -> str:
    """The idempotency client: partnership, agency and subject."""
    return f"{principal.partnership or ''}:{principal.agency}:{principal.subject}"


def publish(ctx: ServiceContext, uow: UnitOfWork, contact: Contact) -> None:
    """Write the contact's change and the events it recorded (its pending events) to this
    unit of work: they commit together, through the outbox."""
    uow.session.add(contact)
    for event in contact.pull_events():
        ctx.emit(uow, event, INTAKE_CONTACTS)


def partnership_of(ctx: ServiceContext, principal: Principal) -> str:
    """The one partnership whose records the caller works in (need-to-know)."""
    return principal.partnership or ctx.settings.partnership_default


@dataclass(frozen=True)
class Answer:
    """What a command answers: the status, the body and, for a created record, its address;
    ``committed`` runs once the change is committed (a log line), never on a replay."""

    status_code: int
    body: dict[str, Any]
    location: str | None = None
    committed: Callable[[], None] | None = None

    def response(self) -> JSONResponse:
        """The HTTP response."""
        headers = {"Location": self.location} if self.location else None
        return JSONResponse(self.body, status_code=self.status_code, headers=headers)


def received(uow: UnitOfWork, principal: Principal, record: Any, *, resource: str,
             view: BaseModel, location: str, at: datetime, logged: Callable[[], None],
             case_reference: str | None = None, partnership: str | None = None) -> Answer:
    """A new record (a consultation, a transfer-in) received: staged with the audit of its
    write, answered 201 at ``location`` with its ``view``; ``logged`` once committed."""
    uow.session.add(record)
    audit(uow.session, principal=principal, action=AuditAction.WRITE, resource=resource,
          resource_id=record.id, case_reference=case_reference, partnership=partnership, at=at)
    return Answer(201, view.model_dump(mode="json"), location, logged)


@dataclass(frozen=True)
class Idempotent:
    """One request's idempotency: who sent it, under which key, and its fingerprint."""

    principal: Principal
    key: str | None
    request_hash: str

    @classmethod
    def of(cls, principal: Principal, key: str | None, request: Any) -> Idempotent:
        """The request's idempotency, fingerprinting ``request`` (the body, and for a
        command on a named record, the method and path too)."""
        return cls(principal, key, idempotency.fingerprint(request))

    def replay(self, uow: UnitOfWork) -> JSONResponse | None:
        """The stored response if this request was already answered, else None."""
        if not self.key:
            return None
        return idempotency.replay(uow.session, client=client_of(self.principal), key=self.key,
                                  request_hash=self.request_hash)

    def commit(self, uow: UnitOfWork, *, status_code: int, body: dict[str, Any],
               location: str | None, at: datetime) -> JSONResponse | None:
        """Remember the response under the key (if any) and commit. None once committed;
        the stored response if the same key raced this request and won."""
        if self.key:
            idempotency.remember(uow.session, client=client_of(self.principal), key=self.key,
                                 request_hash=self.request_hash, status_code=status_code,
                                 body=body, location=location, at=at)
        try:
            uow.commit()
        except IntegrityError:
            uow.session.rollback()
            replayed = self.replay(uow)
            if replayed is not None:
                return replayed
            raise
        return None

    def run(self, ctx: ServiceContext, at: datetime,
            change: Callable[[UnitOfWork], Answer], *, look_first: bool = True) -> JSONResponse:
        """The whole sequence in one unit of work: replay a retried request, or make the
        ``change`` (its rows, events and audit entries) and commit it with its answer under
        the key.

        ``look_first=False`` (a command that only creates, issue 17): no lookup before the
        change, one round trip less for every first attempt. A retry then makes the change
        again, and the key's unique row refuses it at the commit: everything it wrote rolls
        back and the stored answer is replayed (as when two attempts race today). If the
        change itself refuses a retry, the stored answer still wins."""
        with ctx.unit_of_work() as uow:
            if look_first:
                replayed = self.replay(uow)
                if replayed is not None:
                    return replayed
            try:
                answer = change(uow)
            except Exception:
                if look_first or not self.key:
                    raise
                uow.session.rollback()
                replayed = self.replay(uow)
                if replayed is not None:
                    return replayed
                raise
            raced = self.commit(uow, status_code=answer.status_code, body=answer.body,
                                location=answer.location, at=at)
            if raced is not None:
                return raced
        if answer.committed is not None:
            answer.committed()
        return answer.response()
