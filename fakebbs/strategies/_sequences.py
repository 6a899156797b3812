"""Event streams that happened: operations drawn at random and run on a fresh fake, and the
events its streams sent for them, so every sequence is one a BBS could have sent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.message import Message
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs._fake import FakeBBS
from fakebbs._http.events import Event, HubName, StreamSpec
from fakebbs.client import BBSClient
from fakebbs.strategies._world import (
    CALL_FAILURES,
    CLOCK_START,
    Instance,
    counting_guids,
    event_hub,
)

__all__ = ["EVENT_STREAMS", "event_sequences"]

EVENT_STREAMS: dict[str, tuple[HubName, ...]] = {
    "instance": ("desired", "instance"),
    "task": ("task",),
}
"""The streams ``event_sequences`` records: "instance" (what ``subscribe_to_instance_events``
sends: desired LRP and instance events) and "task" (``subscribe_to_task_events``)."""

_LRP_OPERATIONS = (
    "desire",
    "scale",
    "claim",
    "start",
    "crash",
    "remove_instance",
    "remove",
    "converge",
)
_TASK_OPERATIONS = (
    "desire_task",
    "start_task",
    "complete_task",
    "cancel_task",
    "resolve_task",
    "delete_task",
)
_DOMAIN = "cf-apps"
_RUN = models.Action(run_action=models.RunAction(path="/bin/true", user="vcap"))
_TASK = models.TaskDefinition(root_fs="preloaded:cflinuxfs4", action=_RUN)


class _EventSequences(SearchStrategy[list[Message]]):
    def __init__(self, streams: tuple[str, ...], max_operations: int, name: str) -> None:
        super().__init__()
        operations: tuple[str, ...] = ()
        if "instance" in streams:
            operations += _LRP_OPERATIONS
        if "task" in streams:
            operations += _TASK_OPERATIONS
        self.hubs = frozenset(hub for stream in streams for hub in EVENT_STREAMS[stream])
        self.operations = st.lists(
            st.tuples(
                st.sampled_from(operations),
                st.sampled_from(("a", "b")),
                st.integers(0, 2),
                st.sampled_from(("cell-1", "cell-2")),
            ),
            max_size=max_operations,
        )
        self.name = name

    def do_draw(self, data: Any) -> list[Message]:
        operations = data.draw(self.operations)
        fake = FakeBBS(new_guid=counting_guids())
        fake.clock.freeze(CLOCK_START)
        fake.seed.cell(models.CellPresence(cell_id="cell-1"))
        fake.seed.cell(models.CellPresence(cell_id="cell-2"))
        subscription = event_hub(fake).subscribe(self.hubs)
        spec = StreamSpec(self.hubs)
        with BBSClient.in_process(fake.wsgi_app) as bbs:
            bbs.upsert_domain(_DOMAIN, 0)
            for operation in operations:
                _run(fake, bbs, *operation)
        events: list[Message] = []
        while isinstance(event := subscription.get(timeout=0), Event):
            message = spec.present(event)
            if message is not None:
                events.append(message)
        event_hub(fake).unsubscribe(subscription)
        return events

    def __repr__(self) -> str:
        return self.name


def _run(fake: FakeBBS, bbs: BBSClient, operation: str, which: str, number: int, cell: str) -> None:
    """One operation, as the cloud controller, a rep or the clock would do it; a refusal (the
    LRP or task is not there, or not in that state) is part of the story, not an error."""
    guid = f"lrp-{which}"
    instance = Instance(guid, number % 2, cell)
    key = models.ActualLRPKey(process_guid=guid, index=instance.index, domain=_DOMAIN)
    task_guid = f"task-{which}"
    requests: dict[str, tuple[str, Message]] = {
        "desire": (
            "DesireDesiredLRP",
            models.DesireLRPRequest(
                desired_lrp=models.DesiredLRP(
                    process_guid=guid,
                    domain=_DOMAIN,
                    root_fs="preloaded:cflinuxfs4",
                    instances=number,
                    action=_RUN,
                    metric_tags={"source_id": models.MetricTagValue(static=guid)},
                )
            ),
        ),
        "scale": (
            "UpdateDesireLRP",
            models.UpdateDesiredLRPRequest(
                process_guid=guid, update=models.DesiredLRPUpdate(instances=number)
            ),
        ),
        "remove": ("RemoveDesiredLRP", models.RemoveDesiredLRPRequest(process_guid=guid)),
        "claim": (
            "ClaimActualLRP",
            models.ClaimActualLRPRequest(
                process_guid=guid,
                index=instance.index,
                actual_lrp_instance_key=instance.instance_key,
            ),
        ),
        "start": (
            "StartActualLRP",
            models.StartActualLRPRequest(
                actual_lrp_key=key,
                actual_lrp_instance_key=instance.instance_key,
                actual_lrp_net_info=models.ActualLRPNetInfo(address="10.0.0.1"),
            ),
        ),
        "crash": (
            "CrashActualLRP",
            models.CrashActualLRPRequest(
                actual_lrp_key=key,
                actual_lrp_instance_key=instance.instance_key,
                error_message="exit status 1",
            ),
        ),
        "remove_instance": (
            "RemoveActualLRP",
            models.RemoveActualLRPRequest(
                process_guid=guid,
                index=instance.index,
                actual_lrp_instance_key=instance.instance_key,
            ),
        ),
        "desire_task": (
            "DesireTask",
            models.DesireTaskRequest(task_guid=task_guid, domain=_DOMAIN, task_definition=_TASK),
        ),
        "start_task": ("StartTask", models.StartTaskRequest(task_guid=task_guid, cell_id=cell)),
        "complete_task": (
            "CompleteTask",
            models.CompleteTaskRequest(
                task_guid=task_guid,
                cell_id=cell,
                failed=number == 0,
                failure_reason="exit status 1" if number == 0 else "",
                result="" if number == 0 else "done",
            ),
        ),
        "cancel_task": ("CancelTask", models.TaskGuidRequest(task_guid=task_guid)),
        "resolve_task": ("ResolvingTask", models.TaskGuidRequest(task_guid=task_guid)),
        "delete_task": ("DeleteTask", models.TaskGuidRequest(task_guid=task_guid)),
    }
    if operation == "converge":
        fake.clock.advance(30 * (number + 1))
        fake.converge()
        return
    route, request = requests[operation]
    try:
        bbs.call(route, request)
    except CALL_FAILURES:  # pragma: no cover - no faults are injected here
        pass


def event_sequences(
    streams: Iterable[str] = ("instance",), *, max_operations: int = 12
) -> SearchStrategy[list[Message]]:
    """Event sequences a BBS could have sent: up to ``max_operations`` operations (desire,
    scale, remove; claim, start, crash, remove instances; converge after the clock moved;
    and for tasks desire, start, complete, cancel, resolve, delete) run on a fresh fake with
    two cells, and the events of ``streams`` (see ``EVENT_STREAMS``) in the order they were
    sent, as the current stream routes send them.

    Feed them to a route emitter or any consumer of the event stream: each sequence is
    coherent (an instance is created before it changes, a removed LRP's instances go away
    with it), and sequences shrink towards fewer operations.
    """
    chosen = tuple(streams)
    unknown = sorted(set(chosen) - set(EVENT_STREAMS))
    if unknown or not chosen:
        raise ValueError(f"unknown streams {unknown}; choose from {sorted(EVENT_STREAMS)}")
    shown = "" if chosen == ("instance",) else f"{chosen!r}"
    extra = "" if max_operations == 12 else f"max_operations={max_operations}"
    arguments = ", ".join(part for part in (shown, extra) if part)
    return _EventSequences(chosen, max_operations, f"event_sequences({arguments})")
