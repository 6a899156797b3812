"""Convergence passes, run explicitly on a manual clock."""

from __future__ import annotations

import pytest

from builders import desired_lrp
from fakebbs import models
from fakebbs._http.events import Event, calculate_events
from fakebbs._rules.state import State
from fakebbs._rules.store import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    ORDINARY,
    RUNNING,
    SUSPECT,
    UNCLAIMED,
    ActualKey,
    Change,
)
from fakebbs.clock import Clock
from rules_support import put_row

MINUTE = 60


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.freeze(at=1_700_000_000 * 10**9)
    return clock


def put(
    state: State,
    process_guid: str,
    index: int,
    status: str,
    *,
    presence: models.ActualLRP.Presence = ORDINARY,
    cell_id: str = "cell-1",
    domain: str = "cf-apps",
    crash_count: int = 0,
    since: int | None = None,
) -> models.ActualLRP:
    lrp = state.store.new_actual_lrp(process_guid, index, domain)
    lrp.state = status
    lrp.presence = presence
    lrp.crash_count = crash_count
    if since is not None:
        lrp.since = since
    if status in (CLAIMED, RUNNING):
        lrp.actual_lrp_instance_key.CopyFrom(
            models.ActualLRPInstanceKey(instance_guid=f"ig-{index}-{presence}", cell_id=cell_id)
        )
    if status == RUNNING:
        lrp.actual_lrp_net_info.address = "10.0.0.1"
    put_row(state, lrp)
    return lrp


def rows(state: State, process_guid: str = "web") -> dict[tuple[int, int], str]:
    return {
        (k.index, k.presence): lrp.state
        for k, lrp in state.store.actual_lrps.items()
        if k.process_guid == process_guid
    }


def register_cell(state: State, cell_id: str = "cell-1") -> None:
    state.register_cell(models.CellPresence(cell_id=cell_id))


def test_missing_indices_are_created_unclaimed(state: State) -> None:
    state.desire_lrp(desired_lrp("web", instances=3))
    del state.store.actual_lrps[ActualKey("web", 1, ORDINARY)]

    result = state.converge_lrps()

    assert result.created_missing == [("web", 1)]
    assert rows(state) == {
        (0, ORDINARY): UNCLAIMED,
        (1, ORDINARY): UNCLAIMED,
        (2, ORDINARY): UNCLAIMED,
    }


def test_extra_indices_are_retired_only_in_a_fresh_domain(state: State) -> None:
    state.desire_lrp(desired_lrp("web", instances=1))
    put(state, "web", 1, UNCLAIMED)

    assert state.converge_lrps().retired == []
    state.upsert_domain("cf-apps", 0)
    assert state.converge_lrps().retired == [("web", 1)]
    assert rows(state) == {(0, ORDINARY): UNCLAIMED}


def test_orphaned_instances_of_a_fresh_domain_are_retired(state: State) -> None:
    state.upsert_domain("cf-apps", 0)
    put(state, "gone", 0, CRASHED)
    put(state, "unknown-domain", 0, CRASHED, domain="other")

    result = state.converge_lrps()

    assert result.retired == [("gone", 0)]
    assert rows(state, "gone") == {}
    assert rows(state, "unknown-domain") == {(0, ORDINARY): CRASHED}


@pytest.mark.parametrize(
    ("crash_count", "wait", "restarted"),
    [
        (3, 29, False),
        (3, 31, True),
        (4, 59, False),
        (4, 61, True),
        (8, 15 * MINUTE, False),
        (8, 16 * MINUTE + 1, True),
        (200, 10 * 60 * MINUTE, False),
    ],
)
def test_a_crashed_instance_restarts_once_its_backoff_has_passed(
    state: State, clock: Clock, crash_count: int, wait: int, restarted: bool
) -> None:
    state.desire_lrp(desired_lrp("web", instances=1))
    put(state, "web", 0, CRASHED, crash_count=crash_count, since=clock())

    clock.advance(wait)
    result = state.converge_lrps()

    assert (result.restarted_crashed == [("web", 0)]) is restarted
    row = state.store.actual_lrps[ActualKey("web", 0, ORDINARY)]
    assert row.state == (UNCLAIMED if restarted else CRASHED)
    assert row.crash_count == crash_count


def test_with_no_cell_registered_a_running_instance_becomes_suspect_with_a_replacement(
    state: State,
) -> None:
    state.desire_lrp(desired_lrp("web", instances=1))
    put(state, "web", 0, RUNNING)

    result = state.converge_lrps()

    assert result.suspected == [("web", 0)]
    assert rows(state) == {(0, SUSPECT): RUNNING, (0, ORDINARY): UNCLAIMED}


def test_an_instance_on_a_registered_cell_is_left_alone(state: State) -> None:
    register_cell(state)
    state.desire_lrp(desired_lrp("web", instances=1))
    put(state, "web", 0, RUNNING)

    result = state.converge_lrps()

    assert result.suspected == [] and rows(state) == {(0, ORDINARY): RUNNING}


