"""The clocks the fake reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fakebbs import FakeBBS
from fakebbs.clock import ManualClock, system_clock


def test_the_system_clock_is_unix_nanoseconds() -> None:
    before = time.time_ns()
    assert before <= system_clock() <= time.time_ns()


def test_a_manual_clock_stands_still_until_advanced() -> None:
    clock = ManualClock(1_000)

    assert clock() == clock() == 1_000
    assert clock.advance(1.5) == 1_000 + 1_500_000_000
    assert clock.advance(nanoseconds=7) == 1_500_001_007


def test_a_manual_clock_refuses_to_advance_backwards() -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        ManualClock(0).advance(-1)


def test_a_manual_clock_starts_at_a_timezone_aware_datetime() -> None:
    utc = ManualClock(datetime(2016, 7, 21, tzinfo=UTC))
    plus_two = ManualClock(datetime(2016, 7, 21, 2, tzinfo=timezone(timedelta(hours=2))))

    assert utc() == plus_two() == 1_469_059_200 * 10**9


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2016, 7, 21))


def test_the_fake_stamps_with_its_clock() -> None:
    clock = ManualClock(42 * 10**9)
    fake = FakeBBS(clock=clock)
    fake.state.upsert_domain("d", ttl_seconds=10)

    clock.advance(9)
    assert fake.state.fresh_domains() == ["d"]
    clock.advance(2)
    assert fake.state.fresh_domains() == []
