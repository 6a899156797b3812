"""The event calculator, stream presentation, subscriptions and SSE framing
(``fakebbs._http.events``), from hand-built ``Change`` lists: what upstream's
``events/calculator`` and event handlers emit for each kind of change. The streams over a
socket are in test_event_streams."""

from __future__ import annotations

import base64
from typing import cast

from google.protobuf.message import Message

from builders import desired_lrp
from fakebbs import models
from fakebbs._http.events import (
    ENDED,
    Event,
    EventHub,
    StreamSpec,
    Subscription,
    calculate_events,
    sse_event,
)
from fakebbs._rules.state import State
from fakebbs._rules.store import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    ORDINARY,
    RUNNING,
    SUSPECT,
    UNCLAIMED,
    ActualKey,
    Change,
    Store,
)

OWN = models.ActualLRPInstanceKey(instance_guid="ig-1", cell_id="cell-1")
OTHER = models.ActualLRPInstanceKey(instance_guid="ig-2", cell_id="cell-2")
NO_INSTANCE = models.ActualLRPInstanceKey()


def actual(
    state: str = UNCLAIMED,
    instance_key: models.ActualLRPInstanceKey = NO_INSTANCE,
    *,
    presence: models.ActualLRP.Presence = ORDINARY,
    tag: int = 0,
    **fields: object,
) -> models.ActualLRP:
    lrp = models.ActualLRP(
        actual_lrp_key=models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps"),
        actual_lrp_instance_key=instance_key,
        state=state,
        presence=presence,
        since=1000 + tag,
        modification_tag=models.ModificationTag(epoch="e", index=tag),
        routable=state == RUNNING,
        **fields,  # type: ignore[arg-type]
    )
    lrp.actual_lrp_net_info.SetInParent()
    return lrp


def change(
    before: Message | None, after: Message | None, trace_id: str = "", *, crashed: bool = False
) -> Change:
    lrp = after if after is not None else before
    kind = (
        "actual_lrp"
        if isinstance(lrp, models.ActualLRP)
        else ("desired_lrp" if isinstance(lrp, models.DesiredLRP) else "task")
    )
    return Change(kind, before, after, trace_id, crashed)  # type: ignore[arg-type]


def stored(*rows: models.ActualLRP) -> dict[ActualKey, models.ActualLRP]:
    """The store's rows after the operation."""
    return {ActualKey.of(row): row for row in rows}


def names(events: list[Event], hub: str) -> list[str]:
    return [event.name for event in events if event.hub == hub]


def messages(events: list[Event], hub: str) -> list[Message]:
    return [event.message for event in events if event.hub == hub]


# -- desired LRPs and tasks -------------------------------------------------------------------


def test_desired_lrp_changes_are_created_changed_and_removed_events_with_the_trace_id() -> None:
    before, after = desired_lrp("web"), desired_lrp("web", instances=3)
    events = calculate_events(
        [change(None, before, "t1"), change(before, after, "t2"), change(after, None, "t3")], {}
    )
    assert [event.hub for event in events] == ["desired"] * 3
    assert events[0].message == models.DesiredLRPCreatedEvent(desired_lrp=before, trace_id="t1")
    assert events[1].message == models.DesiredLRPChangedEvent(
        before=before, after=after, trace_id="t2"
    )
    assert events[2].message == models.DesiredLRPRemovedEvent(desired_lrp=after, trace_id="t3")


def test_task_changes_are_created_changed_and_removed_events() -> None:
    pending = models.Task(task_guid="t", state=models.Task.Pending)
    running = models.Task(task_guid="t", state=models.Task.Running, cell_id="cell-1")
    events = calculate_events(
        [change(None, pending), change(pending, running), change(running, None)], {}
    )
    assert [event.message for event in events] == [
        models.TaskCreatedEvent(task=pending),
        models.TaskChangedEvent(before=pending, after=running),
        models.TaskRemovedEvent(task=running),
    ]
    assert {event.hub for event in events} == {"task"}


# -- actual LRPs: the ordinary row ------------------------------------------------------------


