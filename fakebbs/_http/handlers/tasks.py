"""Task routes (upstream ``handlers/task_handlers.go`` and, for the 2016-era revisions,
``handlers/task_handlers_deprecated.go`` of the tree before de14aa89).

Each list/get revision returns the model version of §5.6: ``.r3`` V3 (as stored), ``.r2`` V2
(image layers folded), and the removed ``.r1`` and plain routes the 2016 V1/V0 conversions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakebbs import models
from fakebbs._http.encoded import TASK_FORMS, Encoded
from fakebbs._http.handlers._base import Context, Handler
from fakebbs._http.versions import (
    task_version_down_to,
    upgrade_task_definition_r0,
    upgrade_volume_mounts_r1,
)
from fakebbs._rules.state import State


def _list(
    version: int, *, legacy: bool = False
) -> Callable[[State, models.TasksRequest, Context], Encoded[models.TasksResponse]]:
    """A list revision, joined from each task's kept bytes (``fakebbs._http.encoded``)."""
    form = TASK_FORMS[version, legacy]

    def tasks(
        state: State, request: models.TasksRequest, call: Context
    ) -> Encoded[models.TasksResponse]:
        rows = state.task_rows(domain=request.domain, cell_id=request.cell_id)
        every = not (request.domain or request.cell_id)
        return call.lists.join(form, rows, every=every)

    return tasks


def _get(
    version: int, *, legacy: bool = False
) -> Callable[[State, models.TaskByGuidRequest, Context], models.TaskResponse]:
    def task_by_guid(
        state: State, request: models.TaskByGuidRequest, call: Context
    ) -> models.TaskResponse:
        task = state.task_by_guid(request.task_guid)
        return models.TaskResponse(task=task_version_down_to(task, version, legacy=legacy))

    return task_by_guid


def desire_task(
    state: State, request: models.DesireTaskRequest, call: Context
) -> models.TaskLifecycleResponse:
    state.desire_task(request.task_definition, request.task_guid, request.domain, call.trace_id)
    return models.TaskLifecycleResponse()


def start_task(
    state: State, request: models.StartTaskRequest, call: Context
) -> models.StartTaskResponse:
    should_start = state.start_task(request.task_guid, request.cell_id, call.trace_id)
    return models.StartTaskResponse(should_start=should_start)


def cancel_task(
    state: State, request: models.TaskGuidRequest, call: Context
) -> models.TaskLifecycleResponse:
    state.cancel_task(request.task_guid, call.trace_id)
    return models.TaskLifecycleResponse()


def fail_task(
    state: State, request: models.FailTaskRequest, call: Context
) -> models.TaskLifecycleResponse:
    state.fail_task(request.task_guid, request.failure_reason, call.trace_id)
    return models.TaskLifecycleResponse()


def reject_task(
    state: State, request: models.RejectTaskRequest, call: Context
) -> models.TaskLifecycleResponse:
    state.reject_task(request.task_guid, request.rejection_reason, call.trace_id)
    return models.TaskLifecycleResponse()


def complete_task(
    state: State, request: models.CompleteTaskRequest, call: Context
) -> models.TaskLifecycleResponse:
    state.complete_task(
        request.task_guid,
        request.cell_id,
        request.failed,
        request.failure_reason,
        request.result,
        call.trace_id,
    )
    return models.TaskLifecycleResponse()


def resolving_task(
    state: State, request: models.TaskGuidRequest, call: Context
) -> models.TaskLifecycleResponse:
    state.resolving_task(request.task_guid, call.trace_id)
    return models.TaskLifecycleResponse()


def delete_task(
    state: State, request: models.TaskGuidRequest, call: Context
) -> models.TaskLifecycleResponse:
    state.delete_task(request.task_guid, call.trace_id)
    return models.TaskLifecycleResponse()


def _upgrade_r0(request: Any, body: bytes) -> None:
    """``parseRequestForDesireTask_r0``: derive millisecond timeouts from the old fields."""
    if request.HasField("task_definition"):
        upgrade_task_definition_r0(request.task_definition)


def _upgrade_r1(request: Any, body: bytes) -> None:
    """``DesireTask_r1``: rewrite every volume mount from the 2016 format. (Upstream validated
    first; tasks' volume mounts are not validated, so the order does not matter.)"""
    upgrade_volume_mounts_r1(request, body)


HANDLERS = {
    "Tasks": Handler(_list(3)),
    "Tasks_r2": Handler(_list(2)),
    "Tasks_r1": Handler(_list(1, legacy=True)),
    "Tasks_r0": Handler(_list(0, legacy=True)),
    "TaskByGuid": Handler(_get(3)),
    "TaskByGuid_r2": Handler(_get(2)),
    "TaskByGuid_r1": Handler(_get(1, legacy=True)),
    "TaskByGuid_r0": Handler(_get(0, legacy=True)),
    "DesireTask": Handler(desire_task),
    "DesireTask_r1": Handler(desire_task, _upgrade_r1),
    "DesireTask_r0": Handler(desire_task, _upgrade_r0),
    "StartTask": Handler(start_task),
    "CancelTask": Handler(cancel_task),
    "FailTask": Handler(fail_task),
    "RejectTask": Handler(reject_task),
    "CompleteTask": Handler(complete_task),
    "ResolvingTask": Handler(resolving_task),
    "DeleteTask": Handler(delete_task),
}
