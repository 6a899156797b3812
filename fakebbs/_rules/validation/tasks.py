"""Tasks (``models/task.go``, ``models/task_requests.go``)."""

from __future__ import annotations

from fakebbs import models
from fakebbs._rules.validation.actions import validate_action
from fakebbs._rules.validation.basics import (
    ERR_INVALID_ACTION_TYPE,
    MAXIMUM_ANNOTATION_LENGTH,
    guid_ok,
    invalid_field,
    utf8_len,
)
from fakebbs._rules.validation.network import go_url_has_scheme, validate_security_group_rule
from fakebbs._rules.validation.parts import validate_cached_dependencies, validate_image_layers


def validate_task_definition(definition: models.TaskDefinition) -> list[str]:
    """``TaskDefinition.Validate()``. Unlike LRPs: rootfs reported once, egress rules without
    inner text, and neither volume mounts nor env vars are checked."""
    items: list[str] = []
    if definition.root_fs == "" or not go_url_has_scheme(definition.root_fs):
        items.append(invalid_field("rootfs"))
    if not definition.HasField("action"):
        items.append(ERR_INVALID_ACTION_TYPE)
    else:
        inner = validate_action(definition.action)
        if inner:
            items += [invalid_field("action"), *inner]
    if definition.memory_mb < 0:
        items.append(invalid_field("memory_mb"))
    if definition.disk_mb < 0:
        items.append(invalid_field("disk_mb"))
    if definition.HasField("log_rate_limit") and definition.log_rate_limit.bytes_per_second < -1:
        items.append(invalid_field("log_rate_limit"))
    if definition.max_pids < 0:
        items.append(invalid_field("max_pids"))
    if utf8_len(definition.annotation) > MAXIMUM_ANNOTATION_LENGTH:
        items.append(invalid_field("annotation"))
    for rule in definition.egress_rules:
        if validate_security_group_rule(rule):
            items.append(invalid_field("egress_rules"))
    if definition.image_username == "" and definition.image_password != "":
        items.append(invalid_field("image_username"))
    if definition.image_username != "" and definition.image_password == "":
        items.append(invalid_field("image_password"))
    items += validate_cached_dependencies(definition.cached_dependencies)
    items += validate_image_layers(definition.image_layers, definition.legacy_download_user)
    return items


def validate_task(task: models.Task) -> list[str]:
    """``Task.Validate()``: domain, task_guid pattern, task_definition."""
    items: list[str] = []
    if task.domain == "":
        items.append(invalid_field("domain"))
    if not guid_ok(task.task_guid):
        items.append(invalid_field("task_guid"))
    if not task.HasField("task_definition"):
        items.append(invalid_field("task_definition"))
    else:
        items += validate_task_definition(task.task_definition)
    return items