def test_a_new_unclaimed_instance_is_instance_created_and_group_created() -> None:
    row = actual()
    events = calculate_events([change(None, row, "t1")], stored(row))
    assert messages(events, "instance") == [
        models.ActualLRPInstanceCreatedEvent(actual_lrp=row, trace_id="t1")
    ]
    assert messages(events, "actual") == [
        models.ActualLRPCreatedEvent(actual_lrp_group=models.ActualLRPGroup(instance=row))
    ]


def test_a_claim_is_one_instance_changed_event_with_the_claimed_instance_key() -> None:
    before, after = actual(), actual(CLAIMED, OWN, tag=1)
    events = calculate_events([change(before, after)], stored(after))
    [event] = messages(events, "instance")
    assert isinstance(event, models.ActualLRPInstanceChangedEvent)
    assert event.actual_lrp_key == after.actual_lrp_key
    assert event.actual_lrp_instance_key == OWN
    assert (event.before.state, event.after.state) == (UNCLAIMED, CLAIMED)
    assert event.after.modification_tag.index == 1
    assert event.after.HasField("Routable") and event.after.Routable is False
    assert names(events, "actual") == ["actual_lrp_changed"]


def test_an_instance_changed_event_keeps_the_before_instance_key_when_after_has_none() -> None:
    before, after = actual(RUNNING, OWN), actual(CRASHED, tag=1, crash_count=3)
    [_, event] = messages(calculate_events([change(before, after)], stored(after)), "instance")
    assert isinstance(event, models.ActualLRPInstanceChangedEvent)
    assert event.actual_lrp_instance_key == OWN


def test_an_unchanged_row_emits_nothing() -> None:
    row = actual(CLAIMED, OWN)
    assert calculate_events([change(row, row)], stored(row)) == []


def test_unclaiming_removes_the_old_instance_and_creates_the_new_one() -> None:
    """evacuate_claimed: the instance key is the instance's identity."""
    before, after = actual(CLAIMED, OWN), actual(tag=1)
    events = calculate_events([change(before, after)], stored(after))
    assert names(events, "instance") == [
        "actual_lrp_instance_created",
        "actual_lrp_instance_removed",
    ]
    assert names(events, "actual") == ["actual_lrp_changed"]


def test_a_placement_failure_of_an_unclaimed_instance_is_instance_changed() -> None:
    before, after = actual(), actual(tag=1, placement_error="no cells")
    events = calculate_events([change(before, after)], stored(after))
    assert names(events, "instance") == ["actual_lrp_instance_changed"]


def test_a_crash_reported_by_crash_always_starts_with_the_crashed_event() -> None:
    before = actual(RUNNING, OWN)
    after = actual(tag=1, crash_count=1, crash_reason="boom")  # restarted at once: UNCLAIMED
    events = calculate_events([change(before, after, crashed=True)], stored(after))
    assert names(events, "instance") == [
        "actual_lrp_crashed",
        "actual_lrp_instance_created",
        "actual_lrp_instance_removed",
    ]
    assert names(events, "actual") == ["actual_lrp_crashed", "actual_lrp_changed"]
    crashed = messages(events, "instance")[0]
    assert crashed == models.ActualLRPCrashedEvent(
        actual_lrp_key=after.actual_lrp_key,
        actual_lrp_instance_key=OWN,
        crash_count=1,
        crash_reason="boom",
        since=after.since,
    )


def test_a_crash_that_stays_crashed_is_crashed_then_instance_changed() -> None:
    before, after = actual(RUNNING, OWN), actual(CRASHED, tag=1, crash_count=3)
    events = calculate_events([change(before, after, crashed=True)], stored(after))
    assert names(events, "instance") == ["actual_lrp_crashed", "actual_lrp_instance_changed"]
    assert names(events, "actual") == ["actual_lrp_crashed", "actual_lrp_changed"]


def test_a_crash_to_unclaimed_not_marked_crashed_has_no_crashed_event() -> None:
    """evacuate_crashed goes through the ordinary calculator."""
    before, after = actual(RUNNING, OWN), actual(tag=1, crash_count=1)
    events = calculate_events([change(before, after)], stored(after))
    assert names(events, "instance") == [
        "actual_lrp_instance_created",
        "actual_lrp_instance_removed",
    ]
    assert names(events, "actual") == ["actual_lrp_changed"]


