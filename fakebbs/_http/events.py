"""Event streams: the hub, subscriptions, what each stream shows, and the SSE framing.

The events come from the calculator (``fakebbs._http.event_calculator``), which turns the
changes the store records into event messages; its names are re-exported here.

Upstream has four hubs, and so does ``EventHub``: ``desired`` (desired_lrp_*), ``actual`` (the
deprecated group events actual_lrp_created/changed/removed and actual_lrp_crashed), ``instance``
(actual_lrp_instance_* and actual_lrp_crashed) and ``task`` (task_*). A stream subscribes to one
or two of them (``StreamSpec``); like upstream each subscription buffers at most
``MAX_PENDING_EVENTS`` events per hub, and a subscriber that falls further behind is dropped:
it gets what is pending, then its stream ends.
"""

from __future__ import annotations

import base64
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._http.event_calculator import (
    EVENT_NAMES,
    Event,
    HubName,
    calculate_events,
    resolved_slot,
)
from fakebbs._http.versions import (
    CURRENT_VERSION,
    desired_lrp_version_down_to,
    task_version_down_to,
)
from fakebbs._rules.store import Change, Store

__all__ = [
    "EVENT_NAMES",
    "MAX_PENDING_EVENTS",
    "Event",
    "EventHub",
    "EventStream",
    "HubName",
    "StreamSpec",
    "Subscription",
    "calculate_events",
    "sse_event",
]

MAX_PENDING_EVENTS = 1024
"""``events.MAX_PENDING_SUBSCRIBER_EVENTS``: events a subscription buffers per hub."""

# -- SSE framing ------------------------------------------------------------------------------


def sse_event(event_id: int, name: str, payload: bytes) -> bytes:
    """One event as go-sse's ``Event.Write`` frames it: ``id``, ``event``, ``data`` (standard
    base64 of the protobuf payload, padded, one line), blank line (upstream
    ``events.NewEventFromModelEvent``)."""
    data = base64.b64encode(payload).decode("ascii")
    return f"id: {event_id}\nevent: {name}\ndata: {data}\n\n".encode("ascii")


# -- what a stream shows ----------------------------------------------------------------------


@dataclass(frozen=True)
class StreamSpec:
    """What one stream route sends: the hubs it subscribes to, the model version of the desired
    LRPs and tasks in its events (upstream ``VersionDesiredLRPsTo`` /
    ``VersionTaskDefinitionsTo``; 3 leaves them as stored) and an optional cell filter."""

    hubs: frozenset[HubName]
    desired_lrp_version: int = CURRENT_VERSION
    task_version: int = CURRENT_VERSION
    cell_id: str = ""

    def present(self, event: Event) -> Message | None:
        """The message to send for ``event``, or None when the cell filter hides it."""
        message = event.message
        if (
            self.cell_id
            and event.hub == "actual"
            and not _group_event_on_cell(message, self.cell_id)
        ):
            return None
        if (
            self.cell_id
            and event.hub == "instance"
            and not _instance_event_on_cell(message, self.cell_id)
        ):
            return None
        if event.hub == "desired" and self.desired_lrp_version < CURRENT_VERSION:
            return _desired_event_down_to(message, self.desired_lrp_version)
        if event.hub == "task":
            # Upstream versions every task event, current streams too (``Task.Copy`` always
            # gives a ``task_definition``, so a zero task's is sent empty, not absent).
            return _task_event_down_to(message, self.task_version)
        return message


def _group_event_on_cell(message: Message, cell_id: str) -> bool:
    """``filterByCellID`` (group streams): the resolved row's cell, before or after for a
    change; the crashed instance's cell."""
    if isinstance(message, models.ActualLRPCreatedEvent | models.ActualLRPRemovedEvent):
        lrp = resolved_slot(message.actual_lrp_group)
        return lrp is not None and lrp.actual_lrp_instance_key.cell_id == cell_id
    if isinstance(message, models.ActualLRPChangedEvent):
        before, after = resolved_slot(message.before), resolved_slot(message.after)
        return any(
            lrp is not None and lrp.actual_lrp_instance_key.cell_id == cell_id
            for lrp in (before, after)
        )
    if isinstance(message, models.ActualLRPCrashedEvent):
        return message.actual_lrp_instance_key.cell_id == cell_id
    return True


def _instance_event_on_cell(message: Message, cell_id: str) -> bool:
    """``filterInstanceEventByCellID``: so an UNCLAIMED instance's creation never passes."""
    if isinstance(
        message, models.ActualLRPInstanceCreatedEvent | models.ActualLRPInstanceRemovedEvent
    ):
        return message.actual_lrp.actual_lrp_instance_key.cell_id == cell_id
    if isinstance(message, models.ActualLRPInstanceChangedEvent | models.ActualLRPCrashedEvent):
        return message.actual_lrp_instance_key.cell_id == cell_id
    return True


def _desired_event_down_to(message: Message, version: int) -> Message:
    if isinstance(message, models.DesiredLRPCreatedEvent):
        return models.DesiredLRPCreatedEvent(
            desired_lrp=desired_lrp_version_down_to(message.desired_lrp, version),
            trace_id=message.trace_id,
        )
    if isinstance(message, models.DesiredLRPRemovedEvent):
        return models.DesiredLRPRemovedEvent(
            desired_lrp=desired_lrp_version_down_to(message.desired_lrp, version),
            trace_id=message.trace_id,
        )
    assert isinstance(message, models.DesiredLRPChangedEvent)
    return models.DesiredLRPChangedEvent(
        before=desired_lrp_version_down_to(message.before, version),
        after=desired_lrp_version_down_to(message.after, version),
        trace_id=message.trace_id,
    )


