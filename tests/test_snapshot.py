"""Snapshots: seed once, restore per test. A snapshot shares the stored messages with the
state, so these tests also pin down the invariant that makes that safe: no rule changes a
stored message in place."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import desired_lrp
from fakebbs import BBSClient, FakeBBS, Snapshot, models
from fakebbs._http.events import Event
from fakebbs._rules.state import State
from fakebbs._rules.store import Change, Store
from fakebbs.errors import BBSError

SECOND = 10**9
CELL = "cell-1"


def key(process_guid: str, index: int) -> models.ActualLRPKey:
    return models.ActualLRPKey(process_guid=process_guid, index=index, domain="cf-apps")


def instance(cell_id: str = CELL, guid: str = "ig") -> models.ActualLRPInstanceKey:
    return models.ActualLRPInstanceKey(instance_guid=f"{guid}-{cell_id}", cell_id=cell_id)


NET = models.ActualLRPNetInfo(address="10.0.0.1", ports=[models.PortMapping(container_port=8080)])


def task_definition() -> models.TaskDefinition:
    return models.TaskDefinition(
        root_fs="preloaded:cflinuxfs4",
        action=models.Action(run_action=models.RunAction(path="/bin/t", user="vcap")),
    )


# Every rule that writes, as a step a test can run in any order (a refused one changes nothing).
STEPS: dict[str, Callable[[State, int], object]] = {
    "desire": lambda s, i: s.desire_lrp(desired_lrp(f"p{i % 3}", instances=2)),
    "scale": lambda s, i: s.update_desired_lrp(
        f"p{i % 3}", models.DesiredLRPUpdate(instances=i % 4, annotation=f"a{i}")
    ),
    "remove": lambda s, i: s.remove_desired_lrp(f"p{i % 3}"),
    "claim": lambda s, i: s.claim_actual_lrp(f"p{i % 3}", i % 2, instance()),
    "start": lambda s, i: s.start_actual_lrp(key(f"p{i % 3}", i % 2), instance(), NET),
    "start elsewhere": lambda s, i: s.start_actual_lrp(
        key(f"p{i % 3}", i % 2), instance("cell-2"), NET
    ),
    "crash": lambda s, i: s.crash_actual_lrp(key(f"p{i % 3}", i % 2), instance(), "boom"),
    "fail": lambda s, i: s.fail_actual_lrp(key(f"p{i % 3}", i % 2), "no cell"),
    "retire": lambda s, i: s.retire_actual_lrp(key(f"p{i % 3}", i % 2)),
    "remove actual": lambda s, i: s.remove_actual_lrp(f"p{i % 3}", i % 2),
    "evacuate claimed": lambda s, i: s.evacuate_claimed_actual_lrp(
        key(f"p{i % 3}", i % 2), instance()
    ),
    "evacuate running": lambda s, i: s.evacuate_running_actual_lrp(
        key(f"p{i % 3}", i % 2), instance(), NET
    ),
    "evacuate stopped": lambda s, i: s.evacuate_stopped_actual_lrp(
        key(f"p{i % 3}", i % 2), instance()
    ),
    "evacuate crashed": lambda s, i: s.evacuate_crashed_actual_lrp(
        key(f"p{i % 3}", i % 2), instance(), "gone"
    ),
    "remove evacuating": lambda s, i: s.remove_evacuating_actual_lrp(
        key(f"p{i % 3}", i % 2), instance()
    ),
    "desire task": lambda s, i: s.desire_task(task_definition(), f"t{i % 3}", "d"),
    "start task": lambda s, i: s.start_task(f"t{i % 3}", CELL),
    "complete task": lambda s, i: s.complete_task(f"t{i % 3}", CELL, failed=i % 2 == 0),
    "reject task": lambda s, i: s.reject_task(f"t{i % 3}", "full"),
    "cancel task": lambda s, i: s.cancel_task(f"t{i % 3}"),
    "resolve task": lambda s, i: s.resolving_task(f"t{i % 3}"),
    "delete task": lambda s, i: s.delete_task(f"t{i % 3}"),
    "domain": lambda s, i: s.upsert_domain("cf-apps", i % 2 * 10),
    "register cell": lambda s, i: s.register_cell(models.CellPresence(cell_id=f"cell-{i % 2 + 1}")),
    "unregister cell": lambda s, i: s.unregister_cell(f"cell-{i % 2 + 1}"),
    "converge": lambda s, i: s.converge(),
}


def run(state: State, step: str, i: int) -> None:
    try:
        STEPS[step](state, i)
    except BBSError:
        pass


def serialized(snap: Snapshot) -> dict[str, dict[object, bytes | int | None]]:
    """Every row of a snapshot as bytes: what must never change once the snapshot is taken."""
    tables: dict[str, Mapping[Any, Message]] = {
        "desired": snap.desired_lrps,
        "actual": snap.actual_lrps,
        "tasks": snap.tasks,
        "cells": snap.cells,
    }
    rows: dict[str, dict[object, bytes | int | None]] = {
        name: {k: v.SerializeToString(deterministic=True) for k, v in table.items()}
        for name, table in tables.items()
    }
    rows["domains"] = {name: ttl for name, ttl in snap.domains.items()}
    return rows


def rich_state(now: list[int]) -> State:
    """A state with rows in many states: desired LRPs with claimed, running, crashed and
    evacuating instances, tasks in every state, a domain and cells."""
    state = State(Store(clock=lambda: now[0]))
    setup = [
        ("domain", 0), ("register cell", 0), ("register cell", 1),
        ("desire", 0), ("desire", 1), ("desire", 2),
        ("claim", 0), ("start", 1), ("start", 2),
        ("start", 4), ("evacuate running", 4),
        ("start", 5), ("crash", 5), ("start", 5), ("crash", 5), ("start", 5), ("crash", 5),
        ("start elsewhere", 3), ("unregister cell", 1), ("converge", 0), ("register cell", 1),
        ("desire task", 0), ("desire task", 1), ("desire task", 2),
        ("start task", 1), ("start task", 2), ("complete task", 2),
    ]  # fmt: skip
    for step, i in setup:
        run(state, step, i)
    return state


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_rule_never_changes_a_stored_row_in_place(step: str) -> None:
    now = [1_700_000_000 * SECOND]
    state = rich_state(now)
    snap = state.store.snapshot()
    taken = serialized(snap)

    for i in range(6):
        now[0] += 400 * SECOND
        run(state, step, i)

    assert serialized(snap) == taken
    state.store.reset()


steps = st.lists(st.tuples(st.sampled_from(sorted(STEPS)), st.integers(0, 5)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(before=steps, after=steps)
def test_no_write_changes_a_snapshot_taken_before_it(
    before: list[tuple[str, int]], after: list[tuple[str, int]]
) -> None:
    now = [1_700_000_000 * SECOND]
    state = State(Store(clock=lambda: now[0]))
    for step, i in before:
        run(state, step, i)
    snap = state.store.snapshot()
    taken = serialized(snap)

    for step, i in after:
        now[0] += 40 * SECOND
        run(state, step, i)

    assert serialized(snap) == taken
    state.store.restore(snap)
    assert serialized(state.store.snapshot()) == taken
    state.store.reset()


def test_a_restore_brings_back_every_table() -> None:
    fake = FakeBBS()
    fake.seed.domain("cf-apps")
    fake.seed.cell("cell-1")
    fake.client().desire_lrp(desired_lrp("web", instances=2))
    fake.client().desire_task("t-1", "d", task_definition())
    snap = fake.snapshot()
    fake.reset()

    fake.restore(snap)

    with BBSClient.in_process(fake.wsgi_app) as bbs:
        assert [lrp.process_guid for lrp in bbs.desired_lrps()] == ["web"]
        assert sorted(a.actual_lrp_key.index for a in bbs.actual_lrps()) == [0, 1]
        assert [t.task_guid for t in bbs.tasks()] == ["t-1"]
        assert bbs.domains() == ["cf-apps"]
        assert [c.cell_id for c in bbs.cells()] == ["cell-1"]


def test_a_restore_forgets_what_was_written_after_the_snapshot() -> None:
    fake = FakeBBS()
    snap = fake.snapshot()
    fake.client().desire_lrp(desired_lrp("late"))
    fake.seed.cell("cell-9")

    fake.restore(snap)

    assert (
        fake.snapshot().desired_lrps,
        fake.snapshot().actual_lrps,
        fake.snapshot().cells,
    ) == ({}, {}, {})


def test_a_snapshot_can_be_restored_again_and_again() -> None:
    fake = FakeBBS()
    fake.client().desire_lrp(desired_lrp("web", instances=1))
    snap = fake.snapshot()
    for _ in range(3):
        fake.client().remove_desired_lrp("web")
        fake.restore(snap)
        assert list(fake.snapshot().desired_lrps) == ["web"]


def test_a_snapshot_restores_into_another_fake() -> None:
    one, two = FakeBBS(), FakeBBS()
    one.client().desire_lrp(desired_lrp("web", instances=1))

    two.restore(one.snapshot())
    two.client().remove_desired_lrp("web")

    assert list(one.snapshot().desired_lrps) == ["web"]
    assert list(two.snapshot().desired_lrps) == []


def test_a_snapshot_is_read_only() -> None:
    snap = FakeBBS().snapshot()
    with pytest.raises(TypeError):
        snap.desired_lrps["web"] = desired_lrp("web")  # type: ignore[index]


def test_a_restore_reaches_open_streams_as_the_changes_it_makes() -> None:
    fake = FakeBBS()
    fake.client().desire_lrp(desired_lrp("kept", instances=0))
    snap = fake.snapshot()
    fake.client().remove_desired_lrp("kept")
    fake.client().desire_lrp(desired_lrp("late", instances=1))
    subscription = fake._events.subscribe({"desired", "actual"})

    fake.restore(snap)

    events = []
    while isinstance(event := subscription.get(0), Event):
        lrp = getattr(event.message, "desired_lrp", None)
        events.append((event.name, None if lrp is None else lrp.process_guid))
    assert events == [
        ("desired_lrp_removed", "late"),
        ("desired_lrp_created", "kept"),
        ("actual_lrp_removed", None),
    ]


def test_a_reset_and_a_restore_are_one_recorded_change_each() -> None:
    fake = FakeBBS()
    for i in range(200):
        fake.client().desire_lrp(desired_lrp(f"app-{i}", instances=3))
    snap = fake.snapshot()
    batches: list[list[Change]] = []
    fake._state.store.listeners.append(batches.append)

    fake.reset()
    fake.restore(snap)

    assert [[c.kind for c in batch] for batch in batches] == [["restore"], ["restore"]]
    assert len(fake.snapshot().actual_lrps) == 600