def test_a_removed_row_is_instance_removed_and_group_removed_with_the_trace_id() -> None:
    row = actual(CLAIMED, OWN)
    events = calculate_events([change(row, None, "t1")], {})
    assert messages(events, "instance") == [
        models.ActualLRPInstanceRemovedEvent(actual_lrp=row, trace_id="t1")
    ]
    assert messages(events, "actual") == [
        models.ActualLRPRemovedEvent(actual_lrp_group=models.ActualLRPGroup(instance=row))
    ]


def test_a_removal_reported_while_the_row_stays_is_still_a_removal() -> None:
    """Retire of an instance on a registered cell: the rep deletes the row later."""
    row = actual(RUNNING, OWN)
    events = calculate_events([change(row, None, "t1")], stored(row))
    assert names(events, "instance") == ["actual_lrp_instance_removed"]
    assert names(events, "actual") == ["actual_lrp_removed"]


def test_a_rewritten_evacuating_row_reported_as_created_is_a_group_change() -> None:
    """Evacuating again with new net info: upstream's before set still holds the old row."""
    ordinary = actual()
    older = actual(RUNNING, OTHER, presence=EVACUATING)
    newer = actual(RUNNING, OTHER, presence=EVACUATING, tag=1)
    rewrite = Change("actual_lrp", None, newer, replaced=older)
    events = calculate_events([rewrite], stored(ordinary, newer))
    assert names(events, "actual") == ["actual_lrp_changed"]
    assert names(events, "instance") == ["actual_lrp_instance_created"]


def test_a_direct_change_is_the_rows_own_group_event_and_its_instance_events() -> None:
    """Convergence removing a suspect reports the suspect's own group, not the resolved one."""
    ordinary, suspect = actual(RUNNING, OWN), actual(RUNNING, OTHER, presence=SUSPECT)
    events = calculate_events(
        [Change("actual_lrp", suspect, None, "t", emit="direct")], stored(ordinary)
    )
    assert messages(events, "actual") == [
        models.ActualLRPRemovedEvent(actual_lrp_group=models.ActualLRPGroup(instance=suspect))
    ]
    assert names(events, "instance") == ["actual_lrp_instance_removed"]


def test_an_instance_only_change_has_no_group_event() -> None:
    """Convergence moving an instance on a vanished cell to SUSPECT."""
    running = actual(RUNNING, OWN)
    suspect = actual(RUNNING, OWN, presence=SUSPECT)
    events = calculate_events(
        [Change("actual_lrp", running, suspect, emit="instance")], stored(suspect)
    )
    assert names(events, "actual") == []
    assert names(events, "instance") == ["actual_lrp_instance_changed"]


# -- actual LRPs: several rows of one index ---------------------------------------------------


def test_starting_the_replacement_removes_the_evacuating_row_running_event_first() -> None:
    evacuating = actual(RUNNING, OTHER, presence=EVACUATING)
    before, after = actual(CLAIMED, OWN), actual(RUNNING, OWN, tag=1)
    events = calculate_events([change(before, after), change(evacuating, None)], stored(after))
    assert names(events, "instance") == [
        "actual_lrp_instance_changed",
        "actual_lrp_instance_removed",
    ]
    group = messages(events, "actual")
    assert [type(event).__name__ for event in group] == [
        "ActualLRPChangedEvent",
        "ActualLRPRemovedEvent",
    ]
    assert group[1] == models.ActualLRPRemovedEvent(
        actual_lrp_group=models.ActualLRPGroup(evacuating=evacuating)
    )


