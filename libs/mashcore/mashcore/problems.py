"""RFC 9457 problem details for every MASH HTTP API.

Every error a MASH service returns is an ``application/problem+json`` document
with at least ``type``, ``title``, ``status`` and ``detail``. Validation errors
carry an ``errors`` list of ``{"field", "message"}`` pairs (request-validation errors also
a ``code``: pydantic's error type, e.g. ``missing``, so a client can word its own message,
as the workbench does). Submitted values are
never echoed back: a faulty field in a referral may hold a child's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mashcore.outage import install_error_answers

__all__ = [
    "PROBLEM_JSON",
    "ProblemHTTPException",
    "field_path",
    "install_problem_handlers",
    "problem_response",
    "problem_responses",
    "status_title",
]

PROBLEM_JSON = "application/problem+json"
"""The media type of an RFC 9457 problem document."""

_log = structlog.get_logger(__name__)

# Where a request value came from, as FastAPI reports it in the first ``loc`` item.
_REQUEST_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "One entry per faulty field (validation problems only).",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string", "description": "What is wrong, as a stable "
                             "code (e.g. `missing`, `string_too_long`, `literal_error`), "
                             "where one is known."},
                },
            },
        },
    },
}

MALFORMED_JSON_DETAIL = "The request body is not well-formed JSON (or is nested too deeply)."

_STANDARD_PROBLEMS = {
    401: "Not authenticated",
    403: "Role not allowed",
    404: "Not found (or not yours to see)",
    422: "Invalid input; `errors` names each faulty field",
}


def problem_responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the standard problem answers (plus ``extra`` ones)."""
    statuses = sorted({*_STANDARD_PROBLEMS, *extra})
    return {
        status: {
            "description": _STANDARD_PROBLEMS.get(status, status_title(status)),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }


def status_title(status: int) -> str:
    """Return the standard reason phrase for an HTTP status code."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemHTTPException(StarletteHTTPException):
    """An HTTP error that is rendered as an RFC 9457 problem document."""

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        problem_type: str = "about:blank",
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Build the exception; ``title`` defaults to the status reason phrase."""
        self.title = title or status_title(status)
        self.problem_type = problem_type
        self.extra: dict[str, Any] = dict(extra or {})
        super().__init__(status_code=status, detail=detail or self.title, headers=headers)

    def to_response(self) -> Response:
        """Render this exception as a problem+json response."""
        return problem_response(
            self.status_code,
            self.title,
            str(self.detail),
            problem_type=self.problem_type,
            headers=self.headers,
            **self.extra,
        )


def invalid_fields(title: str, errors: Sequence[tuple[str, str]]) -> ProblemHTTPException:
    """A 422 naming each faulty field, shaped like request-validation problems."""
    return ProblemHTTPException(
        422, title, "Faulty fields: " + ", ".join(dict.fromkeys(f for f, _ in errors)),
        extra={"errors": [{"field": field, "message": message} for field, message in errors]},
    )


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    problem_type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Return an ``application/problem+json`` response; ``extra`` adds members."""
    body: dict[str, Any] = {
        "type": problem_type,
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def field_path(loc: Sequence[int | str]) -> str:
    """Turn a pydantic error location into a path like ``children[0].date_of_birth``."""
    parts = list(loc)
    prefix = ""
    if parts and parts[0] in _REQUEST_SOURCES:
        source = parts.pop(0)
        # Body fields are named as the client wrote them; other sources keep a prefix.
        prefix = "" if source == "body" else str(source)
        if not parts:
            return str(source)
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    for error in exc.errors():
        loc = error.get("loc", ())
        message = str(error.get("msg", "Invalid value"))
        errors.append({"field": field_path(loc), "message": message,
                       "code": str(error.get("type", "value_error"))})
    return errors


async def _handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        # A syntax error is not a faulty field: 400, as for a body too deep to parse.
        return problem_response(400, status_title(400), MALFORMED_JSON_DETAIL)
    errors = _validation_errors(exc)
    fields = list(dict.fromkeys(error["field"] for error in errors))
    detail = "The request has invalid fields: " + ", ".join(fields) + "."
    return problem_response(422, status_title(422), detail, errors=errors)


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code < 200 or exc.status_code in (204, 205, 304):
        # These statuses must not carry a body.
        return Response(status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, ProblemHTTPException):
        return exc.to_response()
    title = status_title(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = MALFORMED_JSON_DETAIL  # FastAPI's words for JSON too deep or not UTF-8
    return problem_response(exc.status_code, title, detail, headers=exc.headers)


async def _handle_unexpected_error(request: Request, exc: Exception) -> Response:
    # Only the exception type is logged here: the message may quote personal data,
    # and the server also logs the traceback when the exception propagates.
    _log.error(
        "unhandled_exception",
        method=request.method,
        path=request.url.path,
        error_type=type(exc).__name__,
    )
    return problem_response(
        500,
        status_title(500),
        "An unexpected error occurred. It has been logged; please try again later.",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Render validation errors, HTTP errors and unhandled errors as problem+json."""
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(Exception, _handle_unexpected_error)
    install_error_answers(app)  # outages are 503s; answers inside the app keep the connection
