"""Request validation: upstream's ``Validate()`` methods, with their exact texts and order.

Upstream collects failures in a ``ValidationError`` (``models/validator.go``): a flat list of
items, where appending another ``ValidationError`` splices its items in, and ``Error()`` joins
them with ", ". A nested model therefore reads "Invalid field: setup, <the setup's items>".
Every helper here returns such an item list (empty = valid); ``validate`` joins it and raises
``InvalidRequest``, which is what ``handlers.go: parseRequest`` answers with.

Where the Go server would panic instead of answering (an empty ``Action`` nested inside a
wrapper: ``UnwrapAction`` yields nil and ``.Validate()`` is called on it), the item for an
empty action, "Invalid field: inner-action", is reported in its place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._rules.validation.actions import first_action_field, validate_action
from fakebbs._rules.validation.basics import ACTION_FIELDS, guid_ok, invalid_field, nonempty
from fakebbs._rules.validation.lrps import (
    validate_actual_lrp_instance_key,
    validate_actual_lrp_key,
    validate_actual_lrp_net_info,
    validate_cell_presence,
    validate_desired_lrp,
    validate_desired_lrp_key,
    validate_desired_lrp_update,
)
from fakebbs._rules.validation.network import go_url_has_scheme, validate_security_group_rule
from fakebbs._rules.validation.parts import (
    validate_cached_dependencies,
    validate_cached_dependency,
    validate_check,
    validate_check_definition,
    validate_environment_variable,
    validate_image_layer,
    validate_image_layers,
    validate_metric_tag_value,
    validate_metric_tags,
    validate_sidecar,
    validate_sidecars,
    validate_volume_mount,
)
from fakebbs._rules.validation.tasks import validate_task, validate_task_definition
from fakebbs.errors import InvalidRequest

__all__ = [
    "ACTION_FIELDS",
    "first_action_field",
    "go_url_has_scheme",
    "validate",
    "validate_action",
    "validate_actual_lrp_instance_key",
    "validate_actual_lrp_key",
    "validate_actual_lrp_net_info",
    "validate_cached_dependencies",
    "validate_cached_dependency",
    "validate_cell_presence",
    "validate_check",
    "validate_check_definition",
    "validate_desired_lrp",
    "validate_desired_lrp_key",
    "validate_desired_lrp_update",
    "validate_environment_variable",
    "validate_image_layer",
    "validate_image_layers",
    "validate_metric_tag_value",
    "validate_metric_tags",
    "validate_security_group_rule",
    "validate_sidecar",
    "validate_sidecars",
    "validate_task",
    "validate_task_definition",
    "validate_volume_mount",
    "validation_items",
]

# --------------------------------------------------------------------------------------------
# Entry points


def validate(request: Message, *, require_metric_tags: bool = True) -> None:
    """Raise ``InvalidRequest(<joined items>)`` when ``request.Validate()`` would fail upstream.

    Dispatches on the message's descriptor name; messages whose upstream ``Validate`` always
    passes (or that have none) pass. ``require_metric_tags=False`` relaxes only the
    "metric_tags must be present" rule, for the 2016-era desire routes.
    """
    items = validation_items(request, require_metric_tags=require_metric_tags)
    if items:
        raise InvalidRequest(", ".join(items))


def validation_items(request: Message, *, require_metric_tags: bool = True) -> list[str]:
    """The items ``validate`` would join: ``[]`` when ``request`` is valid."""
    name = request.DESCRIPTOR.name
    if name == "DesireLRPRequest":
        return _desire_lrp_request(request, require_metric_tags)
    if name == "DesiredLRP":
        lrp = cast(models.DesiredLRP, request)
        return validate_desired_lrp(lrp, require_metric_tags=require_metric_tags)
    validator = _VALIDATORS.get(name)
    return validator(request) if validator is not None else []


# --------------------------------------------------------------------------------------------
# Request messages


def _required(request: Any, name: str, check: Callable[[Any], list[str]]) -> list[str]:
    """Upstream's "Invalid field: <name>" if the submessage is absent, else its own items."""
    if not request.HasField(name):
        return [invalid_field(name)]
    return check(getattr(request, name))


def _lrp_key(request: Any) -> list[str]:
    return _required(request, "actual_lrp_key", validate_actual_lrp_key)


def _instance_key(request: Any) -> list[str]:
    return _required(request, "actual_lrp_instance_key", validate_actual_lrp_instance_key)


def _net_info(request: Any) -> list[str]:
    return _required(request, "actual_lrp_net_info", validate_actual_lrp_net_info)


def _process_guid_and_index(request: Any) -> list[str]:
    items = nonempty(request, "process_guid")
    if request.index < 0:
        items.append(invalid_field("index"))
    return items


