"""The workbench's session policy: what the cookie carries, and when a session is over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workbench import session
from workbench.session import Lifetime, Session

SIGNED_IN = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
POLICY = Lifetime(idle=timedelta(minutes=30), absolute=timedelta(hours=10))


def test_the_session_reads_back_and_a_forged_one_does_not() -> None:
    kept = Session("a.jwt.token", "an.id.token", SIGNED_IN, SIGNED_IN + timedelta(minutes=5))
    sealed = kept.seal("s3cret")
    assert Session.open("s3cret", sealed) == kept
    assert "=" not in sealed  # an unquoted cookie value
    assert Session.open("another", sealed) is None
    assert Session.open("s3cret", session.sign("s3cret", "not json")) is None
    assert Session.open("s3cret", None) is None


def test_a_session_ends_after_thirty_idle_minutes() -> None:
    used = Session("t", None, SIGNED_IN, SIGNED_IN + timedelta(hours=2))
    assert not POLICY.expired(used, used.last_active + timedelta(minutes=29, seconds=59))
    assert POLICY.expired(used, used.last_active + timedelta(minutes=30))


def test_a_session_ends_ten_hours_after_sign_in_however_busy() -> None:
    busy = Session("t", None, SIGNED_IN, SIGNED_IN + timedelta(hours=9, minutes=59))
    assert not POLICY.expired(busy, SIGNED_IN + timedelta(hours=9, minutes=59, seconds=59))
    assert POLICY.expired(busy, SIGNED_IN + timedelta(hours=10))
