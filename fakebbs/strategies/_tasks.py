"""Valid task definitions and desire requests, and tasks in every state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs.strategies._actions import actions, environment_variables, files
from fakebbs.strategies._actual import cell_ids
from fakebbs.strategies._common import (
    guids,
    message,
    names,
    nonnegative,
    root_fs_urls,
    shown_as_call,
    texts,
    timestamps,
)
from fakebbs.strategies._desired import (
    cached_dependencies,
    certificate_properties,
    domains,
    egress_rules,
    image_layers,
    log_rate_limits,
    metric_tags,
    networks,
    volume_mounts,
)

__all__ = ["TASK_STATES", "desire_task_requests", "task_definitions", "task_guids", "tasks"]

TASK_STATES: tuple[int, ...] = (
    models.Task.Pending,
    models.Task.Running,
    models.Task.Completed,
    models.Task.Resolving,
)


@shown_as_call
def task_guids(prefix: str = "") -> SearchStrategy[str]:
    return guids(prefix)


class _TaskDefinitionStrategy(SearchStrategy[models.TaskDefinition]):
    """The definition's fields (built once), then the fields that go together: image
    credentials, and the download user EXCLUSIVE image layers need."""

    def __init__(
        self, action_kinds: tuple[str, ...] | None, completion_callback_urls: SearchStrategy[str]
    ) -> None:
        super().__init__()
        self.fields = message(
            models.TaskDefinition,
            {"root_fs": root_fs_urls(), "action": actions(action_kinds)},
            {
                "environment_variables": st.lists(environment_variables(), max_size=2),
                "disk_mb": nonnegative(2**20),
                "memory_mb": nonnegative(2**20),
                "cpu_weight": nonnegative(100),
                "privileged": st.booleans(),
                "log_source": texts(),
                "log_guid": names(),
                "metrics_guid": names(),
                "result_file": names().map(lambda n: "/tmp/" + n),
                "completion_callback_url": completion_callback_urls,
                "annotation": texts(max_size=40),
                "egress_rules": st.lists(egress_rules(), max_size=2),
                "cached_dependencies": st.lists(cached_dependencies(), max_size=2),
                "trusted_system_certificates_path": names().map(lambda n: "/etc/" + n),
                "volume_mounts": st.lists(volume_mounts(), max_size=2),
                "network": networks(),
                "placement_tags": st.lists(names(), max_size=2),
                "max_pids": nonnegative(2**16),
                "certificate_properties": certificate_properties(),
                "image_layers": st.lists(image_layers(), max_size=2),
                "log_rate_limit": log_rate_limits(),
                "metric_tags": metric_tags(),
                "volume_mounted_files": st.lists(files(), max_size=2),
            },
            max_optional=4,
        )
        self.credentials = st.one_of(st.none(), st.tuples(names(), texts(min_size=1)))
        self.download_users = st.sampled_from(["vcap", "root"])

    def do_draw(self, data: Any) -> models.TaskDefinition:
        definition: models.TaskDefinition = data.draw(self.fields)
        credentials = data.draw(self.credentials)
        if credentials is not None:
            definition.image_username, definition.image_password = credentials
        exclusive = models.ImageLayer.EXCLUSIVE
        if any(layer.layer_type == exclusive for layer in definition.image_layers):
            definition.legacy_download_user = data.draw(self.download_users)
        return definition


@shown_as_call
def task_definitions(
    *,
    action_kinds: Iterable[str] | None = None,
    completion_callback_urls: SearchStrategy[str] | None = None,
) -> SearchStrategy[models.TaskDefinition]:
    """Valid task definitions. ``completion_callback_urls`` defaults to empty: the fake calls
    a task's callback URL when it completes, so give one only where something listens."""
    kinds = None if action_kinds is None else tuple(action_kinds)
    return _TaskDefinitionStrategy(kinds, completion_callback_urls or st.just(""))


@shown_as_call
def desire_task_requests(
    *,
    domain: str | None = None,
    task_guid_prefix: str = "",
    action_kinds: Iterable[str] | None = None,
    completion_callback_urls: SearchStrategy[str] | None = None,
) -> SearchStrategy[models.DesireTaskRequest]:
    """Valid ``DesireTaskRequest`` messages (task guid, domain, definition)."""
    return message(
        models.DesireTaskRequest,
        {
            "task_guid": task_guids(task_guid_prefix),
            "domain": st.just(domain) if domain else domains(),
            "task_definition": task_definitions(
                action_kinds=action_kinds, completion_callback_urls=completion_callback_urls
            ),
        },
    )


_TIMESTAMPS = timestamps()
_LATER = nonnegative(10**12)
_REJECTIONS = st.integers(0, 3)
_REASONS = texts(min_size=1)
_RESULTS = texts()
_CELL_IDS = cell_ids()
_FLAGS = st.booleans()


@st.composite
def _task(
    draw: st.DrawFn, states: tuple[int, ...], request: SearchStrategy[models.DesireTaskRequest]
) -> models.Task:
    desire = draw(request)
    state = draw(st.sampled_from(states))
    created = draw(_TIMESTAMPS)
    fields: dict[str, Any] = {
        "task_guid": desire.task_guid,
        "domain": desire.domain,
        "task_definition": desire.task_definition,
        "state": state,
        "created_at": created,
        "updated_at": created + draw(_LATER),
        "rejection_count": draw(_REJECTIONS),
    }
    task = models.Task(**fields)
    if task.rejection_count:
        task.rejection_reason = draw(_REASONS)
    if state == models.Task.Running:
        task.cell_id = draw(_CELL_IDS)
    if state in (models.Task.Completed, models.Task.Resolving):
        task.first_completed_at = task.updated_at
        task.failed = draw(_FLAGS)
        if task.failed:
            task.failure_reason = draw(_REASONS)
        else:
            task.result = draw(_RESULTS)
    return task


@shown_as_call
def tasks(
    *,
    states: Iterable[int] = TASK_STATES,
    domain: str | None = None,
    task_guid_prefix: str = "",
) -> SearchStrategy[models.Task]:
    """Tasks as the BBS returns them, consistent with their state: only a Running task has a
    cell; Completed and Resolving tasks have ``first_completed_at`` and either a result or a
    failure reason; timestamps never go backwards."""
    return _task(
        tuple(states), desire_task_requests(domain=domain, task_guid_prefix=task_guid_prefix)
    )
