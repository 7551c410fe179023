"""Structured JSON logging for MASH services, with personal data redacted.

Every log line is one JSON object with ``timestamp`` (ISO 8601, UTC), ``level``,
``logger``, ``service`` and ``event``, plus any bound event context. Standard
library loggers (uvicorn, aiokafka, ...) are routed through the same pipeline.

Exceptions are safe by construction: a logged exception (``exc_info``, from any logger,
uvicorn's and SQLAlchemy's included) is rendered as its class names and code locations
(``file:line:function``) only, never its message or any value: pydantic's ``input_value``,
SQL parameters and reprs of models live in exception messages. Exceptions passed as log
arguments or values are reduced to their class names, an exception's text is cut out of a
library's message, and access-log paths lose their query strings. Libraries never log below
INFO here (their DEBUG lines can carry payloads: aiokafka logs every message value it sends);
``MASH_LOG_LEVEL=DEBUG`` shows this project's own debug lines.

`redact_personal_data` is the second line: it replaces the value of any key that names
personal data (names, dates of birth, addresses, contact details, NHS numbers and free
text) with ``"[redacted]"`` at any depth, just before rendering. It works on key names
only: never interpolate personal data into the ``event`` message itself.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import logging
import re
import sys
import threading
import types
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, TextIO
from uuid import UUID

import structlog
from pydantic import BaseModel
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "ALWAYS_LOGGED_KEYS",
    "REDACTED",
    "bind_event_context",
    "clear_event_context",
    "configure_logging",
    "install_excepthooks",
    "is_personal_data_key",
    "redact_personal_data",
    "render_exception",
]

REDACTED = "[redacted]"

ALWAYS_LOGGED_KEYS = frozenset(
    {
        "event",
        "event_id",
        "case_reference",
        "correlation_id",
        "service",
        "level",
        "timestamp",
        "logger",
    }
)
"""Keys that are never redacted, whatever their name contains."""

_EVENT_CONTEXT_KEYS = ("event_id", "case_reference", "correlation_id")

# Whole words (after splitting a key on ``_``, ``-``, ``.``, spaces and camelCase)
# that mark personal data. Short or ambiguous words only match as whole words, so
# ``free_text`` is redacted but ``context`` is not.
_PERSONAL_WORDS = frozenset(
    {
        # names
        "name", "names", "surname", "surnames", "forename", "forenames", "nickname",
        "alias", "aliases",
        # dates of birth
        "dob", "birth", "birthday", "birthdate",
        # addresses and contact details
        "address", "addresses", "postcode", "postcodes", "phone", "phones", "telephone",
        "tel", "mobile", "email", "emails",
        # free text
        "concern", "concerns", "description", "descriptions", "detail", "details",
        "note", "notes", "narrative", "narratives", "summary", "summaries", "text",
        "texts", "freetext", "rationale", "comment", "comments", "body",
    }
)  # fmt: skip

# Fragments that mark personal data wherever they occur in a key once its words
# are joined, catching glued or split spellings: ``childdob``, ``post_code``,
# ``dateOfBirth``, ``e_mail``, ``nhs_number``, ``referrername``.
_PERSONAL_FRAGMENTS = (
    "name",
    "dob",
    "birth",
    "address",
    "postcode",
    "phone",
    "email",
    "mobile",
    "nhsnumber",
    "nhsno",
    "concern",
    "description",
    "narrative",
    "rationale",
    "freetext",
    "messagebody",
)

# ``name`` is so common inside harmless words (``namespace``, ``renamed``) that as a
# fragment it only counts at the end of a glued word: ``surname``, ``referrername``.
_SUFFIX_ONLY_FRAGMENTS = frozenset({"name"})

_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def is_personal_data_key(key: object) -> bool:
    """Return whether a mapping key names personal data that must not be logged."""
    return _is_personal_data_key(str(key))


@functools.lru_cache(maxsize=4096)
def _is_personal_data_key(text: str) -> bool:
    if text.lower() in ALWAYS_LOGGED_KEYS:
        return False
    words = [word.lower() for word in _WORD_RE.findall(text)]
    if any(word in _PERSONAL_WORDS for word in words):
        return True
    glued = "".join(words)
    for fragment in _PERSONAL_FRAGMENTS:
        if fragment in _SUFFIX_ONLY_FRAGMENTS:
            if any(word.endswith(fragment) for word in words):
                return True
        elif fragment in glued:
            return True
    return False


def _redact(value: Any) -> Any:
    if isinstance(value, BaseException):
        return _exception_name(value)  # its message may quote the data
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_personal_data_key(key) else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _redact(dataclasses.asdict(value))
    if isinstance(value, BaseModel):
        # A pydantic model would otherwise be rendered with repr(), names and all.
        try:
            return _redact(value.model_dump(mode="json"))
        except Exception:
            return REDACTED
    return value


def redact_personal_data(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    """Structlog processor replacing personal-data values with ``[redacted]`` at any depth."""
    return {
        key: REDACTED if is_personal_data_key(key) else _redact(value)
        for key, value in event_dict.items()
    }


# --- Exceptions: class names and code locations, never messages or values -----------------

_MAX_FRAMES = 40
_MAX_EXCEPTIONS = 20


def _exception_name(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then the exceptions of a group and those it was raised from or in."""
    seen: set[int] = set()
    pending = [exc]
    while pending and len(seen) < _MAX_EXCEPTIONS:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def render_exception(exc: BaseException) -> str:
    """An exception as its class names and code locations (``file:line:function``) only.

    Nothing the exception says or holds is rendered: its message, its arguments and the
    frames' local variables can all quote a referral.
    """
    blocks = []
    for current in _chain(exc):
        frames = [f"  at {frame.f_code.co_filename}:{line}:{frame.f_code.co_name}"
                  for frame, line in _walk(current.__traceback__)][-_MAX_FRAMES:]
        blocks.append("\n".join([f"{_exception_name(current)} (message withheld)", *frames]))
    return "\n-- from --\n".join(blocks)


