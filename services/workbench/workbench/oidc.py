"""Production sign-in: the OpenID Connect authorization-code flow with PKCE (S256).

Authlib's protocol functions build the authorization request (RFC 6749 with state and
nonce, the RFC 7636 S256 code challenge) and the token request that redeems the code (sent
with the project's httpx; Authlib's own httpx client is deprecated in favour of a fork we
do not ship); the ID token is validated with
PyJWT against the issuer's JWKS (signature, ``iss``, ``aud`` = our client id, ``exp``,
``iat``) and its ``nonce`` compared with the one this browser was given. The issuer's
endpoints come from its discovery document (``/.well-known/openid-configuration``).

Between ``/sign-in`` and ``/callback`` the state, nonce and code verifier live in a short,
signed, HttpOnly cookie scoped to ``/callback`` (SameSite=Lax: the issuer's redirect back is a
cross-site navigation, which a Strict cookie would not survive).
"""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
import structlog
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from mashcore.auth import AuthError
from workbench import session

log = structlog.get_logger(__name__)
PENDING_COOKIE = "wb_oidc"
PENDING_MAX_AGE = 600  # seconds a browser has to come back from the issuer
SIGN_OUT_COOKIE = "wb_signout"  # the state of an RP-initiated logout, until the issuer returns
ID_TOKEN_ALGORITHMS = ["RS256", "ES256"]


class SignInFailed(Exception):
    """The issuer's answer cannot be trusted; ``reason`` is a short code, safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IssuerUnavailable(Exception):
    """The issuer (discovery, token endpoint or JWKS) did not answer."""


@dataclass(frozen=True)
class Pending:
    """What the browser carries from ``/sign-in`` to ``/callback``."""

    state: str
    nonce: str
    verifier: str

    def seal(self, secret: str) -> str:
        return session.sign(secret, json.dumps(
            {"state": self.state, "nonce": self.nonce, "verifier": self.verifier}))

    @classmethod
    def open(cls, secret: str, sealed: str | None) -> Pending | None:
        raw = session.unsign(secret, sealed)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return cls(state=str(data["state"]), nonce=str(data["nonce"]),
                       verifier=str(data["verifier"]))
        except (ValueError, KeyError, TypeError):
            return None


class OidcLogin:
    """The workbench as an OIDC relying party of one issuer."""

    def __init__(self, issuer: str, client_id: str, client_secret: str | None = None, *,
                 scope: str = "openid", timeout: float = 5.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._keys: jwt.PyJWKSet | None = None

    async def _redeem(self, token_endpoint: str, code: str, redirect_uri: str,
                      verifier: str) -> dict[str, Any]:
        body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri,
                                     code_verifier=verifier,
                                     **({} if self.client_secret else
                                        {"client_id": self.client_id}))
        # A confidential client authenticates with HTTP Basic (RFC 6749 §2.3.1: each part
        # form-encoded); a public client by PKCE alone, naming itself in the body.
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json"}
        if self.client_secret:
            pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            headers["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.post(token_endpoint, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise IssuerUnavailable from exc
        if response.status_code >= 500:
            raise IssuerUnavailable
        try:
            token = response.json()
        except ValueError as exc:
            raise SignInFailed("token response malformed") from exc
        if response.status_code != 200 or not isinstance(token, dict) or "error" in token:
            raise SignInFailed("code refused")
        return token

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.get(url)
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable from exc
        if not isinstance(body, dict):
            raise IssuerUnavailable
        return body

    async def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document (fetched once, then kept)."""
        if self._metadata is None:
            found = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if found.get("issuer", "").rstrip("/") != self.issuer:
                raise SignInFailed("discovery issuer mismatch")
            self._metadata = found
        return self._metadata

    async def begin(self, redirect_uri: str) -> tuple[str, Pending]:
        """The issuer's authorization URL and what the browser must bring back."""
        meta = await self.metadata()
        pending = Pending(state=generate_token(32), nonce=generate_token(32),
                          verifier=generate_token(64))
        url = prepare_grant_uri(
            meta["authorization_endpoint"], self.client_id, "code", redirect_uri=redirect_uri,
            scope=self.scope, state=pending.state, nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier),
            code_challenge_method="S256")
        return url, pending

    async def finish(self, redirect_uri: str, params: dict[str, str],
                     pending: Pending | None) -> tuple[str, str]:
        """Check the callback, redeem the code, validate the ID token; the access token and
        the ID token (kept as the hint for signing out at the issuer)."""
        if pending is None:
            raise SignInFailed("no pending sign-in")
        if not hmac.compare_digest(params.get("state", "").encode(), pending.state.encode()):
            raise SignInFailed("state mismatch")
        if "error" in params or not params.get("code"):
            raise SignInFailed("issuer refused")
        meta = await self.metadata()
        token = await self._redeem(meta["token_endpoint"], params["code"], redirect_uri,
                                   pending.verifier)
        id_token, access_token = token.get("id_token"), token.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise SignInFailed("tokens missing")
        claims = await self._validate_id_token(id_token, meta)
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(),
                                   pending.nonce.encode()):
            raise SignInFailed("nonce mismatch")
        return access_token, id_token

    async def end_session_url(self, id_token: str | None, post_logout_redirect_uri: str,
                              state: str) -> str | None:
        """The issuer's RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0), or
        None when its discovery document has no ``end_session_endpoint``."""
        endpoint = (await self.metadata()).get("end_session_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            return None
        params = {"client_id": self.client_id,
                  "post_logout_redirect_uri": post_logout_redirect_uri, "state": state}
        if id_token:
            params["id_token_hint"] = id_token
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    async def _signing_key(self, id_token: str, meta: dict[str, Any]) -> Any:
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
        except jwt.PyJWTError as exc:
            raise SignInFailed("id token malformed") from exc
        for refresh in (False, True):  # a key rotated since we last looked: fetch once more
            if self._keys is None or refresh:
                try:
                    self._keys = jwt.PyJWKSet.from_dict(await self._get_json(meta["jwks_uri"]))
                except jwt.PyJWTError as exc:
                    raise SignInFailed("jwks unusable") from exc
            for key in self._keys.keys:
                if kid is None or key.key_id == kid:
                    return key.key
        raise SignInFailed("id token key unknown")

    async def _validate_id_token(self, id_token: str, meta: dict[str, Any]) -> dict[str, Any]:
        key = await self._signing_key(id_token, meta)
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token, key, algorithms=ID_TOKEN_ALGORITHMS, audience=self.client_id,
                issuer=meta["issuer"], leeway=30,
                options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]})
        except jwt.ExpiredSignatureError as exc:
            raise SignInFailed("id token expired") from exc
        except jwt.PyJWTError as exc:
            raise SignInFailed("id token invalid") from exc
        return claims


