"""Client-side politeness towards CDS: the published rate, backoff, a circuit breaker.

HMRC's APIs allow 3 requests per second per application by default and answer 429
beyond; a backlog drained after an outage must not hammer them.  The limiter spaces
every request (submissions and pulls alike); retries back off exponentially with full
jitter and never sooner than a Retry-After; the breaker stops a pass early when CDS keeps
failing, so that a broken service is probed, not flooded.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from sync.transport import TransportError

PUBLISHED_RATE = 3.0


class RateLimiter:
    """A token bucket refilled at ``rate`` per second, bursts of at most ``burst``.

    The default burst is one request: evenly spaced requests leave CDS's own bucket its
    whole burst allowance to absorb network jitter (a client bursting as much as the
    server allows meets 429 whenever two requests travel at different speeds)."""

    def __init__(self, rate: float | None = PUBLISHED_RATE, burst: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate if rate and rate > 0 else None
        self.burst = max(1.0, burst)
        self._tokens = self.burst
        self._clock = clock
        self._sleep = sleep
        self._at = clock()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        """Wait until a request may go (no wait at all when the limit is off)."""
        if self.rate is None:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            wait = (1.0 - self._tokens) / self.rate
            self._tokens = 0.0
            self._at = now + wait
            self.waited += wait
        self._sleep(wait)


def backoff(failures: int, retry_after: float | None = None, *, base: float = 0.5,
            cap: float = 60.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter; never sooner than the server's Retry-After."""
    delay = (rng or random).uniform(0, min(cap, base * (2 ** min(failures, 16))))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


class CircuitBreaker:
    """Open after ``threshold`` failures in a row; one trial request after ``cooldown``."""

    def __init__(self, threshold: int = 5, cooldown: float = 5.0, max_cooldown: float = 120.0,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.base_cooldown = cooldown
        self.max_cooldown = max_cooldown
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.cooldown = cooldown

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self.opened_at >= self.cooldown else "open"

    def check(self) -> None:
        """Raise while open; let one trial through once the cooldown has passed."""
        if self.state == "open":
            assert self.opened_at is not None
            remaining = self.cooldown - (self._clock() - self.opened_at)
            raise TransportError("cds.circuit_open", retry_after=max(0.1, remaining),
                                 seconds=round(remaining, 1))

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.cooldown = self.base_cooldown

    def failure(self) -> None:
        self.failures += 1
        if self.opened_at is not None:  # the trial failed: open again, for longer
            self.cooldown = min(self.max_cooldown, self.cooldown * 2)
            self.opened_at = self._clock()
        elif self.failures >= self.threshold:
            self.opened_at = self._clock()
