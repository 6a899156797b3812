"""The calls to reps and the auctioneer that the rules decide, as upstream's clients build them.

A rule decides a call as part of its operation (``Operation.call``), next to the changes it
records; ``fakebbs._outbound.calls`` makes the calls once the operation ends. What a call is
(its route, path, body and retry policy) is a domain fact and lives here, below the rules;
sending it is the outbound layer's business.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fakebbs import models
from fakebbs._rules.wire import go_json
from fakebbs.errors import BBSError

__all__ = [
    "AUCTIONEER_CALLS",
    "INTERNAL_ROUTER",
    "OUTBOUND_FIELDS",
    "REP_CALLS",
    "RETIRE_ATTEMPTS",
    "OutboundRequest",
    "Target",
    "cancel_task_request",
    "internal_routes_of",
    "lrp_auction_request",
    "lrp_start",
    "metric_tags_for",
    "stop_request",
    "task_auction_request",
    "task_start",
    "update_request",
]

REP_CALLS = ("StopLRPInstance", "UpdateLRPInstance", "CancelTaskOnRep")
"""The rep client's methods the BBS calls (rep ``client.go``)."""

AUCTIONEER_CALLS = ("RequestLRPAuctions", "RequestTaskAuctions")
"""The auctioneer client's methods the BBS calls."""

_START_FIELDS = ("PlacementTags", "VolumeDrivers", "RootFs", "MemoryMB", "DiskMB", "MaxPids")

OUTBOUND_FIELDS: Mapping[str, frozenset[str]] = {
    "StopLRPInstance": frozenset({"process_guid", "instance_guid", "index"}),
    "CancelTaskOnRep": frozenset({"task_guid"}),
    "UpdateLRPInstance": frozenset(
        {"instance_guid", "process_guid", "index", "domain", "internal_routes", "metric_tags"}
    ),
    "RequestLRPAuctions": frozenset({"process_guid", "domain", "indices", *_START_FIELDS}),
    "RequestTaskAuctions": frozenset({"TaskGuid", "Domain", *_START_FIELDS, "state", "failed"}),
}
"""The top-level names ``where`` can use per call: the fields of the JSON body (of each start
request for an auction), or for a stop and a cancel, which have no body, the route's
parameters."""

RETIRE_ATTEMPTS = 5
"""Upstream ``RetireActualLRPRetryAttempts``: stops a retire tries before it gives up."""

Target = Literal["rep", "auctioneer"]


@dataclass(frozen=True)
class OutboundRequest:
    """A call a rule decided to make. ``request`` is the decoded body (for a stop or a cancel,
    the route's parameters); ``body`` the text sent. ``rep_address``/``rep_url`` are the cell
    presence's at the time. ``attempts`` is how often a failed call is tried in all, and
    ``answers`` says a final failure is the answer of the BBS call that made it (retire);
    ``unreachable_answers`` says only a call that cannot be made at all is (cancel: the rep
    client cannot be created for the cell's URL). ``background`` says upstream makes it from
    a goroutine, not before it answers (the stops of a scale-down or removal, the updates of
    a desired LRP update). ``retry_check`` is asked before each further attempt: False, try
    again; True, the call is no longer needed (success); a BBS error, that is the outcome."""

    route: str
    method: str
    path: str
    body: str
    request: Any
    trace_id: str = ""
    cell_id: str = ""
    rep_address: str = ""
    rep_url: str = ""
    attempts: int = 1
    answers: bool = False
    unreachable_answers: bool = False
    background: bool = False
    retry_check: Callable[[], BBSError | bool] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def target(self) -> Target:
        return "rep" if self.route in REP_CALLS else "auctioneer"


# -- the requests, as upstream's clients build them ------------------------------------------


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="$&+:=@")


def stop_request(
    lrp: models.ActualLRP,
    cell: models.CellPresence,
    trace_id: str = "",
    *,
    retire: bool = False,
    retry_check: Callable[[], BBSError | bool] | None = None,
) -> OutboundRequest:
    """``Client.StopLRPInstance``: ``POST /v1/lrps/{process_guid}/instances/{instance_guid}/stop``
    with no body. A retire's stop is tried ``RETIRE_ATTEMPTS`` times and answers the retire;
    another stop is made in the background."""
    key, instance = lrp.actual_lrp_key, lrp.actual_lrp_instance_key
    params = {
        "process_guid": key.process_guid,
        "instance_guid": instance.instance_guid,
        "index": key.index,
    }
    path = f"/v1/lrps/{_quote(key.process_guid)}/instances/{_quote(instance.instance_guid)}/stop"
    return OutboundRequest(
        "StopLRPInstance",
        "POST",
        path,
        "",
        params,
        trace_id,
        cell.cell_id,
        cell.rep_address,
        cell.rep_url,
        attempts=RETIRE_ATTEMPTS if retire else 1,
        answers=retire,
        background=not retire,
        retry_check=retry_check,
    )


def update_request(
    lrp: models.ActualLRP,
    cell: models.CellPresence,
    internal_routes: list[dict[str, str]] | None,
    metric_tags: dict[str, str] | None,
    trace_id: str = "",
    *,
    background: bool = True,
) -> OutboundRequest:
    """``Client.UpdateLRPInstance``: ``PUT /v2/lrps/{process_guid}/instances/{instance_guid}``
    with rep's ``LRPUpdate`` as Go marshals it (None is ``null``; tags sorted by name); in the
    background, unless convergence makes it."""
    key = lrp.actual_lrp_key
    instance_guid = lrp.actual_lrp_instance_key.instance_guid
    body = {
        "instance_guid": instance_guid,
        "process_guid": key.process_guid,
        "index": key.index,
        "domain": key.domain,
        "internal_routes": internal_routes,
        "metric_tags": None if metric_tags is None else dict(sorted(metric_tags.items())),
    }
    path = f"/v2/lrps/{_quote(key.process_guid)}/instances/{_quote(instance_guid)}"
    return OutboundRequest(
        "UpdateLRPInstance",
        "PUT",
        path,
        go_json(body).decode("utf-8"),
        body,
        trace_id,
        cell.cell_id,
        cell.rep_address,
        cell.rep_url,
        background=background,
    )