def test_a_suspect_whose_cell_comes_back_is_promoted_and_its_replacement_removed(
    state: State,
) -> None:
    state.desire_lrp(desired_lrp("web", instances=1))
    put(state, "web", 0, RUNNING)
    state.converge_lrps()
    register_cell(state)

    result = state.converge_lrps()

    assert result.promoted_suspects == [("web", 0)]
    assert rows(state) == {(0, ORDINARY): RUNNING}


def test_a_suspect_is_removed_once_its_replacement_runs(state: State) -> None:
    register_cell(state, "cell-2")
    state.desire_lrp(desired_lrp("web", instances=1))
    put(state, "web", 0, RUNNING, presence=SUSPECT, cell_id="cell-1")
    put(state, "web", 0, RUNNING, cell_id="cell-2")

    result = state.converge_lrps()

    assert result.removed_suspects == [("web", 0)]
    assert rows(state) == {(0, ORDINARY): RUNNING}


def test_evacuating_instances_on_unregistered_cells_are_removed(state: State) -> None:
    register_cell(state, "cell-2")
    state.desire_lrp(desired_lrp("web", instances=1))
    put(state, "web", 0, RUNNING, presence=EVACUATING, cell_id="cell-1")

    result = state.converge_lrps()

    assert result.removed_evacuating == [("web", 0)]
    assert (0, EVACUATING) not in rows(state)


def test_expired_domains_are_pruned(state: State, clock: Clock) -> None:
    state.upsert_domain("short", 5)
    state.upsert_domain("forever", 0)
    clock.advance(6)

    assert state.converge_lrps().pruned_domains == ["short"]
    assert state.store.domains.keys() == {"forever"}


def test_a_pass_is_one_operation_so_listeners_see_it_in_one_batch(state: State) -> None:
    state.desire_lrp(desired_lrp("web", instances=2))
    with state.store.operation() as op:
        for key in list(state.store.actual_lrps):
            op.delete_actual(key, emit="none")
    batches: list[list[Change]] = []
    state.store.listeners.append(batches.append)

    state.converge_lrps(trace_id="t")

    assert len(batches) == 1
    assert [(c.before, c.after is not None, c.trace_id) for c in batches[0]] == [
        (None, True, "t"),
        (None, True, "t"),
    ]


def test_a_converged_state_is_left_unchanged(state: State) -> None:
    register_cell(state)
    state.upsert_domain("cf-apps", 0)
    state.desire_lrp(desired_lrp("web", instances=2))
    put(state, "web", 1, RUNNING)
    batches: list[list[Change]] = []
    state.store.listeners.append(batches.append)

    state.converge_lrps()

    assert batches == []


def desire_task(state: State, guid: str = "t1") -> None:
    state.desire_task(
        models.TaskDefinition(
            root_fs="preloaded:cflinuxfs4",
            action=models.Action(run_action=models.RunAction(path="/bin/true", user="vcap")),
        ),
        guid,
        "d",
    )


def test_a_pending_task_past_its_expiry_fails(state: State, clock: Clock) -> None:
    desire_task(state)
    clock.advance(30 * MINUTE + 1)

    result = state.converge_tasks()

    task = state.store.tasks["t1"]
    assert result.expired_pending == ["t1"]
    assert (task.state, task.failed, task.failure_reason) == (
        models.Task.Completed,
        True,
        "not started within time limit",
    )


def test_a_running_task_on_a_vanished_cell_fails(state: State) -> None:
    desire_task(state)
    state.start_task("t1", "cell-9")

    result = state.converge_tasks()

    assert result.failed_missing_cell == ["t1"]
    assert state.store.tasks["t1"].failure_reason == "cell disappeared before completion"


def test_a_completed_task_is_deleted_after_its_expiry(state: State, clock: Clock) -> None:
    register_cell(state)
    desire_task(state)
    state.start_task("t1", "cell-1")
    state.complete_task("t1", "cell-1", failed=False, failure_reason="", result="ok")

    clock.advance(2 * MINUTE - 1)
    assert state.converge_tasks().deleted_completed == []
    clock.advance(2)
    assert state.converge_tasks().deleted_completed == ["t1"]
    assert state.store.tasks == {}


def test_a_resolving_task_not_updated_for_the_kick_duration_goes_back_to_completed(
    state: State, clock: Clock
) -> None:
    register_cell(state)
    desire_task(state)
    state.start_task("t1", "cell-1")
    state.complete_task("t1", "cell-1", failed=False, failure_reason="", result="")
    state.resolving_task("t1")
    clock.advance(31)

    result = state.converge_tasks()

    assert result.demoted_resolving == ["t1"]
    assert state.store.tasks["t1"].state == models.Task.Completed


def test_a_suspected_instance_shows_on_the_instance_stream_only(state: State) -> None:
    """Upstream's converger emits instance events alone for a new suspect and its replacement."""
    state.desire_lrp(desired_lrp("web", instances=1))
    put(state, "web", 0, RUNNING)
    events: list[Event] = []
    state.store.listeners.append(
        lambda changes: events.extend(calculate_events(changes, state.store.actual_lrps))
    )

    state.converge_lrps()

    assert [(e.hub, e.name) for e in events] == [
        ("instance", "actual_lrp_instance_changed"),
        ("instance", "actual_lrp_instance_created"),
    ]
