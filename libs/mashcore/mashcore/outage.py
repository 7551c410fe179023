"""Unexpected errors answered honestly: an outage is a 503 with ``Retry-After``, never a 500.

`ErrorAnswerMiddleware` sits just outside Starlette's ``ExceptionMiddleware``, so every
exception the handlers did not turn into a response becomes a normal problem+json answer:

- the database or the broker unreachable (connection refused or lost, invalidated
  connections, a pool timeout, a retriable Kafka error) is **503** with ``Retry-After``: the
  request changed nothing (its transaction was rolled back, so it left no idempotency record)
  and may be retried with the same ``Idempotency-Key``;
- anything else is a generic **500** without any exception text.

Because the answer is a normal response, the server keeps the keep-alive connection
(Starlette's ``ServerErrorMiddleware`` re-raises, and uvicorn then drops it). Only exception
class names are logged: their messages can quote SQL parameters or submitted values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import structlog
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from fastapi import FastAPI
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RETRY_AFTER_SECONDS", "ErrorAnswerMiddleware", "install_error_answers", "is_outage"]

RETRY_AFTER_SECONDS = 5
"""How long a client is asked to wait before retrying after a 503."""

_log = structlog.get_logger(__name__)

_OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError,  # connection refused or lost, server shutting down, SQLite locked
    InterfaceError,  # the connection is closed
    DisconnectionError,  # the pool found the connection dead
    PoolTimeoutError,  # no pooled connection free in time
    psycopg.OperationalError,  # the driver's own, when not wrapped by SQLAlchemy
    psycopg.InterfaceError,
    KafkaConnectionError,
    KafkaTimeoutError,
    ConnectionError,  # refused, reset, aborted sockets
    TimeoutError,
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, the leaves of exception groups and the exceptions it came from."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)


def is_outage(exc: BaseException) -> bool:
    """True when the database or the broker is unreachable (a retry later may succeed)."""
    for cause in _causes(exc):
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, _OUTAGES):
            return True
        if isinstance(cause, KafkaError) and cause.retriable:
            return True
    return False


def _error_names(exc: BaseException) -> list[str]:
    return list(dict.fromkeys(type(cause).__name__ for cause in _causes(exc)))


def _route(scope: Scope) -> str:
    """The route template (``/v1/contacts/{contact_id}``), never the concrete path."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    return str(template) if template else "(unrouted)"


def _problem(status: int, title: str, detail: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode("utf-8")
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    if status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode("ascii")))
    return body, headers


class ErrorAnswerMiddleware:
    """Turns an exception no handler answered into a 503 (outage) or a generic 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # too late for an answer: the server must close the connection
            await self._answer(scope, exc, send)

    async def _answer(self, scope: Scope, exc: Exception, send: Send) -> None:
        method = Request(scope).method
        status = 503 if is_outage(exc) else 500
        if status == 503:
            _log.warning("dependency unavailable", method=method, route=_route(scope),
                         errors=_error_names(exc), status=503)
            body, headers = _problem(
                503, "Service Unavailable",
                "The database or the message broker is unavailable; nothing was changed. "
                f"Retry after {RETRY_AFTER_SECONDS} seconds (with the same Idempotency-Key).")
        else:
            # exc_info renders class names and code locations only (mashcore.logging).
            _log.error("unhandled exception", method=method, route=_route(scope),
                       errors=_error_names(exc), status=500, exc_info=exc)
            body, headers = _problem(
                500, "Internal Server Error",
                "An unexpected error occurred. It has been logged; please try again later.")
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def install_error_answers(app: FastAPI) -> None:
    """Answer unexpected errors inside the app, just outside its ``ExceptionMiddleware``.

    Appended as the innermost user middleware, so middlewares added later (metrics, limits)
    see the 503 or 500 as a normal response.
    """
    app.user_middleware.append(Middleware(ErrorAnswerMiddleware))
