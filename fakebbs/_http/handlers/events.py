"""Event stream routes (upstream ``handlers/events_handlers.go`` and ``events_handlers_r0.go``;
the two 2016 experimental routes from the tree before 5e54da4a).

Each route subscribes to one or two hubs (``fakebbs._http.events``):

* ``/v1/events.r1`` and ``/v1/events``: desired LRP events and the deprecated group events
  (+ crashed), with the ``EventsByCellId`` cell filter; DesiredLRPs as stored (V3) on ``.r1``,
  downgraded to V0 on the r0 route.
* ``/v1/events/lrp_instances.r1`` and ``/v1/events/lrp_instances``: desired LRP events and
  the instance events (+ crashed), with the cell filter; V3 / V0 as above.
* ``/v1/events/tasks.r1`` and ``/v1/events/tasks``: task events; r0 folds image layers (V0).
  Upstream does not read these routes' body, so neither does the fake.
* 2016 ``/v1/desired_lrp_events`` (desired hub) and ``/v1/actual_lrp_events`` (group hub):
  no body, no filter. Their DesiredLRPs were the 2016 model as stored, which is V2 in today's
  terms (no image layers).

An ``EventsByCellId`` body that does not decode is answered with an empty 500, as upstream.
"""

from __future__ import annotations

from fakebbs import models
from fakebbs._http.events import EventHub, EventStream, HubName, StreamSpec
from fakebbs._http.handlers._base import Context, Handler, RefuseStream, streaming

__all__ = ["HANDLERS"]

_GROUP: frozenset[HubName] = frozenset({"desired", "actual"})
_INSTANCE: frozenset[HubName] = frozenset({"desired", "instance"})
_TASK: frozenset[HubName] = frozenset({"task"})


def _filtered(spec: StreamSpec) -> Handler:
    """A stream whose body is an ``EventsByCellId`` cell filter."""

    def open_stream(
        hub: EventHub, request: models.EventsByCellId | None, call: Context
    ) -> EventStream:
        if request is None:
            raise RefuseStream()
        return EventStream(
            hub,
            StreamSpec(spec.hubs, spec.desired_lrp_version, spec.task_version, request.cell_id),
        )

    return streaming(open_stream)


def _unfiltered(spec: StreamSpec) -> Handler:
    """A stream that ignores its body."""

    def open_stream(
        hub: EventHub, request: models.EventsByCellId | None, call: Context
    ) -> EventStream:
        return EventStream(hub, spec)

    return streaming(open_stream)


HANDLERS: dict[str, Handler] = {
    "EventStream": _filtered(StreamSpec(_GROUP)),
    "EventStream_r0": _filtered(StreamSpec(_GROUP, desired_lrp_version=0)),
    "LRPInstanceEventStream": _filtered(StreamSpec(_INSTANCE)),
    "LrpInstanceEventStream_r0": _filtered(StreamSpec(_INSTANCE, desired_lrp_version=0)),
    "TaskEventStream": _unfiltered(StreamSpec(_TASK)),
    "TaskEventStream_r0": _unfiltered(StreamSpec(_TASK, task_version=0)),
    "DesiredLRPEventStreamRoute": _unfiltered(
        StreamSpec(frozenset({"desired"}), desired_lrp_version=2)
    ),
    "ActualLRPEventStreamRoute": _unfiltered(StreamSpec(frozenset({"actual"}))),
}
