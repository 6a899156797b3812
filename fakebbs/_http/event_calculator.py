"""The event calculator: the events each recorded change makes, for each hub.

The calculator turns the ``Change`` lists the store publishes (``Store.operation``) into event
messages, following upstream ``events/calculator`` (``ActualLRPEventCalculator``) and the
handlers that emit desired-LRP and task events. Because every rule writes through an
``Operation``, the HTTP API, the fixture API and convergence emit alike.

Actual LRP changes are computed per (process guid, index), as upstream's controllers do: the
rows of the index before the operation are the *before set*; each change is applied to a copy
of it the way ``RecordChange`` does (the row with the change's ``before`` instance key is
replaced by its ``after``; a change that matches no row is appended), giving the *after set*.
Then ``EmitEvents`` (or ``EmitCrashEvents`` when a change is marked ``crashed``) diffs them:
group events from the resolved groups' instance and evacuating slots, instance events pair by
pair. The before set is the store's current rows with the operation's changes undone in reverse.

Order (upstream emits from goroutines, so its order is not fixed; this is the fake's):

* within an operation, units in the order of their first change: each desired-LRP and task
  change is a unit; all changes of one actual LRP index are one unit;
* within an index, group events and instance events are each sorted as upstream sorts them
  (crashed first, then events whose resulting LRP is RUNNING, then the rest), stably, so ties
  keep the calculator's order (instance slot before evacuating slot; set order).

Convergence does not use the calculator for most of what it does: like upstream's converger it
reports each row on its own (``Change.emit``): ``direct`` changes give the row's own group
event and its instance events, ``instance`` changes instance events only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._rules.store import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    PRESENCE_ORDER,
    RUNNING,
    UNCLAIMED,
    ActualKey,
    Change,
    row_changes,
)
from fakebbs._rules.views import resolve_actual_lrp_groups
from fakebbs.routes import EVENT_TYPES

__all__ = ["EVENT_NAMES", "Event", "HubName", "calculate_events", "resolved_slot"]

HubName = Literal["desired", "actual", "instance", "task"]

EVENT_NAMES: dict[type[Message], str] = {cls: name for name, cls in EVENT_TYPES.items()}
"""The SSE ``event:`` name of each event message (upstream ``Event.EventType()``)."""


@dataclass(frozen=True)
class Event:
    """One event for one hub. ``message`` is shared by all subscribers: never mutate it."""

    hub: HubName
    message: Message

    @property
    def name(self) -> str:
        return EVENT_NAMES[type(self.message)]


# -- the calculator ---------------------------------------------------------------------------


def calculate_events(
    changes: Sequence[Change], actual_lrps: Mapping[ActualKey, models.ActualLRP]
) -> list[Event]:
    """The events of one operation's ``changes``; ``actual_lrps`` is the store after them.

    Call it under the store's lock (the listener does), so ``actual_lrps`` is the state the
    changes led to.
    """
    units: list[Change | tuple[str, int]] = []
    by_index: dict[tuple[str, int], list[Change]] = {}
    for change in row_changes(changes):
        if change.emit == "none":
            continue
        if change.kind != "actual_lrp" or change.emit != "calculated":
            units.append(change)
            continue
        index = _index_of(change)
        if index not in by_index:
            by_index[index] = []
            units.append(index)
        by_index[index].append(change)
    events: list[Event] = []
    for unit in units:
        if isinstance(unit, Change) and unit.kind == "actual_lrp":
            events.extend(_direct_events(unit))
        elif isinstance(unit, Change):
            events.extend(_desired_or_task_events(unit))
        else:
            events.extend(_actual_lrp_events(by_index[unit], _rows_now(actual_lrps, *unit)))
    return events


def _index_of(change: Change) -> tuple[str, int]:
    lrp = change.after if change.after is not None else change.before
    assert isinstance(lrp, models.ActualLRP)
    return lrp.actual_lrp_key.process_guid, lrp.actual_lrp_key.index


def _rows_now(
    actual_lrps: Mapping[ActualKey, models.ActualLRP], process_guid: str, index: int
) -> dict[int, models.ActualLRP]:
    rows: dict[int, models.ActualLRP] = {}
    for presence in PRESENCE_ORDER:
        row = actual_lrps.get(ActualKey(process_guid, index, presence))
        if row is not None:
            rows[presence] = row
    return rows


def _desired_or_task_events(change: Change) -> list[Event]:
    """``DesireDesiredLRP`` / ``UpdateDesiredLRP`` / ``RemoveDesiredLRP`` emit one desired event
    with the request id; the task controller one task event per task write."""
    if change.kind == "desired_lrp":
        before_lrp, after_lrp = _typed(models.DesiredLRP, change)
        if before_lrp is None:
            return [
                Event(
                    "desired",
                    models.DesiredLRPCreatedEvent(desired_lrp=after_lrp, trace_id=change.trace_id),
                )
            ]
        if after_lrp is None:
            return [
                Event(
                    "desired",
                    models.DesiredLRPRemovedEvent(desired_lrp=before_lrp, trace_id=change.trace_id),
                )
            ]
        return [
            Event(
                "desired",
                models.DesiredLRPChangedEvent(
                    before=before_lrp, after=after_lrp, trace_id=change.trace_id
                ),
            )
        ]
    before, after = _typed(models.Task, change)
    if before is None:
        return [Event("task", models.TaskCreatedEvent(task=after))]
    if after is None:
        return [Event("task", models.TaskRemovedEvent(task=before))]
    return [Event("task", models.TaskChangedEvent(before=before, after=after))]


T = TypeVar("T", bound=Message)


def _typed(kind: type[T], change: Change) -> tuple[T | None, T | None]:
    assert change.before is None or isinstance(change.before, kind)
    assert change.after is None or isinstance(change.after, kind)
    return change.before, change.after


Slot = models.ActualLRP | None


def _actual_lrp_events(
    changes: Sequence[Change], rows_now: Mapping[int, models.ActualLRP]
) -> list[Event]:
    """``EmitEvents`` / ``EmitCrashEvents`` for one index: group events, then instance ones."""
    before_set: list[Slot] = list(_rows_before(changes, rows_now))
    after_set = list(before_set)
    for change in changes:
        after_set = _record_change(_lrp(change.before), _lrp(change.after), after_set)
    trace_id = changes[0].trace_id
    if any(change.crashed for change in changes):
        return _crash_events(trace_id, before_set, after_set)
    before_group = _resolve_group(before_set)
    after_group = _resolve_group(after_set)
    group = _by_score(
        _group_slot_events(before_group[0], after_group[0])
        + _group_slot_events(before_group[1], after_group[1])
    )
    before_set += [None] * (len(after_set) - len(before_set))  # stretchSlice
    instance: list[Message] = []
    for before, after in zip(before_set, after_set, strict=True):
        instance += _instance_events(before, after, trace_id)
    return [Event("actual", m) for m in group] + [Event("instance", m) for m in _by_score(instance)]


def _rows_before(
    changes: Sequence[Change], rows_now: Mapping[int, models.ActualLRP]
) -> Sequence[models.ActualLRP]:
    """The rows the controller read before the changes (``lrps``), in the order the store
    returned them: what one operation recorded (``Change.index_rows``). Otherwise (changes of
    several operations, or built by hand) they are worked out by undoing the changes on the
    rows now, in primary-key order."""
    first = changes[0].index_rows
    if first is not None and all(change.index_rows is first for change in changes):
        return first
    rows = dict(rows_now)
    for change in reversed(changes):  # undo the operation: the rows it started from
        before, after = _lrp(change.before), _lrp(change.after)
        if after is not None:
            rows.pop(after.presence, None)
        restored = before if before is not None else _lrp(change.replaced)
        if restored is not None:
            rows[restored.presence] = restored
    return [rows[p] for p in PRESENCE_ORDER if p in rows]


def _direct_events(change: Change) -> list[Event]:
    """Events convergence emits itself for one row, without the calculator: for ``direct`` the
    row's own group event (``ToActualLRPGroup``) and its instance events, for ``instance`` only
    the instance events."""
    before, after = _lrp(change.before), _lrp(change.after)
    group: list[Message] = []
    if change.emit == "direct":
        if before is None:
            assert after is not None
            group = [models.ActualLRPCreatedEvent(actual_lrp_group=_group_of(after))]
        elif after is None:
            group = [models.ActualLRPRemovedEvent(actual_lrp_group=_group_of(before))]
        else:
            group = [models.ActualLRPChangedEvent(before=_group_of(before), after=_group_of(after))]
    instance = _instance_events(before, after, change.trace_id)
    return [Event("actual", m) for m in group] + [Event("instance", m) for m in instance]


def _lrp(message: object) -> Slot:
    assert message is None or isinstance(message, models.ActualLRP)
    return message


def _record_change(before: Slot, after: Slot, lrps: list[Slot]) -> list[Slot]:
    """``ActualLRPEventCalculator.RecordChange``: every row with ``before``'s instance key
    becomes ``after``; if none does, ``after`` is appended."""
    result: list[Slot] = []
    found = False
    for lrp in lrps:
        if (
            lrp is not None
            and before is not None
            and (lrp.actual_lrp_instance_key == before.actual_lrp_instance_key)
        ):
            result.append(after)
            found = True
        else:
            result.append(lrp)
    if not found:
        result.append(after)
    return result


def _crash_events(trace_id: str, before_set: list[Slot], after_set: list[Slot]) -> list[Event]:
    """``EmitCrashEvents``: a crash always emits ActualLRPCrashedEvent, whether the instance
    stays CRASHED or goes straight back to UNCLAIMED."""
    before_group = _resolve_group(before_set)
    after_group = _resolve_group(after_set)
    group: list[Message] = []
    for before, after in zip(before_group, after_group, strict=True):
        if before == after:
            continue
        if after is None:
            assert before is not None
            group.append(models.ActualLRPRemovedEvent(actual_lrp_group=_group_of(before)))
        elif before is None:
            group.append(models.ActualLRPCreatedEvent(actual_lrp_group=_group_of(after)))
        else:
            group += [
                _crashed_event(before, after),
                models.ActualLRPChangedEvent(
                    before=_group_message(before_group), after=_group_message(after_group)
                ),
            ]
    instance: list[Message] = []
    for i, after in enumerate(after_set):
        before = before_set[i] if i < len(before_set) else None
        if before == after:
            continue
        if after is None:
            assert before is not None
            instance.append(_instance_removed(before, trace_id))
        elif before is None:
            instance.append(_instance_created(after, trace_id))
        elif after.state == CRASHED:
            instance += [_crashed_event(before, after), _instance_changed(before, after, trace_id)]
        else:
            instance += [
                _crashed_event(before, after),
                _instance_created(after, trace_id),
                _instance_removed(before, trace_id),
            ]
    return [Event("actual", m) for m in _by_score(group)] + [
        Event("instance", m) for m in _by_score(instance)
    ]


def _instance_events(before: Slot, after: Slot, trace_id: str) -> list[Message]:
    """``generateLRPInstanceEvents``: an instance that loses its instance key (back to
    UNCLAIMED) is removed and created again, since the instance key is its identity."""
    if before == after:
        return []
    if after is None:
        assert before is not None
        return [_instance_removed(before, trace_id)]
    if before is None:
        return [_instance_created(after, trace_id)]
    if after.state == UNCLAIMED:
        if before.state == UNCLAIMED:  # FailActualLRP
            return [_instance_changed(before, after, trace_id)]
        return [_instance_created(after, trace_id), _instance_removed(before, trace_id)]
    if after.state == CRASHED:
        return [_crashed_event(before, after), _instance_changed(before, after, trace_id)]
    if after.state in (RUNNING, CLAIMED):
        return [_instance_changed(before, after, trace_id)]
    return []


def _group_slot_events(before: Slot, after: Slot) -> list[Message]:
    """``generateLRPInstanceGroupEvents`` for one slot (instance or evacuating) of the group."""
    if before == after:
        return []
    if after is None:
        assert before is not None
        return [models.ActualLRPRemovedEvent(actual_lrp_group=_group_of(before))]
    if before is None:
        return [models.ActualLRPCreatedEvent(actual_lrp_group=_group_of(after))]
    changed = models.ActualLRPChangedEvent(before=_group_of(before), after=_group_of(after))
    if after.state == UNCLAIMED:
        return [changed]
    if after.state == CRASHED:
        return [_crashed_event(before, after), changed]
    if after.state in (RUNNING, CLAIMED):
        key_before = before.actual_lrp_instance_key
        if not _empty_instance_key(key_before) and after.actual_lrp_instance_key != key_before:
            # another instance took the slot (e.g. an ordinary replaced a suspect)
            return [
                models.ActualLRPCreatedEvent(actual_lrp_group=_group_of(after)),
                models.ActualLRPRemovedEvent(actual_lrp_group=_group_of(before)),
            ]
        return [changed]
    return []


def _resolve_group(lrps: Iterable[Slot]) -> tuple[Slot, Slot]:
    """``models.ResolveActualLRPGroup``: the (instance, evacuating) slots of a set of rows."""
    groups = resolve_actual_lrp_groups(lrp for lrp in lrps if lrp is not None)
    if not groups:
        return None, None
    group = groups[0]
    return (
        group.instance if group.HasField("instance") else None,
        group.evacuating if group.HasField("evacuating") else None,
    )


def _group_of(lrp: models.ActualLRP) -> models.ActualLRPGroup:
    """``ActualLRP.ToActualLRPGroup``: a group holding only ``lrp``, in the slot of its presence."""
    if lrp.presence == EVACUATING:
        return models.ActualLRPGroup(evacuating=lrp)
    return models.ActualLRPGroup(instance=lrp)


def _group_message(slots: tuple[Slot, Slot]) -> models.ActualLRPGroup:
    instance, evacuating = slots
    return models.ActualLRPGroup(instance=instance, evacuating=evacuating)


def _empty_instance_key(key: models.ActualLRPInstanceKey) -> bool:
    return key.instance_guid == "" and key.cell_id == ""


def _crashed_event(before: models.ActualLRP, after: models.ActualLRP) -> Message:
    """``NewActualLRPCrashedEvent``: the key and crash details of ``after``, the instance key of
    ``before`` (the instance that crashed; ``after`` has none once it is unclaimed)."""
    event = models.ActualLRPCrashedEvent(
        actual_lrp_key=after.actual_lrp_key,
        actual_lrp_instance_key=before.actual_lrp_instance_key,
        crash_count=after.crash_count,
        crash_reason=after.crash_reason,
        since=after.since,
    )
    event.actual_lrp_key.SetInParent()  # non-nullable in Go: always on the wire
    event.actual_lrp_instance_key.SetInParent()
    return event


def _instance_created(lrp: models.ActualLRP, trace_id: str) -> Message:
    return models.ActualLRPInstanceCreatedEvent(actual_lrp=lrp, trace_id=trace_id)


def _instance_removed(lrp: models.ActualLRP, trace_id: str) -> Message:
    return models.ActualLRPInstanceRemovedEvent(actual_lrp=lrp, trace_id=trace_id)


def _instance_changed(before: Slot, after: Slot, trace_id: str) -> Message:
    """``NewActualLRPInstanceChangedEvent``: the key and instance key of ``after`` where set,
    else of ``before``; the rest of each side as an ``ActualLRPInfo``."""
    event = models.ActualLRPInstanceChangedEvent(trace_id=trace_id)
    for side in (before, after):
        if side is None:
            continue
        if side.actual_lrp_key != models.ActualLRPKey():
            event.actual_lrp_key.CopyFrom(side.actual_lrp_key)
        if not _empty_instance_key(side.actual_lrp_instance_key):
            event.actual_lrp_instance_key.CopyFrom(side.actual_lrp_instance_key)
    event.actual_lrp_key.SetInParent()
    event.actual_lrp_instance_key.SetInParent()
    if before is not None:
        event.before.CopyFrom(_info(before))
    if after is not None:
        event.after.CopyFrom(_info(after))
    return event


def _info(lrp: models.ActualLRP) -> models.ActualLRPInfo:
    """``ActualLRP.ToActualLRPInfo``."""
    info = models.ActualLRPInfo(
        actual_lrp_net_info=lrp.actual_lrp_net_info,
        crash_count=lrp.crash_count,
        crash_reason=lrp.crash_reason,
        state=lrp.state,
        placement_error=lrp.placement_error,
        since=lrp.since,
        modification_tag=lrp.modification_tag,
        presence=lrp.presence,
        availability_zone=lrp.availability_zone,
    )
    info.actual_lrp_net_info.SetInParent()
    info.modification_tag.SetInParent()
    if lrp.HasField("routable"):
        info.Routable = lrp.routable
    return info


def _by_score(messages: list[Message]) -> list[Message]:
    """``EventScore`` order, highest first: crashed events, then events whose resulting LRP is
    RUNNING, then the rest (which cost routability). Stable, unlike upstream's sort."""
    return sorted(messages, key=_score, reverse=True)


def _score(message: Message) -> int:
    if isinstance(message, models.ActualLRPCrashedEvent):
        return 2
    lrp: Slot = None
    if isinstance(message, models.ActualLRPCreatedEvent):
        lrp = resolved_slot(message.actual_lrp_group)
    elif isinstance(message, models.ActualLRPChangedEvent):
        lrp = resolved_slot(message.after)
    elif isinstance(message, models.ActualLRPInstanceCreatedEvent):
        lrp = message.actual_lrp
    elif isinstance(message, models.ActualLRPInstanceChangedEvent):
        return 1 if message.HasField("after") and message.after.state == RUNNING else 0
    return 1 if lrp is not None and lrp.state == RUNNING else 0


def resolved_slot(group: models.ActualLRPGroup) -> Slot:
    """``ActualLRPGroup.Resolve``: the row a group stands for (None for an empty group)."""
    instance = group.instance if group.HasField("instance") else None
    evacuating = group.evacuating if group.HasField("evacuating") else None
    if instance is None or evacuating is None:
        return instance if instance is not None else evacuating
    return instance if instance.state in (RUNNING, CRASHED) else evacuating
