"""The clocks the fake reads."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fakebbs import Clock, FakeBBS
from fakebbs.clock import MAX_NANOSECONDS, system_clock
from fakebbs.clock import ManualClock as _DeprecatedManualClock


def ManualClock(start: int | datetime | None = None) -> _DeprecatedManualClock:
    """The deprecated clock, made as a suite written against it makes it."""
    with pytest.deprecated_call(match="bbs.clock.freeze"):
        return _DeprecatedManualClock(start)


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
    fake.seed.domain("d", ttl=10)

    clock.advance(9)
    assert fake.client().domains() == ["d"]
    clock.advance(2)
    assert fake.client().domains() == []


# -- Clock, every fake's clock ----------------------------------------------------------------


def source_at(now: list[int]) -> Callable[[], int]:
    return lambda: now[0]


def test_a_clock_follows_its_source_until_frozen() -> None:
    now = [1_000]
    clock = Clock(source_at(now))

    now[0] = 2_000
    assert (clock(), clock.nanoseconds(), clock.frozen) == (2_000, 2_000, False)


def test_a_frozen_clock_stands_still_while_its_source_runs() -> None:
    now = [1_000]
    clock = Clock(source_at(now))

    assert clock.freeze() == 1_000
    now[0] = 5_000

    assert (clock(), clock.frozen) == (1_000, True)


def test_a_frozen_clock_moves_only_when_advanced() -> None:
    clock = Clock(source_at([0]))
    clock.freeze(at=10 * 10**9)

    assert clock.advance(31) == 41 * 10**9
    assert clock.advance(nanoseconds=5) == 41 * 10**9 + 5
    assert clock() == 41 * 10**9 + 5


def test_a_clock_freezes_at_a_timezone_aware_datetime_and_reads_back_as_one() -> None:
    clock = Clock()

    clock.freeze(at=datetime(2016, 7, 21, 2, tzinfo=timezone(timedelta(hours=2))))

    assert clock() == 1_469_059_200 * 10**9
    assert clock.now() == datetime(2016, 7, 21, tzinfo=UTC)


def test_a_clock_refuses_a_naive_datetime_and_a_step_back() -> None:
    clock = Clock()
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.freeze(at=datetime(2016, 7, 21))
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)


def test_advancing_a_running_clock_puts_it_ahead_of_its_source() -> None:
    now = [1_000]
    clock = Clock(source_at(now))

    clock.advance(nanoseconds=500)
    now[0] = 2_000

    assert (clock(), clock.frozen) == (2_500, False)


def test_unfreezing_goes_back_to_the_source_forgetting_what_was_advanced() -> None:
    now = [1_000]
    clock = Clock(source_at(now))
    clock.advance(nanoseconds=7)
    clock.freeze()
    clock.advance(60)

    clock.unfreeze()

    assert (clock(), clock.frozen) == (1_000, False)


def test_every_fake_has_a_clock_that_runs_in_real_time() -> None:
    fake = FakeBBS()

    before = time.time_ns()
    assert isinstance(fake.clock, Clock)
    assert before <= fake.clock() <= time.time_ns()


def test_a_fake_built_with_a_manual_clock_reads_it_through_its_clock() -> None:
    manual = ManualClock(42 * 10**9)
    fake = FakeBBS(clock=manual)

    manual.advance(1)

    assert fake.clock() == 43 * 10**9
    assert fake.clock.source is manual


def test_a_fake_takes_a_clock_given_to_it_as_its_own() -> None:
    clock = Clock()
    assert FakeBBS(clock=clock).clock is clock


def test_the_fake_stamps_with_its_frozen_clock() -> None:
    fake = FakeBBS()
    fake.clock.freeze(at=100 * 10**9)
    fake.seed.domain("d", ttl=10)

    fake.clock.advance(10)

    assert fake.client().domains() == []


def test_reset_lets_the_clock_run_in_real_time_again() -> None:
    fake = FakeBBS()
    fake.clock.freeze(at=0)

    fake.reset()

    before = time.time_ns()
    assert not fake.clock.frozen
    assert before <= fake.clock() <= time.time_ns()


def test_advancing_tells_the_listeners_from_when_to_when() -> None:
    clock = Clock()
    start = clock.freeze()
    seen: list[tuple[int, int]] = []
    clock.on_advance(lambda before, after: seen.append((before, after)))

    clock.advance(2)
    clock.freeze(at=start)  # not an advance: no listener is called

    assert seen == [(start, start + 2 * 10**9)]


def test_a_clock_refuses_to_move_past_what_int64_nanoseconds_hold_and_stays_put() -> None:
    clock = Clock()
    clock.freeze(at=2**62)
    with pytest.raises(ValueError, match="int64"):
        clock.advance(5e9)
    with pytest.raises(ValueError, match="int64"):
        clock.advance(1e12)
    assert clock() == 2**62
    with pytest.raises(ValueError, match="int64"):
        clock.freeze(at=MAX_NANOSECONDS + 1)
    assert clock() == 2**62
    assert clock.freeze(at=MAX_NANOSECONDS) == MAX_NANOSECONDS


def test_a_running_clock_refuses_a_step_past_int64_nanoseconds_and_stays_put() -> None:
    now = [1_000]
    clock = Clock(source_at(now))
    with pytest.raises(ValueError, match="int64"):
        clock.advance(nanoseconds=MAX_NANOSECONDS)
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(float("inf"))
    assert (clock(), clock.frozen) == (1_000, False)


def test_a_manual_clock_stays_within_int64_nanoseconds() -> None:
    clock = ManualClock(MAX_NANOSECONDS - 1)
    with pytest.raises(ValueError, match="int64"):
        clock.advance(1)
    with pytest.raises(ValueError, match="int64"):
        clock.set(MAX_NANOSECONDS + 1)
    assert clock() == MAX_NANOSECONDS - 1