def test_the_evacuation_dance_is_instance_changed_to_evacuating_and_a_new_unclaimed() -> None:
    """Upstream records the ordinary row becoming the evacuating one (same instance), then the
    unclaimed replacement as a creation."""
    running = actual(RUNNING, OWN)
    evacuating = actual(RUNNING, OWN, presence=EVACUATING, tag=5)
    unclaimed = actual(tag=1)
    events = calculate_events(
        [change(running, evacuating), change(None, unclaimed)], stored(evacuating, unclaimed)
    )
    instance = messages(events, "instance")
    assert [type(event).__name__ for event in instance] == [
        "ActualLRPInstanceChangedEvent",
        "ActualLRPInstanceCreatedEvent",
    ]
    changed = instance[0]
    assert isinstance(changed, models.ActualLRPInstanceChangedEvent)
    assert (changed.before.presence, changed.after.presence) == (ORDINARY, EVACUATING)
    assert [type(event).__name__ for event in messages(events, "actual")] == [
        "ActualLRPCreatedEvent",
        "ActualLRPChangedEvent",
    ]
    assert messages(events, "actual")[0] == models.ActualLRPCreatedEvent(
        actual_lrp_group=models.ActualLRPGroup(evacuating=evacuating)
    )


def test_a_new_instance_taking_a_suspects_slot_is_group_created_and_removed() -> None:
    suspect = actual(RUNNING, OTHER, presence=SUSPECT)
    before, after = actual(CLAIMED, OWN), actual(RUNNING, OWN, tag=1)
    events = calculate_events([change(before, after), change(suspect, None)], stored(after))
    assert names(events, "actual") == ["actual_lrp_created", "actual_lrp_removed"]
    assert names(events, "instance") == [
        "actual_lrp_instance_changed",
        "actual_lrp_instance_removed",
    ]


def test_an_unchanged_claim_replaces_an_evacuating_row_with_the_same_instance_key() -> None:
    """``RecordChange`` matches rows by instance key only: a repeated claim by the instance
    that also holds the evacuating row turns both entries into the claimed row."""
    evacuating = actual(RUNNING, OWN, presence=EVACUATING)
    claimed = actual(CLAIMED, OWN, tag=3)

    events = calculate_events([change(claimed, claimed)], stored(claimed, evacuating))

    assert messages(events, "actual") == [
        models.ActualLRPRemovedEvent(actual_lrp_group=models.ActualLRPGroup(evacuating=evacuating))
    ]
    [changed] = messages(events, "instance")
    assert isinstance(changed, models.ActualLRPInstanceChangedEvent)
    assert (changed.before.presence, changed.after.state) == (EVACUATING, CLAIMED)
    assert changed.after.modification_tag.index == 3


def test_an_untouched_row_of_the_index_shapes_the_group_but_emits_no_instance_event() -> None:
    """The resolved group shows the running evacuating instance while the replacement is only
    claimed; claiming it changes nothing the old group stream can see."""
    evacuating = actual(RUNNING, OTHER, presence=EVACUATING)
    before, after = actual(), actual(CLAIMED, OWN, tag=1)
    events = calculate_events([change(before, after)], stored(after, evacuating))
    assert names(events, "instance") == ["actual_lrp_instance_changed"]
    [group] = messages(events, "actual")
    assert isinstance(group, models.ActualLRPChangedEvent)
    assert group.after == models.ActualLRPGroup(instance=after)


def test_a_dance_over_another_instances_evacuating_row_leaves_it_in_the_group() -> None:
    """The calculator starts from the rows as the controller read them, in primary-key order:
    B's re-claimed ordinary row first, then A's evacuating row. B's row becomes evacuating in
    place and A's, later in the set, is still the group's evacuating slot (upstream keeps the
    last one seen), so the group only sees its instance unclaimed."""
    state = State()
    state.desire_lrp(desired_lrp("web", instances=1))
    key = models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps")
    net = models.ActualLRPNetInfo(address="10.0.0.1")
    state.claim_actual_lrp("web", 0, OWN)
    state.start_actual_lrp(key, OWN, net)
    state.evacuate_running_actual_lrp(key, OWN, net)
    state.claim_actual_lrp("web", 0, OTHER)
    claimed = state.actual_lrps[ActualKey("web", 0, ORDINARY)]
    events: list[Event] = []
    state.listeners.append(lambda changes: events.extend(calculate_events(changes, {})))

    assert state.evacuate_running_actual_lrp(key, OTHER, models.ActualLRPNetInfo()) is True

    unclaimed = state.actual_lrps[ActualKey("web", 0, ORDINARY)]
    assert state.actual_lrps[ActualKey("web", 0, EVACUATING)].actual_lrp_instance_key == OTHER
    assert messages(events, "actual") == [
        models.ActualLRPChangedEvent(
            before=models.ActualLRPGroup(instance=claimed),
            after=models.ActualLRPGroup(instance=unclaimed),
        )
    ]
    assert names(events, "instance") == [
        "actual_lrp_instance_changed",
        "actual_lrp_instance_created",
    ]


