"""The cancellation reason codes are one set: the API accepts exactly the documented codes
(strategy.conferences.cancellation.REASONS), and the event contracts allow the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

from strategy.conferences.api import CancelReason
from strategy.conferences.cancellation import REASONS

EVENTS = Path(__file__).resolve().parents[2] / "contracts" / "events"


def test_the_api_the_contracts_and_the_documented_reasons_agree() -> None:
    assert set(get_args(CancelReason)) == set(REASONS)
    for kind in ("icpc", "core-group", "review-conference"):
        schema = json.loads((EVENTS / f"mash.strategy.{kind}.cancelled.v1.schema.json")
                            .read_text())
        assert set(schema["properties"]["reason"]["enum"]) == set(REASONS)
        assert "clock" in schema["description"] and "NOT stop" in schema["description"]
