"""Clocks the fake reads for every timestamp and expiry.

Every ``FakeBBS`` has a ``Clock`` (``bbs.clock``): the real time until a test freezes it, then
time that moves only when the test says so (crash backoffs, domain TTLs, task expiry) without
sleeping, and real time again after ``unfreeze()`` or ``bbs.reset()``.

Underneath, a clock is any callable returning the current time in Unix nanoseconds: the
``Clock`` reads such a source while it runs. ``system_clock`` is the real time; a
``ManualClock`` is a source that stands still until advanced (pass one to ``FakeBBS(clock=)``
to start a fake at a chosen time).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = [
    "Clock",
    "ManualClock",
    "MAX_NANOSECONDS",
    "MIN_NANOSECONDS",
    "NANOSECONDS_PER_SECOND",
    "system_clock",
]

MAX_NANOSECONDS = 2**63 - 1
"""The latest time a clock can show: what an int64 of Unix nanoseconds holds (every BBS
timestamp is one), in the year 2262."""
MIN_NANOSECONDS = -(2**63)
"""The earliest time a clock can show (an int64 of Unix nanoseconds, in the year 1677)."""
NANOSECONDS_PER_SECOND = 10**9
"""BBS timestamps and durations are Unix nanoseconds (the wire's time unit)."""


def system_clock() -> int:
    """The real time, in Unix nanoseconds."""
    return time.time_ns()


class Clock:
    """A fake's clock: its ``source`` (the real time by default) until frozen.

    ``freeze()`` stops it at the current time (or ``freeze(at)`` at any time); ``advance()``
    moves it forward; ``unfreeze()`` lets it run from the source again, forgetting what was
    advanced. Advancing a running clock puts it ahead of its source by that much. Calling the
    clock, or ``nanoseconds()``, gives Unix nanoseconds; ``now()`` a timezone-aware datetime.
    Thread-safe: a server thread may read it while the test moves it.
    """

    def __init__(self, source: Callable[[], int] = system_clock) -> None:
        self.source = source
        self._lock = threading.Lock()  # for writers; a reader reads ``_setting`` once
        self._setting: tuple[int | None, int] = (None, 0)
        """(the frozen time or None, the offset from the source): replaced whole, so a reader
        without the lock never sees half of a change."""
        self._listeners: list[Callable[[int, int], None]] = []

    def __call__(self) -> int:
        frozen_at, offset = self._setting
        return frozen_at if frozen_at is not None else self.source() + offset

    def nanoseconds(self) -> int:
        """The current time in Unix nanoseconds (what every timestamp of the fake reads)."""
        return self()

    def now(self) -> datetime:
        """The current time as a timezone-aware UTC datetime (microsecond precision)."""
        return _from_ns(self())

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still."""
        return self._setting[0] is not None

    def freeze(self, at: int | datetime | None = None) -> int:
        """Stand still at ``at`` (Unix nanoseconds or a timezone-aware datetime; default: the
        current time of this clock); returns the frozen time. Freezing a frozen clock moves it
        to ``at`` (back in time too, if a test wants that)."""
        when = None if at is None else _to_ns(_aware(at)) if isinstance(at, datetime) else at
        if when is not None:
            _check_time(when, "freeze")
        with self._lock:
            frozen_at, offset = self._setting
            if when is None:
                when = frozen_at if frozen_at is not None else self.source() + offset
            self._setting = (when, offset)
            return when

    def advance(self, seconds: float = 0.0, *, nanoseconds: int = 0) -> int:
        """Move forward (never back) and return the new time. A step that would take the
        clock past ``MAX_NANOSECONDS`` is a ValueError, and the clock does not move."""
        step = _step(seconds, nanoseconds)
        if step < 0:
            raise ValueError("a Clock only moves forward; use freeze(at=...) to go back")
        with self._lock:
            frozen_at, offset = self._setting
            if frozen_at is not None:
                after = _check_time(frozen_at + step, "advance")
                self._setting = (after, offset)
            else:
                after = _check_time(self.source() + offset + step, "advance")
                self._setting = (None, offset + step)
        for listener in list(self._listeners):
            listener(after - step, after)
        return after

    def on_advance(self, listener: Callable[[int, int], None]) -> None:
        """Call ``listener(before, after)`` (Unix nanoseconds) after each ``advance``: the
        simulated Diego runs what falls due in that time."""
        self._listeners.append(listener)

    def unfreeze(self) -> None:
        """Run from the source again (the real time by default), with nothing advanced."""
        with self._lock:
            self._setting = (None, 0)

    def __repr__(self) -> str:
        state = "frozen" if self.frozen else "running"
        return f"Clock({state}, {self.now().isoformat()})"


class ManualClock:
    """Deprecated (``FakeBBS.clock`` freezes and advances): a clock that stands still until
    told to move.

    ``ManualClock()`` starts at the real current time; ``ManualClock(start)`` at ``start``
    (Unix nanoseconds or a timezone-aware ``datetime``). Thread-safe: a server thread may read
    it while the test advances it.
    """

    def __init__(self, start: int | datetime | None = None) -> None:
        warnings.warn(
            "ManualClock is deprecated: every FakeBBS has a clock; use "
            "bbs.clock.freeze(at=...) and bbs.clock.advance(seconds)",
            DeprecationWarning,
            stacklevel=2,
        )
        if start is None:
            start = time.time_ns()
        elif isinstance(start, datetime):
            start = _to_ns(_aware(start, "a ManualClock"))
        self._now = _check_time(start, "ManualClock")
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, *, nanoseconds: int = 0) -> int:
        """Move forward (never back) and return the new time."""
        step = _step(seconds, nanoseconds)
        if step < 0:
            raise ValueError("a ManualClock only moves forward")
        with self._lock:
            self._now = _check_time(self._now + step, "advance")
            return self._now

    def set(self, when: int | datetime) -> None:
        """Jump to ``when`` (forward or back: a test may want to see a clock go backwards)."""
        when = _check_time(_to_ns(when) if isinstance(when, datetime) else when, "set")
        with self._lock:
            self._now = when

    def __repr__(self) -> str:
        return f"ManualClock({self()})"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _step(seconds: float, nanoseconds: int) -> int:
    """A step in nanoseconds; a ValueError for one no clock could take (not finite, or
    beyond what int64 nanoseconds hold)."""
    try:
        step = round(seconds * NANOSECONDS_PER_SECOND) + nanoseconds
    except (OverflowError, ValueError):  # inf, nan
        raise ValueError(f"cannot advance a clock by {seconds!r} seconds") from None
    if abs(step) > MAX_NANOSECONDS:
        raise ValueError(
            f"cannot advance a clock by {seconds!r} s and {nanoseconds} ns: more than int64 "
            "nanoseconds hold"
        )
    return step


def _check_time(nanoseconds: int, what: str) -> int:
    """``nanoseconds`` if an int64 holds it (every BBS timestamp is one); a ValueError that
    says so otherwise, before anything moves."""
    if not MIN_NANOSECONDS <= nanoseconds <= MAX_NANOSECONDS:
        raise ValueError(
            f"{what}: {nanoseconds} is beyond the times a clock can show (int64 Unix "
            f"nanoseconds, {MIN_NANOSECONDS} to {MAX_NANOSECONDS})"
        )
    return nanoseconds


def _aware(when: datetime, who: str = "a Clock") -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{who} needs a timezone-aware datetime")
    return when


def _to_ns(when: datetime) -> int:
    return ((when - _EPOCH) // timedelta(microseconds=1)) * 1000


def _from_ns(nanoseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=nanoseconds // 1000)
