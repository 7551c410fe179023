"""Guards every request passes before a route sees it: bounded bodies, JSON only, a true Allow.

``HttpGuards`` is a pure ASGI middleware (``create_app`` installs it):

- **413** when the body is larger than ``MASH_MAX_BODY_BYTES`` (1 MiB by default). A declared
  ``Content-Length`` over the limit is refused at once, before a byte of the body is read; a
  body without one (chunked) is counted as it streams and refused the moment it passes the
  limit, the rest never read.
- **415** naming ``application/json`` when a ``POST``, ``PUT`` or ``PATCH`` carries a body
  that is not JSON (``text/plain``, ``application/xml``, a form, ``application/merge-patch+json``,
  JSON in a charset other than UTF-8, or no content type at all).
- **405** answers carry an ``Allow`` header listing every method the path accepts (Starlette
  names only the methods of the first route matching the path, e.g. ``POST`` but not ``GET``).

Every refusal is an RFC 9457 problem document (``mashcore.problems``); nothing from the body
is echoed or logged.
"""

from __future__ import annotations

from fastapi import HTTPException as FastAPIHTTPException
from fastapi.routing import iter_route_contexts
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mashcore.problems import ProblemHTTPException, problem_response

__all__ = ["DEFAULT_MAX_BODY_BYTES", "HttpGuards", "RequestBodyTooLarge", "is_json_media_type"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""1 MiB: far above the largest real referral, far below what could tie up a worker."""

JSON = "application/json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a Content-Type header is ``application/json``, in UTF-8 if a charset is named.

    Not ``application/merge-patch+json`` or another ``+json`` type: they mean something else
    (a patch document, a problem) than the body these operations take. Not JSON in another
    charset either (RFC 8259 §8.1: JSON between systems is UTF-8); refusing it with 415 says
    so, where reading it as UTF-8 would garble or refuse it as malformed.
    """
    if not content_type:
        return False
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    if media_type != JSON:
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            return False
    return True


def _too_large_detail(limit: int) -> str:
    return f"The request body is larger than this service accepts ({limit} bytes)."


class RequestBodyTooLarge(ProblemHTTPException, FastAPIHTTPException):
    """Raised from ``receive`` when a streamed body passes the limit.

    It is also a FastAPI ``HTTPException`` so that FastAPI's body reader lets it through
    (it turns any other exception into a 400) to the problem handlers, which answer 413.
    """

    def __init__(self, limit: int) -> None:
        """A 413 problem naming the limit."""
        super().__init__(413, "Content Too Large", _too_large_detail(limit))


def _content_length(headers: Headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def _allowed_methods(scope: Scope) -> list[str]:
    """Every method some route of the app accepts on this path."""
    app = scope.get("app")
    methods: set[str] = set()
    # FastAPI nests included routers; iter_route_contexts flattens them.
    for route in iter_route_contexts(getattr(app, "routes", ())):
        route_methods = route.methods
        if route_methods and route.matches(scope)[0] is not Match.NONE:
            methods |= set(route_methods)
    return sorted(methods)


class HttpGuards:
    """The pure ASGI middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        """Wrap ``app``; bodies over ``max_body_bytes`` are refused with 413."""
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes must not be negative")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what is too large or not JSON; otherwise pass the request on, counted."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = _content_length(headers)
        limit = self.max_body_bytes
        if length is not None and length > limit:
            await self._refuse(scope, receive, send, 413, "Content Too Large",
                               _too_large_detail(limit))
            return
        has_body = (length or 0) > 0 or "transfer-encoding" in headers
        if (has_body and scope["method"] in _BODY_METHODS
                and not is_json_media_type(headers.get("content-type"))):
            await self._refuse(
                scope, receive, send, 415, "Unsupported Media Type",
                f"The request body must be JSON, sent with Content-Type: {JSON}.",
                headers={"Accept": JSON})
            return

        received = 0
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestBodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                if message["status"] == 405:
                    allowed = _allowed_methods(scope)
                    if allowed:
                        MutableHeaders(scope=message)["allow"] = ", ".join(allowed)
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except RequestBodyTooLarge as exc:
            # Normally the problem handlers answer it; this is for a reader outside FastAPI.
            if response_started:
                raise
            await exc.to_response()(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, title: str,
                      detail: str, headers: dict[str, str] | None = None) -> None:
        # The body is never read: the server closes the connection after the answer.
        response = problem_response(status, title, detail, headers=headers)
        await response(scope, receive, send)

