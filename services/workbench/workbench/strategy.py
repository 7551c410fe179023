"""The strategy pages, for social workers, team managers and business support (DOMAIN.md §7):
the work list, a case's discussions and s47 enquiries, a discussion (schedule or reschedule,
cancel, record it held, sign off and circulate the minutes) and a child's s47 enquiry (the
social worker's outcome, the manager's agreement), all on the strategy service's public API.

Who may do what is the API's: the pages only offer each form to the roles the API takes it
from, and show the API's refusals (a problem by the field, a lost race as "reload", a 403 or
404 as the standard page).
"""

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mashcore.auth import Principal, Role
from mashcore.workingtime import WorkingCalendar
from workbench import questions, views
from workbench import strategy_forms as sf
from workbench.apis import ApiAnswer, Apis, ApiUnavailable

SERVICE = "strategy"
STRATEGY_ROLES = (Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.BUSINESS_SUPPORT)
"""Who the strategy API serves its lists to (children's social care staff): the
navigation shows "Strategy" to them only."""
ORGANISERS = STRATEGY_ROLES
CHAIRS = (Role.TEAM_MANAGER, Role.BUSINESS_SUPPORT)
CONFLICT = ("Someone else acted first, or the record is not ready for this. Reload the page "
            "to see it; what you typed is kept below.")

User = tuple[Principal, str]