def cancel_task_request(
    task_guid: str, cell: models.CellPresence, trace_id: str = ""
) -> OutboundRequest:
    """``Client.CancelTask``: ``POST /v1/tasks/{task_guid}/cancel`` with no body. Its failure
    is only logged, but a rep URL the client cannot use fails the cancel (after the task is
    cancelled), as upstream returns the rep client factory's error."""
    return OutboundRequest(
        "CancelTaskOnRep",  # the rep client's CancelTask, named apart from the BBS route
        "POST",
        f"/v1/tasks/{_quote(task_guid)}/cancel",
        "",
        {"task_guid": task_guid},
        trace_id,
        cell.cell_id,
        cell.rep_address,
        cell.rep_url,
        unreachable_answers=True,
    )


def lrp_start(
    lrp: models.DesiredLRP, indices: Iterable[int], *, read_back: bool = True
) -> dict[str, Any]:
    """``NewLRPStartRequestFromSchedulingInfo``: the auctioneer's ``LRPStartRequest`` as Go
    marshals it (empty lists of a scheduling info are ``null``).

    No volume drivers are ``[]`` when the BBS builds the scheduling info from the desired LRP
    in hand (``DesiredLRPSchedulingInfo`` sets ``DriverNames = []string{}``: desire and
    scale-up, ``read_back=False``) and ``null`` when it reads it back from the database,
    where the empty list did not survive protobuf (evacuation, crash restarts, convergence).
    """
    drivers: list[str] | None = [mount.driver for mount in lrp.volume_mounts]
    if read_back and not drivers:
        drivers = None
    return {
        "process_guid": lrp.process_guid,
        "domain": lrp.domain,
        "indices": list(indices),
        "PlacementTags": list(lrp.PlacementTags) or None,
        "VolumeDrivers": drivers,
        "RootFs": lrp.root_fs,
        "MemoryMB": lrp.memory_mb,
        "DiskMB": lrp.disk_mb,
        "MaxPids": lrp.max_pids,
    }


def lrp_auction_request(starts: Sequence[dict[str, Any]], trace_id: str = "") -> OutboundRequest:
    """``Client.RequestLRPAuctions``: ``POST /v1/lrps`` with the list of start requests."""
    body = list(starts)
    return OutboundRequest(
        "RequestLRPAuctions", "POST", "/v1/lrps", go_json(body).decode("utf-8"), body, trace_id
    )


def task_start(task_guid: str, domain: str, definition: models.TaskDefinition) -> dict[str, Any]:
    """``NewTaskStartRequestFromModel``: rep's ``Task`` as Go marshals it (the volume drivers
    list is always a list; the state is the name of the zero state, "Invalid")."""
    return {
        "TaskGuid": task_guid,
        "Domain": domain,
        "PlacementTags": list(definition.placement_tags) or None,
        "VolumeDrivers": [mount.driver for mount in definition.volume_mounts],
        "RootFs": definition.root_fs,
        "MemoryMB": definition.memory_mb,
        "DiskMB": definition.disk_mb,
        "MaxPids": definition.max_pids,
        "state": models.Task.State.Name(0),
        "failed": False,
    }


def task_auction_request(starts: Sequence[dict[str, Any]], trace_id: str = "") -> OutboundRequest:
    """``Client.RequestTaskAuctions``: ``POST /v1/tasks`` with the list of task starts."""
    body = list(starts)
    return OutboundRequest(
        "RequestTaskAuctions", "POST", "/v1/tasks", go_json(body).decode("utf-8"), body, trace_id
    )


def metric_tags_for(
    tags: Mapping[str, models.MetricTagValue], index: int, instance_guid: str
) -> dict[str, str]:
    """``models.ConvertMetricTags``: static values as they are, dynamic ones resolved for one
    instance (its index in decimal, or its instance guid)."""
    resolved = {}
    for name, value in tags.items():
        if value.dynamic == models.MetricTagValue.INDEX:
            resolved[name] = str(index)
        elif value.dynamic == models.MetricTagValue.INSTANCE_GUID:
            resolved[name] = instance_guid
        else:
            resolved[name] = value.static
    return resolved


INTERNAL_ROUTER = "internal-router"
"""The routes key of internal (container-to-container) routes (``internalroutes``)."""


def internal_routes_of(routes: models.ProtoRoutes) -> list[dict[str, str]] | None:
    """``InternalRoutesFromRoutingInfo``: the hostnames under "internal-router" as rep's
    ``InternalRoutes`` (None when absent or null). Go's decoder matches the field name without
    regard to case and ignores other fields; a value that is not a list of objects with string
    hostnames is a ValueError."""
    raw = routes.routes.get(INTERNAL_ROUTER)
    if raw is None:
        return None
    value = json.loads(raw)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("internal routes are not a list")
    decoded = []
    for item in value:
        if item is None:
            decoded.append({"hostname": ""})
            continue
        if not isinstance(item, dict):
            raise ValueError("an internal route is not an object")
        hostname: object = item.get("hostname")
        if "hostname" not in item:
            hostname = next((v for k, v in item.items() if k.lower() == "hostname"), "")
        if hostname is None:
            hostname = ""
        if not isinstance(hostname, str):
            raise ValueError("an internal route's hostname is not a string")
        decoded.append({"hostname": hostname})
    return decoded
