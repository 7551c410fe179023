"""FastAPI dependencies that authenticate callers and enforce roles.

The app must hold a `TokenVerifier` at ``app.state.token_verifier``. Failures are
raised as `ProblemHTTPException`, rendered as RFC 9457 problem+json once
`mashcore.problems.install_problem_handlers` is installed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mashcore.auth.principal import Principal, Role
from mashcore.auth.verifier import AuthError, KeySetUnavailableError, TokenVerifier
from mashcore.problems import ProblemHTTPException

__all__ = ["CurrentPrincipal", "current_principal", "recordable_user_id", "require_roles"]

_log = structlog.get_logger(__name__)

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="A JWT issued by the MASH identity provider (or `mash-token` in development).",
)


def _unauthorized(detail: str, challenge: str) -> ProblemHTTPException:
    return ProblemHTTPException(401, detail=detail, headers={"WWW-Authenticate": challenge})


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Return the authenticated caller, or fail with 401 problem+json."""
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.token_verifier must be a mashcore TokenVerifier")
    if credentials is None:
        raise _unauthorized("A bearer token is required.", "Bearer")
    token = credentials.credentials
    try:
        # On the loop when no key has to be fetched; a JWKS fetch runs in a worker thread.
        principal = verifier.verify_offline(token)
        if principal is None:
            principal = await run_in_threadpool(verifier.verify, token)
    except KeySetUnavailableError as exc:
        _log.error("token_keys_unavailable", reason=exc.detail)
        raise ProblemHTTPException(
            503, detail="Authentication is temporarily unavailable.", headers={"Retry-After": "5"}
        ) from exc
    except AuthError as exc:
        _log.info("token_rejected", reason=exc.detail)
        raise _unauthorized(exc.detail, 'Bearer error="invalid_token"') from exc
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
"""The authenticated caller, for use as an endpoint parameter type."""


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """Return a dependency yielding the caller if they hold one of ``roles``, else 403."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    allowed = frozenset(roles)
    names = ", ".join(role.value for role in roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            _log.info("access_denied", role=principal.role.value, required=names)
            raise ProblemHTTPException(403, detail=f"This action requires the role: {names}.")
        return principal

    return dependency


_USER_ID = re.compile(r"^[^@\s]{1,128}$")


def recordable_user_id(principal: Principal) -> str:
    """The caller's user id as events record a decision maker: never an email or a name."""
    if not _USER_ID.match(principal.subject):
        raise ProblemHTTPException(
            403, detail="Your account's user id cannot be recorded as a decision maker "
            "(it must be a MASH user id, not an email address).")
    return principal.subject
