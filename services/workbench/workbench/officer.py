"""The information officer's pages: the rating queue, the case page and the rating form."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mashcore.auth import Principal, Role
from workbench import questions, views
from workbench.apis import Apis, ApiUnavailable

GATE_FIELDS = ("outcome", "rationale")
GATE_EXITS: dict[str, str] = {
    "returned_to_referrer": "Return to the referrer to discuss with the family",
    "early_help_hub": "Forward to the Early Help Hub (a team manager must agree)",
    "closed": "Close (a team manager must agree)",
}


def install(app: FastAPI, *, api: Apis, render: Callable[..., HTMLResponse],
            user_with: Callable[..., Any], form: Callable[..., Any], now: Callable[[], Any],
            ) -> None:
    """Add the information officer's routes to the workbench ``app``."""
    from typing import Annotated

    from fastapi import Depends

    Officer = Annotated[tuple[Principal, str], Depends(user_with(Role.INFORMATION_OFFICER))]
    Staff = Annotated[tuple[Principal, str], Depends(user_with(Role.INFORMATION_OFFICER,
                                                               Role.TEAM_MANAGER))]

    @app.get("/officer", response_class=HTMLResponse)
    async def rating_queue(request: Request, user: Officer) -> Response:
        answer = await api.get("triage", "/v1/queues/rating", user[1])
        if not answer.ok:
            raise ApiUnavailable("triage")
        return render(request, "officer_queue.html", principal=user[0],
                      rows=views.case_rows(answer.body, now()))

    async def case_page(request: Request, user: tuple[Principal, str], reference: str,
                        status: int = 200, **context: Any) -> Response:
        answer = await api.get("triage", f"/v1/cases/{reference}", user[1])
        if answer.status == 404:
            return render(request, "error.html", 404, principal=user[0],
                          title="Case not found", message="It does not exist or is not yours.")
        if not answer.ok:
            raise ApiUnavailable("triage")
        pack = (await app.state.team_manager_policy(user[1])
                if user[0].role == Role.TEAM_MANAGER else None)
        return render(request, "case.html", status, principal=user[0], case=answer.body,
                      pack=pack, gate_exits=GATE_EXITS,
                      brag_tags=views.BRAG_TAGS, sent=request.query_params.get("sent"),
                      **context)

    app.state.case_page = case_page  # the manager's decision form re-renders it

    @app.get("/cases/{reference}", response_class=HTMLResponse)
    async def case(request: Request, reference: str, user: Staff) -> Response:
        return await case_page(request, user, reference)

    @app.post("/cases/{reference}/consent-gate")
    async def consent_gate(request: Request, reference: str, user: Officer) -> Response:
        fields = await form(request)
        body = {k: fields[k] for k in GATE_FIELDS if fields.get(k, "").strip()}
        answer = await api.post("triage", f"/v1/cases/{reference}/consent-gate", user[1], body)
        if answer.ok:
            return RedirectResponse(f"/cases/{reference}?sent=consent_gate", status_code=303)
        if answer.status in (409, 412):
            errors = {"": "Someone else acted on this case first. Reload the page to see "
                          "it; what you typed is kept below."}
        elif answer.status in (400, 422):
            errors = views.field_errors(answer.problem, questions.CONSENT_GATE)
        else:
            raise ApiUnavailable("triage")
        return await case_page(request, user, reference, 409 if answer.status in (409, 412)
                               else 422, values=fields, errors=errors, gate_form=True)

    @app.post("/cases/{reference}/rating")
    async def rate(request: Request, reference: str, user: Officer) -> Response:
        fields = await form(request)
        body: dict[str, Any] = {}
        if fields.get("brag"):
            body["brag"] = fields["brag"]
        if fields.get("safeguarding_concerns") in ("yes", "no"):
            body["safeguarding_concerns"] = fields["safeguarding_concerns"] == "yes"
        if fields.get("rationale", "").strip():
            body["rationale"] = fields["rationale"]
        answer = await api.post("triage", f"/v1/cases/{reference}/rating", user[1], body)
        if answer.ok:
            return RedirectResponse(f"/cases/{reference}?sent=rating", status_code=303)
        if answer.status in (409, 412):
            errors = {"": "Someone else acted on this case first. Reload the page to see "
                          "it; what you typed is kept below."}
        elif answer.status in (400, 422):
            errors = views.field_errors(answer.problem, questions.RATING)
        else:
            raise ApiUnavailable("triage")
        return await case_page(request, user, reference, 409 if answer.status in (409, 412)
                               else 422, values=fields, errors=errors)
