"""Task rules (upstream ``controllers/task_controller.go`` over ``db/sqldb/task_db.go``).

A task goes Pending → Running → Completed → Resolving → deleted; cancel and fail also complete
a Pending task, reject puts a task back to Pending (or fails it once it has been rejected
``max_task_retries`` times). Refused transitions say "Cannot transition from <state> to
<state>" with upstream's state names. Completing a task records that its completion callback
is due; the callback worker (``fakebbs._outbound.callbacks``) listens for that.
"""

from __future__ import annotations

from collections.abc import Iterator

from fakebbs import models
from fakebbs._rules.requests import cancel_task_request, task_auction_request, task_start
from fakebbs._rules.store import Change, Operation, Store, copy, truncate_text
from fakebbs.errors import (
    InvalidRequest,
    InvalidStateTransition,
    ResourceExists,
    ResourceNotFound,
    RunningOnDifferentCell,
)

__all__ = [
    "COMPLETED",
    "DEFAULT_MAX_TASK_RETRIES",
    "PENDING",
    "RESOLVING",
    "RUNNING",
    "TaskRules",
    "new_task",
    "state_name",
]

PENDING = models.Task.Pending
RUNNING = models.Task.Running
COMPLETED = models.Task.Completed
RESOLVING = models.Task.Resolving

DEFAULT_MAX_TASK_RETRIES = 3
"""How many rejections a task survives. A BBS started without ``max_task_retries`` in its config
uses 0 (the first rejection fails the task), but diego-release configures the BBS from its
``tasks.max_retries`` property, default 3: that is the Diego code under test meets."""

CANCELLED_REASON = "task was cancelled"


def state_name(state: int) -> str:
    """``Task_State.String()``: the enum name, or the number for an unknown value."""
    try:
        return str(models.Task.State.Name(state))
    except ValueError:
        return str(state)


_ALLOWED_FROM: dict[int, int] = {RUNNING: PENDING, COMPLETED: RUNNING, RESOLVING: COMPLETED}
"""The one state each target state may be reached from."""


def _transition_error(task: models.Task, to: int) -> InvalidStateTransition:
    return InvalidStateTransition.between(state_name(task.state), state_name(to))


def _validate_transition(task: models.Task, to: int) -> None:
    """``Task.ValidateTransitionTo``: only Pending → Running → Completed → Resolving."""
    if task.state != _ALLOWED_FROM.get(to):
        raise _transition_error(task, to)


def new_task(
    task_guid: str, domain: str, definition: models.TaskDefinition, now: int, state: int = PENDING
) -> models.Task:
    """A task as ``SQLDB.DesireTask`` inserts it: created and updated ``now``, never completed."""
    task = models.Task(
        task_guid=task_guid,
        domain=domain,
        created_at=now,
        updated_at=now,
        first_completed_at=0,
        state=state,  # type: ignore[arg-type]
    )
    task.task_definition.CopyFrom(definition)
    return task


