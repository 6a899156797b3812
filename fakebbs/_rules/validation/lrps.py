"""Desired LRPs (``models/desired_lrp.go``), actual LRP keys (``models/actual_lrp.go``)
and cell presences (``models/cell_presence.go``)."""

from __future__ import annotations

from fakebbs import models
from fakebbs._rules.validation.actions import validate_action
from fakebbs._rules.validation.basics import (
    ERR_INVALID_ACTION_TYPE,
    MAXIMUM_ANNOTATION_LENGTH,
    guid_ok,
    invalid_field,
    nonempty,
    utf8_len,
)
from fakebbs._rules.validation.network import go_url_has_scheme, validate_security_group_rule
from fakebbs._rules.validation.parts import (
    files_too_large,
    routes_too_long,
    validate_cached_dependencies,
    validate_check_definition,
    validate_environment_variable,
    validate_image_layers,
    validate_metric_tags,
    validate_sidecars,
    validate_volume_mount,
)

# -- desired LRPs (models/desired_lrp.go) ---------------------------------------------------


def validate_desired_lrp_key(process_guid: str, domain: str) -> list[str]:
    """``DesiredLRPKey.Validate()``: domain, then the process_guid pattern."""
    items: list[str] = []
    if domain == "":
        items.append(invalid_field("domain"))
    if not guid_ok(process_guid):
        items.append(invalid_field("process_guid"))
    return items


def _run_info_items(lrp: models.DesiredLRP) -> list[str]:
    """``DesiredLRPRunInfo.Validate()`` on the run info built from ``lrp``."""
    items = validate_desired_lrp_key(lrp.process_guid, lrp.domain)
    if files_too_large(lrp.volume_mounted_files):
        items.append(invalid_field("volumeMountedFiles"))
    if lrp.HasField("setup"):
        inner = validate_action(lrp.setup)
        if inner:
            items += [invalid_field("setup"), *inner]
    if not lrp.HasField("action"):
        items.append(ERR_INVALID_ACTION_TYPE)
    else:
        inner = validate_action(lrp.action)
        if inner:
            items += [invalid_field("action"), *inner]
    if lrp.HasField("monitor"):
        inner = validate_action(lrp.monitor)
        if inner:
            items += [invalid_field("monitor"), *inner]
    for env in lrp.environment_variables:
        items += validate_environment_variable(env)
    for rule in lrp.egress_rules:
        inner = validate_security_group_rule(rule)
        if inner:
            items += [invalid_field("egress_rules"), *inner]
    items += validate_cached_dependencies(lrp.cached_dependencies)
    items += validate_image_layers(lrp.image_layers, lrp.legacy_download_user)
    sidecar_items = validate_sidecars(lrp.sidecars)
    if sidecar_items:
        items += [invalid_field("sidecars"), *sidecar_items]
    for mount in lrp.volume_mounts:
        items += validate_volume_mount(mount)
    if lrp.image_username == "" and lrp.image_password != "":
        items.append(invalid_field("image_username"))
    if lrp.image_username != "" and lrp.image_password == "":
        items.append(invalid_field("image_password"))
    if lrp.HasField("check_definition"):
        inner = validate_check_definition(lrp.check_definition)
        if inner:
            items += [invalid_field("check_definition"), *inner]
    if lrp.HasField("log_rate_limit") and lrp.log_rate_limit.bytes_per_second < -1:
        items.append(invalid_field("log_rate_limit"))
    return items


