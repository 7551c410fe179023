"""Two parts of the strategy service react to intake's transfer-in: both must run."""

from __future__ import annotations

from typing import Any

from strategy.handlers import merged


def test_handlers_of_one_event_type_all_run_in_order() -> None:
    ran: list[str] = []

    def step(name: str) -> Any:
        return lambda _event, _uow: ran.append(name)

    handlers = merged({"a": step("discussion"), "b": step("only")}, {"a": step("conference")})
    handlers["a"](object(), object())  # type: ignore[arg-type]
    handlers["b"](object(), object())  # type: ignore[arg-type]
    assert ran == ["discussion", "conference", "only"]