def _desire_lrp_request(request: Any, require_metric_tags: bool) -> list[str]:
    """``DesireLRPRequest.Validate()``."""
    if not request.HasField("desired_lrp"):
        return [invalid_field("desired_lrp")]
    return validate_desired_lrp(request.desired_lrp, require_metric_tags=require_metric_tags)


def _update_desired_lrp_request(request: Any) -> list[str]:
    """``UpdateDesiredLRPRequest.Validate()``: an absent ``update`` is not an error here."""
    items = nonempty(request, "process_guid")
    if request.HasField("update"):
        items += validate_desired_lrp_update(request.update)
    return items


def _desire_task_request(request: Any) -> list[str]:
    """``DesireTaskRequest.Validate()``: task_guid pattern, domain, task_definition."""
    items = [] if guid_ok(request.task_guid) else [invalid_field("task_guid")]
    items += nonempty(request, "domain")
    return items + _required(request, "task_definition", validate_task_definition)


def _task_guid_and(field: str, reported_as: str | None = None) -> Callable[[Any], list[str]]:
    """Start/Complete/Fail/RejectTaskRequest: task_guid pattern, then one non-empty field."""

    def check(request: Any) -> list[str]:
        items = [] if guid_ok(request.task_guid) else [invalid_field("task_guid")]
        if getattr(request, field) == "":
            items.append(invalid_field(reported_as or field))
        return items

    return check


def _process_guids_nonempty(request: Any) -> list[str]:
    """``ActualLRPsByProcessGuidsRequest.Validate()`` (a bare ``models.Error`` text)."""
    return ["process_guids must not be empty"] if len(request.process_guids) == 0 else []


_VALIDATORS: dict[str, Callable[[Any], list[str]]] = {
    # desired LRPs
    "DesiredLRPByProcessGuidRequest": lambda r: nonempty(r, "process_guid"),
    "UpdateDesiredLRPRequest": _update_desired_lrp_request,
    "RemoveDesiredLRPRequest": lambda r: nonempty(r, "process_guid"),
    "DesiredLRPUpdate": validate_desired_lrp_update,
    # actual LRP queries
    "ActualLRPsByProcessGuidsRequest": _process_guids_nonempty,
    "ActualLRPGroupsByProcessGuidRequest": lambda r: nonempty(r, "process_guid"),
    "ActualLRPGroupByProcessGuidAndIndexRequest": _process_guid_and_index,
    # actual LRP lifecycle
    "ClaimActualLRPRequest": lambda r: nonempty(r, "process_guid") + _instance_key(r),
    "StartActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r) + _net_info(r),
    "CrashActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r),
    "FailActualLRPRequest": lambda r: _lrp_key(r) + nonempty(r, "error_message"),
    "RemoveActualLRPRequest": _process_guid_and_index,
    "RetireActualLRPRequest": _lrp_key,
    # evacuation
    "RemoveEvacuatingActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r),
    "EvacuateClaimedActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r),
    "EvacuateCrashedActualLRPRequest": (
        lambda r: _lrp_key(r) + _instance_key(r) + nonempty(r, "error_message")
    ),
    "EvacuateStoppedActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r),
    "EvacuateRunningActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r) + _net_info(r),
    # tasks
    "DesireTaskRequest": _desire_task_request,
    "StartTaskRequest": _task_guid_and("cell_id"),
    "CompleteTaskRequest": _task_guid_and("cell_id"),
    "FailTaskRequest": _task_guid_and("failure_reason"),
    "RejectTaskRequest": _task_guid_and("rejection_reason", reported_as="failure_reason"),
    "TaskGuidRequest": lambda r: nonempty(r, "task_guid"),
    "TaskByGuidRequest": lambda r: nonempty(r, "task_guid"),
    "Task": validate_task,
    "TaskDefinition": validate_task_definition,
    # domains
    "UpsertDomainRequest": lambda r: nonempty(r, "domain"),
    # models that have a Validate of their own
    "Action": validate_action,
    "ActualLRPKey": validate_actual_lrp_key,
    "ActualLRPInstanceKey": validate_actual_lrp_instance_key,
    "ActualLRPNetInfo": validate_actual_lrp_net_info,
    "CellPresence": validate_cell_presence,
    "CachedDependency": validate_cached_dependency,
    "ImageLayer": validate_image_layer,
    "SecurityGroupRule": validate_security_group_rule,
    "VolumeMount": validate_volume_mount,
    "Check": validate_check,
    "CheckDefinition": validate_check_definition,
    "Sidecar": validate_sidecar,
    "EnvironmentVariable": validate_environment_variable,
    "MetricTagValue": validate_metric_tag_value,
}
"""Requests (and models) with a failing-capable upstream ``Validate``, by descriptor name.
DesiredLRPsRequest, ActualLRPsRequest, ActualLRPGroupsRequest, TasksRequest and
EventsByCellId always pass upstream and are deliberately absent."""
