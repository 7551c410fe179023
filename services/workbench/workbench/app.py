"""The workbench's web app: sign-in, the frame, and the navigator's pages.

Server-rendered (Jinja2, GOV.UK Frontend served from this app: no CDN); every page is read
from the owning service's API with the user's own bearer token. Forms work without
JavaScript; the queue refreshes itself with a small script when JavaScript runs.
"""

# No `from __future__ import annotations`: the routes' Annotated aliases are local.

import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic_settings import BaseSettings, SettingsConfigDict

from mashcore.auth import AuthError, Principal, Role, TokenVerifier
from mashcore.clock import Clock, SystemClock
from mashcore.settings import SERVICE_PORTS, Settings
from workbench import (
    conferences,
    escalations,
    manager,
    officer,
    oidc,
    questions,
    session,
    strategy,
    views,
)
from workbench.apis import Apis, ApiUnavailable

log = structlog.get_logger(__name__)
HERE = Path(__file__).parent
WORKBENCH_PORT = 8007
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PASSIVE_PATHS = frozenset({"/navigator/queue"})  # fetched by the page itself: not use


class WorkbenchSettings(BaseSettings):
    """``MASH_WORKBENCH_*``: the session secret and where the services' APIs are."""

    model_config = SettingsConfigDict(env_prefix="MASH_WORKBENCH_", extra="ignore")

    # Signs the session cookie. Unset: a random secret per process (development; sessions
    # end at restart). Several replicas must share one, from a Kubernetes Secret.
    session_secret: str | None = None
    intake_url: str = f"http://127.0.0.1:{SERVICE_PORTS['intake']}"
    triage_url: str = f"http://127.0.0.1:{SERVICE_PORTS['triage']}"
    enquiries_url: str = f"http://127.0.0.1:{SERVICE_PORTS['mash-enquiries']}"
    strategy_url: str = f"http://127.0.0.1:{SERVICE_PORTS['strategy']}"
    # None: Secure cookies unless the browser is on a loopback address (development).
    cookie_secure: bool | None = None
    refresh_seconds: int = 5
    # Production sign-in (OIDC authorization code + PKCE). No issuer: the development page
    # where a `mash-token` is pasted. The redirect URL defaults to this app's /callback.
    oidc_issuer: str | None = None
    oidc_client_id: str = "mash-workbench"
    oidc_client_secret: str | None = None
    oidc_redirect_url: str | None = None
    oidc_scope: str = "openid"
    # Where the issuer sends the browser after signing out (RP-initiated logout): registered
    # with the issuer, never taken from a request. Default: this app's /signed-out.
    oidc_post_logout_redirect_url: str | None = None
    # Session policy: signed out after this long without using a page, and this long after
    # signing in whatever happens (one working shift; the live queue's refresh is not use).
    session_idle_minutes: int = 30
    session_max_hours: int = 10

    def api_urls(self) -> dict[str, str]:
        return {"intake": self.intake_url, "triage": self.triage_url,
                "mash-enquiries": self.enquiries_url, "strategy": self.strategy_url}


def workbench_for(settings: Settings, port_offset: int = 0) -> FastAPI:
    """The workbench `mash run` serves next to the services, on their ports (+ offset)."""
    wb = WorkbenchSettings()
    defaults = WorkbenchSettings.model_fields
    urls = {"intake_url": "intake", "triage_url": "triage", "enquiries_url": "mash-enquiries",
            "strategy_url": "strategy"}
    for field, service in urls.items():
        if getattr(wb, field) == defaults[field].default:  # not set in the environment
            port = SERVICE_PORTS[service] + port_offset
            setattr(wb, field, f"http://127.0.0.1:{port}")
    return create_workbench(settings, wb)


def serve_workbench(settings: Settings, port: int | None) -> int:
    """`mash workbench`: the pages alone (a container of their own), until SIGTERM."""
    import uvicorn

    from mashcore.cli import server_config
    from mashcore.logging import configure_logging

    configure_logging("workbench", level=settings.log_level, json=settings.log_json)
    server = uvicorn.Server(server_config(create_workbench(settings), settings.host,
                                          port or WORKBENCH_PORT))
    server.run()
    return 0 if server.started else 3  # as uvicorn.run exits when start-up fails


class NotSignedIn(Exception):
    """No valid session: the user is sent to the sign-in page."""


class SessionExpired(Exception):
    """The session was idle too long or has lasted too long: it is cleared and said so."""


class WrongRole(Exception):
    """Signed in, but the page is for another role."""


