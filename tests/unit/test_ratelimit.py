import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from mashcore.auth import (
    DEFAULT_DEV_KEY,
    AuthConfig,
    Principal,
    Role,
    TokenVerifier,
    issue_dev_token,
)
from mashcore.clock import FrozenClock
from mashcore.problems import PROBLEM_JSON, install_problem_handlers
from mashcore.ratelimit import Decision, RateLimiter, client_key, rate_limited

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 13, 9, 0, tzinfo=UTC)


def limiter(clock: FrozenClock, capacity: int = 3, refill_per_second: float = 0.5) -> RateLimiter:
    return RateLimiter(capacity=capacity, refill_per_second=refill_per_second, clock=clock)


def spend(limiter: RateLimiter, key: str, times: int) -> list[Decision]:
    return [limiter.check(key) for _ in range(times)]


# --- the bucket -------------------------------------------------------------------------


def test_a_client_may_burst_up_to_the_capacity() -> None:
    bucket = limiter(FrozenClock(START), capacity=3)

    assert [d.allowed for d in spend(bucket, "police:sys-1", 3)] == [True, True, True]


def test_the_request_after_the_burst_is_refused_with_the_time_until_a_token_is_back() -> None:
    bucket = limiter(FrozenClock(START), capacity=3, refill_per_second=0.5)
    spend(bucket, "police:sys-1", 3)

    decision = bucket.check("police:sys-1")

    assert decision == Decision(allowed=False, retry_after_seconds=2.0)


def test_an_allowed_request_has_no_retry_after() -> None:
    decision = limiter(FrozenClock(START)).check("police:sys-1")

    assert decision == Decision(allowed=True, retry_after_seconds=0.0)


def test_a_refused_request_spends_nothing() -> None:
    clock = FrozenClock(START)
    bucket = limiter(clock, capacity=1, refill_per_second=0.5)
    bucket.check("police:sys-1")
    spend(bucket, "police:sys-1", 5)

    clock.advance(seconds=2)

    assert bucket.check("police:sys-1").allowed


def test_the_bucket_refills_after_the_advertised_wait_and_not_before() -> None:
    clock = FrozenClock(START)
    bucket = limiter(clock, capacity=2, refill_per_second=0.5)
    spend(bucket, "police:sys-1", 2)
    wait = bucket.check("police:sys-1").retry_after_seconds

    clock.advance(seconds=wait - 0.5)
    early = bucket.check("police:sys-1")
    clock.advance(seconds=0.5)
    on_time = bucket.check("police:sys-1")

    assert not early.allowed
    assert early.retry_after_seconds == pytest.approx(0.5)
    assert on_time.allowed


def test_refill_after_a_long_idle_spell_stops_at_the_capacity() -> None:
    clock = FrozenClock(START)
    bucket = limiter(clock, capacity=3, refill_per_second=0.5)
    spend(bucket, "police:sys-1", 3)

    clock.advance(hours=1)

    assert [d.allowed for d in spend(bucket, "police:sys-1", 4)] == [True, True, True, False]


def test_a_fractional_rate_lets_the_request_through_exactly_when_it_said() -> None:
    clock = FrozenClock(START)
    bucket = limiter(clock, capacity=1, refill_per_second=1 / 3)
    bucket.check("health:gp-1")
    wait = bucket.check("health:gp-1").retry_after_seconds

    clock.advance(seconds=wait)

    assert wait == pytest.approx(3.0)
    assert bucket.check("health:gp-1").allowed


def test_separate_clients_have_independent_buckets() -> None:
    bucket = limiter(FrozenClock(START), capacity=2)
    spend(bucket, "police:sys-1", 2)

    assert not bucket.check("police:sys-1").allowed
    assert bucket.check("police:sys-2").allowed
    assert bucket.check("health:sys-1").allowed


def test_a_clock_stepping_backwards_does_not_refill_twice() -> None:
    clock = FrozenClock(START)
    bucket = limiter(clock, capacity=1, refill_per_second=1.0)
    bucket.check("police:sys-1")

    clock.set(START - timedelta(seconds=10))
    refused_in_the_past = bucket.check("police:sys-1")
    clock.set(START + timedelta(seconds=1))
    allowed_once = bucket.check("police:sys-1")
    refused_again = bucket.check("police:sys-1")

    assert not refused_in_the_past.allowed
    assert allowed_once.allowed
    assert not refused_again.allowed


def test_idle_full_buckets_are_forgotten_once_too_many_clients_are_tracked() -> None:
    clock = FrozenClock(START)
    bucket = RateLimiter(capacity=1, refill_per_second=1.0, clock=clock, max_tracked_clients=2)
    bucket.check("police:a")
    bucket.check("police:b")
    clock.advance(seconds=1)

    bucket.check("police:c")

    assert bucket.tracked_clients() == 1


