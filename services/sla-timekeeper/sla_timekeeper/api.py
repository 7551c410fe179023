"""The timekeeper's API: the ops dashboard page, its numbers, and the live stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import true
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import select

from mashcore.access import own_partnership, scope_of
from mashcore.audit import AuditAction, audit
from mashcore.auth import (
    AuthError,
    KeySetUnavailableError,
    Principal,
    Role,
    TokenVerifier,
    require_roles,
)
from mashcore.outage import RETRY_AFTER_SECONDS, is_outage
from mashcore.problems import ProblemHTTPException, invalid_fields, problem_responses
from mashcore.service import Context, ServiceContext
from mashcore.strict_types import IsoDateTime
from sla_timekeeper import dashboard, live, refusals, timekeeper, undelivered
from sla_timekeeper.clocks import STOPPED_EARLY
from sla_timekeeper.models import ClockRow

PAGE = Path(__file__).parent / "static" / "dashboard.html"
Ops = Annotated[Principal, Depends(require_roles(Role.OPS, Role.TEAM_MANAGER))]
# Who may approve an extension: a manager, or the IRO for conference timescales.
Approver = Annotated[Principal, Depends(require_roles(Role.TEAM_MANAGER, Role.IRO))]
IRO_CLOCKS = ("icpc", "transfer_in_conference", "first_review_conference",
              "later_review_conference")
HEARTBEAT_SECONDS = 15.0
COALESCE_SECONDS = 0.2


def _scope(ctx: ServiceContext, principal: Principal) -> list[str] | None:
    """Ops see every partnership; a team manager their own (mashcore.access)."""
    if principal.role == Role.OPS:
        return None
    return [scope_of(principal, ctx.settings.partnership_default).partnership]


def _visible(ctx: ServiceContext, principal: Principal) -> ColumnElement[bool]:
    """The clocks the caller may see, as SQL."""
    if principal.role == Role.OPS:
        return true()
    return own_partnership(scope_of(principal, ctx.settings.partnership_default),
                           ClockRow.partnership)


def _stream_principal(request: Request, access_token: str) -> Principal:
    """EventSource cannot send headers: the token comes as a query parameter."""
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = verifier.verify(access_token)
    except AuthError as exc:
        raise ProblemHTTPException(401, detail=exc.detail) from exc
    if principal.role not in (Role.OPS, Role.TEAM_MANAGER):
        raise ProblemHTTPException(403, detail="The dashboard is for ops and team managers.")
    return principal


def _still_valid(request: Request, access_token: str) -> bool:
    """Checked again on every update: an expired or revoked token ends the stream. Keys
    that cannot be fetched just now are the identity provider's outage, not the token's."""
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        verifier.verify(access_token)
    except KeySetUnavailableError:
        return True
    except AuthError:
        return False
    return True


def router(_ctx: ServiceContext) -> list[APIRouter]:
    api = APIRouter(responses=problem_responses())

    @api.get("/dashboard", response_class=HTMLResponse, tags=["dashboard"])
    def page() -> HTMLResponse:
        """The ops dashboard. Open it as `/dashboard#token=<ops token>`."""
        return HTMLResponse(PAGE.read_text(encoding="utf-8"),
                            headers={"Cache-Control": "no-store",
                                     "Content-Security-Policy": "default-src 'self'; "
                                     "style-src 'self' 'unsafe-inline'; "
                                     "script-src 'self' 'unsafe-inline'"})

    @api.get("/v1/dashboard/summary", tags=["dashboard"])
    def summary(ctx: Context, principal: Ops) -> dict[str, Any]:
        """Timescale health now: open clocks by stage and BRAG, the most urgent, today's
        breaches, warnings and met deadlines, breach rates, notices never delivered (their
        case references to a team manager of that partnership, audited). Case references
        only."""
        data = dashboard.summary(ctx, _scope(ctx, principal))
        undelivered.audit_shown(ctx, principal, undelivered.listed(data))
        return data

    @api.get("/v1/dashboard/stream", tags=["dashboard"], responses=problem_responses(503))
    async def stream(request: Request, ctx: Context,
                     access_token: Annotated[str, Query(min_length=1)]) -> StreamingResponse:
        """Server-Sent Events: a `summary` at once, then after every SLA event."""
        principal = await asyncio.to_thread(_stream_principal, request, access_token)
        hub = live.broadcaster(ctx)
        scope = _scope(ctx, principal)
        key = None if scope is None else tuple(scope)
        if hub.full:
            raise ProblemHTTPException(503, "Too many dashboards open",
                                       "Try again later, or use /v1/dashboard/summary.")

        # The first summary before the answer starts: a database outage is then a 503 with
        # Retry-After (mashcore.outage), not a 200 whose stream breaks off at once.
        generation = hub.generation
        first: Any = await hub.latest(key, lambda: dashboard.summary(ctx, scope))

        async def events() -> AsyncIterator[str]:
            nonlocal first
            audited: set[str] = set()
            try:
                waiter = hub.subscribe()  # here, so the generator's finally releases it
            except live.TooManyStreams:
                return
            if hub.generation != generation:
                first = None  # something happened before this stream listened: read again
            try:
                while not await request.is_disconnected():
                    waiter.clear()  # before reading, so nothing that follows is missed
                    if not await asyncio.to_thread(_still_valid, request, access_token):
                        yield "event: expired\ndata: {}\n\n"
                        return
                    data, first = first, None
                    try:
                        if data is None:
                            data = await hub.latest(key, lambda: dashboard.summary(ctx, scope))
                        # Each notice's case reference audited once per stream, when first
                        # shown (nothing is shown that could not be audited).
                        shown = [n for n in undelivered.listed(data) if n[0] not in audited]
                        await asyncio.to_thread(undelivered.audit_shown, ctx, principal, shown)
                    except Exception as exc:
                        if not is_outage(exc):
                            raise
                        # Ended cleanly; EventSource reconnects after `retry` ms.
                        yield (f"retry: {RETRY_AFTER_SECONDS * 1000}\n"
                               "event: unavailable\ndata: {}\n\n")
                        return
                    audited.update(n[0] for n in shown)
                    yield f"event: summary\ndata: {json.dumps(data)}\n\n"
                    await asyncio.sleep(COALESCE_SECONDS)  # a storm is shown, not replayed
                    # asyncio.wait, not wait_for: a cancellation on shutdown is never lost.
                    woken = asyncio.ensure_future(waiter.wait())
                    done, _ = await asyncio.wait({woken}, timeout=HEARTBEAT_SECONDS)
                    if not done:
                        woken.cancel()
            finally:
                hub.unsubscribe(waiter)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    @api.get("/v1/clocks", tags=["clocks"])
    def clocks(ctx: Context, principal: Ops,
               case_reference: Annotated[str, Query(pattern=r"^MASH-[0-9]{4}-[A-Z0-9]{8}$")],
               ) -> list[dict[str, Any]]:
        """A case's clocks, open and ended (no personal data)."""
        with ctx.unit_of_work() as uow:
            rows = uow.session.exec(select(ClockRow).where(
                ClockRow.case_reference == case_reference,
                ClockRow.status != STOPPED_EARLY, _visible(ctx, principal))).all()
            # A case's timeline is a read of the child's record, even with codes only; a
            # refusal is filed for the case's partnership (mashcore.audit_read_or_404).
            refusals.audit_clocks_read(ctx, uow, principal, case_reference, rows)
            uow.commit()
            return [_clock_view(r) for r in rows]

    @api.post("/v1/clocks/{clock_id}/extension", tags=["clocks"],
              responses=problem_responses(403, 404, 409, 422))
    def extension(clock_id: str, body: ExtensionIn, ctx: Context,
                  principal: Approver) -> dict[str, Any]:
        """Approve an extension: the new due time and why (a reason code). The SLA event
        records who by role; the audit log records the user."""
        if body.new_due_at.tzinfo is None:
            raise invalid_fields("Extension refused", [
                ("new_due_at", "give the time with a UTC offset")])
        with ctx.unit_of_work() as uow:
            row = uow.session.exec(select(ClockRow).where(
                ClockRow.clock_id == clock_id, _visible(ctx, principal))).first()
            if row is not None:  # one writer per case: then the clock as it is now
                uow.lock_case(row.case_reference)
                uow.session.refresh(row)
            if row is None or row.status == STOPPED_EARLY:
                refusals.clock_not_found(ctx, uow, principal, clock_id, row)  # audited
            if principal.role == Role.IRO and row.clock not in IRO_CLOCKS:
                raise ProblemHTTPException(
                    403, "Not the IRO's timescale",
                    "An IRO approves extensions of conference timescales only.")
            if body.new_due_at <= row.due_at:
                raise invalid_fields("Extension refused", [
                    ("new_due_at", "must be later than the current due time")])
            try:
                timekeeper.extend(ctx, uow, row, new_due_at=body.new_due_at,
                                  reason_code=body.reason_code,
                                  approved_by_role=str(principal.role))
            except timekeeper.ClockNotOpen:
                raise ProblemHTTPException(409, "Clock ended",
                                           f"Clock {clock_id} is {row.status}.") from None
            audit(uow.session, principal=principal, action=AuditAction.WRITE,
                  resource="sla_clock", resource_id=clock_id, at=ctx.clock.now(),
                  case_reference=row.case_reference, partnership=row.partnership)
            try:
                uow.commit()
            except StaleDataError:
                raise ProblemHTTPException(
                    409, "Clock changed", "The clock moved while the extension was being "
                    "approved (it fell due, or an event changed it). Look again and retry."
                    ) from None
            return _clock_view(row)

    return [api]


def _clock_view(row: ClockRow) -> dict[str, Any]:
    return {"clock_id": row.clock_id, "clock": row.clock, "case_reference": row.case_reference,
            "partnership": row.partnership, "brag": row.brag, "agency": row.agency,
            "status": row.status, "started_at": row.started_at.isoformat(),
            "due_at": row.due_at.isoformat(), "breached": row.breached,
            "ended_at": row.ended_at.isoformat() if row.ended_at else None}


class ExtensionIn(BaseModel):
    """An approved extension of a statutory timescale."""

    model_config = ConfigDict(extra="forbid")

    new_due_at: IsoDateTime
    reason_code: Literal["agreed_with_partners", "awaiting_partner_information",
                         "family_availability", "practitioner_availability",
                         "interpreter_required", "court_proceedings", "calendar_correction",
                         "other"]
