"""The retry backoff is capped: a long outage never overflows it (issue 13)."""

from __future__ import annotations

import pytest

from mashcore.consumer import RetryPolicy


@pytest.mark.parametrize("attempt", [1_024, 1_025, 1_026, 10**6])
def test_the_backoff_is_capped_however_long_the_outage(attempt: int) -> None:
    assert RetryPolicy(first_delay=0.2, max_delay=5.0).delay(attempt) == 5.0


def test_the_backoff_doubles_from_the_first_delay_up_to_the_cap() -> None:
    policy = RetryPolicy(first_delay=0.2, max_delay=5.0)
    assert [policy.delay(n) for n in range(1, 7)] == pytest.approx(
        [0.2, 0.4, 0.8, 1.6, 3.2, 5.0])