def validate_desired_lrp(lrp: models.DesiredLRP, *, require_metric_tags: bool = True) -> list[str]:
    """``DesiredLRP.Validate()`` (HEAD), in upstream's order; the run-info checks come last,
    which is why domain, rootfs and volumeMountedFiles can each be reported twice.

    ``require_metric_tags=False`` (2016-era desire routes) skips only the "no metric tags"
    item; tags that are sent are still checked.
    """
    items: list[str] = []
    if files_too_large(lrp.volume_mounted_files):
        items.append(invalid_field("volumeMountedFiles"))
    if lrp.domain == "":
        items.append(invalid_field("domain"))
    if lrp.root_fs == "":
        items.append(invalid_field("rootfs"))
    if not go_url_has_scheme(lrp.root_fs):
        items.append(invalid_field("rootfs"))
    if lrp.instances < 0:
        items.append(invalid_field("instances"))
    if lrp.memory_mb < 0:
        items.append(invalid_field("memory_mb"))
    if lrp.disk_mb < 0:
        items.append(invalid_field("disk_mb"))
    if lrp.HasField("log_rate_limit") and lrp.log_rate_limit.bytes_per_second < -1:
        items.append(invalid_field("log_rate_limit_bytes_per_second"))
    if utf8_len(lrp.annotation) > MAXIMUM_ANNOTATION_LENGTH:
        items.append(invalid_field("annotation"))
    if lrp.max_pids < 0:
        items.append(invalid_field("max_pids"))
    if lrp.HasField("routes") and routes_too_long(lrp.routes):
        items.append(invalid_field("routes"))
    if len(lrp.metric_tags) == 0:
        # An empty proto3 map decodes to a nil Go map: "no tags" and "empty tags" are one case.
        if require_metric_tags:
            items.append(invalid_field("metric_tags"))
    else:
        inner = validate_metric_tags(lrp.metric_tags, lrp.metrics_guid)
        if inner:
            items += [invalid_field("metric_tags"), *inner]
    return items + _run_info_items(lrp)


def validate_desired_lrp_update(update: models.DesiredLRPUpdate) -> list[str]:
    """``DesiredLRPUpdate.Validate()``: instances, annotation, routes, metric tags (without the
    source_id rule), and the image credentials, which must be sent together."""
    items: list[str] = []
    if update.instances < 0:
        items.append(invalid_field("instances"))
    if utf8_len(update.annotation) > MAXIMUM_ANNOTATION_LENGTH:
        items.append(invalid_field("annotation"))
    if update.HasField("routes") and routes_too_long(update.routes):
        items.append(invalid_field("routes"))
    inner = validate_metric_tags(update.metric_tags, "")
    if inner:
        items += [invalid_field("metric_tags"), *inner]
    has_username = update.HasField("image_username")
    has_password = update.HasField("image_password")
    if has_username and not has_password:
        items.append(invalid_field("image_password"))
    if not has_username and has_password:
        items.append(invalid_field("image_username"))
    return items


# --------------------------------------------------------------------------------------------
# Actual LRP keys (models/actual_lrp.go)


def validate_actual_lrp_key(key: models.ActualLRPKey) -> list[str]:
    """``ActualLRPKey.Validate()``: process_guid, index ≥ 0, domain."""
    items: list[str] = []
    if key.process_guid == "":
        items.append(invalid_field("process_guid"))
    if key.index < 0:
        items.append(invalid_field("index"))
    if key.domain == "":
        items.append(invalid_field("domain"))
    return items


def validate_actual_lrp_instance_key(key: models.ActualLRPInstanceKey) -> list[str]:
    """``ActualLRPInstanceKey.Validate()``: cell_id, then instance_guid."""
    items: list[str] = []
    if key.cell_id == "":
        items.append(invalid_field("cell_id"))
    if key.instance_guid == "":
        items.append(invalid_field("instance_guid"))
    return items


def validate_actual_lrp_net_info(info: models.ActualLRPNetInfo) -> list[str]:
    """``ActualLRPNetInfo.Validate()``: address."""
    return [invalid_field("address")] if info.address == "" else []


# --------------------------------------------------------------------------------------------
# Cells (models/cell_presence.go)


def validate_cell_presence(presence: models.CellPresence) -> list[str]:
    """``CellPresence.Validate()``: cell_id, rep_address, then the capacity (memory and
    containers above zero, disk not negative). Only a rep's presence is checked this way;
    no route takes one."""
    items = nonempty(presence, "cell_id", "rep_address")
    capacity = presence.capacity
    if capacity.memory_mb <= 0:
        items.append(invalid_field("memory_mb"))
    if capacity.disk_mb < 0:
        items.append(invalid_field("disk_mb"))
    if capacity.containers <= 0:
        items.append(invalid_field("containers"))
    return items