def install(app: FastAPI, login: OidcLogin, *, render: Any, secure: Any, secret: str,
            verifier: Any, start_session: Any, redirect_url: str | None) -> None:
    """``GET /sign-in`` (to the issuer) and ``GET /callback`` (back from it) on ``app``."""
    def callback_url(request: Request) -> str:
        return redirect_url or str(request.url_for("oidc_callback"))

    def unavailable(request: Request) -> Response:
        response: Response = render(
            request, "error.html", 503, title="Sorry, the service is unavailable",
            message="Your organisation's login is not answering. Try again in a few minutes.")
        response.headers["Retry-After"] = "30"
        return response

    @app.get("/sign-in")
    async def oidc_sign_in(request: Request) -> Response:
        try:
            url, pending = await login.begin(callback_url(request))
        except IssuerUnavailable:
            return unavailable(request)
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(PENDING_COOKIE, pending.seal(secret), max_age=PENDING_MAX_AGE,
                            httponly=True, samesite="lax", secure=secure(request),
                            path="/callback")
        return response

    @app.get("/callback", name="oidc_callback")
    async def oidc_callback(request: Request) -> Response:
        pending = Pending.open(secret, request.cookies.get(PENDING_COOKIE))
        try:
            token, id_token = await login.finish(callback_url(request),
                                                 dict(request.query_params), pending)
            verifier.verify(token)  # the APIs' own check: role, agency, audience, expiry
        except IssuerUnavailable:
            return unavailable(request)
        except (SignInFailed, AuthError) as exc:
            reason = exc.reason if isinstance(exc, SignInFailed) else "access token refused"
            log.warning("sign-in refused", reason=reason)  # codes only: no token, no claims
            response: Response = render(
                request, "error.html", 400, title="You could not be signed in",
                message="Your sign-in could not be completed. Go to the start to try again.")
        else:
            # A page, not a redirect: the Strict session cookie is then sent on the same-site
            # navigation to "/" (a redirect chain that began at the issuer would not send it).
            response = start_session(request, token, render(request, "signed_in.html"),
                                     id_token=id_token)
        response.delete_cookie(PENDING_COOKIE, path="/callback")
        return response


async def sign_out_at_issuer(login: OidcLogin, request: Request, *, secret: str,
                             id_token: str | None, post_logout_redirect_uri: str,
                             secure: bool) -> Response:
    """Where the browser goes once the local session is cleared: the issuer's end-session
    endpoint (with a state kept in a short cookie), or, if the issuer has none or does not
    answer, straight to the signed-out page, which then says the issuer was not signed out."""
    state = generate_token(32)
    try:
        url = await login.end_session_url(id_token, post_logout_redirect_uri, state)
    except (IssuerUnavailable, SignInFailed):
        return RedirectResponse("/signed-out?issuer=unavailable", status_code=303)
    if url is None:
        return RedirectResponse("/signed-out?issuer=no-logout", status_code=303)
    response = RedirectResponse(url, status_code=303)
    # SameSite=Lax: the issuer's redirect back is a cross-site navigation.
    response.set_cookie(SIGN_OUT_COOKIE, session.sign(secret, state), max_age=PENDING_MAX_AGE,
                        httponly=True, samesite="lax", secure=secure, path="/signed-out")
    return response


def returned_from_issuer(secret: str, cookie: str | None, state: str | None) -> bool:
    """Whether the issuer's redirect back carries the state this browser was given."""
    expected = session.unsign(secret, cookie)
    if not expected or not state:
        return False
    return hmac.compare_digest(expected.encode(), state.encode())