# -- order ------------------------------------------------------------------------------------


def test_events_come_in_the_order_of_each_units_first_change() -> None:
    lrp = desired_lrp("web", instances=2)
    first, second = actual(), actual()
    second.actual_lrp_key.index = 1
    events = calculate_events(
        [change(None, lrp, "t"), change(None, first, "t"), change(None, second, "t")],
        stored(first, second),
    )
    assert [(event.hub, event.name) for event in events] == [
        ("desired", "desired_lrp_created"),
        ("actual", "actual_lrp_created"),
        ("instance", "actual_lrp_instance_created"),
        ("actual", "actual_lrp_created"),
        ("instance", "actual_lrp_instance_created"),
    ]
    indices = [
        cast(models.ActualLRPInstanceCreatedEvent, m).actual_lrp.actual_lrp_key.index
        for m in messages(events, "instance")
    ]
    assert indices == [0, 1]


def test_within_an_index_running_results_come_before_removals() -> None:
    old = actual(RUNNING, OTHER, presence=SUSPECT)
    claimed, started = actual(CLAIMED, OWN), actual(RUNNING, OWN, tag=1)
    events = calculate_events([change(old, None), change(claimed, started)], stored(started))
    assert names(events, "instance") == [
        "actual_lrp_instance_changed",
        "actual_lrp_instance_removed",
    ]


# -- what a stream shows ----------------------------------------------------------------------


def test_an_instance_stream_cell_filter_hides_unclaimed_creations_and_other_cells() -> None:
    spec = StreamSpec(frozenset({"desired", "instance"}), cell_id="cell-1")
    unclaimed = Event("instance", models.ActualLRPInstanceCreatedEvent(actual_lrp=actual()))
    mine = Event("instance", models.ActualLRPInstanceRemovedEvent(actual_lrp=actual(CLAIMED, OWN)))
    theirs = Event("instance", models.ActualLRPInstanceChangedEvent(actual_lrp_instance_key=OTHER))
    crashed = Event("instance", models.ActualLRPCrashedEvent(actual_lrp_instance_key=OWN))
    desired = Event("desired", models.DesiredLRPCreatedEvent(desired_lrp=desired_lrp()))
    assert spec.present(unclaimed) is None
    assert spec.present(mine) is mine.message
    assert spec.present(theirs) is None
    assert spec.present(crashed) is crashed.message
    assert spec.present(desired) is desired.message


def test_a_group_stream_cell_filter_passes_a_change_that_leaves_the_cell() -> None:
    spec = StreamSpec(frozenset({"desired", "actual"}), cell_id="cell-1")
    left = Event(
        "actual",
        models.ActualLRPChangedEvent(
            before=models.ActualLRPGroup(instance=actual(RUNNING, OWN)),
            after=models.ActualLRPGroup(instance=actual()),
        ),
    )
    elsewhere = Event(
        "actual",
        models.ActualLRPCreatedEvent(
            actual_lrp_group=models.ActualLRPGroup(instance=actual(RUNNING, OTHER))
        ),
    )
    assert spec.present(left) is left.message
    assert spec.present(elsewhere) is None


