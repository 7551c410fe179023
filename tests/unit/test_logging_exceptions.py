"""Exceptions are logged safely by construction, from every logger (issue 12 §4)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import structlog
from pydantic import BaseModel, ValidationError, field_validator
from sqlalchemy import create_engine, text
from sqlalchemy.exc import StatementError

from mashcore.logging import configure_logging, install_excepthooks

pytestmark = pytest.mark.unit

MARKER = "Qx9Marker"


class Child(BaseModel):
    first_name: str
    date_of_birth: date

    @field_validator("first_name")
    @classmethod
    def named(cls, value: str) -> str:
        raise ValueError(f"not a name: {value}")


@pytest.fixture(params=[True, False], ids=["json", "console"])
def output(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_structlog = structlog.get_config()
    buffer = io.StringIO()
    configure_logging("intake", level="DEBUG", json=request.param, stream=buffer)
    try:
        yield buffer
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        structlog.configure(**saved_structlog)


def validation_error() -> ValidationError:
    try:
        Child.model_validate({"first_name": f"{MARKER}-name", "date_of_birth": "2011-02-03",
                              "extra": f"{MARKER}-extra"})
    except ValidationError as exc:
        return exc
    raise AssertionError("no error")


def sql_error() -> StatementError:
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT * FROM missing WHERE name = :n"),
                               {"n": f"{MARKER}-sql"})
    except StatementError as exc:
        return exc
    raise AssertionError("no error")


def wrapped() -> RuntimeError:
    try:
        try:
            raise validation_error()
        except ValidationError as exc:
            raise RuntimeError(f"while saving {MARKER}-wrapper") from exc
    except RuntimeError as exc:
        return exc


def test_no_exception_text_reaches_a_line_from_any_logger(output: io.StringIO) -> None:
    errors: list[BaseException] = [validation_error(), sql_error(), wrapped()]
    for exc in errors:
        logging.getLogger("uvicorn.error").error("Exception in ASGI application\n",
                                                 exc_info=exc)
        logging.getLogger("sqlalchemy.pool").warning("reset failed", exc_info=exc)
        structlog.get_logger("intake.handlers").exception("failed", exc_info=exc)
        structlog.get_logger().warning("failed", error=exc, nested={"errors": [exc]})
        logging.getLogger("aiokafka").error("Unable to connect: %s (%r)", exc, exc)
        logging.getLogger("aiokafka").error(exc)
        # asyncio writes the exception's repr into the message itself
        logging.getLogger("asyncio").error(f"Task exception was never retrieved\n"
                                           f"future: <Task exception={exc!r}>", exc_info=exc)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
        f"/v1/contacts?name={MARKER}-query", "1.1", 200)

    logged = output.getvalue()
    assert MARKER not in logged
    assert "2011-02-03" not in logged
    assert "ValidationError" in logged and "test_logging_exceptions.py:" in logged
    assert "/v1/contacts" in logged


def test_a_json_line_names_the_exception_chain_and_where_it_was_raised() -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_structlog = structlog.get_config()
    configure_logging("intake", stream=buffer)
    try:
        logging.getLogger("uvicorn.error").error("boom", exc_info=wrapped())
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        structlog.configure(**saved_structlog)
    line: dict[str, Any] = json.loads(buffer.getvalue())
    assert line["event"] == "boom"
    first, cause = line["exception"].split("\n-- from --\n")
    assert first.startswith("RuntimeError (message withheld)\n  at ")
    assert cause.startswith("pydantic_core._pydantic_core.ValidationError (message withheld)")
    assert ":wrapped" in first


async def test_an_exception_never_retrieved_from_a_task_is_logged_without_its_text(
    output: io.StringIO,
) -> None:
    loop = asyncio.get_running_loop()
    loop.call_exception_handler({"message": "Task exception was never retrieved",
                                 "exception": validation_error()})
    assert "ValidationError" in output.getvalue()
    assert MARKER not in output.getvalue()


def test_libraries_never_log_below_info_but_our_own_code_may(output: io.StringIO) -> None:
    logging.getLogger("aiokafka.producer.producer").debug(
        "Sending (key=%r value=%r)", b"MASH-1", f'{{"first_name": "{MARKER}"}}'.encode())
    logging.getLogger("mashcore.relay").debug("relay idle")
    logging.getLogger("aiokafka").info("connected")
    assert MARKER not in output.getvalue()
    assert "relay idle" in output.getvalue() and "connected" in output.getvalue()


def test_uncaught_exceptions_go_through_the_same_pipeline(output: io.StringIO) -> None:
    saved = (sys.excepthook, threading.excepthook, sys.unraisablehook)
    exc = validation_error()
    try:
        install_excepthooks()
        sys.excepthook(type(exc), exc, exc.__traceback__)
        threading.excepthook(threading.ExceptHookArgs((type(exc), exc, exc.__traceback__, None)))
    finally:
        sys.excepthook, threading.excepthook, sys.unraisablehook = saved
    assert output.getvalue().count("ValidationError") == 2
    assert MARKER not in output.getvalue()