def _task_event_down_to(message: Message, version: int) -> Message:
    if isinstance(message, models.TaskCreatedEvent):
        return models.TaskCreatedEvent(task=task_version_down_to(message.task, version))
    if isinstance(message, models.TaskRemovedEvent):
        return models.TaskRemovedEvent(task=task_version_down_to(message.task, version))
    assert isinstance(message, models.TaskChangedEvent)
    return models.TaskChangedEvent(
        before=task_version_down_to(message.before, version),
        after=task_version_down_to(message.after, version),
    )


# -- the hub ----------------------------------------------------------------------------------


class _Ended:
    """``Subscription.get``'s answer once the subscription has ended and is drained."""


ENDED = _Ended()


@dataclass(eq=False)
class Subscription:
    """One subscriber's bounded buffer of events from its hubs (upstream ``hubSource``).

    ``offer`` never blocks (the hub calls it under the store's lock). When a hub's pending
    events would exceed ``limit`` the subscriber is dropped: nothing more is accepted, what is
    pending is still delivered, then ``get`` answers ``ENDED``.
    """

    hubs: frozenset[HubName]
    limit: int = MAX_PENDING_EVENTS
    dropped: bool = False
    _queue: deque[Event] = field(default_factory=deque)
    _pending: Counter[str] = field(default_factory=Counter)
    _ended: bool = False
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _watcher: Callable[[], object] | None = None

    def watch(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` (quick, non-blocking, from any thread) whenever an event arrives
        or the subscription ends, and once now: for a reader that does not wait in ``get``."""
        with self._cond:
            self._watcher = callback
        callback()

    def _changed(self) -> None:
        # Called with the condition held: wake the waiters and the watcher.
        self._cond.notify_all()
        if self._watcher is not None:
            self._watcher()

    def offer(self, events: Iterable[Event]) -> bool:
        """Queue the events of this subscription's hubs; False once it has ended."""
        with self._cond:
            if self._ended:
                return False
            for event in events:
                if event.hub not in self.hubs:
                    continue
                if self._pending[event.hub] >= self.limit:
                    self.dropped = self._ended = True
                    break
                self._queue.append(event)
                self._pending[event.hub] += 1
            self._changed()
            return not self._ended

    def get(self, timeout: float | None = None) -> Event | _Ended | None:
        """The next event; None if none came within ``timeout`` seconds; ``ENDED`` at the end."""
        with self._cond:
            if not self._queue and not self._ended:
                self._cond.wait(timeout)
            if self._queue:
                event = self._queue.popleft()
                self._pending[event.hub] -= 1
                return event
            return ENDED if self._ended else None

    def end(self) -> None:
        """No more events: the subscriber gets what is pending, then the end."""
        with self._cond:
            self._ended = True
            self._changed()

    def discard(self) -> None:
        """End at once, dropping what is pending (the subscriber went away)."""
        with self._cond:
            self._ended = True
            self._queue.clear()
            self._pending.clear()
            self._changed()


class EventHub:
    """The fake's event hubs and their subscribers, fed one store's changes.

    Whoever makes the hub owns it and registers ``publish`` as a listener of the store
    (``FakeBBS`` does, once; the app's stream routes subscribe to the hub it is given). The hub
    stays open for the fake's whole life (a fake can be served again after a server stopped);
    ``end_streams`` ends the streams open now.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()

    @property
    def subscriber_count(self) -> int:
        """Subscriptions still attached (open streams not yet ended or dropped)."""
        with self._lock:
            return len(self._subscriptions)

    def subscribe(self, hubs: Iterable[HubName]) -> Subscription:
        subscription = Subscription(frozenset(hubs))
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.discard()
        with self._lock:
            self._subscriptions.discard(subscription)

    def publish(self, changes: list[Change]) -> None:
        """The ``Store`` listener: compute the operation's events and hand them out. It runs
        under the store's lock and never blocks; with no subscriber it computes nothing."""
        if not self._subscriptions:  # the common case; reading it without the lock races
            return  # a subscription exactly as reading it under the lock would
        self.emit(calculate_events(changes, self._store.actual_lrps))

    def emit(self, events: Sequence[Event]) -> None:
        """Hand ``events`` to every subscriber; a subscriber that is too far behind is dropped."""
        if not events:
            return
        with self._lock:
            for subscription in list(self._subscriptions):
                if not subscription.offer(events):
                    self._subscriptions.discard(subscription)

    def end_streams(self) -> None:
        """End every open stream cleanly (after what it has pending): the server is stopping."""
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, set()
        for subscription in subscriptions:
            subscription.end()


# -- one stream -------------------------------------------------------------------------------


class EventStream:
    """One subscriber's stream: SSE-framed events with ids from 0, until it ends.

    ``poll`` returns the next framed event, ``b""`` when none came within the timeout (so the
    caller can check whether the client is still there), or None once the stream has ended.
    ``close`` unsubscribes; call it whenever the response ends.
    """

    def __init__(self, hub: EventHub, spec: StreamSpec) -> None:
        self.spec = spec
        self._hub = hub
        self._subscription = hub.subscribe(spec.hubs)
        self._next_id = 0
        self._closed = False

    def poll(self, timeout: float) -> bytes | None:
        if self._closed:
            return None
        while True:
            event = self._subscription.get(timeout)
            if event is None:
                return b""
            if isinstance(event, _Ended):
                self.close()
                return None
            message = self.spec.present(event)
            if message is None:
                continue
            framed = sse_event(
                self._next_id,
                EVENT_NAMES[type(message)],
                message.SerializeToString(deterministic=True),
            )
            self._next_id += 1
            return framed

    def watch(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` whenever ``poll(0)`` may have something new (see
        ``Subscription.watch``): how one writer serves many streams without waiting in any."""
        self._subscription.watch(callback)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub.unsubscribe(self._subscription)
