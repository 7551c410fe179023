"""One partnership's partner system never spends another's rate limit (issue 12 review).

The bucket key was ``agency:subject``: two partnerships' systems whose identity providers
issue the same subject (``school-mis`` of agency ``education``) shared one bucket, so one
partnership's busy or runaway system had the other's referrals refused with 429.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mashcore.auth import Principal, Role
from mashcore.clock import FrozenClock
from mashcore.ratelimit import RateLimiter, client_key


def school(partnership: str | None) -> Principal:
    return Principal(subject="school-mis", role=Role.REFERRER, agency="education",
                     partnership=partnership)


def test_the_same_system_account_in_two_partnerships_has_two_buckets() -> None:
    limiter = RateLimiter(capacity=1, refill_per_second=0.1,
                          clock=FrozenClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC)))
    assert limiter.check(client_key(school("coventry"))).allowed
    assert not limiter.check(client_key(school("coventry"))).allowed
    assert limiter.check(client_key(school("warwick"))).allowed
    assert limiter.check(client_key(school(None))).allowed
    assert client_key(school(None)) == "education:school-mis"
