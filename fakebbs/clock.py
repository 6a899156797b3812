"""Clocks the fake reads for every timestamp and expiry.

A clock is any callable returning the current time in Unix nanoseconds. ``FakeBBS`` uses the
real time by default; pass a ``ManualClock`` to move time by hand in a test (crash backoffs,
domain TTLs, task expiry) without sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

__all__ = ["ManualClock", "system_clock"]

NANOSECONDS_PER_SECOND = 10**9


def system_clock() -> int:
    """The real time, in Unix nanoseconds."""
    return time.time_ns()


class ManualClock:
    """A clock that stands still until told to move.

    ``ManualClock()`` starts at the real current time; ``ManualClock(start)`` at ``start``
    (Unix nanoseconds or a timezone-aware ``datetime``). Thread-safe: a server thread may read
    it while the test advances it.
    """

    def __init__(self, start: int | datetime | None = None) -> None:
        if start is None:
            start = time.time_ns()
        elif isinstance(start, datetime):
            if start.tzinfo is None:
                raise ValueError("a ManualClock needs a timezone-aware datetime")
            start = _to_ns(start)
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, *, nanoseconds: int = 0) -> int:
        """Move forward (never back) and return the new time."""
        step = round(seconds * NANOSECONDS_PER_SECOND) + nanoseconds
        if step < 0:
            raise ValueError("a ManualClock only moves forward")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: int | datetime) -> None:
        """Jump to ``when`` (forward or back: a test may want to see a clock go backwards)."""
        with self._lock:
            self._now = _to_ns(when) if isinstance(when, datetime) else when

    def __repr__(self) -> str:
        return f"ManualClock({self()})"


def _to_ns(when: datetime) -> int:
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta // timedelta(microseconds=1)) * 1000
