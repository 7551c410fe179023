"""Production sign-in to the workbench: OIDC authorization code with PKCE, over real HTTP.

The issuer is a local, protocol-shaped OpenID provider written for this test (discovery,
JWKS, an authorize endpoint that redirects straight back with a code, a token endpoint that
checks the PKCE verifier and client secret and issues RS256-signed tokens, an end-session
endpoint that checks the ID token hint and the registered post-logout address): not a real
IdP.
It and the workbench are each served by uvicorn on a loopback port; httpx walks the flow
following redirects. The workbench verifies the access token as the APIs do: against the
issuer's JWKS, with its issuer and the ``mash`` audience.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from mashcore.clock import FrozenClock
from mashcore.settings import Settings
from tests.support import eventually
from workbench import session
from workbench.app import WorkbenchSettings, create_workbench

CLIENT_ID = "mash-workbench"
CLIENT_SECRET = "workbench-client-secret"
SESSION_SECRET = "test-session-secret"
SOCIAL_WORKER = {"sub": "sw-1", "role": "social_worker", "agency": "local_authority",
                 "partnership": "coventry", "name": "Sam Worker"}


@dataclass
class Issuer:
    """A protocol-shaped OpenID provider; the test steers what it signs."""

    url: str = ""
    client_secret: str | None = CLIENT_SECRET  # None: a public client (PKCE alone)
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    signing_key: rsa.RSAPrivateKey | None = None  # None: the key the JWKS publishes
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    id_token_overrides: dict[str, Any] = field(default_factory=dict)
    access_token_overrides: dict[str, Any] = field(default_factory=dict)
    end_session: bool = True  # False: discovery names no end_session_endpoint
    post_logout_redirect_uris: set[str] = field(default_factory=set)  # registered
    signed_out: list[str] = field(default_factory=list)  # subjects whose session it ended

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.signing_key or self.key, algorithm="RS256",
                          headers={"kid": "k1"})

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                    **({"end_session_endpoint": f"{self.url}/logout"}
                       if self.end_session else {})}

        @app.get("/logout")
        def logout(request: Request) -> Any:
            # RP-Initiated Logout 1.0: the hint must be an ID token this issuer signed for
            # the client, and the return address one the client registered.
            params = dict(request.query_params)
            try:
                hint = jwt.decode(params.get("id_token_hint", ""), self.key.public_key(),
                                  algorithms=["RS256"], audience=CLIENT_ID,
                                  options={"verify_exp": False})
            except jwt.PyJWTError:
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            back = params.get("post_logout_redirect_uri", "")
            if back not in self.post_logout_redirect_uris or params.get(
                    "client_id") != CLIENT_ID:
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            self.signed_out.append(hint["sub"])
            query = urlencode({"state": params["state"]}) if "state" in params else ""
            return RedirectResponse(f"{back}?{query}", status_code=303)

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

        @app.get("/authorize")
        def authorize(request: Request) -> Any:
            params = dict(request.query_params)
            self.authorize_requests.append(params)
            if (params.get("response_type") != "code" or params.get("client_id") != CLIENT_ID
                    or params.get("code_challenge_method") != "S256"
                    or not params.get("code_challenge") or "openid" not in params["scope"]):
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = base64.urlsafe_b64encode(hashlib.sha256(
                str(len(self.codes)).encode() + params["state"].encode()).digest()).decode()
            self.codes[code] = params
            query = urlencode({"code": code, "state": params["state"]})
            return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=303)

        @app.post("/token")
        async def token(request: Request) -> Any:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            grant_type, code = form.get("grant_type"), form.get("code", "")
            redirect_uri, code_verifier = form.get("redirect_uri"), form.get("code_verifier", "")
            if self.client_secret is None:
                authenticated = (form.get("client_id") == CLIENT_ID
                                 and "authorization" not in request.headers)
            else:
                pair = f"{CLIENT_ID}:{self.client_secret}".encode()
                authenticated = request.headers.get("authorization") == (
                    f"Basic {base64.b64encode(pair).decode()}")
            if not authenticated:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            asked = self.codes.pop(code, None)  # a code is redeemed once
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(code_verifier.encode()).digest()).decode().rstrip("=")
            if (grant_type != "authorization_code" or asked is None
                    or asked["redirect_uri"] != redirect_uri
                    or asked["code_challenge"] != challenge):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            access = {**SOCIAL_WORKER, "iss": self.url, "aud": "mash", "iat": now,
                      "exp": now + 3600, **self.access_token_overrides}
            identity = {"sub": SOCIAL_WORKER["sub"], "iss": self.url, "aud": CLIENT_ID,
                        "iat": now, "exp": now + 300, "nonce": asked["nonce"],
                        **self.id_token_overrides}
            return {"access_token": self.sign(access), "id_token": self.sign(identity),
                    "token_type": "Bearer", "expires_in": 3600}

        return app


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port (the socket is bound first)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[str]:
    with serving(app) as url:
        async def up() -> bool:
            try:
                async with httpx.AsyncClient() as http:
                    await http.get(f"{url}/nowhere")
                return True
            except httpx.TransportError:
                return False
        await eventually(up, what="server listening")
        yield url


@asynccontextmanager
async def issuer_and_workbench(client_secret: str | None, *, end_session: bool = True,
                               clock: FrozenClock | None = None,
                               ) -> AsyncIterator[tuple[Issuer, str]]:
    issuer = Issuer(client_secret=client_secret, end_session=end_session)
    async with running(issuer.app()) as issuer_url:
        issuer.url = issuer_url
        settings = Settings(jwks_url=f"{issuer_url}/jwks", jwt_issuer=issuer_url,
                            jwt_audience="mash")
        wb = WorkbenchSettings(session_secret=SESSION_SECRET, oidc_issuer=issuer_url,
                               oidc_client_id=CLIENT_ID, oidc_client_secret=client_secret)
        async with running(create_workbench(settings, wb, clock=clock)) as workbench_url:
            issuer.post_logout_redirect_uris.add(f"{workbench_url}/signed-out")
            yield issuer, workbench_url


@pytest.fixture
async def system() -> AsyncIterator[tuple[Issuer, str]]:
    async with issuer_and_workbench(CLIENT_SECRET) as both:
        yield both


async def test_sign_in_walks_the_code_flow_and_keeps_the_access_token_in_the_session(
        system: tuple[Issuer, str]) -> None:
    issuer, workbench = system
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        page = await browser.get(f"{workbench}/sign-in")
        assert page.status_code == 200 and "You are signed in" in page.text
        assert [str(r.url).split("?")[0] for r in page.history] == [
            f"{workbench}/sign-in", f"{issuer.url}/authorize"]
        asked = issuer.authorize_requests[-1]
        assert asked["code_challenge_method"] == "S256"
        assert asked["state"] and asked["nonce"] and asked["redirect_uri"] == \
            f"{workbench}/callback"
        cookie = page.history[-1].cookies.get("wb_session") or browser.cookies["wb_session"]
        kept = session.Session.open(SESSION_SECRET, cookie)
        assert kept and kept.id_token
        access_token = kept.token
        assert access_token and jwt.decode(access_token, options={"verify_signature": False})[
            "role"] == "social_worker"
        set_cookie = [h for h in page.headers.get_list("set-cookie")
                      if h.startswith("wb_session=")]
        assert set_cookie and "HttpOnly" in set_cookie[0]
        # Signed in: a social worker's start page is the strategy work list (not sign-in).
        home = await browser.get(f"{workbench}/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/strategy"
        # Production takes tokens from the issuer only: the paste form is gone.
        assert (await browser.post(f"{workbench}/sign-in", data={"token": "x"})
                ).status_code == 404


async def test_a_callback_with_a_wrong_state_is_refused(system: tuple[Issuer, str]) -> None:
    issuer, workbench = system
    async with httpx.AsyncClient() as browser:
        to_issuer = await browser.get(f"{workbench}/sign-in")
        back = await browser.get(to_issuer.headers["location"])
        callback = urlsplit(back.headers["location"])
        query = parse_qs(callback.query)
        assert query["state"]
        forged = urlencode({"code": query["code"][0], "state": "forged-state"})
        refused = await browser.get(f"{workbench}/callback?{forged}")
        assert refused.status_code == 400
        assert "could not be signed in" in refused.text
        assert "wb_session" not in browser.cookies
        assert issuer.codes  # the code was never redeemed


@pytest.mark.parametrize("overrides", [
    {"id_token": {"nonce": "a-nonce-from-another-sign-in"}},
    {"id_token": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}},
    {"access_token": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}},
    {"id_token": {"aud": "another-client"}},
], ids=["wrong-nonce", "expired-id-token", "expired-access-token", "wrong-audience"])
async def test_a_token_that_fails_validation_signs_nobody_in(
        system: tuple[Issuer, str], overrides: dict[str, dict[str, Any]]) -> None:
    issuer, workbench = system
    issuer.id_token_overrides = overrides.get("id_token", {})
    issuer.access_token_overrides = overrides.get("access_token", {})
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        page = await browser.get(f"{workbench}/sign-in")
        assert page.url.path == "/callback"
        assert page.status_code == 400
        assert "could not be signed in" in page.text
        assert "wb_session" not in browser.cookies


async def test_an_id_token_signed_by_a_key_not_in_the_jwks_is_refused(
        system: tuple[Issuer, str]) -> None:
    issuer, workbench = system
    issuer.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        page = await browser.get(f"{workbench}/sign-in")
        assert page.status_code == 400
        assert "wb_session" not in browser.cookies


async def test_an_issuer_that_does_not_answer_is_a_503_with_retry_after() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening
        wb = WorkbenchSettings(session_secret=SESSION_SECRET, oidc_issuer=down,
                               oidc_client_id=CLIENT_ID)
        app = create_workbench(Settings(jwks_url=f"{down}/jwks", jwt_issuer=down), wb)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="https://hub.example") as browser:
            page = await browser.get("/sign-in")
    assert page.status_code == 503
    assert page.headers["Retry-After"].isdigit()
    assert "login is not answering" in page.text


async def test_a_public_client_signs_in_by_pkce_alone() -> None:
    async with issuer_and_workbench(None) as (_issuer, workbench), \
            httpx.AsyncClient(follow_redirects=True) as browser:
        page = await browser.get(f"{workbench}/sign-in")
        assert page.status_code == 200 and "You are signed in" in page.text
        assert (await browser.get(f"{workbench}/", follow_redirects=False)
                ).headers["location"] == "/strategy"  # signed in, not sent to sign-in


async def sign_out(browser: httpx.AsyncClient, workbench: str) -> httpx.Response:
    """The sign-out button: a POST carrying the page's CSRF token."""
    csrf = browser.cookies.get("wb_csrf") or (await browser.get(
        f"{workbench}/signed-out")).cookies["wb_csrf"]
    return await browser.post(f"{workbench}/sign-out", data={"csrf_token": csrf})


