"""The conference pages (social workers, team managers, IROs): a case's conferences and
plans, the ICPC with its schedule and cancel forms, and a plan, on the strategy API."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mashcore.auth import Principal, Role
from workbench import conference_forms as forms
from workbench.apis import Apis, ApiUnavailable
from workbench.manager import conflict_or_problem

STRATEGY = "strategy"
# Who reads conferences (the strategy API's Readers) and who arranges them (Organiser).
READER_ROLES = (Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.IRO)
ORGANISER_ROLES = (Role.SOCIAL_WORKER, Role.TEAM_MANAGER)


def install(app: FastAPI, *, api: Apis, render: Callable[..., HTMLResponse],
            user_with: Callable[..., Any], form: Callable[..., Any], now: Callable[[], Any],
            ) -> None:
    """Add the conference routes to the workbench ``app``."""
    Reader = Annotated[tuple[Principal, str], Depends(user_with(*READER_ROLES))]
    Organiser = Annotated[tuple[Principal, str], Depends(user_with(*ORGANISER_ROLES))]

    def not_found(request: Request, user: tuple[Principal, str], what: str) -> Response:
        return render(request, "error.html", 404, principal=user[0],
                      title=f"{what} not found",
                      message="It does not exist or is not yours to see.")

    async def read(path: str, token: str) -> Any:
        """The API's answer body, or None for a 403/404 (the standard page)."""
        answer = await api.get(STRATEGY, path, token)
        if answer.status in (403, 404):
            return None
        if not answer.ok:
            raise ApiUnavailable(STRATEGY)
        return answer.body

    @app.get("/cases/{reference}/conferences", response_class=HTMLResponse)
    async def case_conferences(request: Request, reference: str, user: Reader) -> Response:
        conferences = await read(f"/v1/cases/{reference}/conferences", user[1])
        plans = await read(f"/v1/cases/{reference}/plans", user[1])
        if conferences is None or plans is None:
            return not_found(request, user, "Case")
        return render(request, "conference_case.html", principal=user[0],
                      reference=reference, rows=forms.conference_rows(conferences, now()),
                      plans=plans, status_words=forms.status_words)

    async def icpc_page(request: Request, user: tuple[Principal, str], meeting_id: str,
                        status: int = 200, **context: Any) -> Response:
        conference = await read(f"/v1/conferences/{meeting_id}", user[1])
        if conference is None:
            return not_found(request, user, "Conference")
        context.setdefault("values", forms.schedule_values(conference))
        return render(request, "conference_icpc.html", status, principal=user[0],
                      conference=conference, cancel_reasons=forms.CANCEL_REASONS,
                      formats=forms.FORMATS, status_words=forms.status_words,
                      may_organise=user[0].role in ORGANISER_ROLES,
                      sent=request.query_params.get("sent"), **context)

    @app.get("/conferences/{meeting_id}", response_class=HTMLResponse)
    async def icpc(request: Request, meeting_id: str, user: Reader) -> Response:
        return await icpc_page(request, user, meeting_id)

    async def act(request: Request, user: tuple[Principal, str], meeting_id: str,
                  action: str, body: dict[str, Any], fields: dict[str, str],
                  names: tuple[str, ...]) -> Response:
        answer = await api.post(STRATEGY, f"/v1/conferences/{meeting_id}/{action}",
                                user[1], body)
        if answer.ok:
            return RedirectResponse(f"/conferences/{meeting_id}?sent={action}",
                                    status_code=303)
        if answer.status in (403, 404):
            return not_found(request, user, "Conference")
        errors = conflict_or_problem(answer.status, answer.problem, names, STRATEGY)
        return await icpc_page(request, user, meeting_id,
                               409 if answer.status in (409, 412) else 422,
                               form=action, values=fields, errors=errors)

    @app.post("/conferences/{meeting_id}/schedule")
    async def schedule(request: Request, meeting_id: str, user: Organiser) -> Response:
        fields = await form(request)
        return await act(request, user, meeting_id, "schedule", forms.schedule_body(fields),
                         fields, forms.SCHEDULE_FIELDS)

    @app.post("/conferences/{meeting_id}/cancel")
    async def cancel(request: Request, meeting_id: str, user: Organiser) -> Response:
        fields = await form(request)
        return await act(request, user, meeting_id, "cancel", forms.cancel_body(fields),
                         fields, forms.CANCEL_FIELDS)

    @app.get("/plans/{plan_id}", response_class=HTMLResponse)
    async def plan(request: Request, plan_id: str, user: Reader) -> Response:
        body = await read(f"/v1/plans/{plan_id}", user[1])
        if body is None:
            return not_found(request, user, "Plan")
        return render(request, "conference_plan.html", principal=user[0], plan=body,
                      categories=forms.CATEGORIES, status_words=forms.status_words)
