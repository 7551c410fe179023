"""The conference pages (social workers, team managers, IROs): a case's conferences and
plans, the ICPC with its schedule and cancel forms, and a plan, on the strategy API."""

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mashcore.auth import Principal, Role
from workbench import conference_forms as forms
from workbench import questions
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
    Iro = Annotated[tuple[Principal, str], Depends(user_with(Role.IRO))]

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

    @app.get("/conferences", response_class=HTMLResponse)
    async def open_conferences(request: Request, user: Reader) -> Response:
        answer = await api.get(STRATEGY, "/v1/conferences", user[1], params={"held": "false"})
        if not answer.ok:
            raise ApiUnavailable(STRATEGY)
        rows = answer.body
        return render(request, "conference_list.html", principal=user[0],
                      rows=forms.conference_rows(rows, now()),
                      status_words=forms.status_words)

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
        context.setdefault("form", None)
        return render(request, "conference_icpc.html", status, principal=user[0],
                      conference=conference, cancel_reasons=forms.CANCEL_REASONS,
                      formats=forms.FORMATS, status_words=forms.status_words,
                      may_organise=user[0].role in ORGANISER_ROLES,
                      is_iro=user[0].role == Role.IRO, categories=forms.CATEGORIES,
                      yes_no=forms.YES_NO, child_field=forms.child_field,
                      sent=request.query_params.get("sent"), **context)

    @app.get("/conferences/{meeting_id}", response_class=HTMLResponse)
    async def icpc(request: Request, meeting_id: str, user: Reader) -> Response:
        return await icpc_page(request, user, meeting_id)

    async def act(request: Request, user: tuple[Principal, str], meeting_id: str,
                  action: str, body: dict[str, Any], fields: dict[str, str],
                  names: questions.Form | tuple[str, ...]) -> Response:
        answer = await api.post(STRATEGY, f"/v1/conferences/{meeting_id}/{action}",
                                user[1], body)
        if answer.ok:
            sent = "report" if action.startswith("reports/") else action
            return RedirectResponse(f"/conferences/{meeting_id}?sent={sent}",
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
                         fields, forms.SCHEDULE)

    @app.post("/conferences/{meeting_id}/cancel")
    async def cancel(request: Request, meeting_id: str, user: Organiser) -> Response:
        fields = await form(request)
        return await act(request, user, meeting_id, "cancel", forms.cancel_body(fields),
                         fields, forms.CANCEL)

    @app.post("/conferences/{meeting_id}/reports/{agency}/received")
    async def report_received(request: Request, meeting_id: str, agency: str,
                              user: Organiser) -> Response:
        await form(request)
        return await act(request, user, meeting_id, f"reports/{agency}/received", {}, {},
                         ())

    async def ticked(request: Request) -> dict[str, Any]:
        """The form (CSRF checked) with every value of a repeated field (checkboxes)."""
        fields: dict[str, Any] = await form(request)
        for name, values in parse_qs((await request.body()).decode()).items():
            if len(values) > 1:
                fields[name] = values
        return fields

    @app.post("/conferences/{meeting_id}/held")
    async def held(request: Request, meeting_id: str, user: Iro) -> Response:
        fields = await ticked(request)
        conference = await read(f"/v1/conferences/{meeting_id}", user[1])
        if conference is None:
            return not_found(request, user, "Conference")
        children = list(conference["child_numbers"])
        answer = await api.post(STRATEGY, f"/v1/conferences/{meeting_id}/held", user[1],
                                forms.held_body(fields, children))
        if answer.ok:
            return RedirectResponse(f"/conferences/{meeting_id}?sent=held", status_code=303)
        if answer.status in (403, 404):
            return not_found(request, user, "Conference")
        errors = (forms.held_errors(answer.problem, children) if answer.status in (400, 422)
                  else conflict_or_problem(answer.status, answer.problem, (), STRATEGY))
        return await icpc_page(request, user, meeting_id,
                               409 if answer.status in (409, 412) else 422,
                               form="held", values=fields, errors=errors)

    async def plan_page(request: Request, user: tuple[Principal, str], plan_id: str,
                        status: int = 200, **context: Any) -> Response:
        body = await read(f"/v1/plans/{plan_id}", user[1])
        if body is None:
            return not_found(request, user, "Plan")
        context.setdefault("values", {})
        context.setdefault("form", None)
        return render(request, "conference_plan.html", status, principal=user[0], plan=body,
                      categories=forms.CATEGORIES, status_words=forms.status_words,
                      formats=forms.FORMATS, may_organise=user[0].role in ORGANISER_ROLES,
                      copy_forms=forms.COPY_FORMS,
                      sent=request.query_params.get("sent"), **context)

    @app.get("/plans/{plan_id}", response_class=HTMLResponse)
    async def plan(request: Request, plan_id: str, user: Reader) -> Response:
        return await plan_page(request, user, plan_id)

    async def post_form(request: Request, user: tuple[Principal, str], path: str,
                        body: dict[str, Any], done: str, names: questions.Form,
                        again: Callable[..., Any], what: str, form_name: str,
                        fields: dict[str, Any], prefix: str = "") -> Response:
        """POST ``body``; on success go to ``done`` (the new meeting's id filled in);
        otherwise ``again`` shows the page with the input kept and the API's problem worded
        for the form's questions (``names``)."""
        answer = await api.post(STRATEGY, path, user[1], body)
        if answer.ok:
            meeting = answer.body.get("meeting_id", "") if isinstance(answer.body, dict) else ""
            return RedirectResponse(done.format(meeting=meeting), status_code=303)
        if answer.status in (403, 404):
            return not_found(request, user, what)
        errors = {(f"{prefix}{key}" if key else key): message for key, message in
                  conflict_or_problem(answer.status, answer.problem, names, STRATEGY).items()}
        page: Response = await again(409 if answer.status in (409, 412) else 422,
                                     form=form_name, values=fields, errors=errors)
        return page

    @app.post("/plans/{plan_id}/core-groups")
    async def arrange_core_group(request: Request, plan_id: str, user: Organiser) -> Response:
        fields = forms.unprefixed(await form(request), "core_group-")
        return await post_form(
            request, user, f"/v1/plans/{plan_id}/core-groups",
            forms.arranged_body(fields, forms.CORE_GROUP_SCHEDULE_FIELDS),
            "/core-groups/{meeting}?sent=schedule", forms.CORE_GROUP_SCHEDULE,
            lambda status, **c: plan_page(request, user, plan_id, status, **c), "Plan",
            "core_group", fields, prefix="core_group-")

    @app.post("/plans/{plan_id}/reviews")
    async def arrange_review(request: Request, plan_id: str, user: Organiser) -> Response:
        fields = forms.unprefixed(await form(request), "review-")
        return await post_form(
            request, user, f"/v1/plans/{plan_id}/reviews",
            forms.arranged_body(fields, forms.REVIEW_SCHEDULE_FIELDS),
            "/review-conferences/{meeting}?sent=schedule", forms.REVIEW_SCHEDULE,
            lambda status, **c: plan_page(request, user, plan_id, status, **c), "Plan",
            "review", fields, prefix="review-")

    @app.post("/plans/{plan_id}/copy-given-to-child")
    async def copy_given(request: Request, plan_id: str, user: Organiser) -> Response:
        fields = forms.unprefixed(await form(request), "copy-")
        return await post_form(
            request, user, f"/v1/plans/{plan_id}/copy-given-to-child", forms.copy_body(fields),
            f"/plans/{plan_id}?sent=copy", forms.COPY,
            lambda status, **c: plan_page(request, user, plan_id, status, **c), "Plan",
            "copy", fields, prefix="copy-")

    async def meeting_page(request: Request, user: tuple[Principal, str], kind: str,
                           meeting_id: str, status: int = 200, **context: Any) -> Response:
        path = "core-groups" if kind == "core_group" else "review-conferences"
        body = await read(f"/v1/{path}/{meeting_id}", user[1])
        if body is None:
            return not_found(request, user, "Meeting")
        context.setdefault("values", {})
        context.setdefault("form", None)
        return render(request, f"conference_{kind}.html", status, principal=user[0],
                      meeting=body, categories=forms.CATEGORIES,
                      cancel_reasons=forms.CANCEL_REASONS,
                      may_organise=user[0].role in ORGANISER_ROLES,
                      decisions=forms.REVIEW_DECISIONS, status_words=forms.status_words,
                      sent=request.query_params.get("sent"), **context)

    @app.get("/core-groups/{meeting_id}", response_class=HTMLResponse)
    async def core_group(request: Request, meeting_id: str, user: Reader) -> Response:
        return await meeting_page(request, user, "core_group", meeting_id)

    @app.post("/core-groups/{meeting_id}/held")
    async def core_group_held(request: Request, meeting_id: str, user: Organiser) -> Response:
        fields = await form(request)
        return await post_form(
            request, user, f"/v1/core-groups/{meeting_id}/held",
            forms.core_group_held_body(fields), f"/core-groups/{meeting_id}?sent=held",
            forms.CORE_GROUP_HELD,
            lambda status, **c: meeting_page(request, user, "core_group", meeting_id, status,
                                             **c), "Meeting", "held", fields)

    @app.post("/core-groups/{meeting_id}/minutes")
    async def core_group_minutes(request: Request, meeting_id: str,
                                 user: Organiser) -> Response:
        fields = await form(request)
        return await post_form(
            request, user, f"/v1/core-groups/{meeting_id}/minutes",
            {"minutes": fields.get("minutes", "")}, f"/core-groups/{meeting_id}?sent=minutes",
            forms.MINUTES,
            lambda status, **c: meeting_page(request, user, "core_group", meeting_id, status,
                                             **c), "Meeting", "minutes", fields)

    @app.get("/review-conferences/{meeting_id}", response_class=HTMLResponse)
    async def review(request: Request, meeting_id: str, user: Reader) -> Response:
        return await meeting_page(request, user, "review", meeting_id)

    @app.post("/review-conferences/{meeting_id}/held")
    async def review_held(request: Request, meeting_id: str, user: Iro) -> Response:
        fields = await ticked(request)
        return await post_form(
            request, user, f"/v1/review-conferences/{meeting_id}/held",
            forms.review_held_body(fields), f"/review-conferences/{meeting_id}?sent=held",
            forms.REVIEW_HELD,
            lambda status, **c: meeting_page(request, user, "review", meeting_id, status,
                                             **c), "Meeting", "held", fields)

    async def cancel_meeting(request: Request, user: tuple[Principal, str], kind: str,
                             path: str, meeting_id: str) -> Response:
        fields = await form(request)
        return await post_form(
            request, user, f"/v1/{path}/{meeting_id}/cancel", forms.cancel_body(fields),
            f"/{path}/{meeting_id}?sent=cancel", forms.CANCEL,
            lambda status, **c: meeting_page(request, user, kind, meeting_id, status, **c),
            "Meeting", "cancel", fields)

    @app.post("/core-groups/{meeting_id}/cancel")
    async def cancel_core_group(request: Request, meeting_id: str,
                                user: Organiser) -> Response:
        return await cancel_meeting(request, user, "core_group", "core-groups", meeting_id)

    @app.post("/review-conferences/{meeting_id}/cancel")
    async def cancel_review(request: Request, meeting_id: str, user: Organiser) -> Response:
        return await cancel_meeting(request, user, "review", "review-conferences",
                                    meeting_id)
