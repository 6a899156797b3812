"""The task rules, called directly: every transition of the task lifecycle, allowed and refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakebbs import FakeBBS, models
from fakebbs._rules.state import State
from fakebbs._rules.store import Change, copy
from fakebbs._rules.tasks import (
    COMPLETED,
    DEFAULT_MAX_TASK_RETRIES,
    PENDING,
    RESOLVING,
    RUNNING,
)
from fakebbs.errors import (
    BBSError,
    InvalidRequest,
    InvalidStateTransition,
    ResourceExists,
    ResourceNotFound,
    RunningOnDifferentCell,
)
from rules_support import Clock, new_state

T0 = 1_700_000_000 * 10**9


def definition(**fields: object) -> models.TaskDefinition:
    """A valid TaskDefinition; ``fields`` replace or add to the defaults."""
    defaults: dict[str, object] = {
        "root_fs": "preloaded:cflinuxfs4",
        "action": models.Action(run_action=models.RunAction(path="/bin/task", user="vcap")),
    }
    return models.TaskDefinition(**{**defaults, **fields})  # type: ignore[arg-type]


def at(
    state: State,
    status: int,
    task_guid: str = "t",
    cell_id: str = "cell-1",
    rejection_count: int = 0,
) -> models.Task:
    """Bring a new task to ``status`` through the rules themselves."""
    state.desire_task(definition(), task_guid, "d")
    if status in (RUNNING, COMPLETED, RESOLVING):
        state.start_task(task_guid, cell_id)
    if status in (COMPLETED, RESOLVING):
        state.complete_task(task_guid, cell_id, failed=False, result="done")
    if status == RESOLVING:
        state.resolving_task(task_guid)
    state.store.tasks[task_guid].rejection_count = rejection_count
    return state.task_by_guid(task_guid)


# -- desire and queries -----------------------------------------------------------------------


def test_desire_creates_a_pending_task_created_and_updated_now(
    state: State, clock: Clock, changes: list[Change]
) -> None:
    task = state.desire_task(definition(annotation="a"), "t", "d", trace_id="trace")

    assert task.state == PENDING
    assert (task.task_guid, task.domain) == ("t", "d")
    assert task.created_at == task.updated_at == clock.now
    assert task.first_completed_at == 0 and task.rejection_count == 0
    assert task.task_definition == definition(annotation="a")
    assert changes == [Change("task", None, task, "trace")]


def test_desiring_a_task_guid_twice_is_refused_and_changes_nothing(
    state: State, changes: list[Change]
) -> None:
    first = state.desire_task(definition(), "t", "d")

    with pytest.raises(ResourceExists):
        state.desire_task(definition(annotation="other"), "t", "other")

    assert state.task_by_guid("t") == first
    assert len(changes) == 1


def test_tasks_filter_by_domain_and_cell_together(state: State) -> None:
    at(state, RUNNING, "a", cell_id="cell-1")
    at(state, PENDING, "b")
    state.desire_task(definition(), "c", "other")

    assert [t.task_guid for t in state.tasks_matching()] == ["a", "b", "c"]
    assert [t.task_guid for t in state.tasks_matching(domain="d")] == ["a", "b"]
    assert [t.task_guid for t in state.tasks_matching(cell_id="cell-1")] == ["a"]
    assert state.tasks_matching(domain="other", cell_id="cell-1") == []


def test_queries_hand_out_copies(state: State) -> None:
    at(state, PENDING)

    state.task_by_guid("t").domain = "changed"
    state.tasks_matching()[0].domain = "changed"

    assert state.store.tasks["t"].domain == "d"


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.task_by_guid("nope"),
        lambda s: s.start_task("nope", "cell-1"),
        lambda s: s.cancel_task("nope"),
        lambda s: s.fail_task("nope", "r"),
        lambda s: s.reject_task("nope", "r"),
        lambda s: s.complete_task("nope", "cell-1", False),
        lambda s: s.resolving_task("nope"),
        lambda s: s.delete_task("nope"),
    ],
)
def test_every_rule_on_an_unknown_task_is_resource_not_found(
    state: State, call: Callable[[State], object]
) -> None:
    with pytest.raises(ResourceNotFound):
        call(state)


# -- start ------------------------------------------------------------------------------------


def test_start_runs_a_pending_task_on_the_cell(
    state: State, clock: Clock, changes: list[Change]
) -> None:
    before = at(state, PENDING)
    clock.tick()

    assert state.start_task("t", "cell-1", trace_id="x") is True

    after = state.task_by_guid("t")
    assert (after.state, after.cell_id, after.updated_at) == (RUNNING, "cell-1", clock.now)
    assert changes[-1] == Change("task", before, after, "x")


def test_start_on_the_cell_already_running_it_says_do_not_start_and_changes_nothing(
    state: State, changes: list[Change]
) -> None:
    before = at(state, RUNNING)
    seen = len(changes)

    assert state.start_task("t", "cell-1") is False

    assert state.task_by_guid("t") == before
    assert len(changes) == seen


def test_start_on_another_cell_than_the_running_one_is_refused(state: State) -> None:
    at(state, RUNNING)

    with pytest.raises(InvalidStateTransition) as refused:
        state.start_task("t", "cell-2")

    assert refused.value.message == "Cannot transition from Running to Running"


@pytest.mark.parametrize("status, name", [(COMPLETED, "Completed"), (RESOLVING, "Resolving")])
def test_start_of_a_finished_task_is_refused(state: State, status: int, name: str) -> None:
    at(state, status)

    with pytest.raises(InvalidStateTransition) as refused:
        state.start_task("t", "cell-1")

    assert refused.value.message == f"Cannot transition from {name} to Running"


# -- cancel and fail ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [PENDING, RUNNING])
def test_cancel_completes_the_task_as_failed_and_clears_its_cell(
    state: State, clock: Clock, status: int
) -> None:
    at(state, status)
    clock.tick()

    after = state.cancel_task("t")

    assert after == state.task_by_guid("t")
    assert (after.state, after.failed, after.failure_reason) == (
        COMPLETED,
        True,
        "task was cancelled",
    )
    assert (after.result, after.cell_id) == ("", "")
    assert after.first_completed_at == after.updated_at == clock.now


@pytest.mark.parametrize("status, name", [(COMPLETED, "Completed"), (RESOLVING, "Resolving")])
def test_cancel_of_a_finished_task_is_refused(state: State, status: int, name: str) -> None:
    before = at(state, status)

    with pytest.raises(InvalidStateTransition) as refused:
        state.cancel_task("t")

    assert refused.value.message == f"Cannot transition from {name} to Completed"
    assert state.task_by_guid("t") == before


@pytest.mark.parametrize("status", [PENDING, RUNNING])
def test_fail_completes_the_task_as_failed_with_the_reason(state: State, status: int) -> None:
    at(state, status)

    after = state.fail_task("t", "out of luck")

    assert (after.state, after.failed, after.failure_reason, after.cell_id) == (
        COMPLETED,
        True,
        "out of luck",
        "",
    )


def test_fail_of_a_completed_task_is_refused(state: State) -> None:
    at(state, COMPLETED)

    with pytest.raises(InvalidStateTransition) as refused:
        state.fail_task("t", "r")

    assert refused.value.message == "Cannot transition from Completed to Completed"


def test_fail_cuts_a_long_reason_at_1024_bytes(state: State) -> None:
    at(state, PENDING)

    after = state.fail_task("t", "x" * 5000)

    assert after.failure_reason == "x" * 1013 + "(truncated)"


# -- complete ---------------------------------------------------------------------------------


def test_complete_records_the_cells_outcome(state: State, clock: Clock) -> None:
    at(state, RUNNING)
    clock.tick()

    after = state.complete_task(
        "t", "cell-1", failed=True, failure_reason="boom", result="r" * 2000
    )

    assert (after.state, after.failed, after.failure_reason) == (COMPLETED, True, "boom")
    assert after.result == "r" * 2000  # upstream truncates only the failure reason
    assert after.cell_id == ""
    assert after.first_completed_at == after.updated_at == clock.now


def test_complete_cuts_the_failure_reason_at_1024_bytes(state: State) -> None:
    at(state, RUNNING)

    after = state.complete_task("t", "cell-1", failed=True, failure_reason="y" * 1024)

    assert len(after.failure_reason.encode()) == 1024
    assert after.failure_reason.endswith("y(truncated)")


def test_complete_from_another_cell_says_where_the_task_runs(state: State) -> None:
    before = at(state, RUNNING, cell_id="cell-1")

    with pytest.raises(RunningOnDifferentCell) as refused:
        state.complete_task("t", "cell-2", failed=False)

    assert refused.value.message == "Running on cell cell-1 not cell-2"
    assert state.task_by_guid("t") == before


@pytest.mark.parametrize(
    "status, name", [(PENDING, "Pending"), (COMPLETED, "Completed"), (RESOLVING, "Resolving")]
)
def test_complete_of_a_task_that_is_not_running_is_refused(
    state: State, status: int, name: str
) -> None:
    at(state, status)

    with pytest.raises(InvalidStateTransition) as refused:
        state.complete_task("t", "cell-1", failed=False)

    assert refused.value.message == f"Cannot transition from {name} to Completed"


# -- resolving and delete -----------------------------------------------------------------------


def test_resolving_marks_a_completed_task(state: State, clock: Clock) -> None:
    completed = at(state, COMPLETED)
    clock.tick()

    after = state.resolving_task("t")

    assert after.state == RESOLVING
    assert after.updated_at == clock.now
    assert after.first_completed_at == completed.first_completed_at


@pytest.mark.parametrize(
    "status, name", [(PENDING, "Pending"), (RUNNING, "Running"), (RESOLVING, "Resolving")]
)
def test_resolving_of_a_task_that_is_not_completed_is_refused(
    state: State, status: int, name: str
) -> None:
    at(state, status)

    with pytest.raises(InvalidStateTransition) as refused:
        state.resolving_task("t")

    assert refused.value.message == f"Cannot transition from {name} to Resolving"


def test_delete_removes_a_resolving_task_and_reports_it_as_it_was(
    state: State, changes: list[Change]
) -> None:
    resolving = at(state, RESOLVING)

    deleted = state.delete_task("t", trace_id="x")

    assert deleted == resolving
    assert "t" not in state.store.tasks
    assert changes[-1] == Change("task", resolving, None, "x")


@pytest.mark.parametrize(
    "status, name", [(PENDING, "Pending"), (RUNNING, "Running"), (COMPLETED, "Completed")]
)
def test_delete_of_a_task_that_is_not_resolving_says_to_resolving(
    state: State, status: int, name: str
) -> None:
    at(state, status)

    with pytest.raises(InvalidStateTransition) as refused:
        state.delete_task("t")

    assert refused.value.message == f"Cannot transition from {name} to Resolving"
    assert "t" in state.store.tasks


# -- reject -------------------------------------------------------------------------------------


def test_reject_puts_a_running_task_back_to_pending_and_keeps_its_cell(
    state: State, clock: Clock, changes: list[Change]
) -> None:
    before = at(state, RUNNING)
    clock.tick()

    after = state.reject_task("t", "no room")

    assert (after.state, after.cell_id) == (PENDING, "cell-1")
    assert (after.rejection_count, after.rejection_reason) == (1, "no room")
    assert after.updated_at == clock.now
    assert changes[-1] == Change("task", before, after)


def test_reject_cuts_a_long_reason_at_1024_bytes(state: State) -> None:
    at(state, PENDING)

    after = state.reject_task("t", "z" * 3000)

    assert after.rejection_reason == "z" * 1013 + "(truncated)"


def test_the_default_retry_limit_fails_a_task_on_its_fourth_rejection(state: State) -> None:
    at(state, RUNNING)
    for _ in range(3):
        assert state.reject_task("t", "no room").state == PENDING

    failed = state.reject_task("t", "still no room")

    assert DEFAULT_MAX_TASK_RETRIES == 3
    assert (failed.state, failed.failed, failed.failure_reason) == (
        COMPLETED,
        True,
        "still no room",
    )
    assert failed.rejection_count == 4


@pytest.mark.parametrize("max_task_retries", [1])
def test_a_rejection_over_the_limit_reports_only_the_fail(
    state: State, changes: list[Change]
) -> None:
    at(state, RUNNING, rejection_count=1)
    seen = len(changes)

    failed = state.reject_task("t", "gone")

    [change] = changes[seen:]
    assert change.after == failed
    assert isinstance(change.before, models.Task)
    assert change.before.state == PENDING  # the rejected task, as upstream's FailTask saw it
    assert (change.before.rejection_count, change.before.rejection_reason) == (2, "gone")


@pytest.mark.parametrize("max_task_retries", [0])
def test_with_no_retries_the_first_rejection_fails_the_task(state: State) -> None:
    at(state, PENDING)

    assert state.reject_task("t", "nope").state == COMPLETED


@pytest.mark.parametrize("status", [COMPLETED, RESOLVING])
def test_reject_of_a_finished_task_is_an_invalid_request_that_still_reports_a_change(
    state: State, changes: list[Change], status: int
) -> None:
    before = at(state, status)
    seen = len(changes)

    with pytest.raises(InvalidRequest) as refused:
        state.reject_task("t", "r")

    assert refused.value.message == "the request received is invalid"
    assert state.task_by_guid("t") == before
    assert changes[seen:] == [Change("task", models.Task(), before)]


@pytest.mark.parametrize("max_task_retries", [0])
@pytest.mark.parametrize("status, name", [(COMPLETED, "Completed"), (RESOLVING, "Resolving")])
def test_reject_of_a_finished_task_over_the_limit_answers_with_the_fails_refusal(
    state: State, changes: list[Change], status: int, name: str
) -> None:
    before = at(state, status)
    seen = len(changes)

    with pytest.raises(InvalidStateTransition) as refused:
        state.reject_task("t", "r")

    assert refused.value.message == f"Cannot transition from {name} to Completed"
    assert state.task_by_guid("t") == before
    assert changes[seen:] == []


@pytest.mark.parametrize(
    "fake, after_one_rejection",
    [(lambda: FakeBBS(max_task_retries=0), COMPLETED), (FakeBBS, PENDING)],
)
def test_fake_bbs_takes_the_retry_limit(
    fake: Callable[[], FakeBBS], after_one_rejection: int
) -> None:
    with fake().client() as bbs:
        bbs.desire_task("t", "d", definition())
        bbs.reject_task("t", "nope")

        assert bbs.task_by_guid("t").state == after_one_rejection


# -- the transition table, as a property ------------------------------------------------------

CELLS = ("cell-a", "cell-b")
NAMES: dict[int, str] = {
    PENDING: "Pending",
    RUNNING: "Running",
    COMPLETED: "Completed",
    RESOLVING: "Resolving",
}

Operation = tuple[str, str]  # (rule, cell id or "")
OPERATIONS = st.one_of(
    st.sampled_from(
        [
            ("desire", ""),
            ("cancel", ""),
            ("fail", ""),
            ("reject", ""),
            ("resolving", ""),
            ("delete", ""),
        ]
    ),
    st.tuples(st.sampled_from(["start", "complete"]), st.sampled_from(CELLS)),
)


@dataclass(frozen=True)
class Model:
    """What the test expects of the one task: None for no task."""

    status: int | None = None
    cell: str = ""
    rejections: int = 0


Outcome = tuple[type[BBSError], str] | None  # None: allowed


def refused(status: int, target: int) -> Outcome:
    return InvalidStateTransition, f"Cannot transition from {NAMES[status]} to {NAMES[target]}"


def expect(model: Model, op: Operation, max_retries: int) -> tuple[Outcome, Model]:
    """The transition table of upstream's task controller and task DB."""
    rule, cell = op
    s = model.status
    if rule == "desire":
        if s is not None:
            return (ResourceExists, "the requested resource already exists"), model
        return None, Model(PENDING)
    if s is None:
        return (ResourceNotFound, "the requested resource could not be found"), model
    done = replace(model, status=COMPLETED, cell="")
    if rule == "start":
        if s == RUNNING and model.cell == cell:
            return None, model
        if s == PENDING:
            return None, replace(model, status=RUNNING, cell=cell)
        return refused(s, RUNNING), model
    if rule in ("cancel", "fail"):
        return (None, done) if s in (PENDING, RUNNING) else (refused(s, COMPLETED), model)
    if rule == "reject":
        over = model.rejections >= max_retries
        if s in (PENDING, RUNNING):
            rejected = replace(model, status=PENDING, rejections=model.rejections + 1)
            return None, replace(rejected, status=COMPLETED, cell="") if over else rejected
        if over:
            return refused(s, COMPLETED), model
        return (InvalidRequest, "the request received is invalid"), model
    if rule == "complete":
        if s == RUNNING and model.cell != cell:
            return (RunningOnDifferentCell, f"Running on cell {model.cell} not {cell}"), model
        return (None, done) if s == RUNNING else (refused(s, COMPLETED), model)
    if rule == "resolving":
        if s == COMPLETED:
            return None, replace(model, status=RESOLVING)
        return refused(s, RESOLVING), model
    assert rule == "delete"
    return (None, Model()) if s == RESOLVING else (refused(s, RESOLVING), model)


