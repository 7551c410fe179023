"""Intake's event types are defined once (intake.events) and imported by their consumers:
no other service spells one out again, where a typo would silently drop every event."""

from __future__ import annotations

import re
from pathlib import Path

from intake import events

ROOT = Path(__file__).resolve().parents[2]
SPELLED_OUT = re.compile(r"""["']mash\.intake\.[a-z-]+\.[a-z.-]+\.v\d+["']|\{INTAKE\}""")


def test_no_consumer_retypes_an_intake_event_type() -> None:
    retyped = sorted(
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / "services").rglob("*.py")
        if "intake" not in path.relative_to(ROOT / "services").parts[:1]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SPELLED_OUT.search(line)
    )
    assert retyped == []


def test_the_pattern_finds_each_intake_event_type_spelled_out() -> None:
    types = [value for name, value in vars(events).items() if name.isupper()]
    assert types and all(SPELLED_OUT.search(f'X = "{value}"') for value in types)
