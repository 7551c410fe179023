"""Need-to-know in intake (DOMAIN.md §10), as SQL predicates on mashcore.access.

* A contact: a partner system sees its own agency's contacts in its partnership; hub staff
  see their partnership's, a staff-linked one only team managers until it is locked down,
  then only its named users. Anyone else sees none.
* A consultation: the partner system that asked (not one the hub recorded), or hub staff, of
  its partnership.
* A transfer-in: the authority's system that sent it (that very account: every other
  authority's system is agency local_authority), or hub staff, of its partnership.

The predicates go into the query, so another partnership's record is never loaded; it reads
exactly like a missing one (404).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from sqlalchemy import and_, false
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from intake.consultations.models import Consultation
from intake.contacts.models import Contact, ContactAccess
from intake.transfers_in.models import TransferIn
from mashcore.access import Scope, lock_down_visible, own_agency, own_partnership, scope_of
from mashcore.audit import AuditAction, Owner, audit_read_or_404, owner_of
from mashcore.auth import Principal, Role
from mashcore.db import UnitOfWork
from mashcore.service import ServiceContext

_Row = TypeVar("_Row", Contact, Consultation, TransferIn)


def scope(ctx: ServiceContext, principal: Principal) -> Scope:
    """The caller's scope (mashcore.access.scope_of with this deployment's default)."""
    return scope_of(principal, ctx.settings.partnership_default)


def contact_visible(who: Scope) -> ColumnElement[bool]:
    """The contacts ``who`` may see."""
    mine = own_partnership(who, Contact.partnership)
    if who.role == Role.REFERRER:
        # The submitting agency still sees the status of its own staff-linked contact.
        return and_(mine, own_agency(who, Contact.referrer_agency))
    if not who.is_hub:
        return false()
    return and_(mine, lock_down_visible(
        who, record_key=col(Contact.id), restricted=col(Contact.restricted),
        named_table=ContactAccess, named_key=col(ContactAccess.contact_id),
        named_user=col(ContactAccess.user_id)))


def consultation_visible(who: Scope) -> ColumnElement[bool]:
    """The consultations ``who`` may see."""
    mine = own_partnership(who, Consultation.partnership)
    if who.role == Role.REFERRER:
        # A phone consultation the hub recorded is the hub's, on the confidential log.
        return and_(mine, col(Consultation.submitted_by_role) == str(Role.REFERRER),
                    own_agency(who, Consultation.submitted_by_agency))
    return mine if who.is_hub else false()


def transfer_visible(who: Scope) -> ColumnElement[bool]:
    """The transfers-in ``who`` may see."""
    mine = own_partnership(who, TransferIn.partnership)
    if who.role == Role.REFERRER:
        return and_(mine, col(TransferIn.submitted_by_role) == str(Role.REFERRER),
                    own_agency(who, TransferIn.submitted_by_agency),
                    col(TransferIn.submitted_by_subject) == who.subject)
    return mine if who.is_hub else false()


def _find_visible(uow: UnitOfWork, model: type[_Row], record_id: str,
                  visible: ColumnElement[bool], *, fresh: bool) -> _Row | None:
    """The ``model`` row with this id if ``visible`` lets the caller see it; otherwise None.
    ``fresh``: overwrite what the session already holds with the row as committed."""
    query = select(model).where(col(model.id) == record_id, visible)
    if fresh:
        query = query.execution_options(populate_existing=True)
    return uow.session.exec(query).first()


def _for_change(uow: UnitOfWork, model: type[_Row], record_id: str,
                visible: ColumnElement[bool], lock_key: Callable[[_Row], str]) -> _Row | None:
    """The visible row, with ``lock_key(row)`` locked for this unit of work (one writer per
    case) and the row read again as committed once the lock is held, visibility included."""
    if (found := _find_visible(uow, model, record_id, visible, fresh=False)) is None:
        return None
    uow.lock_case(lock_key(found))
    return _find_visible(uow, model, record_id, visible, fresh=True)


def find_contact(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, contact_id: str,
                 *, fresh: bool = False) -> Contact | None:
    """The contact if it exists and the caller may see it; otherwise None (a 404).
    ``fresh``: overwrite what the session already holds with the row as committed."""
    return _find_visible(uow, Contact, contact_id, contact_visible(scope(ctx, principal)),
                         fresh=fresh)


def contact_for_change(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                       contact_id: str) -> Contact | None:
    """The contact to change if the caller may see it, with its case locked for this unit of
    work (one writer per case, as intake.lifecycle.contact_for_change) and read again as
    committed once the lock is held, visibility included; otherwise None (a 404)."""
    return _for_change(uow, Contact, contact_id, contact_visible(scope(ctx, principal)),
                       lambda contact: contact.case_reference)  # the reference never changes


def contact_owner(uow: UnitOfWork, contact_id: str) -> Owner | None:
    """Whose the contact is, for the audit of a refused access only (mashcore.audit.owner_of):
    the entry is filed under its partnership, never shown to the caller."""
    return owner_of(uow.session, col(Contact.id), contact_id,
                    partnership_column=col(Contact.partnership),
                    case_reference_column=col(Contact.case_reference))


def contact_to_change(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                      contact_id: str) -> Contact:
    """The contact to change, its case locked (contact_for_change); a contact the caller may
    not see, or that does not exist, is an audited 404 (refuse_change)."""
    contact = contact_for_change(ctx, uow, principal, contact_id)
    if contact is None:
        refuse_change(ctx, uow, principal, contact_id)
    return contact


def refuse_change(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                  contact_id: str) -> NoReturn:
    """A change to a contact the caller may not see (or that does not exist): audited for
    its owner (mashcore.audit.audit_read_or_404), committed, and a 404."""
    audit_read_or_404(uow, principal=principal, what="contact", resource="contact",
                      resource_id=contact_id, allowed=False, at=ctx.clock.now(),
                      action=AuditAction.WRITE, owner=contact_owner(uow, contact_id))
    raise AssertionError("audit_read_or_404 raises when not allowed")


def consultation_owner(uow: UnitOfWork, consultation_id: str) -> Owner | None:
    """Whose the consultation is (no case reference), for the audit of a refusal only."""
    return owner_of(uow.session, col(Consultation.id), consultation_id,
                    partnership_column=col(Consultation.partnership))


def transfer_owner(uow: UnitOfWork, transfer_id: str) -> Owner | None:
    """Whose the transfer-in is, for the audit of a refusal only."""
    return owner_of(uow.session, col(TransferIn.id), transfer_id,
                    partnership_column=col(TransferIn.partnership),
                    case_reference_column=col(TransferIn.case_reference))


def find_consultation(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                      consultation_id: str, *, fresh: bool = False) -> Consultation | None:
    """The consultation if it exists and the caller may see it; otherwise None (a 404).
    ``fresh``: overwrite what the session already holds with the row as committed."""
    return _find_visible(uow, Consultation, consultation_id,
                         consultation_visible(scope(ctx, principal)), fresh=fresh)


def consultation_for_change(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                            consultation_id: str) -> Consultation | None:
    """The consultation to change if the caller may see it, locked for this unit of work and
    read again as committed once the lock is held; otherwise None (a 404).

    A consultation has no case reference (it is never on a child's record): its lock is
    keyed by its own id. ``lock_case`` rather than ``FOR UPDATE``, which SQLite ignores.
    """
    return _for_change(uow, Consultation, consultation_id,
                       consultation_visible(scope(ctx, principal)),
                       lambda consultation: f"consultation:{consultation.id}")


def find_transfer(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, transfer_id: str,
                  *, fresh: bool = False) -> TransferIn | None:
    """The transfer-in if it exists and the caller may see it; otherwise None (a 404).
    ``fresh``: overwrite what the session already holds with the row as committed."""
    return _find_visible(uow, TransferIn, transfer_id, transfer_visible(scope(ctx, principal)),
                         fresh=fresh)


def transfer_for_change(ctx: ServiceContext, uow: UnitOfWork, principal: Principal,
                        transfer_id: str) -> TransferIn | None:
    """The transfer-in to change if the caller may see it, with its case locked for this unit
    of work (one writer per case) and read again as committed; otherwise None (a 404)."""
    return _for_change(uow, TransferIn, transfer_id, transfer_visible(scope(ctx, principal)),
                       lambda transfer: transfer.case_reference)
