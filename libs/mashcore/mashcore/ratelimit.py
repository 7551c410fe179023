"""Per-client rate limits for partner systems: a token bucket per client, 429 + Retry-After.

Each client key (``"{agency}:{subject}"`` of the authenticated principal, after its partnership
and a ``/`` when it has one) owns a bucket holding
up to ``capacity`` tokens that refills continuously at ``refill_per_second``. A request spends
one token; a request that finds the bucket empty is refused with how long until a token is back.
So a client may burst ``capacity`` requests at once and then sustain ``refill_per_second``.

Decision: the buckets live in this process, one set per replica. The consequence: behind a load
balancer with N replicas a client gets up to N times the configured limit (and a restart hands
every client a full bucket). That is acceptable for what the limit is for (stopping a partner
system's runaway retry loop from starving the other agencies) but not as a hard quota. The
upgrade path is a shared store (e.g. a Redis/PostgreSQL bucket updated atomically per request)
behind the same ``RateLimiter.check`` interface; nothing outside this module would change.

Time comes from an injected `mashcore.clock.Clock`, so tests move a `FrozenClock` instead of
sleeping. The limiter is thread-safe: FastAPI runs sync dependencies in a thread pool.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import structlog
from fastapi import Depends, Request

from mashcore.auth.fastapi import current_principal
from mashcore.auth.principal import Principal
from mashcore.clock import Clock, to_utc
from mashcore.problems import ProblemHTTPException

__all__ = ["Decision", "RateLimiter", "client_key", "rate_limited"]

_log = structlog.get_logger(__name__)

# Refill arithmetic is in floats: a bucket refilled to 0.9999999999 of a token after exactly
# the advertised wait must still let the request through.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one request may go ahead and, if not, how long until it could."""

    allowed: bool
    retry_after_seconds: float = 0.0
    """Seconds until the bucket holds enough tokens again; 0 when allowed."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_at: datetime


class RateLimiter:
    """A token bucket per client key, all in this process (see the module docstring)."""

    def __init__(
        self,
        *,
        capacity: int,
        refill_per_second: float,
        clock: Clock,
        max_tracked_clients: int = 10_000,
    ) -> None:
        """Allow bursts of ``capacity`` requests per client, refilled at ``refill_per_second``.

        ``max_tracked_clients`` bounds memory: past it, buckets that have refilled to full
        (clients idle long enough to be indistinguishable from new ones) are forgotten.
        """
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError("capacity must be a whole number of requests, at least 1")
        if not math.isfinite(refill_per_second) or refill_per_second <= 0:
            raise ValueError("refill_per_second must be a positive, finite rate")
        if max_tracked_clients < 1:
            raise ValueError("max_tracked_clients must be at least 1")
        self.capacity = capacity
        self.refill_per_second = float(refill_per_second)
        self._clock = clock
        self._max_tracked = max_tracked_clients
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, key: str, cost: float = 1.0) -> Decision:
        """Spend ``cost`` tokens of ``key``'s bucket if it has them; say when to retry if not."""
        if not key:
            raise ValueError("a rate-limit key must not be empty")
        if not 0 < cost <= self.capacity:
            # A cost above capacity could never be afforded: refuse to promise a retry time.
            raise ValueError(f"cost must be in (0, {self.capacity}]")
        now = to_utc(self._clock.now())
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_tracked:
                    self._forget_full_buckets(now)
                bucket = _Bucket(tokens=float(self.capacity), updated_at=now)
                self._buckets[key] = bucket
            else:
                self._refill(bucket, now)
            if bucket.tokens + _EPSILON >= cost:
                bucket.tokens = max(0.0, bucket.tokens - cost)
                return Decision(allowed=True)
            wait = (cost - bucket.tokens) / self.refill_per_second
            return Decision(allowed=False, retry_after_seconds=wait)

    def reset(self, key: str | None = None) -> None:
        """Forget one client's bucket (or every bucket), giving it a full burst again."""
        with self._lock:
            if key is None:
                self._buckets.clear()
            else:
                self._buckets.pop(key, None)

    def tracked_clients(self) -> int:
        """How many client buckets are held in memory."""
        with self._lock:
            return len(self._buckets)

    def _refill(self, bucket: _Bucket, now: datetime) -> None:
        # A clock stepping backwards (NTP, a rewound test clock) adds nothing and is not
        # remembered, so the bucket never refills twice over the same interval.
        elapsed = (now - bucket.updated_at).total_seconds()
        if elapsed > 0:
            bucket.tokens = min(
                float(self.capacity), bucket.tokens + elapsed * self.refill_per_second
            )
            bucket.updated_at = now

    def _forget_full_buckets(self, now: datetime) -> None:
        for key in list(self._buckets):
            bucket = self._buckets[key]
            self._refill(bucket, now)
            if bucket.tokens + _EPSILON >= self.capacity:
                del self._buckets[key]


def client_key(principal: Principal) -> str:
    """The rate-limit key of a caller: one bucket per agency system account of a partnership
    (another partnership's system may have the same subject: it must not spend this one's)."""
    key = f"{principal.agency}:{principal.subject}"
    return f"{principal.partnership}/{key}" if principal.partnership else key


def rate_limited(
    limiter_attr: str = "rate_limiter",
) -> Callable[[Request, Principal], Awaitable[Principal]]:
    """Return a dependency that authenticates the caller and spends one of their tokens.

    The limiter is read from ``request.app.state.<limiter_attr>``. Authentication runs first,
    so an unauthenticated request gets 401 without touching any bucket (limiting anonymous
    floods by address is the ingress's job). A refused request gets a 429 problem+json with
    ``Retry-After`` in whole seconds, rounded up. The dependency yields the `Principal`, so an
    endpoint can take it in place of ``CurrentPrincipal``.
    """

    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        limiter = getattr(request.app.state, limiter_attr, None)
        if not isinstance(limiter, RateLimiter):
            raise RuntimeError(f"app.state.{limiter_attr} must be a mashcore RateLimiter")
        key = client_key(principal)
        decision = limiter.check(key)
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.retry_after_seconds - _EPSILON))
            _log.info("rate_limited", client=key, retry_after=retry_after)
            raise ProblemHTTPException(
                429,
                detail=(
                    "This client has sent too many requests. "
                    f"Retry after {retry_after} second{'s' if retry_after != 1 else ''}."
                ),
                headers={"Retry-After": str(retry_after)},
            )
        return principal

    return dependency
