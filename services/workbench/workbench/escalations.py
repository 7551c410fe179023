"""The escalation pages (DOMAIN.md §7, §8; [003]): professional disagreements, on the
strategy service's public API. Whoever a stage was escalated to finds it under
"Escalations" (team managers, navigators acting for a partner agency's senior staff, IROs
where the partnership's ladder lets them answer) and answers it; whoever raised it takes an
unresolved answer to the next stage; a hub practitioner raises one from a case's page.

Who may do what is the API's: the pages offer each form only where the API would take it,
and show its refusals (a problem by the field, a lost race as "reload", a 403 or 404 as the
standard page). URLs carry escalation ids and case references only.
"""

from collections.abc import Callable, Mapping
from typing import Annotated, Any, get_args

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mashcore.auth import Principal, Role
from mashcore.policy.model import AnsweringTokenRole
from workbench import escalation_forms as ef
from workbench import strategy_forms as sf
from workbench import views
from workbench.apis import ApiAnswer, Apis, ApiUnavailable
from workbench.strategy import CONFLICT

SERVICE = "strategy"
ANSWERER_ROLES = tuple(Role(role) for role in get_args(AnsweringTokenRole))
"""The token roles that may answer a stage on some ladder (the strategy API's list is for
them only): the navigation shows "Escalations" to them."""
RAISER_ROLES = (Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.NAVIGATOR,
                Role.INFORMATION_OFFICER, Role.IRO)
"""Who the strategy API lets raise a disagreement (its ``Professional``)."""
READER_ROLES = (*RAISER_ROLES, Role.BUSINESS_SUPPORT)
"""Who may open an escalation page: the API shows it to social care staff and to whoever
raised or answers it (404 otherwise)."""

User = tuple[Principal, str]


