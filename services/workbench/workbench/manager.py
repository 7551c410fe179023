"""The team manager's pages: decisions, the threshold decision form, the MASH episode with
every agency's answer side by side, and the outcome form."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mashcore.auth import Principal, Role
from workbench import questions, views
from workbench.apis import Apis, ApiUnavailable

DECISION_FIELDS = ("level_code", "brag", "route", "rationale")
OUTCOME_FIELDS = ("outcome", "rationale")
OUTCOMES: dict[str, str] = {
    "nfa": "No further action",
    "information_and_advice": "Information and advice",
    "early_help": "Early help",
    "s17_assessment": "Child in need assessment (section 17)",
    "strategy_discussion": "Strategy discussion",
    "local_social_work_unit": "Local social work unit",
}


def install(app: FastAPI, *, api: Apis, render: Callable[..., HTMLResponse],
            user_with: Callable[..., Any], form: Callable[..., Any], now: Callable[[], Any],
            ) -> None:
    """Add the team manager's routes to the workbench ``app``."""
    Manager = Annotated[tuple[Principal, str], Depends(user_with(Role.TEAM_MANAGER))]

    async def fetch(service: str, path: str, token: str) -> Any:
        answer = await api.get(service, path, token)
        if not answer.ok:
            raise ApiUnavailable(service)
        return answer.body

    @app.get("/manager", response_class=HTMLResponse)
    async def decisions(request: Request, user: Manager) -> Response:
        cases = await fetch("triage", "/v1/queues/decisions", user[1])
        episodes = await fetch("mash-enquiries", "/v1/episodes", user[1])
        return render(request, "manager_queue.html", principal=user[0],
                      rows=views.case_rows(cases, now()), episodes=episodes,
                      brag_tags=views.BRAG_TAGS)

    async def policy(token: str) -> dict[str, Any]:
        """The partnership's own pack as triage exposes it: levels, and routes per BRAG."""
        pack = await fetch("triage", "/v1/policy", token)
        routes = list(dict.fromkeys(r for b in pack.get("brag", {}).values()
                                    for r in b.get("routes", [])))
        return {"levels": [(level["code"], level.get("name") or level["code"])
                           for level in pack.get("levels", [])],
                "routes": [(route, route.replace("_", " ").capitalize()) for route in routes]}

    app.state.team_manager_policy = policy  # the case page (officer.py) shows the form

    @app.post("/cases/{reference}/threshold-decision")
    async def decide(request: Request, reference: str, user: Manager) -> Response:
        fields = await form(request)
        body = {k: fields[k] for k in DECISION_FIELDS if fields.get(k, "").strip()}
        answer = await api.post("triage", f"/v1/cases/{reference}/threshold-decision",
                                user[1], body)
        if answer.ok:
            return RedirectResponse(f"/cases/{reference}?sent=threshold_decision",
                                    status_code=303)
        errors = conflict_or_problem(answer.status, answer.problem,
                                     questions.THRESHOLD_DECISION, "triage")
        page: Response = await app.state.case_page(
            request, user, reference, 409 if answer.status in (409, 412) else 422,
            values=fields, errors=errors)
        return page

    async def episode_page(request: Request, user: tuple[Principal, str], episode_id: str,
                           status: int = 200, **context: Any) -> Response:
        answer = await api.get("mash-enquiries", f"/v1/episodes/{episode_id}", user[1])
        if answer.status == 404:
            return render(request, "error.html", 404, principal=user[0],
                          title="Episode not found", message="It does not exist or is not yours.")
        if not answer.ok:
            raise ApiUnavailable("mash-enquiries")
        return render(request, "episode.html", status, principal=user[0], episode=answer.body,
                      outcomes=OUTCOMES, brag_tags=views.BRAG_TAGS,
                      status_tags=views.STATUS_TAGS, sent=request.query_params.get("sent"),
                      **context)

    @app.get("/episodes/{episode_id}", response_class=HTMLResponse)
    async def episode(request: Request, episode_id: str, user: Manager) -> Response:
        return await episode_page(request, user, episode_id)

    @app.post("/episodes/{episode_id}/outcome")
    async def outcome(request: Request, episode_id: str, user: Manager) -> Response:
        fields = await form(request)
        body = {k: fields[k] for k in OUTCOME_FIELDS if fields.get(k, "").strip()}
        answer = await api.post("mash-enquiries", f"/v1/episodes/{episode_id}/outcome",
                                user[1], body)
        if answer.ok:
            return RedirectResponse(f"/episodes/{episode_id}?sent=outcome", status_code=303)
        errors = conflict_or_problem(answer.status, answer.problem, questions.OUTCOME,
                                     "mash-enquiries")
        return await episode_page(request, user, episode_id,
                                  409 if answer.status in (409, 412) else 422,
                                  values=fields, errors=errors)


def conflict_or_problem(status: int, problem: Any,
                        fields: tuple[str, ...] | questions.Form,
                        service: str) -> dict[str, str]:
    """The errors to show for a refused form: a conflict asks for a reload."""
    if status in (409, 412):
        return {"": "Someone else acted first, or the record is not ready for this. Reload "
                    "the page to see it; what you typed is kept below. "
                    + str(problem.get("detail") or "")}
    if status in (400, 422):
        return views.field_errors(problem, fields)
    raise ApiUnavailable(service)