def test_r0_streams_downgrade_desired_lrps_and_tasks_without_touching_the_hub_event() -> None:
    lrp = desired_lrp(start_timeout_ms=60_000)
    event = Event("desired", models.DesiredLRPCreatedEvent(desired_lrp=lrp, trace_id="t"))
    shown = StreamSpec(frozenset({"desired"}), desired_lrp_version=0).present(event)
    assert isinstance(shown, models.DesiredLRPCreatedEvent)
    assert shown.desired_lrp.deprecated_start_timeout_s == 60
    assert shown.trace_id == "t"
    assert event.message == models.DesiredLRPCreatedEvent(desired_lrp=lrp, trace_id="t")
    task = models.Task(
        task_guid="t",
        task_definition=models.TaskDefinition(
            image_layers=[
                models.ImageLayer(
                    url="http://layer",
                    destination_path="/l",
                    layer_type=models.ImageLayer.SHARED,
                    media_type=models.ImageLayer.TGZ,
                )
            ]
        ),
    )
    shown_task = StreamSpec(frozenset({"task"}), task_version=0).present(
        Event("task", models.TaskCreatedEvent(task=task))
    )
    assert isinstance(shown_task, models.TaskCreatedEvent)
    assert len(shown_task.task.task_definition.image_layers) == 0
    assert len(shown_task.task.task_definition.cached_dependencies) == 1


def test_a_current_task_stream_sends_a_zero_tasks_definition_empty_not_absent() -> None:
    """A refused RejectTask reports a zero ``before``; upstream's ``Task.Copy`` on every task
    stream gives it an empty ``task_definition`` (bytes 0a 00 on the wire)."""
    event = Event("task", models.TaskChangedEvent(before=models.Task(), after=models.Task()))

    shown = StreamSpec(frozenset({"task"})).present(event)

    assert isinstance(shown, models.TaskChangedEvent)
    assert shown.before.SerializeToString() == b"\x0a\x00"
    assert not event.message.before.HasField("task_definition")  # type: ignore[attr-defined]


# -- subscriptions and the hub ----------------------------------------------------------------


def _desired_event(n: int = 0) -> Event:
    return Event("desired", models.DesiredLRPRemovedEvent(trace_id=str(n)))


def test_a_subscription_gets_only_its_hubs_events_in_order() -> None:
    subscription = Subscription(frozenset({"desired"}))
    task = Event("task", models.TaskRemovedEvent())
    subscription.offer([_desired_event(1), task, _desired_event(2)])
    assert subscription.get(0) == _desired_event(1)
    assert subscription.get(0) == _desired_event(2)
    assert subscription.get(0) is None


def test_a_subscriber_past_the_pending_limit_is_dropped_after_what_is_pending() -> None:
    subscription = Subscription(frozenset({"desired"}), limit=2)
    assert subscription.offer([_desired_event(1), _desired_event(2)])
    assert not subscription.offer([_desired_event(3)])
    assert subscription.dropped
    assert [subscription.get(0), subscription.get(0)] == [_desired_event(1), _desired_event(2)]
    assert subscription.get(0) is ENDED


def test_the_hub_forgets_a_dropped_subscriber() -> None:
    hub = EventHub(Store())
    subscription = hub.subscribe({"desired"})
    hub.emit([_desired_event(n) for n in range(1025)])
    assert subscription.dropped
    assert hub.subscriber_count == 0


def test_ending_the_streams_delivers_what_is_pending_then_ends() -> None:
    hub = EventHub(Store())
    subscription = hub.subscribe({"desired"})
    hub.emit([_desired_event()])
    hub.end_streams()
    assert subscription.get(0) == _desired_event()
    assert subscription.get(0) is ENDED
    assert hub.subscriber_count == 0


def test_the_hub_listens_to_every_operation_of_its_store() -> None:
    store = Store()
    hub = EventHub(store)
    subscription = hub.subscribe({"desired"})
    with store.operation("t1") as op:
        op.put_desired(desired_lrp("web"))
    event = subscription.get(0)
    assert isinstance(event, Event)
    assert event.message == models.DesiredLRPCreatedEvent(
        desired_lrp=store.desired_lrps["web"], trace_id="t1"
    )


# -- framing ----------------------------------------------------------------------------------


def test_an_event_is_framed_as_go_sse_writes_it() -> None:
    payload = models.TaskRemovedEvent(task=models.Task(task_guid="t")).SerializeToString()
    framed = sse_event(7, "task_removed", payload)
    data = base64.standard_b64encode(payload).decode()
    assert framed == f"id: 7\nevent: task_removed\ndata: {data}\n\n".encode()