def test_a_busy_client_is_not_forgotten_to_make_room() -> None:
    clock = FrozenClock(START)
    bucket = RateLimiter(capacity=1, refill_per_second=1.0, clock=clock, max_tracked_clients=1)
    bucket.check("police:a")

    bucket.check("police:b")

    assert not bucket.check("police:a").allowed


def test_reset_gives_one_client_a_full_burst_again() -> None:
    bucket = limiter(FrozenClock(START), capacity=1)
    bucket.check("police:a")
    bucket.check("police:b")

    bucket.reset("police:a")

    assert bucket.check("police:a").allowed
    assert not bucket.check("police:b").allowed


def test_concurrent_requests_never_spend_more_than_the_capacity() -> None:
    bucket = limiter(FrozenClock(START), capacity=50)
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(25):
            decision = bucket.check("police:sys-1")
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert allowed.count(True) == 50
    assert len(allowed) == 200


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"capacity": 0, "refill_per_second": 1.0}, "capacity"),
        ({"capacity": 2.5, "refill_per_second": 1.0}, "capacity"),
        ({"capacity": 1, "refill_per_second": 0.0}, "refill_per_second"),
        ({"capacity": 1, "refill_per_second": float("inf")}, "refill_per_second"),
    ],
)
def test_a_limiter_rejects_a_nonsensical_configuration(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimiter(clock=FrozenClock(START), **arguments)


def test_a_cost_above_the_capacity_is_rejected_rather_than_never_allowed() -> None:
    with pytest.raises(ValueError, match="cost"):
        limiter(FrozenClock(START), capacity=2).check("police:sys-1", cost=3)


def test_the_key_of_a_principal_is_its_agency_and_subject() -> None:
    principal = Principal(subject="mosaic-feed", role=Role.REFERRER, agency="police")

    assert client_key(principal) == "police:mosaic-feed"


# --- the FastAPI dependency --------------------------------------------------------------


def make_app(rate_limiter: RateLimiter) -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(AuthConfig(dev_key=DEFAULT_DEV_KEY))
    app.state.rate_limiter = rate_limiter
    install_problem_handlers(app)

    @app.post("/contacts")
    async def post_contact(
        principal: Annotated[Principal, Depends(rate_limited())],
    ) -> dict[str, str]:
        return {"client": client_key(principal)}

    return app


def bearer(subject: str, agency: str = "police") -> dict[str, str]:
    token = issue_dev_token(DEFAULT_DEV_KEY, subject=subject, role=Role.REFERRER, agency=agency)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def client(clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(RateLimiter(capacity=2, refill_per_second=0.4, clock=clock))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mash.test") as http:
        yield http


async def test_an_over_limit_client_gets_a_429_problem_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    headers = bearer("police-feed")
    first = await client.post("/contacts", headers=headers)
    second = await client.post("/contacts", headers=headers)

    third = await client.post("/contacts", headers=headers)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == {"client": "police:police-feed"}
    assert third.status_code == 429
    assert third.headers["content-type"] == PROBLEM_JSON
    assert third.headers["retry-after"] == "3"  # 1 token at 0.4/s is 2.5 s, rounded up
    body = third.json()
    assert body["status"] == 429
    assert body["title"] == "Too Many Requests"
    assert body["type"] == "about:blank"
    assert "3 seconds" in body["detail"]


async def test_the_client_is_let_back_in_once_the_clock_has_moved_on(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    headers = bearer("police-feed")
    for _ in range(3):
        await client.post("/contacts", headers=headers)

    clock.advance(seconds=3)
    response = await client.post("/contacts", headers=headers)

    assert response.status_code == 200


async def test_one_agency_hitting_its_limit_does_not_block_another(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        await client.post("/contacts", headers=bearer("feed", agency="police"))

    response = await client.post("/contacts", headers=bearer("feed", agency="health"))

    assert response.status_code == 200
    assert response.json() == {"client": "health:feed"}


async def test_an_unauthenticated_request_gets_401_and_spends_no_token(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(5):
        unauthenticated = await client.post("/contacts")
        assert unauthenticated.status_code == 401

    response = await client.post("/contacts", headers=bearer("police-feed"))

    assert response.status_code == 200


async def test_an_app_without_a_limiter_fails_loudly() -> None:
    app = make_app(RateLimiter(capacity=1, refill_per_second=1.0, clock=FrozenClock(START)))
    del app.state.rate_limiter
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)

    async with httpx.AsyncClient(transport=transport, base_url="http://mash.test") as http:
        # Answered inside the app as a generic 500 (mashcore.outage) and logged as an error.
        response = await http.post("/contacts", headers=bearer("police-feed"))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
