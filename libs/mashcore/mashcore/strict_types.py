"""Request field types that accept only the JSON type the contract names.

Pydantic's lax mode turns ``1460246400`` into a date, ``0`` into 1970, ``"0.5"`` into an
instant, ``false`` into the integer 0 and ``"yes"`` into ``True``. A safeguarding record must
not silently hold a value nobody sent, so every request model (bodies and query parameters)
uses these instead:

- ``IsoDate``: a ``YYYY-MM-DD`` string (ISO 8601 / RFC 3339 full-date).
- ``IsoDateTime``: an ISO 8601 / RFC 3339 date-time string *with* its UTC offset
  (``2026-11-20T08:45:00Z``, ``...+01:00``); a time without a zone is ambiguous.
- ``StrictInt``, ``StrictFloat``, ``StrictBool``: a JSON number (an integer for ``StrictInt``)
  or ``true``/``false``, never a string, and never a boolean for a number.

Each answers a 422 naming the field otherwise. The OpenAPI schema is unchanged (``string`` with
``format: date`` or ``date-time``, ``integer``, ``number``, ``boolean``). Values that are
already Python ``date``/``datetime`` objects pass, so a model may also be built in code.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Strict
from pydantic_core import PydanticCustomError

__all__ = ["IsoDate", "IsoDateTime", "StrictBool", "StrictFloat", "StrictInt"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2})")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        return value
    raise PydanticCustomError(
        "iso_date", "Input should be a date as an ISO 8601 string, YYYY-MM-DD")


def _iso_date_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_TIME.fullmatch(value):
        return value
    raise PydanticCustomError(
        "iso_date_time", "Input should be a date and time as an ISO 8601 string with its "
        "UTC offset, e.g. 2026-11-20T08:45:00Z")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar date sent as ``YYYY-MM-DD``."""

IsoDateTime = Annotated[datetime, BeforeValidator(_iso_date_time)]
"""An instant sent as an ISO 8601 string with its UTC offset (always timezone-aware)."""

StrictInt = Annotated[int, Strict()]
"""A JSON integer: not a string, a float or a boolean."""

StrictFloat = Annotated[float, Strict()]
"""A JSON number: not a string or a boolean."""

StrictBool = Annotated[bool, Strict()]
"""``true`` or ``false``: not ``1``, ``"yes"`` or ``"true"``."""