async def test_sign_out_ends_the_session_at_the_issuer_too_and_comes_back_checked(
        system: tuple[Issuer, str]) -> None:
    issuer, workbench = system
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        await browser.get(f"{workbench}/sign-in")
        assert (await browser.get(f"{workbench}/", follow_redirects=False)
                ).headers["location"] == "/strategy"
        page = await sign_out(browser, workbench)
        assert [str(r.url).split("?")[0] for r in page.history] == [
            f"{workbench}/sign-out", f"{issuer.url}/logout"]
        assert page.url.path == "/signed-out" and page.url.params["state"]
        assert "You have signed out" in page.text
        assert "also been signed out of your organisation" in page.text
        assert issuer.signed_out == [SOCIAL_WORKER["sub"]]  # the hint was our ID token
        assert "wb_session" not in browser.cookies and "wb_signout" not in browser.cookies
        home = await browser.get(f"{workbench}/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/sign-in"


async def test_a_return_from_the_issuer_with_a_forged_state_is_not_taken_as_signed_out(
        system: tuple[Issuer, str]) -> None:
    _issuer, workbench = system
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        await browser.get(f"{workbench}/sign-in")
        to_issuer = await sign_out(browser, workbench)  # through the issuer and back
        assert "also been signed out" in to_issuer.text
        forged = await browser.get(f"{workbench}/signed-out?state=forged-state")
        assert "could not confirm that your organisation" in forged.text
        assert "also been signed out" not in forged.text


async def test_an_issuer_without_an_end_session_endpoint_signs_out_locally_and_says_so() -> None:
    async with issuer_and_workbench(CLIENT_SECRET, end_session=False) as (issuer, workbench), \
            httpx.AsyncClient(follow_redirects=True) as browser:
        await browser.get(f"{workbench}/sign-in")
        page = await sign_out(browser, workbench)
        assert [str(r.url).split("?")[0] for r in page.history] == [f"{workbench}/sign-out"]
        assert page.url.path == "/signed-out"
        assert "cannot be signed out from here" in page.text
        assert "wb_session" not in browser.cookies and not issuer.signed_out
        home = await browser.get(f"{workbench}/", follow_redirects=False)
        assert home.headers["location"] == "/sign-in"


async def test_sign_out_sends_the_configured_post_logout_address_never_the_request_s() -> None:
    issuer = Issuer()
    async with running(issuer.app()) as issuer_url:
        issuer.url = issuer_url
        settings = Settings(jwks_url=f"{issuer_url}/jwks", jwt_issuer=issuer_url)
        wb = WorkbenchSettings(session_secret=SESSION_SECRET, oidc_issuer=issuer_url,
                               oidc_client_id=CLIENT_ID,
                               oidc_post_logout_redirect_url="https://hub.example/signed-out")
        app = create_workbench(settings, wb)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="https://elsewhere.example") as browser:
            csrf = (await browser.get("/signed-out")).cookies["wb_csrf"]
            response = await browser.post("/sign-out", data={"csrf_token": csrf})
    assert response.status_code == 303
    to_issuer = urlsplit(response.headers["location"])
    assert f"{to_issuer.scheme}://{to_issuer.netloc}{to_issuer.path}" == f"{issuer_url}/logout"
    asked = parse_qs(to_issuer.query)
    assert asked["post_logout_redirect_uri"] == ["https://hub.example/signed-out"]
    assert asked["client_id"] == [CLIENT_ID] and asked["state"][0]
    set_cookie = [h for h in response.headers.get_list("set-cookie")
                  if h.startswith("wb_signout=")]
    assert set_cookie and "HttpOnly" in set_cookie[0] and "Path=/signed-out" in set_cookie[0]