class EscalationRefused(Exception):
    """The API answered 403 or 404: the standard page, not the form."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def refusal_page(render: Callable[..., HTMLResponse], request: Request,
                 principal: Principal | None, status: int) -> HTMLResponse:
    """The standard 403 or 404 page for a disagreement."""
    if status == 403:
        return render(request, "error.html", 403, principal=principal,
                      title="This is not yours to do",
                      message="Only the person a stage was escalated to answers it, with a "
                              "role the partnership's ladder allows; only whoever raised a "
                              "disagreement escalates it.")
    return render(request, "error.html", 404, principal=principal, title="Page not found",
                  message="It does not exist or is not for you to see.")


def refused_form(answer: ApiAnswer, form: Mapping[str, Any]) -> tuple[int, dict[str, str]]:
    """A refused form's status and errors: a lost race asks for a reload (what was typed is
    kept); a problem is shown by the field; 403/404 is the standard page; anything else,
    the service is down."""
    if answer.status in (409, 412):
        detail = str(answer.problem.get("detail") or "")
        return 409, {"": f"{CONFLICT} {detail}".strip()}
    if answer.status in (400, 422):
        return 422, ef.errors(answer.problem, form)
    if answer.status in (403, 404):
        raise EscalationRefused(answer.status)
    raise ApiUnavailable(SERVICE)


def install(app: FastAPI, *, api: Apis, render: Callable[..., HTMLResponse],
            user_with: Callable[..., Any], form: Callable[..., Any], now: Callable[[], Any],
            ) -> None:
    """Add the escalation routes to the workbench ``app``."""
    Answerer = Annotated[User, Depends(user_with(*ANSWERER_ROLES))]
    Raiser = Annotated[User, Depends(user_with(*RAISER_ROLES))]
    Reader = Annotated[User, Depends(user_with(*READER_ROLES))]

    @app.exception_handler(EscalationRefused)
    async def refused(request: Request, exc: EscalationRefused) -> Response:
        return refusal_page(render, request, getattr(request.state, "principal", None),
                            exc.status)

    def remember(request: Request, user: User) -> User:
        request.state.principal = user[0]
        return user

    async def read(path: str, token: str) -> Any:
        answer = await api.get(SERVICE, path, token)
        if answer.status in (403, 404):
            raise EscalationRefused(answer.status)
        if not answer.ok:
            raise ApiUnavailable(SERVICE)
        return answer.body

    @app.get("/escalations", response_class=HTMLResponse)
    async def waiting(request: Request, user: Answerer) -> Response:
        remember(request, user)
        entries = await read("/v1/escalations", user[1])
        return render(request, "escalation_list.html", principal=user[0],
                      rows=ef.waiting_rows(entries, now()), agencies=sf.AGENCIES, sf=sf)

    async def escalation_page(request: Request, user: User, escalation_id: str,
                              status: int = 200, form_name: str = "",
                              values: Mapping[str, str] | None = None,
                              errors: Mapping[str, str] | None = None) -> Response:
        remember(request, user)
        e = await read(f"/v1/escalations/{escalation_id}", user[1])
        principal = user[0]
        forms = ef.forms_for(e, principal.subject, principal.role in ANSWERER_ROLES)
        if form_name:
            forms[form_name] = True  # a refused form stays, with what was typed
        text, late = (views.time_left(str(e["due_at"]), now())
                      if e.get("status") == "awaiting_answer" else ("", False))
        return render(request, "escalation.html", status, principal=principal, e=e,
                      forms=forms, form_name=form_name, values=dict(values or {}),
                      errors=dict(errors or {}), time_left=text, late=late, ef=ef, sf=sf,
                      case_page=principal.role in (Role.TEAM_MANAGER,
                                                   Role.INFORMATION_OFFICER),
                      sent=request.query_params.get("sent"))

    @app.get("/escalations/{escalation_id}", response_class=HTMLResponse)
    async def escalation(request: Request, escalation_id: str, user: Reader) -> Response:
        return await escalation_page(request, user, escalation_id)

    async def act(request: Request, user: User, escalation_id: str, action: str,
                  body: Mapping[str, Any], fields: Mapping[str, str],
                  questions: Mapping[str, Any]) -> Response:
        remember(request, user)
        answer = await api.post(SERVICE, f"/v1/escalations/{escalation_id}/{action}",
                                user[1], dict(body))
        if answer.ok:
            return RedirectResponse(f"/escalations/{escalation_id}?sent={action}",
                                    status_code=303)
        status, errors = refused_form(answer, questions)
        return await escalation_page(request, user, escalation_id, status, action, fields,
                                     errors)

    @app.post("/escalations/{escalation_id}/answer")
    async def answer(request: Request, escalation_id: str, user: Answerer) -> Response:
        fields = await form(request)
        return await act(request, user, escalation_id, "answer", ef.answer_body(fields),
                         fields, ef.ANSWER)

    @app.post("/escalations/{escalation_id}/escalate")
    async def escalate(request: Request, escalation_id: str, user: Raiser) -> Response:
        fields = await form(request)
        return await act(request, user, escalation_id, "escalate", ef.escalate_body(fields),
                         fields, ef.ESCALATE)

    def raise_page(request: Request, user: User, reference: str, status: int = 200,
                   values: Mapping[str, str] | None = None,
                   errors: Mapping[str, str] | None = None) -> Response:
        remember(request, user)
        return render(request, "escalation_raise.html", status, principal=user[0],
                      reference=reference, values=dict(values or {}),
                      errors=dict(errors or {}), ef=ef, sf=sf,
                      case_page=user[0].role in (Role.TEAM_MANAGER, Role.INFORMATION_OFFICER))

    @app.get("/cases/{reference}/escalations/new", response_class=HTMLResponse)
    async def new_escalation(request: Request, reference: str, user: Raiser) -> Response:
        return raise_page(request, user, reference)

    @app.post("/cases/{reference}/escalations")
    async def raise_disagreement(request: Request, reference: str, user: Raiser) -> Response:
        remember(request, user)
        fields = await form(request)
        answer = await api.post(SERVICE, "/v1/escalations", user[1],
                                ef.raise_body(fields, reference))
        if answer.ok:
            return RedirectResponse(f"/escalations/{answer.body['escalation_id']}?sent=raise",
                                    status_code=303)
        status, errors = refused_form(answer, ef.RAISE)
        return raise_page(request, user, reference, status, fields, errors)
