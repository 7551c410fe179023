"""Structured JSON logging for MASH services, with personal data redacted.

Every log line is one JSON object with ``timestamp`` (ISO 8601, UTC), ``level``,
``logger``, ``service`` and ``event``, plus any bound event context. Standard
library loggers (uvicorn, aiokafka, ...) are routed through the same pipeline.

`redact_personal_data` replaces the value of any key that names personal data
(names, dates of birth, addresses, contact details, NHS numbers and free text)
with ``"[redacted]"`` at any depth, just before rendering. It works on key names
only: never interpolate personal data into the ``event`` message itself.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
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
    "is_personal_data_key",
    "redact_personal_data",
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
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _AddService(service),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if json:
        # Plain-text tracebacks: dict tracebacks can include local variables.
        shared.append(structlog.processors.format_exc_info)
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
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Last before rendering, so nothing added earlier escapes redaction.
            redact_personal_data,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(formatter)

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
