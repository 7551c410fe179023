"""Every status an operation can answer is in its OpenAPI: the shared ones are added here.

Routes document what is their own (``201``, a ``409``); the answers that come from the shared
runtime are the same everywhere and are added centrally, from what each route is made of:

| status | on | from |
|---|---|---|
| 400 | operations with a JSON body | malformed, non-UTF-8 or too deeply nested JSON |
| 401 | operations that authenticate the caller | ``mashcore.auth`` |
| 403 | operations that check the caller's role | ``require_roles`` |
| 404 | operations with a path parameter | the record is not there, or not yours to see |
| 413, 415 | ``POST``, ``PUT`` and ``PATCH`` | ``mashcore.http_guards`` |
| 422 | operations with parameters or a body | request validation |
| 429 | rate-limited operations | ``mashcore.ratelimit``, with ``Retry-After`` |
| 503 | all but ``/healthz`` | database or token keys unreachable; ``Retry-After`` |

A response a route documents itself is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from mashcore.problems import PROBLEM_JSON, problem_responses

__all__ = ["document_common_responses", "statuses_of"]

_DESCRIPTIONS = {
    400: "Malformed request body: not well-formed JSON, not UTF-8, or nested too deeply",
    413: "Content too large: the body is over this service's limit (`MASH_MAX_BODY_BYTES`)",
    415: "Unsupported media type: send the body as `application/json`",
    429: "Too many requests from this partner system: retry after `Retry-After` seconds",
    503: "Temporarily unavailable (the database or the identity provider's keys cannot be "
         "reached): retry after `Retry-After` seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                                "schema": {"type": "integer", "minimum": 0}}}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_ALWAYS_UP = frozenset({"/healthz"})


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _has_params(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.header_params \
            or dependant.cookie_params or dependant.body_params:
        return True
    return any(_has_params(d) for d in dependant.dependencies)


def statuses_of(route: Any, method: str) -> set[int]:
    """The shared statuses ``method`` on ``route`` (an API route or its context) can answer."""
    names = {getattr(call, "__qualname__", "") for call in _calls(route.dependant)}
    statuses: set[int] = set()
    if "current_principal" in names:
        statuses.add(401)
    if any(name.startswith("require_roles.") for name in names):
        statuses.add(403)
    if any(name.startswith("rate_limited.") for name in names):
        statuses.add(429)
    if route.dependant.path_params:
        statuses.add(404)
    if route.body_field is not None:
        statuses.add(400)
    if method in _BODY_METHODS:
        statuses |= {413, 415}
    if _has_params(route.dependant):
        statuses.add(422)
    if route.path_format not in _ALWAYS_UP:
        statuses.add(503)
    return statuses


def _response(status: int) -> dict[str, Any]:
    response = problem_responses(status)[status]
    if status in _DESCRIPTIONS:
        response["description"] = _DESCRIPTIONS[status]
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def add_common_responses(document: dict[str, Any], app: FastAPI) -> None:
    """Add the shared responses to every operation of ``document`` (in place)."""
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if not isinstance(original, APIRoute) or not original.include_in_schema:
            continue
        item = document.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses_of(route, method)):
                documented = responses.setdefault(str(status), _response(status))
                if status in (429, 503) and PROBLEM_JSON in documented.get("content", {}):
                    documented.setdefault("headers", _RETRY_AFTER)
            operation["responses"] = dict(sorted(responses.items()))


def document_common_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` include the shared responses of every operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_common_responses(generate(), app)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