async def test_an_idle_session_and_a_session_past_its_lifetime_are_signed_out() -> None:
    clock = FrozenClock(datetime.now(UTC))
    async with issuer_and_workbench(CLIENT_SECRET, clock=clock) as (_issuer, workbench), \
            httpx.AsyncClient(follow_redirects=True) as browser:
        await browser.get(f"{workbench}/sign-in")
        for _ in range(3):  # used every 25 minutes: still signed in
            clock.advance(minutes=25)
            assert (await browser.get(f"{workbench}/", follow_redirects=False)
                    ).headers["location"] == "/strategy"
        clock.advance(minutes=20)
        await browser.get(f"{workbench}/navigator/queue")  # the live queue's refresh: not use
        clock.advance(minutes=11)
        page = await browser.get(f"{workbench}/")
        assert page.url.path == "/signed-out" and page.url.params["reason"] == "timeout"
        assert "You have been signed out" in page.text and "30 minutes" in page.text
        assert "wb_session" not in browser.cookies

        await browser.get(f"{workbench}/sign-in")
        for _ in range(23):  # busy all shift: 23 x 25 minutes is 9 h 35 min
            clock.advance(minutes=25)
            assert (await browser.get(f"{workbench}/", follow_redirects=False)
                    ).headers["location"] == "/strategy"
        clock.advance(minutes=25)  # 10 hours after signing in
        page = await browser.get(f"{workbench}/")
        assert page.url.path == "/signed-out" and "10 hours" in page.text
