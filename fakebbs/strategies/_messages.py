"""Every request message of the route table, every response, every event, and BBS errors."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import errors, models
from fakebbs._rules.views import scheduling_info
from fakebbs.routes import EVENT_TYPES, ROUTES_BY_NAME
from fakebbs.strategies._actions import ACTION_KINDS, actions, environment_variables, files
from fakebbs.strategies._actual import (
    actual_lrp_groups,
    actual_lrp_infos,
    actual_lrp_instance_keys,
    actual_lrp_keys,
    actual_lrp_net_infos,
    actual_lrps,
    cell_ids,
    cell_presences,
    instance_metric_tags,
    internal_routes,
)
from fakebbs.strategies._common import message, names, nonnegative, shown_as_call, texts
from fakebbs.strategies._desired import (
    cached_dependencies,
    certificate_properties,
    check_definitions,
    checks,
    desired_lrp_keys,
    desired_lrp_updates,
    desired_lrps,
    domains,
    egress_rules,
    image_layers,
    log_rate_limits,
    metric_tags,
    modification_tags,
    networks,
    process_guids,
    proto_routes,
    sidecars,
    stored_desired_lrps,
    volume_mounts,
)
from fakebbs.strategies._events import EVENT_STRATEGIES
from fakebbs.strategies._tasks import desire_task_requests, task_definitions, task_guids, tasks

__all__ = [
    "SERVER_ERRORS",
    "bbs_errors",
    "from_message_type",
    "requests",
    "responses",
]

SERVER_ERRORS: tuple[type[errors.BBSError], ...] = (
    errors.UnknownError,
    errors.InvalidRecord,
    errors.InvalidRequest,
    errors.InvalidStateTransition,
    errors.ResourceConflict,
    errors.ResourceExists,
    errors.ResourceNotFound,
    errors.ActualLRPCannotBeClaimed,
    errors.ActualLRPCannotBeStarted,
    errors.ActualLRPCannotBeCrashed,
    errors.ActualLRPCannotBeFailed,
    errors.ActualLRPCannotBeRemoved,
    errors.ActualLRPCannotBeUnclaimed,
    errors.RunningOnDifferentCell,
    errors.GUIDGeneration,
    errors.Deserialize,
    errors.Deadlock,
    errors.Unrecoverable,
    errors.LockCollision,
)
"""The errors a BBS itself answers with (the client-side ones, such as RouterError or
Timeout, come from elsewhere)."""


@shown_as_call
def bbs_errors(
    kinds: tuple[type[errors.BBSError], ...] = SERVER_ERRORS,
) -> SearchStrategy[errors.BBSError]:
    """BBS errors with their canonical messages, simplest (ResourceNotFound) first."""
    ordered = sorted(kinds, key=lambda cls: cls is not errors.ResourceNotFound)
    return st.sampled_from(ordered).map(lambda cls: cls())


def _keys() -> dict[str, SearchStrategy[Any]]:
    return {
        "actual_lrp_key": actual_lrp_keys(),
        "actual_lrp_instance_key": actual_lrp_instance_keys(),
    }


def _running_fields() -> tuple[dict[str, SearchStrategy[Any]], dict[str, SearchStrategy[Any]]]:
    """Start and evacuate-running requests: keys and net info, then what a rep may add."""
    return (
        {**_keys(), "actual_lrp_net_info": actual_lrp_net_infos()},
        {
            "actual_lrp_internal_routes": st.lists(internal_routes(), max_size=2),
            "metric_tags": instance_metric_tags(),
            "Routable": st.booleans(),
            "availability_zone": names(),
        },
    )


def _complete_task_requests() -> SearchStrategy[models.CompleteTaskRequest]:
    """A success with a result, or a failure with a reason."""
    base = {"task_guid": task_guids(), "cell_id": cell_ids()}
    return st.one_of(
        message(models.CompleteTaskRequest, base, {"result": texts()}),
        message(
            models.CompleteTaskRequest,
            {**base, "failed": st.just(True), "failure_reason": texts(min_size=1)},
        ),
    )


_REQUESTS: dict[str, Callable[[], SearchStrategy[Any]]] = {
    "UpsertDomainRequest": lambda: message(
        models.UpsertDomainRequest, {"domain": domains()}, {"ttl": nonnegative(2**32 - 1)}
    ),
    "ActualLRPsRequest": lambda: message(
        models.ActualLRPsRequest,
        optional={
            "domain": domains(),
            "cell_id": cell_ids(),
            "process_guid": process_guids(),
            "index": st.integers(0, 3),
        },
    ),
    "ActualLRPsByProcessGuidsRequest": lambda: message(
        models.ActualLRPsByProcessGuidsRequest,
        {"process_guids": st.lists(process_guids(), min_size=1, max_size=3)},
    ),
    "ActualLRPGroupsRequest": lambda: message(
        models.ActualLRPGroupsRequest, optional={"domain": domains(), "cell_id": cell_ids()}
    ),
    "ActualLRPGroupsByProcessGuidRequest": lambda: message(
        models.ActualLRPGroupsByProcessGuidRequest, {"process_guid": process_guids()}
    ),
    "ActualLRPGroupByProcessGuidAndIndexRequest": lambda: message(
        models.ActualLRPGroupByProcessGuidAndIndexRequest,
        {"process_guid": process_guids(), "index": st.integers(0, 3)},
    ),
    "ClaimActualLRPRequest": lambda: message(
        models.ClaimActualLRPRequest,
        {
            "process_guid": process_guids(),
            "index": st.integers(0, 3),
            "actual_lrp_instance_key": actual_lrp_instance_keys(),
        },
    ),
    "StartActualLRPRequest": lambda: message(models.StartActualLRPRequest, *_running_fields()),
    "CrashActualLRPRequest": lambda: message(
        models.CrashActualLRPRequest,
        {
            "actual_lrp_key": actual_lrp_keys(),
            "actual_lrp_instance_key": actual_lrp_instance_keys(),
        },
        {"error_message": texts()},
    ),
    "FailActualLRPRequest": lambda: message(
        models.FailActualLRPRequest,
        {"actual_lrp_key": actual_lrp_keys(), "error_message": texts(min_size=1)},
    ),
    "RemoveActualLRPRequest": lambda: message(
        models.RemoveActualLRPRequest,
        {"process_guid": process_guids(), "index": st.integers(0, 3)},
        {"actual_lrp_instance_key": actual_lrp_instance_keys()},
    ),
    "RetireActualLRPRequest": lambda: message(
        models.RetireActualLRPRequest, {"actual_lrp_key": actual_lrp_keys()}
    ),
    "RemoveEvacuatingActualLRPRequest": lambda: message(
        models.RemoveEvacuatingActualLRPRequest, _keys()
    ),
    "EvacuateClaimedActualLRPRequest": lambda: message(
        models.EvacuateClaimedActualLRPRequest, _keys()
    ),
    "EvacuateCrashedActualLRPRequest": lambda: message(
        models.EvacuateCrashedActualLRPRequest, {**_keys(), "error_message": texts(min_size=1)}
    ),
    "EvacuateStoppedActualLRPRequest": lambda: message(
        models.EvacuateStoppedActualLRPRequest, _keys()
    ),
    "EvacuateRunningActualLRPRequest": lambda: message(
        models.EvacuateRunningActualLRPRequest, *_running_fields()
    ),
    "DesiredLRPsRequest": lambda: message(
        models.DesiredLRPsRequest,
        optional={
            "domain": domains(),
            "process_guids": st.lists(process_guids(), max_size=3),
            "app_guids": st.lists(process_guids(), max_size=2),
        },
    ),
    "DesiredLRPByProcessGuidRequest": lambda: message(
        models.DesiredLRPByProcessGuidRequest, {"process_guid": process_guids()}
    ),
    "DesireLRPRequest": lambda: message(models.DesireLRPRequest, {"desired_lrp": desired_lrps()}),
    "UpdateDesiredLRPRequest": lambda: message(
        models.UpdateDesiredLRPRequest,
        {"process_guid": process_guids(), "update": desired_lrp_updates()},
    ),
    "RemoveDesiredLRPRequest": lambda: message(
        models.RemoveDesiredLRPRequest, {"process_guid": process_guids()}
    ),
    "TasksRequest": lambda: message(
        models.TasksRequest, optional={"domain": domains(), "cell_id": cell_ids()}
    ),
    "TaskByGuidRequest": lambda: message(models.TaskByGuidRequest, {"task_guid": task_guids()}),
    "DesireTaskRequest": desire_task_requests,
    "StartTaskRequest": lambda: message(
        models.StartTaskRequest, {"task_guid": task_guids(), "cell_id": cell_ids()}
    ),
    "TaskGuidRequest": lambda: message(models.TaskGuidRequest, {"task_guid": task_guids()}),
    "FailTaskRequest": lambda: message(
        models.FailTaskRequest, {"task_guid": task_guids(), "failure_reason": texts(min_size=1)}
    ),
    "RejectTaskRequest": lambda: message(
        models.RejectTaskRequest,
        {"task_guid": task_guids(), "rejection_reason": texts(min_size=1)},
    ),
    "CompleteTaskRequest": lambda: _complete_task_requests(),
    "EventsByCellId": lambda: message(models.EventsByCellId, optional={"cell_id": cell_ids()}),
}


@shown_as_call
def requests(route_name: str) -> SearchStrategy[Message]:
    """Valid request messages for a route of ``fakebbs.routes`` (by endpoint name): they pass
    the route's validation, so the BBS answers them (perhaps with ResourceNotFound or a state
    error, but never InvalidRequest)."""
    route = ROUTES_BY_NAME[route_name]
    if route.request is None:
        raise ValueError(f"{route_name} takes no request message")
    if route.status == "removed" and route.request in ("DesireLRPRequest", "DesireTaskRequest"):
        return st.deferred(lambda: _legacy_desire(route.request or ""))
    build = _REQUESTS[route.request]
    return st.deferred(lambda: build())


_LEGACY_ACTION_KINDS = tuple(k for k in ACTION_KINDS if k != "timeout")


def _legacy_desire(request: str) -> SearchStrategy[Message]:
    """What 2016 clients sent to the removed desire routes, which rewrite volume mounts from
    the old format and derive timeouts from the old nanosecond field: no volume mounts and no
    timeout actions, so the rewrite leaves nothing invalid."""

    def drop_mounts(message: Any) -> Any:
        message.ClearField("volume_mounts")
        return message

    if request == "DesireLRPRequest":
        lrps = desired_lrps(action_kinds=_LEGACY_ACTION_KINDS).map(drop_mounts)
        return lrps.map(lambda lrp: models.DesireLRPRequest(desired_lrp=lrp))
    desire = desire_task_requests(action_kinds=_LEGACY_ACTION_KINDS)
    return desire.map(lambda r: (drop_mounts(r.task_definition), r)[1])


# -- responses -------------------------------------------------------------------------------

_RESPONSE_PAYLOADS: dict[str, Callable[[], Mapping[str, SearchStrategy[Any]]]] = {
    "PingResponse": lambda: {"available": st.booleans()},
    "DomainsResponse": lambda: {"domains": st.lists(domains(), max_size=3, unique=True)},
    "CellsResponse": lambda: {"cells": st.lists(cell_presences(), max_size=3)},
    "ActualLRPsResponse": lambda: {"actual_lrps": st.lists(actual_lrps(), max_size=3)},
    "ActualLRPsByProcessGuidsResponse": lambda: {
        "actual_lrps": st.lists(actual_lrps(), max_size=3)
    },
    "ActualLRPGroupsResponse": lambda: {
        "actual_lrp_groups": st.lists(actual_lrp_groups(), max_size=3)
    },
    "ActualLRPGroupResponse": lambda: {"actual_lrp_group": actual_lrp_groups()},
    "EvacuationResponse": lambda: {"keep_container": st.booleans()},
    "DesiredLRPsResponse": lambda: {"desired_lrps": st.lists(stored_desired_lrps(), max_size=2)},
    "DesiredLRPResponse": lambda: {"desired_lrp": stored_desired_lrps()},
    "DesiredLRPSchedulingInfosResponse": lambda: {
        "desired_lrp_scheduling_infos": st.lists(
            stored_desired_lrps().map(scheduling_info), max_size=2
        )
    },
    "DesiredLRPSchedulingInfoByProcessGuidResponse": lambda: {
        "desired_lrp_scheduling_info": stored_desired_lrps().map(scheduling_info)
    },
    "TasksResponse": lambda: {"tasks": st.lists(tasks(), max_size=2)},
    "TaskResponse": lambda: {"task": tasks()},
    "StartTaskResponse": lambda: {"should_start": st.booleans()},
}
"""What a successful answer carries, by response message; the rest carry nothing but
``error``."""


def _response(name: str) -> SearchStrategy[Message]:
    cls: type[Message] = getattr(models, name)
    # Built by keyword, as the generated classes take their fields; Message's own stub has none.
    build: Callable[..., Message] = cls
    payload = _RESPONSE_PAYLOADS.get(name, dict)()
    success = message(cls, payload)
    if "error" not in cls.DESCRIPTOR.fields_by_name:
        return success
    failure = bbs_errors().map(lambda e: build(error=e.to_wire()))
    if name == "EvacuationResponse":
        failure = st.builds(
            lambda e, keep: build(error=e.to_wire(), keep_container=keep),
            bbs_errors(),
            st.booleans(),
        )
    return st.one_of(success, failure)


@shown_as_call
def responses(route_name: str) -> SearchStrategy[Message]:
    """Answers a BBS gives on a route (by endpoint name): a success with its payload, or a
    BBS error in ``error``."""
    route = ROUTES_BY_NAME[route_name]
    if route.response is None:
        raise ValueError(f"{route_name} is an event stream; see events()")
    return st.deferred(lambda: _response(route.response or ""))


# -- one strategy per message type -----------------------------------------------------------

_MODELS: dict[str, Callable[[], SearchStrategy[Any]]] = {
    "Action": actions,
    "DownloadAction": lambda: actions(["download"]).map(lambda a: a.download_action),
    "UploadAction": lambda: actions(["upload"]).map(lambda a: a.upload_action),
    "RunAction": lambda: actions(["run"]).map(lambda a: a.run_action),
    "TimeoutAction": lambda: (
        actions(["run", "timeout"])
        .filter(lambda a: a.HasField("timeout_action"))
        .map(lambda a: a.timeout_action)
    ),
    "EmitProgressAction": lambda: (
        actions(["run", "emit_progress"])
        .filter(lambda a: a.HasField("emit_progress_action"))
        .map(lambda a: a.emit_progress_action)
    ),
    "TryAction": lambda: (
        actions(["run", "try"])
        .filter(lambda a: a.HasField("try_action"))
        .map(lambda a: a.try_action)
    ),
    "ParallelAction": lambda: (
        actions(["run", "parallel"])
        .filter(lambda a: a.HasField("parallel_action"))
        .map(lambda a: a.parallel_action)
    ),
    "SerialAction": lambda: (
        actions(["run", "serial"])
        .filter(lambda a: a.HasField("serial_action"))
        .map(lambda a: a.serial_action)
    ),
    "CodependentAction": lambda: (
        actions(["run", "codependent"])
        .filter(lambda a: a.HasField("codependent_action"))
        .map(lambda a: a.codependent_action)
    ),
    "ResourceLimits": lambda: message(
        models.ResourceLimits, optional={"nofile": nonnegative(2**20), "nproc": nonnegative(2**20)}
    ),
    "EnvironmentVariable": environment_variables,
    "File": files,
    "DesiredLRP": desired_lrps,
    "DesiredLRPKey": desired_lrp_keys,
    "DesiredLRPUpdate": desired_lrp_updates,
    "DesiredLRPSchedulingInfo": lambda: stored_desired_lrps().map(scheduling_info),
    "DesiredLRPResource": lambda: stored_desired_lrps().map(
        lambda lrp: scheduling_info(lrp).desired_lrp_resource
    ),
    "VolumePlacement": lambda: stored_desired_lrps().map(
        lambda lrp: scheduling_info(lrp).volume_placement
    ),
    "DesiredLRPRunInfo": lambda: stored_desired_lrps().map(_run_info),
    "ModificationTag": modification_tags,
    "ProtoRoutes": proto_routes,
    "MetricTagValue": lambda: metric_tags().map(lambda tags: next(iter(tags.values()))),
    "SecurityGroupRule": egress_rules,
    "PortRange": lambda: (
        egress_rules().filter(lambda r: r.HasField("port_range")).map(lambda r: r.port_range)
    ),
    "ICMPInfo": lambda: message(
        models.ICMPInfo, {"type": st.integers(0, 255), "code": st.integers(0, 255)}
    ),
    "CachedDependency": cached_dependencies,
    "ImageLayer": image_layers,
    "VolumeMount": volume_mounts,
    "SharedDevice": lambda: (
        volume_mounts().filter(lambda m: m.HasField("shared")).map(lambda m: m.shared)
    ),
    "DedicatedDevice": lambda: (
        volume_mounts().filter(lambda m: m.HasField("dedicated")).map(lambda m: m.dedicated)
    ),
    "Check": checks,
    "TCPCheck": lambda: (
        checks().filter(lambda c: c.HasField("tcp_check")).map(lambda c: c.tcp_check)
    ),
    "HTTPCheck": lambda: (
        checks().filter(lambda c: c.HasField("http_check")).map(lambda c: c.http_check)
    ),
    "CheckDefinition": check_definitions,
    "Sidecar": sidecars,
    "LogRateLimit": log_rate_limits,
    "Network": networks,
    "CertificateProperties": certificate_properties,
    "ActualLRP": actual_lrps,
    "ActualLRPKey": actual_lrp_keys,
    "ActualLRPInstanceKey": actual_lrp_instance_keys,
    "ActualLRPNetInfo": actual_lrp_net_infos,
    "PortMapping": lambda: (
        actual_lrp_net_infos().filter(lambda n: len(n.ports) > 0).map(lambda n: n.ports[0])
    ),
    "ActualLRPInternalRoute": internal_routes,
    "ActualLRPGroup": actual_lrp_groups,
    "ActualLRPInfo": actual_lrp_infos,
    "CellPresence": cell_presences,
    "CellCapacity": lambda: cell_presences().map(lambda c: c.capacity),
    "Provider": lambda: message(
        models.Provider, {"name": names()}, {"properties": st.lists(names(), max_size=2)}
    ),
    "Task": tasks,
    "TaskDefinition": task_definitions,
    "TaskCallbackResponse": lambda: tasks(
        states=(models.Task.Completed, models.Task.Resolving)
    ).map(_callback),
    "Error": lambda: bbs_errors().map(lambda e: e.to_wire()),
}


def _run_info(lrp: models.DesiredLRP) -> models.DesiredLRPRunInfo:
    """The run-info half of a stored desired LRP (no route returns one; built so that
    ``from_message_type`` covers every model)."""
    fields = json_format.MessageToDict(lrp, preserving_proto_field_name=True)
    names_ = set(models.DesiredLRPRunInfo.DESCRIPTOR.fields_by_name) - {"metric_tags"}
    info = models.DesiredLRPRunInfo(
        desired_lrp_key=models.DesiredLRPKey(
            process_guid=lrp.process_guid, domain=lrp.domain, log_guid=lrp.log_guid
        )
    )
    json_format.ParseDict({k: v for k, v in fields.items() if k in names_}, info)
    return info


def _callback(task: models.Task) -> models.TaskCallbackResponse:
    """The JSON body's fields that the BBS posts to a task's completion callback URL."""
    return models.TaskCallbackResponse(
        task_guid=task.task_guid,
        failed=task.failed,
        failure_reason=task.failure_reason,
        result=task.result,
        annotation=task.task_definition.annotation,
        created_at=task.created_at,
    )


def _by_message_type() -> dict[str, Callable[[], SearchStrategy[Any]]]:
    table: dict[str, Callable[[], SearchStrategy[Any]]] = dict(_MODELS)
    table.update(_REQUESTS)
    for route in ROUTES_BY_NAME.values():
        if route.response is not None:
            table[route.response] = functools.partial(_response, route.response)
    for event_name, cls in EVENT_TYPES.items():
        table[cls.DESCRIPTOR.name] = EVENT_STRATEGIES[event_name]
    return table


_BY_MESSAGE_TYPE = _by_message_type()


@shown_as_call
def from_message_type(cls: type[Message]) -> SearchStrategy[Message]:
    """The strategy for any message class of ``fakebbs.models`` (what ``st.from_type`` uses
    once the Hypothesis plugin has registered them)."""
    name = cls.DESCRIPTOR.name
    if name not in _BY_MESSAGE_TYPE or getattr(models, name, None) is not cls:
        raise ValueError(f"no strategy for {cls.__module__}.{cls.__qualname__}")
    build = _BY_MESSAGE_TYPE[name]
    return st.deferred(lambda: build())


def message_types() -> list[type[Message]]:
    """Every message class of ``fakebbs.models`` that has a strategy."""
    return [getattr(models, name) for name in sorted(_BY_MESSAGE_TYPE)]