class TaskRules:
    """The task rules over ``store``, a rule family of ``fakebbs._rules.state.State``.

    ``max_task_retries`` is the BBS's config value of that name (see
    ``DEFAULT_MAX_TASK_RETRIES``): rejections a task survives before it is failed.
    """

    store: Store
    max_task_retries: int

    def __init__(self, store: Store, *, max_task_retries: int = DEFAULT_MAX_TASK_RETRIES) -> None:
        self.store = store
        self.max_task_retries = max_task_retries

    # -- queries --------------------------------------------------------------------------

    def tasks_matching(self, domain: str = "", cell_id: str = "") -> list[models.Task]:
        """``SQLDB.Tasks``: tasks matching both filters (an empty filter matches all)."""
        with self.store.lock:
            return [copy(task) for _, task in self.task_rows(domain, cell_id)]

    def task_rows(self, domain: str = "", cell_id: str = "") -> Iterator[tuple[str, models.Task]]:
        """The stored tasks ``tasks_matching`` copies, with their guids (callers hold the lock)."""
        for task_guid, task in self.store.tasks.items():
            if (not domain or task.domain == domain) and (not cell_id or task.cell_id == cell_id):
                yield task_guid, task

    def task_by_guid(self, task_guid: str) -> models.Task:
        with self.store.lock:
            return copy(self._task(task_guid))

    # -- lifecycle ------------------------------------------------------------------------

    def desire_task(
        self, definition: models.TaskDefinition, task_guid: str, domain: str, trace_id: str = ""
    ) -> models.Task:
        """``TaskController.DesireTask`` + ``SQLDB.DesireTask``: a new Pending task created and
        updated now; the auctioneer is asked to place it."""
        with self.store.operation(trace_id) as op:
            if task_guid in self.store.tasks:
                raise ResourceExists()
            task = new_task(task_guid, domain, definition, self.store.clock())
            stored = op.put_task(task)
            op.call(task_auction_request([task_start(task_guid, domain, definition)], trace_id))
            return stored

    def start_task(self, task_guid: str, cell_id: str, trace_id: str = "") -> bool:
        """``SQLDB.StartTask``; returns ``should_start``. A task already running on this cell
        is left alone (False, no change); otherwise it must be Pending."""
        with self.store.operation(trace_id) as op:
            task = self._task(task_guid)
            if task.state == RUNNING and task.cell_id == cell_id:
                return False
            _validate_transition(task, RUNNING)
            after = copy(task)
            after.state = RUNNING
            after.updated_at = self.store.clock()
            after.cell_id = cell_id
            op.put_task(after)
            return True

    def cancel_task(self, task_guid: str, trace_id: str = "") -> models.Task:
        """``TaskController.CancelTask``: complete a Pending or Running task as failed with
        "task was cancelled". A task that had a cell is cancelled on it too: the cell's rep is
        told, when the cell is registered."""
        with self.store.operation(trace_id) as op:
            task = self._task(task_guid)
            cancelled = self._fail(op, task, CANCELLED_REASON)
            cell = self.store.cells.get(task.cell_id) if task.cell_id else None
            if cell is not None:
                op.call(cancel_task_request(task_guid, cell, trace_id))
            return cancelled

    def fail_task(self, task_guid: str, failure_reason: str, trace_id: str = "") -> models.Task:
        """``TaskController.FailTask`` (the deprecated route): cancel with a reason."""
        with self.store.operation(trace_id) as op:
            return self._fail(op, self._task(task_guid), failure_reason)

    def reject_task(self, task_guid: str, rejection_reason: str, trace_id: str = "") -> models.Task:
        """``TaskController.RejectTask``: a cell gives a Pending or Running task back.

        The task goes back to Pending with one more rejection (its cell id is kept). If it had
        already been rejected ``max_task_retries`` times before this call it is failed with the
        rejection reason instead, and only that change is reported. Upstream's quirks are kept:
        a task in another state is refused with InvalidRequest but a change (with an empty
        ``before``) is still reported; past the limit the fail runs even then, and its refusal
        ("Cannot transition from Completed to Completed") is what the caller sees.
        """
        with self.store.operation(trace_id) as op:
            task = self._task(task_guid)
            over_limit = task.rejection_count >= self.max_task_retries
            if task.state not in (PENDING, RUNNING):
                if over_limit:
                    return self._fail(op, task, rejection_reason)
                # ``RejectTask`` emits TaskChanged(zero task, task) before returning its error.
                op.changes.append(Change("task", models.Task(), copy(task), op.trace_id))
                raise InvalidRequest()
            rejected = copy(task)
            rejected.rejection_count += 1
            rejected.rejection_reason = truncate_text(rejection_reason)
            rejected.state = PENDING
            rejected.updated_at = self.store.clock()
            op.put_task(rejected)
            if not over_limit:
                return copy(rejected)
            # Upstream reports only the fail, whose ``before`` is the rejected task.
            del op.changes[-1]
            return self._fail(op, rejected, rejection_reason)

    def complete_task(
        self,
        task_guid: str,
        cell_id: str,
        failed: bool,
        failure_reason: str = "",
        result: str = "",
        trace_id: str = "",
    ) -> models.Task:
        """``SQLDB.CompleteTask``: the task's cell reports it finished. A task running on
        another cell gives RunningOnDifferentCell; otherwise it must be Running."""
        with self.store.operation(trace_id) as op:
            task = self._task(task_guid)
            if task.state == RUNNING and task.cell_id != cell_id:
                raise RunningOnDifferentCell.cells(task.cell_id, cell_id)
            _validate_transition(task, COMPLETED)
            return self._complete(op, task, failed, failure_reason, result)

    def resolving_task(self, task_guid: str, trace_id: str = "") -> models.Task:
        """``SQLDB.ResolvingTask``: a Completed task is being handled by its owner."""
        with self.store.operation(trace_id) as op:
            task = self._task(task_guid)
            _validate_transition(task, RESOLVING)
            after = copy(task)
            after.state = RESOLVING
            after.updated_at = self.store.clock()
            return op.put_task(after)

    def delete_task(self, task_guid: str, trace_id: str = "") -> models.Task:
        """``SQLDB.DeleteTask``: only a Resolving task goes; returns it as it was. Any other
        state is refused as "Cannot transition from <state> to Resolving", as upstream says."""
        with self.store.operation(trace_id) as op:
            task = self._task(task_guid)
            if task.state != RESOLVING:
                raise _transition_error(task, RESOLVING)
            return op.delete_task(task_guid)

    # -- internals (callers hold the lock) ------------------------------------------------

    def _task(self, task_guid: str) -> models.Task:
        task = self.store.tasks.get(task_guid)
        if task is None:
            raise ResourceNotFound()
        return task

    def _fail(self, op: Operation, task: models.Task, reason: str) -> models.Task:
        """``SQLDB.FailTask`` / ``CancelTask``: like completing, but a Pending task may fail
        too."""
        if task.state != PENDING:
            _validate_transition(task, COMPLETED)
        return self._complete(op, task, True, reason, "")

    def _complete(
        self, op: Operation, task: models.Task, failed: bool, failure_reason: str, result: str
    ) -> models.Task:
        """``SQLDB.completeTask``; the change says the completion callback is due, which is
        the controller's ``taskCompletionClient.Submit`` (the callback worker listens)."""
        after = copy(task)
        now = self.store.clock()
        after.state = COMPLETED
        after.updated_at = now
        after.first_completed_at = now
        after.failed = failed
        after.failure_reason = truncate_text(failure_reason)
        after.result = result
        after.cell_id = ""
        return op.put_task(after, callback=True)
