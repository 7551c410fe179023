"""Intake's domain errors, and the one place they become HTTP.

The service layer raises ``Refused`` when intake's rules turn a command down (a contact that
cannot be forwarded, advice already recorded, a transfer already decided); a route maps it to a
409 problem with ``refusals_as_problems``. The messages name states, never personal data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mashcore.problems import ProblemHTTPException


class Refused(Exception):
    """A command intake's rules refuse in the record's current state (a conflict)."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title, self.detail = title, detail


@contextmanager
def refusals_as_problems() -> Iterator[None]:
    """In a route: a refusal from the service layer answers 409 with its title and detail."""
    try:
        yield
    except Refused as exc:
        raise ProblemHTTPException(409, exc.title, exc.detail) from exc