def _walk(tb: types.TracebackType | None) -> Iterator[tuple[types.FrameType, int]]:
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


def _exception_in(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    if exc_info:
        return sys.exc_info()[1]
    return None


def safe_exc_info(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Structlog processor rendering ``exc_info`` with `render_exception` (no messages)."""
    exc = _exception_in(event_dict.pop("exc_info", None))
    if exc is not None:
        event_dict["exception"] = render_exception(exc)
    return event_dict


def _safe_arg(value: Any, *, access_log: bool) -> Any:
    if isinstance(value, BaseException):
        return f"<{_exception_name(value)}>"
    if access_log and isinstance(value, str) and value.startswith("/"):
        return value.split("?", 1)[0]  # a query string can carry a search term
    return value


def _safe_foreign_message(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    """Build a standard-library record's message from safe arguments, its exception cut out."""
    args = event_dict.pop("positional_args", None)
    if event_dict.get("_from_structlog", True):
        return event_dict
    record = event_dict.get("_record")
    access_log = getattr(record, "name", "") == "uvicorn.access"
    raw = getattr(record, "msg", None)
    if isinstance(raw, BaseException):  # logger.error(exc): its text is its message
        event_dict["event"] = f"<{_exception_name(raw)}>"
        return event_dict
    message = str(event_dict.get("event", ""))
    if args:
        safe: Any
        if isinstance(args, Mapping):
            safe = {key: _safe_arg(value, access_log=access_log) for key, value in args.items()}
        else:
            safe = tuple(_safe_arg(value, access_log=access_log) for value in args)
        with contextlib.suppress(TypeError, ValueError, KeyError):  # else the bare template
            message = message % safe
    exc = _exception_in(event_dict.get("exc_info"))
    if exc is not None:
        # asyncio and others write the exception's repr into the message itself.
        for current in _chain(exc):
            for text in _texts(current):
                message = message.replace(text, f"<{_exception_name(current)}>")
    event_dict["event"] = message
    return event_dict


def _texts(exc: BaseException) -> list[str]:
    texts = []
    for render in (repr, str):
        with contextlib.suppress(Exception):  # a broken __str__ must not break logging
            text = render(exc)
            if len(text) >= 3:
                texts.append(text)
    return texts


# Loggers of this project: they may log below INFO. A library's DEBUG lines can carry the
# data it handles (aiokafka logs every message value it sends), so other loggers are never
# shown below INFO, whatever the configured level.
_OWN_LOGGERS = ("mashcore", "intake", "triage", "mash_enquiries", "strategy", "notifications",
                "sla_timekeeper", "devinfra", "tests")


def _no_library_debug(record: logging.LogRecord) -> bool:
    if record.levelno >= logging.INFO:
        return True
    return record.name.split(".", 1)[0] in _OWN_LOGGERS


def install_excepthooks() -> None:
    """Send uncaught exceptions (main thread, other threads, unraisable ones) through the
    safe pipeline instead of Python's default printing of their messages to stderr."""
    uncaught = logging.getLogger("mashcore.uncaught")

    def main_hook(exc_type: type[BaseException], exc: BaseException,
                  tb: types.TracebackType | None) -> None:
        uncaught.critical("uncaught exception", exc_info=(exc_type, exc, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            uncaught.error("uncaught exception in a thread",
                           exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    def unraisable_hook(args: Any) -> None:
        if args.exc_value is not None:
            uncaught.warning("exception ignored",
                             exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = main_hook
    threading.excepthook = thread_hook
    sys.unraisablehook = unraisable_hook


class _AddService:
    """Structlog processor stamping every entry with the service name."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        event_dict["service"] = self.service
        return event_dict


def _drop_color_message(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    """Drop the ANSI-coloured duplicate message uvicorn passes as ``extra``."""
    event_dict.pop("color_message", None)
    return event_dict


# Loggers configured by libraries themselves (uvicorn installs its own handlers);
# they are reset so their records propagate to the root handler installed here.
_ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "aiokafka", "fastapi")


def configure_logging(
    service: str,
    level: str = "INFO",
    json: bool = True,
    *,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and stdlib logging to emit redacted JSON lines to ``stream``."""
    numeric_level = logging.getLevelNamesMapping().get(level.upper())
    if numeric_level is None:
        raise ValueError(f"unknown log level: {level!r}")

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        _safe_foreign_message,
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _AddService(service),
        structlog.processors.StackInfoRenderer(),
        # Class names and code locations only, in both renderings.
        safe_exc_info,
    ]
    renderer: Processor
    if json:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a logger created before this call must still pick up redaction.
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        # The message is built by _safe_foreign_message, from sanitised arguments.
        use_get_message=False,
        pass_foreign_args=True,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Last before rendering, so nothing added earlier escapes redaction.
            redact_personal_data,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(_no_library_debug)

    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric_level)

    for name in _ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        for existing in list(routed.handlers):
            routed.removeHandler(existing)
        routed.propagate = True
        routed.setLevel(logging.NOTSET)


def bind_event_context(
    *,
    event_id: str | UUID | None = None,
    case_reference: str | None = None,
    correlation_id: str | UUID | None = None,
) -> Mapping[str, contextvars.Token[Any]]:
    """Set the event identifiers on every later log line in this context; None unbinds one."""
    values: MutableMapping[str, str] = {}
    unset: list[str] = []
    for key, value in (
        ("event_id", event_id),
        ("case_reference", case_reference),
        ("correlation_id", correlation_id),
    ):
        if value is None:
            # Never let the previous event's identifiers leak onto this one's lines.
            unset.append(key)
        else:
            values[key] = str(value)
    structlog.contextvars.unbind_contextvars(*unset)
    return structlog.contextvars.bind_contextvars(**values)


def clear_event_context() -> None:
    """Remove the event identifiers bound by `bind_event_context`."""
    structlog.contextvars.unbind_contextvars(*_EVENT_CONTEXT_KEYS)
