"""What the rule tests share besides their fixtures (``conftest.py``): a clock that moves only
when a test says so, states built over a fresh store with counted guids, and rows placed as a
test arranges them."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from fakebbs import models
from fakebbs._rules.state import State
from fakebbs._rules.store import ActualKey, Store
from fakebbs._rules.tasks import DEFAULT_MAX_TASK_RETRIES

START = 1_700_000_000 * 10**9
"""Where a test clock starts (Unix nanoseconds)."""


class Clock:
    """A clock that moves only when a test says so: ``now`` nanoseconds."""

    def __init__(self, now: int = START) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, nanoseconds: int) -> None:
        self.now += nanoseconds

    def tick(self) -> int:
        """A microsecond later: enough for a timestamp to differ."""
        self.now += 1000
        return self.now


def new_state(
    clock: Callable[[], int] | None = None, *, max_task_retries: int = DEFAULT_MAX_TASK_RETRIES
) -> State:
    """A state over a fresh store on ``clock``, whose epochs are "epoch-0", "epoch-1", ..."""
    guids = (f"epoch-{n}" for n in itertools.count())
    store = Store(clock=clock or Clock(), new_guid=lambda: next(guids))
    return State(store, max_task_retries=max_task_retries)


def put_row(state: State, lrp: models.ActualLRP) -> None:
    """Store ``lrp`` as it is, with no recorded change: a rule test arranges rows (states no
    rule reaches, or without the changes the rules would record) and then watches only what
    the rule under test records. The store's per-process keys are kept right."""
    key = ActualKey.of(lrp)
    state.store.actual_lrps[key] = lrp
    state.store._keyed(key)