class CsrfRefused(Exception):
    """A form posted without the matching CSRF token."""


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]))
    env.globals["decline_reasons"] = views.DECLINE_REASONS
    # The service navigation: (label, path, roles it is for); each page module adds its own.
    env.globals["nav_links"] = [("Strategy", "/strategy", strategy.STRATEGY_ROLES),
                                ("Conferences", "/conferences", conferences.READER_ROLES),
                                ("Escalations", "/escalations", escalations.ANSWERER_ROLES)]
    env.globals["conference_roles"] = conferences.READER_ROLES
    env.globals["escalation_answerer_roles"] = escalations.ANSWERER_ROLES
    env.globals["escalation_raiser_roles"] = escalations.RAISER_ROLES
    return env


def create_workbench(settings: Settings, wb: WorkbenchSettings | None = None, *,
                     verifier: TokenVerifier | None = None, apis: Apis | None = None,
                     clock: Clock | None = None) -> FastAPI:
    """The workbench app; ``apis`` defaults to HTTP clients for ``wb``'s URLs."""
    from mashcore.service import verifier_from

    wb = wb or WorkbenchSettings()
    verifier = verifier or verifier_from(settings)
    clock = clock or SystemClock()
    owned = apis is None
    api = apis or Apis.from_urls(wb.api_urls())
    env = _templates()
    secret = wb.session_secret or secrets.token_urlsafe(32)
    lifetime = session.Lifetime(idle=timedelta(minutes=wb.session_idle_minutes),
                                absolute=timedelta(hours=wb.session_max_hours))
    login = (oidc.OidcLogin(wb.oidc_issuer, wb.oidc_client_id, wb.oidc_client_secret,
                            scope=wb.oidc_scope) if wb.oidc_issuer else None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            await api.aclose()

    app = FastAPI(title="MASH workbench", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.mount("/assets", StaticFiles(directory=HERE / "static" / "govuk" / "assets"),
              name="assets")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def secure(request: Request) -> bool:
        if wb.cookie_secure is not None:
            return wb.cookie_secure
        return (request.url.hostname or "") not in LOOPBACK

    def render(request: Request, name: str, status: int = 200,
               principal: Principal | None = None, **context: Any) -> HTMLResponse:
        csrf = request.cookies.get(session.CSRF_COOKIE) or session.new_csrf_token()
        html = env.get_template(name).render(principal=principal, csrf_token=csrf,
                                             csrf_field=session.CSRF_FIELD, **context)
        response = HTMLResponse(html, status_code=status)
        if request.cookies.get(session.CSRF_COOKIE) != csrf:
            response.set_cookie(session.CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                                secure=secure(request), path="/")
        return response

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; frame-ancestors 'none'; "
                                    "form-action 'self'; base-uri 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.url.path.startswith(("/assets", "/static")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(_request: Request, _exc: NotSignedIn) -> Response:
        return RedirectResponse("/sign-in", status_code=303)

    @app.exception_handler(SessionExpired)
    async def session_expired(_request: Request, _exc: SessionExpired) -> Response:
        response = RedirectResponse("/signed-out?reason=timeout", status_code=303)
        response.delete_cookie(session.SESSION_COOKIE, path="/")
        return response

    @app.middleware("http")
    async def keep_alive(request: Request, call_next: Any) -> Response:
        """A page used (not the live queue's refresh, not an asset) restarts the idle time."""
        response: Response = await call_next(request)
        current = session.Session.open(secret, request.cookies.get(session.SESSION_COOKIE))
        if (current is None or request.url.path in PASSIVE_PATHS
                or request.url.path.startswith(("/assets", "/static"))
                or lifetime.expired(current, clock.now())
                or any(h.startswith(f"{session.SESSION_COOKIE}=")
                       for h in response.headers.getlist("set-cookie"))):
            return response
        keep(request, response, replace(current, last_active=clock.now()))
        return response

    @app.exception_handler(WrongRole)
    async def wrong_role(request: Request, _exc: WrongRole) -> Response:
        return render(request, "error.html", 403, title="This page is not for your role",
                      message="Your role does not use this page.")

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _exc: CsrfRefused) -> Response:
        return render(request, "error.html", 403, title="Your form has expired",
                      message="Go back, reload the page and try again.")

    @app.exception_handler(ApiUnavailable)
    async def unavailable(request: Request, exc: ApiUnavailable) -> Response:
        log.warning("api unavailable", service=exc.service)
        response = render(request, "error.html", 503,
                          title="Sorry, the service is unavailable",
                          message="A part of the hub is not answering. Nothing you typed "
                                  "was sent. Try again in a few minutes.")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("workbench error", error=type(exc).__name__)  # no message: it may be personal
        return render(request, "error.html", 500,
                      title="Sorry, there is a problem with the service",
                      message="Try again later.")

    async def form(request: Request) -> dict[str, str]:
        parsed = parse_qs((await request.body()).decode(), keep_blank_values=True)
        fields = {key: values[0] for key, values in parsed.items()}
        if not session.csrf_ok(request.cookies.get(session.CSRF_COOKIE),
                               fields.get(session.CSRF_FIELD)):
            raise CsrfRefused
        return fields

    def signed_in(request: Request) -> tuple[Principal, str]:
        current = session.Session.open(secret, request.cookies.get(session.SESSION_COOKIE))
        if current is None:
            raise NotSignedIn
        if lifetime.expired(current, clock.now()):
            raise SessionExpired
        token = current.token
        try:
            return verifier.verify(token), token
        except AuthError as exc:
            raise NotSignedIn from exc

    User = Annotated[tuple[Principal, str], Depends(signed_in)]

    def navigator(user: User) -> tuple[Principal, str]:
        if user[0].role != Role.NAVIGATOR:
            raise WrongRole
        return user

    NavigatorUser = Annotated[tuple[Principal, str], Depends(navigator)]

    def user_with(*roles: Role) -> Any:
        def dependency(request: Request) -> tuple[Principal, str]:
            user = signed_in(request)
            if user[0].role not in roles:
                raise WrongRole
            return user
        return dependency

    for pages in (manager, officer, strategy, conferences, escalations):
        pages.install(app, api=api, render=render, user_with=user_with, form=form,
                      now=clock.now)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def keep(request: Request, response: Response, current: session.Session) -> None:
        response.set_cookie(session.SESSION_COOKIE, current.seal(secret),
                            httponly=True, samesite="strict", secure=secure(request), path="/")

    def start_session(request: Request, token: str, response: Response,
                      id_token: str | None = None) -> Response:
        now = clock.now()
        keep(request, response, session.Session(token, id_token, started=now, last_active=now))
        return response

    if login is not None:
        oidc.install(app, login, render=render, secure=secure, secret=secret,
                     verifier=verifier, start_session=start_session,
                     redirect_url=wb.oidc_redirect_url)
    else:
        @app.get("/sign-in", response_class=HTMLResponse)
        def sign_in_page(request: Request) -> Response:
            return render(request, "sign_in.html")

    @app.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        if login is not None:  # production: tokens come from the issuer, never pasted
            return render(request, "error.html", 404, title="Page not found",
                          message="Sign in through your organisation's login.")
        fields = await form(request)
        token = fields.get("token", "").strip()
        try:
            verifier.verify(token)
        except AuthError:
            return render(request, "sign_in.html", 400,
                          errors={"token": "Enter a valid, unexpired access token"})
        return start_session(request, token, RedirectResponse("/", status_code=303))

    @app.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        await form(request)
        current = session.Session.open(secret, request.cookies.get(session.SESSION_COOKIE))
        response: Response = RedirectResponse("/signed-out", status_code=303)
        if login is not None:  # end the issuer's session too (RP-initiated logout)
            response = await oidc.sign_out_at_issuer(
                login, request, secret=secret, id_token=current.id_token if current else None,
                post_logout_redirect_uri=(wb.oidc_post_logout_redirect_url
                                          or str(request.url_for("signed_out"))),
                secure=secure(request))
        response.delete_cookie(session.SESSION_COOKIE, path="/")
        return response

    @app.get("/signed-out", response_class=HTMLResponse, name="signed_out")
    def signed_out(request: Request) -> Response:
        query = request.query_params
        issuer = None
        if login is not None:
            issuer = query.get("issuer", "")
            if "state" in query:  # back from the issuer's end-session endpoint
                issuer = ("signed-out" if oidc.returned_from_issuer(
                    secret, request.cookies.get(oidc.SIGN_OUT_COOKIE), query["state"])
                    else "unconfirmed")
                if issuer == "unconfirmed":
                    log.warning("sign-out state mismatch")
        response = render(request, "signed_out.html", issuer=issuer,
                          timed_out=query.get("reason") == "timeout",
                          idle_minutes=wb.session_idle_minutes,
                          max_hours=wb.session_max_hours)
        # The session was cleared by the POST (or the timeout) that led here: a GET never
        # signs anyone out, so a link from another site cannot.
        response.delete_cookie(oidc.SIGN_OUT_COOKIE, path="/signed-out")
        return response

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request, user: User) -> Response:
        principal, _token = user
        if principal.role == Role.NAVIGATOR:
            return RedirectResponse("/navigator", status_code=303)
        if principal.role == Role.TEAM_MANAGER:
            return RedirectResponse("/manager", status_code=303)
        if principal.role == Role.INFORMATION_OFFICER:
            return RedirectResponse("/officer", status_code=303)
        if principal.role in (Role.SOCIAL_WORKER, Role.BUSINESS_SUPPORT):
            return RedirectResponse("/strategy", status_code=303)
        return render(request, "home.html", principal=principal)

    async def queue(token: str) -> list[dict[str, Any]]:
        answer = await api.get("mash-enquiries", "/v1/requests", token,
                               params={"status": "all"})
        if not answer.ok:
            raise ApiUnavailable("mash-enquiries")
        return views.queue_rows(answer.body, clock.now())

    @app.get("/navigator", response_class=HTMLResponse)
    async def navigator_queue(request: Request, user: NavigatorUser) -> Response:
        return render(request, "navigator_queue.html", principal=user[0],
                      rows=await queue(user[1]), refresh=wb.refresh_seconds)

    @app.get("/navigator/queue", response_class=HTMLResponse)
    async def navigator_queue_fragment(request: Request, user: NavigatorUser) -> Response:
        return render(request, "_queue.html", rows=await queue(user[1]))

    async def request_page(request: Request, user: tuple[Principal, str], request_id: str,
                           status: int = 200, **context: Any) -> Response:
        answer = await api.get("mash-enquiries", f"/v1/requests/{request_id}", user[1])
        if answer.status == 404:
            return render(request, "error.html", 404, principal=user[0],
                          title="Request not found",
                          message="It does not exist or is not for your agency.")
        if not answer.ok:
            raise ApiUnavailable("mash-enquiries")
        item = answer.body
        text, late = views.time_left(item["deadline"], clock.now())
        return render(request, "navigator_request.html", status, principal=user[0],
                      item=item, time_left=text, late=late or item.get("overdue"),
                      brag_tag=views.BRAG_TAGS.get(item["brag"], ""),
                      status_tag=views.STATUS_TAGS.get(item["status"], ""),
                      sent=request.query_params.get("sent"), **context)

    @app.get("/navigator/requests/{request_id}", response_class=HTMLResponse)
    async def navigator_request(request: Request, request_id: str,
                                user: NavigatorUser) -> Response:
        return await request_page(request, user, request_id)

    async def act(request: Request, user: tuple[Principal, str], request_id: str, action: str,
                  body: Mapping[str, Any], fields: dict[str, str],
                  names: questions.Form) -> Response:
        answer = await api.post("mash-enquiries", f"/v1/requests/{request_id}/{action}",
                                user[1], dict(body))
        if answer.ok:
            return RedirectResponse(f"/navigator/requests/{request_id}?sent={action}",
                                    status_code=303)
        if answer.status in (409, 412):
            errors = {"": "Someone else acted on this request first. Reload the page to see "
                          "it; what you typed is kept below."}
        elif answer.status in (400, 422):
            errors = views.field_errors(answer.problem, names)
        elif answer.status == 404:
            errors = {"": "This request is not yours to answer."}
        else:
            raise ApiUnavailable("mash-enquiries")
        return await request_page(request, user, request_id, 409 if answer.status in (
            409, 412) else 422, form=action, values=fields, errors=errors)

    @app.post("/navigator/requests/{request_id}/answer")
    async def navigator_answer(request: Request, request_id: str,
                               user: NavigatorUser) -> Response:
        fields = await form(request)
        body: dict[str, Any] = {"summary": fields.get("summary", ""),
                                "risk_indicators": views.lines(fields.get("risk_indicators",
                                                                          ""))}
        if fields.get("known") in ("yes", "no"):
            body["known"] = fields["known"] == "yes"
        return await act(request, user, request_id, "answer", body, fields,
                         questions.NAVIGATOR_ANSWER)

    @app.post("/navigator/requests/{request_id}/decline")
    async def navigator_decline(request: Request, request_id: str,
                                user: NavigatorUser) -> Response:
        fields = await form(request)
        body: dict[str, Any] = {"explanation": fields.get("explanation", "")}
        if fields.get("reason_code"):
            body["reason_code"] = fields["reason_code"]
        return await act(request, user, request_id, "decline", body, fields,
                         questions.NAVIGATOR_DECLINE)

    return app