def apply(state: State, op: Operation) -> None:
    rule, cell = op
    if rule == "desire":
        state.desire_task(definition(), "t", "d")
    elif rule == "start":
        state.start_task("t", cell)
    elif rule == "cancel":
        state.cancel_task("t")
    elif rule == "fail":
        state.fail_task("t", "failed")
    elif rule == "reject":
        state.reject_task("t", "rejected")
    elif rule == "complete":
        state.complete_task("t", cell, failed=False)
    elif rule == "resolving":
        state.resolving_task("t")
    else:
        state.delete_task("t")


@settings(max_examples=300, deadline=None)
@given(st.lists(OPERATIONS, max_size=25), st.integers(min_value=0, max_value=3))
def test_every_operation_in_every_state_follows_the_transition_table(
    ops: list[Operation], max_retries: int
) -> None:
    state = new_state(max_task_retries=max_retries)
    model = Model()
    for op in ops:
        outcome, model = expect(model, op, max_retries)
        stored = state.store.tasks.get("t")
        before = None if stored is None else copy(stored)
        try:
            apply(state, op)
        except BBSError as err:
            assert outcome is not None, f"{op} was refused: {err!r}"
            assert (type(err), err.message) == outcome
            assert state.store.tasks.get("t") == before, f"refused {op} changed the task"
        else:
            assert outcome is None, f"{op} was allowed, expected {outcome}"
        task = state.store.tasks.get("t")
        if model.status is None:
            assert task is None
        else:
            assert task is not None
            assert (task.state, task.cell_id, task.rejection_count) == (
                model.status,
                model.cell,
                model.rejections,
            ), op
