"""Event JSON Schemas from ``contracts/events``: every event is validated when written and read."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match


class SchemaViolation(ValueError):
    """Event data that does not match its schema, or an event type with no schema."""


def default_contracts_dir() -> Path:
    """``MASH_CONTRACTS_DIR`` or the repository's ``contracts/`` folder."""
    configured = os.environ.get("MASH_CONTRACTS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "contracts"


class SchemaRegistry:
    """Schemas keyed by event type (file ``contracts/events/<type>.schema.json``).

    Each event is checked first by a compiled validator (jsonschema-rs: about 10 µs for an
    SLA breach event where jsonschema takes some 160 µs; issue 17's storm spent 40 % of
    the timer's time here), with jsonschema's own format checks (date-time, date, uuid,
    ...), so a value jsonschema refuses for its format, say a leap second, is refused too.
    Only what it refuses (or cannot read, say a datetime object) goes to jsonschema, which
    stays the reference: it names the offending field, and data it finds valid is valid.
    One difference: the compiled validator takes a tuple for an array, as it is on the wire.
    """

    def __init__(self, contracts_dir: Path | None = None) -> None:
        folder = (contracts_dir or default_contracts_dir()) / "events"
        self._validators: dict[str, Draft202012Validator] = {}
        self._compiled: dict[str, jsonschema_rs.Validator] = {}
        checker = Draft202012Validator.FORMAT_CHECKER
        formats = {name: _format_check(checker, name) for name in checker.checkers}
        for path in sorted(folder.glob("*.schema.json")):
            schema = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
            event_type = path.name.removesuffix(".schema.json")
            self._validators[event_type] = Draft202012Validator(
                schema, format_checker=checker
            )
            self._compiled[event_type] = jsonschema_rs.validator_for(
                schema, formats=formats, validate_formats=True
            )
        if not self._validators:
            raise FileNotFoundError(f"no event schemas found in {folder}")

    @property
    def event_types(self) -> frozenset[str]:
        """Every event type with a schema."""
        return frozenset(self._validators)

    def validate(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Raise SchemaViolation naming the first offending field."""
        validator = self._validators.get(event_type)
        if validator is None:
            raise SchemaViolation(f"no schema for event type {event_type!r}")
        data = dict(data)
        # A value JSON has no type for (the compiled validator raises): jsonschema decides.
        with contextlib.suppress(Exception):
            if self._compiled[event_type].is_valid(data):
                return
        error = best_match(validator.iter_errors(data))
        if error is not None:
            raise SchemaViolation(f"{event_type}: {describe(error)}")


# A uuid in its canonical form (hyphens at 8, 13, 18 and 23, hex digits elsewhere): a
# string this matches is one jsonschema's uuid check accepts.
_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}").fullmatch


def _format_check(checker: FormatChecker, name: str) -> Callable[[str], bool]:
    """jsonschema's check of one format, for the compiled validator: what
    ``checker.conforms(value, name)`` answers, calling the format's function as it does
    but without its two layers and the exception it raises for a refusal (issue 17: every
    date-time and uuid of every event written or read comes here). A canonical uuid is
    accepted without parsing it, a date-time already checked is not checked again;
    anything else goes to jsonschema's function."""
    func, raises = checker.checkers[name]

    def check(value: str) -> bool:
        try:
            return bool(func(value))
        except raises:
            return False

    if name == "date-time":
        # A pure function of the string, and the same times recur across a batch's events
        # (a clock's start and due time on each of its events): remembered.
        return lru_cache(maxsize=4096)(check)
    if name != "uuid":
        return check

    def check_uuid(value: str) -> bool:
        return _CANONICAL_UUID(value) is not None or check(value)

    return check_uuid


def describe(error: Any) -> str:
    """Where and which rule failed, without echoing the offending value (it may be personal)."""
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    if error.validator in ("required", "additionalProperties", "dependentRequired"):
        return f"{where}: {error.message[:200]}"
    rule = json.dumps(error.validator_value, default=str)[:120]
    return f"{where}: fails {error.validator} {rule}"


@cache
def default_registry() -> SchemaRegistry:
    """The registry of the default contracts folder, loaded once."""
    return SchemaRegistry()
