"""Event JSON Schemas from ``contracts/events``: every event is validated when written and read."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
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
    """Schemas keyed by event type (file ``contracts/events/<type>.schema.json``)."""

    def __init__(self, contracts_dir: Path | None = None) -> None:
        folder = (contracts_dir or default_contracts_dir()) / "events"
        self._validators: dict[str, Draft202012Validator] = {}
        for path in sorted(folder.glob("*.schema.json")):
            schema = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
            event_type = path.name.removesuffix(".schema.json")
            self._validators[event_type] = Draft202012Validator(
                schema, format_checker=Draft202012Validator.FORMAT_CHECKER
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
        error = best_match(validator.iter_errors(dict(data)))
        if error is not None:
            raise SchemaViolation(f"{event_type}: {describe(error)}")


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
