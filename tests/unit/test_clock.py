from datetime import UTC, datetime, timedelta, timezone

import pytest

from mashcore.clock import Clock, FrozenClock, SystemClock, to_utc

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 13, 15, 30, tzinfo=UTC)


def read(clock: Clock) -> datetime:
    return clock.now()


def test_system_clock_returns_an_aware_utc_instant() -> None:
    now = read(SystemClock())

    assert now.tzinfo is UTC


def test_frozen_clock_stays_still_until_moved() -> None:
    clock = FrozenClock(START)

    assert read(clock) == START
    assert read(clock) == START


def test_frozen_clock_reports_an_offset_start_in_utc() -> None:
    summer_time = timezone(timedelta(hours=1))
    clock = FrozenClock(datetime(2026, 7, 6, 10, 0, tzinfo=summer_time))

    assert clock.now() == datetime(2026, 7, 6, 9, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_frozen_clock_advances_by_a_timedelta() -> None:
    clock = FrozenClock(START)

    moved_to = clock.advance(timedelta(hours=4))

    assert moved_to == clock.now() == datetime(2026, 11, 13, 19, 30, tzinfo=UTC)


def test_frozen_clock_advances_by_keyword_units() -> None:
    clock = FrozenClock(START)

    clock.advance(days=1, hours=2, minutes=30)

    assert clock.now() == datetime(2026, 11, 14, 18, 0, tzinfo=UTC)


def test_frozen_clock_refuses_to_advance_backwards() -> None:
    clock = FrozenClock(START)

    with pytest.raises(ValueError, match="backwards"):
        clock.advance(hours=-1)
    assert clock.now() == START


def test_frozen_clock_needs_exactly_one_way_of_saying_how_far_to_advance() -> None:
    clock = FrozenClock(START)

    with pytest.raises(ValueError):
        clock.advance()
    with pytest.raises(ValueError):
        clock.advance(timedelta(hours=1), hours=1)


def test_frozen_clock_can_be_set_to_any_aware_instant() -> None:
    clock = FrozenClock(START)

    clock.set(datetime(2020, 1, 1, tzinfo=UTC))

    assert clock.now() == datetime(2020, 1, 1, tzinfo=UTC)


def test_frozen_clock_rejects_a_naive_start() -> None:
    with pytest.raises(ValueError, match="naive"):
        FrozenClock(datetime(2026, 11, 13, 15, 30))


def test_frozen_clock_rejects_being_set_to_a_naive_datetime() -> None:
    clock = FrozenClock(START)

    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2026, 11, 13, 15, 30))
    assert clock.now() == START


def test_to_utc_keeps_the_instant_and_rejects_naive_datetimes() -> None:
    eastern = timezone(timedelta(hours=-5))

    assert to_utc(datetime(2026, 1, 1, 7, 0, tzinfo=eastern)) == datetime(
        2026, 1, 1, 12, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        to_utc(datetime(2026, 1, 1))


def test_frozen_clock_tells_its_subscribers_each_time_it_is_moved() -> None:
    clock = FrozenClock(START)
    seen: list[datetime] = []
    clock.subscribe(lambda: seen.append(clock.now()))

    clock.advance(minutes=5)
    clock.set(START)
    assert seen == [START + timedelta(minutes=5), START]
