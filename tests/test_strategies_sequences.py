"""Event sequences that happened, and the stored form of a desired LRP: what a consumer of
the streams and a client comparing what it sent can rely on."""

from __future__ import annotations

import json

import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakebbs import FakeBBS, models, strategies
from fakebbs.client import BBSClient

CHECK = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def guid_of(event: Message) -> tuple[str, str]:
    """(kind, guid) of the desired LRP or task an event is about."""
    if isinstance(event, models.DesiredLRPCreatedEvent | models.DesiredLRPRemovedEvent):
        return "lrp", event.desired_lrp.process_guid
    if isinstance(event, models.DesiredLRPChangedEvent):
        return "lrp", event.after.process_guid
    if isinstance(event, models.TaskCreatedEvent | models.TaskRemovedEvent):
        return "task", event.task.task_guid
    if isinstance(event, models.TaskChangedEvent):
        return "task", event.after.task_guid
    return "", ""


@settings(CHECK)
@given(sequence=strategies.event_sequences(("instance", "task")))
def test_an_event_sequence_only_changes_what_it_created(sequence: list[Message]) -> None:
    existing: set[tuple[str, str]] = set()
    for event in sequence:
        key = guid_of(event)
        if isinstance(event, models.DesiredLRPCreatedEvent | models.TaskCreatedEvent):
            assert key not in existing, event
            existing.add(key)
        elif isinstance(event, models.DesiredLRPRemovedEvent | models.TaskRemovedEvent):
            assert key in existing, event
            existing.remove(key)
        elif key != ("", ""):
            assert key in existing, event


@settings(CHECK)
@given(sequence=strategies.event_sequences(("task",)))
def test_a_task_sequence_has_only_task_events(sequence: list[Message]) -> None:
    task_events = (models.TaskCreatedEvent, models.TaskChangedEvent, models.TaskRemovedEvent)
    assert all(isinstance(event, task_events) for event in sequence)


def test_event_sequences_grow_with_their_operations() -> None:
    lengths: list[int] = []

    @settings(CHECK, max_examples=60)
    @given(sequence=strategies.event_sequences())
    def collect(sequence: list[Message]) -> None:
        lengths.append(len(sequence))

    collect()
    assert max(lengths) >= 4


def test_an_unknown_stream_is_refused() -> None:
    with pytest.raises(ValueError, match="instance"):
        strategies.event_sequences(["instances"])


@settings(CHECK)
@given(
    lrp=strategies.desired_lrps(),
    indent=st.sampled_from([None, 1]),
    drop_routes=st.booleans(),
    drop_metrics_guid=st.booleans(),
)
def test_the_stored_form_is_what_the_bbs_returns(
    lrp: models.DesiredLRP, indent: int | None, drop_routes: bool, drop_metrics_guid: bool
) -> None:
    # what a client may send that the BBS normalizes: spaced JSON, no routes, a source_id
    # tag without its metrics guid
    for router, value in list(lrp.routes.routes.items()):
        lrp.routes.routes[router] = json.dumps(json.loads(value), indent=indent).encode()
    if drop_routes:
        lrp.ClearField("routes")
    if drop_metrics_guid:
        lrp.metrics_guid = ""
    fake = FakeBBS()
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        bbs.desire_lrp(lrp)
        returned = bbs.desired_lrp_by_process_guid(lrp.process_guid)
    returned.ClearField("modification_tag")
    assert returned == strategies.stored_form(lrp)
