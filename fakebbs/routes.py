"""THE route table: every route any BBS has served, one row each, like upstream ``routes.go``.

A row names the route the way upstream's rata table does (``go_name``: the string in ``routes.go``
of the last tree that served it), its method and path, the protobuf messages it carries and its
status: ``current`` (served and used by the HEAD client), ``deprecated`` (still served at HEAD) or
``removed`` (gone from HEAD, served here because 2016-era clients call it). ``name`` is our
endpoint name: the Go name, with the revision appended where a removed route's Go name was later
reused by a newer revision (``DesiredLRPs`` was ``/v1/desired_lrps/list`` in 2016 and is
``list.r3`` today, so the old one is ``DesiredLRPs_r0`` here).

Everything else (the WSGI app, the client, the README's coverage table) reads this table. The
wire facts of the stream routes sit here too: the SSE event names and their messages, shared by
the server's event streams and the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from google.protobuf.message import Message

from fakebbs import models

__all__ = [
    "EVENT_TYPES",
    "ROUTES",
    "ROUTES_BY_NAME",
    "STREAM_CANCEL_ENVIRON_KEY",
    "Route",
    "route",
]

Status = Literal["current", "deprecated", "removed"]


@dataclass(frozen=True)
class Route:
    """One BBS route. ``request``/``response`` are message names in :mod:`fakebbs.models`."""

    name: str
    method: Literal["GET", "POST"]
    path: str
    request: str | None
    response: str | None
    status: Status
    go_name: str = ""
    stream: bool = False

    @property
    def upstream_name(self) -> str:
        return self.go_name or self.name


def _r(
    name: str,
    method: Literal["GET", "POST"],
    path: str,
    request: str | None,
    response: str | None,
    status: Status,
    go_name: str = "",
) -> Route:
    return Route(name, method, path, request, response, status, go_name)


def _sse(name: str, method: Literal["GET", "POST"], path: str, status: Status) -> Route:
    return Route(name, method, path, "EventsByCellId", None, status, stream=True)


ROUTES: tuple[Route, ...] = (
    # Ping, domains, cells
    _r("Ping", "POST", "/v1/ping", None, "PingResponse", "current"),
    _r("Domains", "POST", "/v1/domains/list", None, "DomainsResponse", "current"),
    _r(
        "UpsertDomain",
        "POST",
        "/v1/domains/upsert",
        "UpsertDomainRequest",
        "UpsertDomainResponse",
        "current",
    ),
    _r("Cells", "POST", "/v1/cells/list.r1", None, "CellsResponse", "current"),
    _r("Cells_r1", "GET", "/v1/cells/list.r1", None, "CellsResponse", "removed"),
    # Actual LRP queries
    _r(
        "ActualLRPs",
        "POST",
        "/v1/actual_lrps/list",
        "ActualLRPsRequest",
        "ActualLRPsResponse",
        "current",
    ),
    _r(
        "ActualLRPsByProcessGuids",
        "POST",
        "/v1/actual_lrps/list_by_process_guids",
        "ActualLRPsByProcessGuidsRequest",
        "ActualLRPsByProcessGuidsResponse",
        "current",
    ),
    _r(
        "ActualLRPGroups",
        "POST",
        "/v1/actual_lrp_groups/list",
        "ActualLRPGroupsRequest",
        "ActualLRPGroupsResponse",
        "deprecated",
    ),
    _r(
        "ActualLRPGroupsByProcessGuid",
        "POST",
        "/v1/actual_lrp_groups/list_by_process_guid",
        "ActualLRPGroupsByProcessGuidRequest",
        "ActualLRPGroupsResponse",
        "deprecated",
    ),
    _r(
        "ActualLRPGroupsByProcessGuidAndIndex",
        "POST",
        "/v1/actual_lrp_groups/get_by_process_guid_and_index",
        "ActualLRPGroupByProcessGuidAndIndexRequest",
        "ActualLRPGroupResponse",
        "deprecated",
    ),
    # Actual LRP lifecycle
    _r(
        "ClaimActualLRP",
        "POST",
        "/v1/actual_lrps/claim",
        "ClaimActualLRPRequest",
        "ActualLRPLifecycleResponse",
        "current",
    ),
    _r(
        "StartActualLRP",
        "POST",
        "/v1/actual_lrps/start.r1",
        "StartActualLRPRequest",
        "ActualLRPLifecycleResponse",
        "current",
    ),
    _r(
        "StartActualLRP_r0",
        "POST",
        "/v1/actual_lrps/start",
        "StartActualLRPRequest",
        "ActualLRPLifecycleResponse",
        "deprecated",
    ),
    _r(
        "CrashActualLRP",
        "POST",
        "/v1/actual_lrps/crash",
        "CrashActualLRPRequest",
        "ActualLRPLifecycleResponse",
        "current",
    ),
    _r(
        "FailActualLRP",
        "POST",
        "/v1/actual_lrps/fail",
        "FailActualLRPRequest",
        "ActualLRPLifecycleResponse",
        "current",
    ),
    _r(
        "RemoveActualLRP",
        "POST",
        "/v1/actual_lrps/remove",
        "RemoveActualLRPRequest",
        "ActualLRPLifecycleResponse",
        "current",
    ),
    _r(
        "RetireActualLRP",
        "POST",
        "/v1/actual_lrps/retire",
        "RetireActualLRPRequest",
        "ActualLRPLifecycleResponse",
        "current",
    ),
    # Evacuation
    _r(
        "RemoveEvacuatingActualLRP",
        "POST",
        "/v1/actual_lrps/remove_evacuating",
        "RemoveEvacuatingActualLRPRequest",
        "RemoveEvacuatingActualLRPResponse",
        "current",
    ),
    _r(
        "EvacuateClaimedActualLRP",
        "POST",
        "/v1/actual_lrps/evacuate_claimed",
        "EvacuateClaimedActualLRPRequest",
        "EvacuationResponse",
        "current",
    ),
    _r(
        "EvacuateCrashedActualLRP",
        "POST",
        "/v1/actual_lrps/evacuate_crashed",
        "EvacuateCrashedActualLRPRequest",
        "EvacuationResponse",
        "current",
    ),
    _r(
        "EvacuateStoppedActualLRP",
        "POST",
        "/v1/actual_lrps/evacuate_stopped",
        "EvacuateStoppedActualLRPRequest",
        "EvacuationResponse",
        "current",
    ),
    _r(
        "EvacuateRunningActualLRP",
        "POST",
        "/v1/actual_lrps/evacuate_running.r1",
        "EvacuateRunningActualLRPRequest",
        "EvacuationResponse",
        "current",
    ),
    _r(
        "EvacuateRunningActualLRP_r0",
        "POST",
        "/v1/actual_lrps/evacuate_running",
        "EvacuateRunningActualLRPRequest",
        "EvacuationResponse",
        "deprecated",
    ),
    # Desired LRPs
    _r(
        "DesiredLRPs",
        "POST",
        "/v1/desired_lrps/list.r3",
        "DesiredLRPsRequest",
        "DesiredLRPsResponse",
        "current",
    ),
    _r(
        "DesiredLRPByProcessGuid",
        "POST",
        "/v1/desired_lrps/get_by_process_guid.r3",
        "DesiredLRPByProcessGuidRequest",
        "DesiredLRPResponse",
        "current",
    ),
    _r(
        "DesiredLRPs_r2",
        "POST",
        "/v1/desired_lrps/list.r2",
        "DesiredLRPsRequest",
        "DesiredLRPsResponse",
        "deprecated",
    ),
    _r(
        "DesiredLRPByProcessGuid_r2",
        "POST",
        "/v1/desired_lrps/get_by_process_guid.r2",
        "DesiredLRPByProcessGuidRequest",
        "DesiredLRPResponse",
        "deprecated",
    ),
    _r(
        "DesiredLRPs_r1",
        "POST",
        "/v1/desired_lrps/list.r1",
        "DesiredLRPsRequest",
        "DesiredLRPsResponse",
        "removed",
    ),
    _r(
        "DesiredLRPByProcessGuid_r1",
        "POST",
        "/v1/desired_lrps/get_by_process_guid.r1",
        "DesiredLRPByProcessGuidRequest",
        "DesiredLRPResponse",
        "removed",
    ),
    _r(
        "DesiredLRPs_r0",
        "POST",
        "/v1/desired_lrps/list",
        "DesiredLRPsRequest",
        "DesiredLRPsResponse",
        "removed",
        go_name="DesiredLRPs",
    ),
    _r(
        "DesiredLRPByProcessGuid_r0",
        "POST",
        "/v1/desired_lrps/get_by_process_guid",
        "DesiredLRPByProcessGuidRequest",
        "DesiredLRPResponse",
        "removed",
        go_name="DesiredLRPByProcessGuid",
    ),
    _r(
        "DesiredLRPSchedulingInfos",
        "POST",
        "/v1/desired_lrp_scheduling_infos/list",
        "DesiredLRPsRequest",
        "DesiredLRPSchedulingInfosResponse",
        "current",
    ),
    _r(
        "DesiredLRPSchedulingInfoByProcessGuid",
        "POST",
        "/v1/desired_lrp_scheduling_infos/get_by_process_guid",
        "DesiredLRPByProcessGuidRequest",
        "DesiredLRPSchedulingInfoByProcessGuidResponse",
        "current",
    ),
    _r(
        "DesiredLRPRoutingInfos",
        "POST",
        "/v1/desired_lrp_routing_infos/list",
        "DesiredLRPsRequest",
        "DesiredLRPsResponse",
        "current",
    ),
    # Desired LRP lifecycle
    _r(
        "DesireDesiredLRP",
        "POST",
        "/v1/desired_lrp/desire.r2",
        "DesireLRPRequest",
        "DesiredLRPLifecycleResponse",
        "current",
    ),
    _r(
        "DesireDesiredLRP_r1",
        "POST",
        "/v1/desired_lrp/desire.r1",
        "DesireLRPRequest",
        "DesiredLRPLifecycleResponse",
        "removed",
    ),
    _r(
        "DesireDesiredLRP_r0",
        "POST",
        "/v1/desired_lrp/desire",
        "DesireLRPRequest",
        "DesiredLRPLifecycleResponse",
        "removed",
        go_name="DesireDesiredLRP",
    ),
    _r(
        "UpdateDesireLRP",
        "POST",
        "/v1/desired_lrp/update",
        "UpdateDesiredLRPRequest",
        "DesiredLRPLifecycleResponse",
        "current",
    ),
    _r(
        "RemoveDesiredLRP",
        "POST",
        "/v1/desired_lrp/remove",
        "RemoveDesiredLRPRequest",
        "DesiredLRPLifecycleResponse",
        "current",
    ),
    # Tasks
    _r("Tasks", "POST", "/v1/tasks/list.r3", "TasksRequest", "TasksResponse", "current"),
    _r(
        "TaskByGuid",
        "POST",
        "/v1/tasks/get_by_task_guid.r3",
        "TaskByGuidRequest",
        "TaskResponse",
        "current",
    ),
    _r("Tasks_r2", "POST", "/v1/tasks/list.r2", "TasksRequest", "TasksResponse", "deprecated"),
    _r(
        "TaskByGuid_r2",
        "POST",
        "/v1/tasks/get_by_task_guid.r2",
        "TaskByGuidRequest",
        "TaskResponse",
        "deprecated",
    ),
    _r("Tasks_r1", "POST", "/v1/tasks/list.r1", "TasksRequest", "TasksResponse", "removed"),
    _r(
        "Tasks_r0",
        "POST",
        "/v1/tasks/list",
        "TasksRequest",
        "TasksResponse",
        "removed",
        go_name="Tasks",
    ),
    _r(
        "TaskByGuid_r1",
        "POST",
        "/v1/tasks/get_by_task_guid.r1",
        "TaskByGuidRequest",
        "TaskResponse",
        "removed",
    ),
    _r(
        "TaskByGuid_r0",
        "GET",
        "/v1/tasks/get_by_task_guid",
        "TaskByGuidRequest",
        "TaskResponse",
        "removed",
        go_name="TaskByGuid",
    ),
    _r(
        "DesireTask",
        "POST",
        "/v1/tasks/desire.r2",
        "DesireTaskRequest",
        "TaskLifecycleResponse",
        "current",
    ),
    _r(
        "DesireTask_r1",
        "POST",
        "/v1/tasks/desire.r1",
        "DesireTaskRequest",
        "TaskLifecycleResponse",
        "removed",
    ),
    _r(
        "DesireTask_r0",
        "POST",
        "/v1/tasks/desire",
        "DesireTaskRequest",
        "TaskLifecycleResponse",
        "removed",
        go_name="DesireTask",
    ),
    _r("StartTask", "POST", "/v1/tasks/start", "StartTaskRequest", "StartTaskResponse", "current"),
    _r(
        "CancelTask",
        "POST",
        "/v1/tasks/cancel",
        "TaskGuidRequest",
        "TaskLifecycleResponse",
        "current",
    ),
    _r(
        "FailTask",
        "POST",
        "/v1/tasks/fail",
        "FailTaskRequest",
        "TaskLifecycleResponse",
        "deprecated",
    ),
    _r(
        "RejectTask",
        "POST",
        "/v1/tasks/reject",
        "RejectTaskRequest",
        "TaskLifecycleResponse",
        "current",
    ),
    _r(
        "CompleteTask",
        "POST",
        "/v1/tasks/complete",
        "CompleteTaskRequest",
        "TaskLifecycleResponse",
        "current",
    ),
    _r(
        "ResolvingTask",
        "POST",
        "/v1/tasks/resolving",
        "TaskGuidRequest",
        "TaskLifecycleResponse",
        "current",
    ),
    _r(
        "DeleteTask",
        "POST",
        "/v1/tasks/delete",
        "TaskGuidRequest",
        "TaskLifecycleResponse",
        "current",
    ),
    # Event streams
    _sse("EventStream", "GET", "/v1/events.r1", "deprecated"),
    _sse("TaskEventStream", "POST", "/v1/events/tasks.r1", "current"),
    _sse("LRPInstanceEventStream", "POST", "/v1/events/lrp_instances.r1", "current"),
    _sse("EventStream_r0", "GET", "/v1/events", "deprecated"),
    _sse("TaskEventStream_r0", "POST", "/v1/events/tasks", "deprecated"),
    _sse("LrpInstanceEventStream_r0", "POST", "/v1/events/lrp_instances", "deprecated"),
    _sse("DesiredLRPEventStreamRoute", "GET", "/v1/desired_lrp_events", "removed"),
    _sse("ActualLRPEventStreamRoute", "GET", "/v1/actual_lrp_events", "removed"),
)

ROUTES_BY_NAME: dict[str, Route] = {r.name: r for r in ROUTES}
assert len(ROUTES_BY_NAME) == len(ROUTES), "route names must be unique"


def route(name: str) -> Route:
    """The row for an endpoint name; ``KeyError`` names the unknown route."""
    return ROUTES_BY_NAME[name]


EVENT_TYPES: dict[str, type[Message]] = {
    "desired_lrp_created": models.DesiredLRPCreatedEvent,
    "desired_lrp_changed": models.DesiredLRPChangedEvent,
    "desired_lrp_removed": models.DesiredLRPRemovedEvent,
    "actual_lrp_created": models.ActualLRPCreatedEvent,
    "actual_lrp_changed": models.ActualLRPChangedEvent,
    "actual_lrp_removed": models.ActualLRPRemovedEvent,
    "actual_lrp_crashed": models.ActualLRPCrashedEvent,
    "actual_lrp_instance_created": models.ActualLRPInstanceCreatedEvent,
    "actual_lrp_instance_changed": models.ActualLRPInstanceChangedEvent,
    "actual_lrp_instance_removed": models.ActualLRPInstanceRemovedEvent,
    "task_created": models.TaskCreatedEvent,
    "task_changed": models.TaskChangedEvent,
    "task_removed": models.TaskRemovedEvent,
}
"""The SSE event names of the BBS streams and the message each one carries (upstream
``models/events.go``)."""

#: An in-process subscriber sets the ``threading.Event`` under this WSGI environ key to end
#: its stream (over a socket, closing the connection does that).
STREAM_CANCEL_ENVIRON_KEY = "fakebbs.stream_cancel"


_MOVED_ENVIRON_KEYS = {
    "ABORT_ENVIRON_KEY": "fakebbs.server.abort",
    "CLOSE_CONNECTION_ENVIRON_KEY": "fakebbs.server.close_connection",
    "LOG_ENVIRON_KEY": "fakebbs.log",
    "SOCKET_ENVIRON_KEY": "fakebbs.server.socket",
    "STREAM_HANDOFF_ENVIRON_KEY": "fakebbs.server.stream_handoff",
}
"""The fake's own server's environ keys, which lived here until this module was kept to the
route table; they are defined in ``fakebbs._http.environ`` (a test keeps these equal to them)."""


def __getattr__(name: str) -> str:
    # The old names still resolve, with a warning, for one release.
    if name in _MOVED_ENVIRON_KEYS:
        import warnings

        warnings.warn(
            f"fakebbs.routes.{name} is deprecated: it is a key of the fake's own server, not "
            "a fact of the route table, and will be removed",
            DeprecationWarning,
            stacklevel=2,
        )
        return _MOVED_ENVIRON_KEYS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