class Refused(Exception):
    """The API answered 403 or 404: the standard page, not the form."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def refusal_page(render: Callable[..., HTMLResponse], request: Request,
                 principal: Principal | None, status: int) -> HTMLResponse:
    """The standard 403 or 404 page for a strategy record."""
    if status == 403:
        return render(request, "error.html", 403, principal=principal,
                      title="This is not yours to do",
                      message="Your role, or the part you played in this discussion, does "
                              "not allow it.")
    return render(request, "error.html", 404, principal=principal, title="Page not found",
                  message="It does not exist or is not for you to see.")


def form_errors(answer: ApiAnswer, names: questions.Form | tuple[str, ...],
                ) -> tuple[int, dict[str, str]]:
    """A refused form's status and errors: a lost race asks for a reload; a problem is
    shown by the field, worded for the form's questions (``names``); 403/404 is the
    standard page; anything else, the service is down."""
    if answer.status in (409, 412):
        detail = str(answer.problem.get("detail") or "")
        return 409, {"": f"{CONFLICT} {detail}".strip()}
    if answer.status in (400, 422):
        return 422, views.field_errors(answer.problem, names)
    if answer.status in (403, 404):
        raise Refused(answer.status)
    raise ApiUnavailable(SERVICE)


def install(app: FastAPI, *, api: Apis, render: Callable[..., HTMLResponse],
            user_with: Callable[..., Any], form: Callable[..., Any], now: Callable[[], Any],
            calendar: WorkingCalendar | None = None) -> None:
    """Add the strategy routes to the workbench ``app``."""
    calendar = calendar or WorkingCalendar.england()
    Staff = Annotated[User, Depends(user_with(*STRATEGY_ROLES))]

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return refusal_page(render, request, getattr(request.state, "principal", None),
                            exc.status)

    def remember(request: Request, user: User) -> User:
        request.state.principal = user[0]
        return user

    async def read(path: str, token: str) -> Any:
        answer = await api.get(SERVICE, path, token)
        if answer.status in (403, 404):
            raise Refused(answer.status)
        if not answer.ok:
            raise ApiUnavailable(SERVICE)
        return answer.body

    @app.get("/strategy", response_class=HTMLResponse)
    async def work_list(request: Request, user: Staff) -> Response:
        remember(request, user)
        entries = await read("/v1/strategy-discussions", user[1])
        return render(request, "strategy_list.html", principal=user[0],
                      rows=sf.discussion_rows(entries, now(), calendar),
                      urgencies=sf.URGENCIES)

    @app.get("/cases/{reference}/strategy", response_class=HTMLResponse)
    async def case_strategy(request: Request, reference: str, user: Staff) -> Response:
        remember(request, user)
        entries = await read(f"/v1/cases/{reference}/strategy-discussions", user[1])
        enquiries = await read(f"/v1/cases/{reference}/s47-enquiries", user[1])
        return render(request, "strategy_case.html", principal=user[0], reference=reference,
                      rows=sf.discussion_rows(entries, now(), calendar),
                      enquiries=enquiries, urgencies=sf.URGENCIES, statuses=sf.STATUSES,
                      s47_outcomes=sf.S47_OUTCOMES, next_steps=sf.NEXT_STEPS)

    async def discussion_page(request: Request, user: User, meeting_id: str,
                              status: int = 200, form_name: str = "",
                              values: Mapping[str, str] | None = None,
                              errors: Mapping[str, str] | None = None) -> Response:
        remember(request, user)
        d = await read(f"/v1/strategy-discussions/{meeting_id}", user[1])
        principal = user[0]
        role = principal.role
        forms = {
            "schedule": role in ORGANISERS and d["status"] in ("requested", "scheduled",
                                                               "cancelled"),
            "cancel": role in ORGANISERS and d["status"] == "scheduled",
            "held": role in CHAIRS and d["status"] == "scheduled",
            "sign_off": (role == Role.TEAM_MANAGER and d["status"] == "held"
                         and (d.get("schedule") or {}).get("chaired_by") == principal.subject),
            "circulate": role in CHAIRS and d["status"] == "minutes_signed_off",
        }
        if form_name:
            forms[form_name] = True  # a refused form stays, with what was typed
        starting = {"schedule": sf.schedule_values(d, principal.subject,
                                                   role == Role.TEAM_MANAGER),
                    "held": sf.held_values(d)}
        form_values = {name: dict(values) if name == form_name and values is not None
                       else starting.get(name, {}) for name in forms}
        form_errors_ = {name: dict(errors or {}) if name == form_name else {}
                        for name in forms}
        what, due = sf.deadline(d, calendar)
        text, late = views.time_left(due, now()) if due else ("", False)
        return render(request, "strategy_discussion.html", status, principal=principal,
                      d=d, forms=forms, values=form_values, form_errors=form_errors_,
                      errors=errors or {}, deadline_kind=what, deadline=sf.shown(due),
                      time_left=text, late=late, sf=sf, row_count=sf.row_count,
                      sent=request.query_params.get("sent"))

    @app.get("/strategy/discussions/{meeting_id}", response_class=HTMLResponse)
    async def discussion(request: Request, meeting_id: str, user: Staff) -> Response:
        return await discussion_page(request, user, meeting_id)

    async def act(request: Request, user: User, meeting_id: str, form_name: str,
                  action: str, body: Mapping[str, Any] | None, fields: Mapping[str, str],
                  names: questions.Form | tuple[str, ...]) -> Response:
        remember(request, user)
        answer = await api.post(SERVICE, f"/v1/strategy-discussions/{meeting_id}/{action}",
                                user[1], None if body is None else dict(body))
        if answer.ok:
            return RedirectResponse(f"/strategy/discussions/{meeting_id}?sent={form_name}",
                                    status_code=303)
        status, errors = form_errors(answer, names)
        return await discussion_page(request, user, meeting_id, status, form_name,
                                     fields, errors)

    @app.post("/strategy/discussions/{meeting_id}/schedule")
    async def schedule(request: Request, meeting_id: str, user: Staff) -> Response:
        fields = await form(request)
        return await act(request, user, meeting_id, "schedule", "schedule",
                         sf.schedule_body(fields), fields, sf.SCHEDULE)

    @app.post("/strategy/discussions/{meeting_id}/cancel")
    async def cancel(request: Request, meeting_id: str, user: Staff) -> Response:
        fields = await form(request)
        return await act(request, user, meeting_id, "cancel", "cancel",
                         sf.text_body(fields, "reason"), fields, sf.CANCEL)

    @app.post("/strategy/discussions/{meeting_id}/held")
    async def held(request: Request, meeting_id: str, user: Staff) -> Response:
        fields = await form(request)
        children = [int(n) for n in fields.get("child_numbers", "").split(",")
                    if n.strip().isdigit()]
        return await act(request, user, meeting_id, "held", "held",
                         sf.held_body(fields, children), fields, sf.HELD)

    @app.post("/strategy/discussions/{meeting_id}/minutes/sign-off")
    async def sign_off(request: Request, meeting_id: str, user: Staff) -> Response:
        fields = await form(request)
        return await act(request, user, meeting_id, "sign_off", "minutes/sign-off",
                         sf.text_body(fields, "minutes"), fields, sf.MINUTES)

    @app.post("/strategy/discussions/{meeting_id}/minutes/circulate")
    async def circulate(request: Request, meeting_id: str, user: Staff) -> Response:
        fields = await form(request)
        return await act(request, user, meeting_id, "circulate", "minutes/circulate", None,
                         fields, ())

    async def s47_page(request: Request, user: User, enquiry_id: str, status: int = 200,
                       form_name: str = "", values: Mapping[str, str] | None = None,
                       errors: Mapping[str, str] | None = None) -> Response:
        remember(request, user)
        enquiry = await read(f"/v1/s47-enquiries/{enquiry_id}", user[1])
        d = await read(f"/v1/strategy-discussions/{enquiry['strategy_meeting_id']}", user[1])
        child: Mapping[str, Any] = next((c for c in d.get("children") or []
                      if c.get("child_number") == enquiry["child_number"]), {})
        role = user[0].role
        forms = {"outcome": role == Role.SOCIAL_WORKER and enquiry["status"] == "open",
                 "agreement": (role == Role.TEAM_MANAGER
                               and enquiry["status"] == "awaiting_agreement")}
        if form_name:
            forms[form_name] = True
        return render(request, "strategy_s47.html", status, principal=user[0], s47=enquiry,
                      d=d, child=child, forms=forms, form_name=form_name,
                      values=dict(values or {}), errors=dict(errors or {}), sf=sf,
                      sent=request.query_params.get("sent"))

    @app.get("/strategy/s47-enquiries/{enquiry_id}", response_class=HTMLResponse)
    async def s47_enquiry(request: Request, enquiry_id: str, user: Staff) -> Response:
        return await s47_page(request, user, enquiry_id)

    async def decide(request: Request, user: User, enquiry_id: str, form_name: str,
                     body: Mapping[str, Any], fields: Mapping[str, str],
                     names: questions.Form) -> Response:
        remember(request, user)
        answer = await api.post(SERVICE, f"/v1/s47-enquiries/{enquiry_id}/{form_name}",
                                user[1], dict(body))
        if answer.ok:
            return RedirectResponse(f"/strategy/s47-enquiries/{enquiry_id}?sent={form_name}",
                                    status_code=303)
        status, errors = form_errors(answer, names)
        return await s47_page(request, user, enquiry_id, status, form_name, fields, errors)

    @app.post("/strategy/s47-enquiries/{enquiry_id}/outcome")
    async def outcome(request: Request, enquiry_id: str, user: Staff) -> Response:
        fields = await form(request)
        return await decide(request, user, enquiry_id, "outcome", sf.outcome_body(fields),
                            fields, sf.OUTCOME)

    @app.post("/strategy/s47-enquiries/{enquiry_id}/agreement")
    async def agreement(request: Request, enquiry_id: str, user: Staff) -> Response:
        fields = await form(request)
        return await decide(request, user, enquiry_id, "agreement", sf.agreement_body(fields),
                            fields, sf.AGREEMENT)
