"""The timekeeper's API: the ops dashboard page, its numbers, and the live stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from mashcore.auth import AuthError, Principal, Role, TokenVerifier, require_roles
from mashcore.problems import ProblemHTTPException, problem_responses
from mashcore.service import Context, ServiceContext
from sla_timekeeper import dashboard, live

PAGE = Path(__file__).parent / "static" / "dashboard.html"
Ops = Annotated[Principal, Depends(require_roles(Role.OPS, Role.TEAM_MANAGER))]
HEARTBEAT_SECONDS = 15.0


def _scope(principal: Principal) -> list[str] | None:
    """Ops see every partnership; a team manager their own."""
    if principal.role == Role.OPS:
        return None
    return [principal.partnership or "default"]


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
        breaches, warnings and met deadlines, breach rates. Case references only."""
        return dashboard.summary(ctx, _scope(principal))

    @api.get("/v1/dashboard/stream", tags=["dashboard"])
    async def stream(request: Request, ctx: Context,
                     access_token: Annotated[str, Query(min_length=1)]) -> StreamingResponse:
        """Server-Sent Events: a `summary` at once, then after every SLA event."""
        principal = _stream_principal(request, access_token)
        hub = live.broadcaster(ctx)

        async def events() -> AsyncIterator[str]:
            waiter = hub.subscribe()
            try:
                while not await request.is_disconnected():
                    waiter.clear()  # before reading, so nothing that follows is missed
                    data = await asyncio.to_thread(dashboard.summary, ctx, _scope(principal))
                    yield f"event: summary\ndata: {json.dumps(data)}\n\n"
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

    return [api]
