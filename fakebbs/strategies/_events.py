"""Strategies of every BBS event (the SSE event names of ``fakebbs.routes.EVENT_TYPES``), each
consistent in itself: a change's before and after share their keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs.routes import EVENT_TYPES
from fakebbs.strategies._actual import (
    actual_lrp_groups,
    actual_lrp_infos,
    actual_lrp_instance_keys,
    actual_lrp_keys,
    actual_lrps,
)
from fakebbs.strategies._common import message, shown_as_call, texts
from fakebbs.strategies._desired import desired_lrp_updates, stored_desired_lrps
from fakebbs.strategies._tasks import tasks

__all__ = ["EVENT_STRATEGIES", "events"]


def _trace_ids() -> SearchStrategy[str]:
    return st.one_of(st.just(""), st.uuids().map(str))


def _desired_changed() -> SearchStrategy[models.DesiredLRPChangedEvent]:
    def build(
        before: models.DesiredLRP, update: models.DesiredLRPUpdate, trace_id: str
    ) -> models.DesiredLRPChangedEvent:
        after = models.DesiredLRP()
        after.CopyFrom(before)
        after.modification_tag.index += 1
        if update.HasField("instances"):
            after.instances = update.instances
        if update.HasField("annotation"):
            after.annotation = update.annotation
        return models.DesiredLRPChangedEvent(before=before, after=after, trace_id=trace_id)

    return st.builds(build, stored_desired_lrps(), desired_lrp_updates(), _trace_ids())


def _actual_changed() -> SearchStrategy[models.ActualLRPChangedEvent]:
    def build(
        before: models.ActualLRPGroup, after: models.ActualLRPGroup
    ) -> models.ActualLRPChangedEvent:
        key = (before.instance if before.HasField("instance") else before.evacuating).actual_lrp_key
        for slot in ("instance", "evacuating"):
            if after.HasField(slot):
                getattr(after, slot).actual_lrp_key.CopyFrom(key)
        return models.ActualLRPChangedEvent(before=before, after=after)

    return st.builds(build, actual_lrp_groups(), actual_lrp_groups())


def _crashed() -> SearchStrategy[models.ActualLRPCrashedEvent]:
    return st.builds(
        lambda lrp, key, reason: models.ActualLRPCrashedEvent(
            actual_lrp_key=lrp.actual_lrp_key,
            actual_lrp_instance_key=key,
            crash_count=max(lrp.crash_count, 1),
            crash_reason=reason,
            since=lrp.since,
        ),
        actual_lrps(),
        actual_lrp_instance_keys(),
        texts(),
    )


def _instance_changed() -> SearchStrategy[models.ActualLRPInstanceChangedEvent]:
    return message(
        models.ActualLRPInstanceChangedEvent,
        {
            "actual_lrp_key": actual_lrp_keys(),
            "actual_lrp_instance_key": actual_lrp_instance_keys(),
            "before": actual_lrp_infos(),
            "after": actual_lrp_infos(),
            "trace_id": _trace_ids(),
        },
    )


def _task_changed() -> SearchStrategy[models.TaskChangedEvent]:
    def build(before: models.Task, after: models.Task) -> models.TaskChangedEvent:
        for field in ("task_guid", "domain", "created_at"):
            setattr(after, field, getattr(before, field))
        after.task_definition.CopyFrom(before.task_definition)
        return models.TaskChangedEvent(before=before, after=after)

    return st.builds(build, tasks(), tasks())


EVENT_STRATEGIES: dict[str, Callable[[], SearchStrategy[Any]]] = {
    "desired_lrp_created": lambda: message(
        models.DesiredLRPCreatedEvent,
        {"desired_lrp": stored_desired_lrps(), "trace_id": _trace_ids()},
    ),
    "desired_lrp_changed": _desired_changed,
    "desired_lrp_removed": lambda: message(
        models.DesiredLRPRemovedEvent,
        {"desired_lrp": stored_desired_lrps(), "trace_id": _trace_ids()},
    ),
    "actual_lrp_created": lambda: message(
        models.ActualLRPCreatedEvent, {"actual_lrp_group": actual_lrp_groups()}
    ),
    "actual_lrp_changed": _actual_changed,
    "actual_lrp_removed": lambda: message(
        models.ActualLRPRemovedEvent, {"actual_lrp_group": actual_lrp_groups()}
    ),
    "actual_lrp_crashed": _crashed,
    "actual_lrp_instance_created": lambda: message(
        models.ActualLRPInstanceCreatedEvent,
        {"actual_lrp": actual_lrps(), "trace_id": _trace_ids()},
    ),
    "actual_lrp_instance_changed": _instance_changed,
    "actual_lrp_instance_removed": lambda: message(
        models.ActualLRPInstanceRemovedEvent,
        {"actual_lrp": actual_lrps(), "trace_id": _trace_ids()},
    ),
    "task_created": lambda: message(models.TaskCreatedEvent, {"task": tasks()}),
    "task_changed": _task_changed,
    "task_removed": lambda: message(models.TaskRemovedEvent, {"task": tasks()}),
}
assert set(EVENT_STRATEGIES) == set(EVENT_TYPES), "one strategy per event type"


@shown_as_call
def events(*names_: str) -> SearchStrategy[Message]:
    """Events of the given SSE event names (``fakebbs.routes.EVENT_TYPES``; default: all)."""
    chosen = names_ or tuple(EVENT_TYPES)
    unknown = sorted(set(chosen) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event names {unknown}; choose from {sorted(EVENT_TYPES)}")
    return st.one_of([EVENT_STRATEGIES[name]() for name in chosen])
