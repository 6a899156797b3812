"""The evacuation rules, called directly: every case of §4.5 and the keep_container it answers."""

from __future__ import annotations

import pytest
from test_lifecycle import SECOND, instance, key, net, place, row

from builders import desired_lrp
from fakebbs import models
from fakebbs._rules.state import State
from fakebbs._rules.store import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    ORDINARY,
    RUNNING,
    SUSPECT,
    UNCLAIMED,
    Change,
)
from fakebbs._rules.views import resolve_actual_lrp_groups
from fakebbs.errors import ResourceExists, ResourceNotFound
from rules_support import Clock

RECREATE = models.DesiredLRP.UpdateStrategy.Value("RECREATE")


@pytest.fixture
def state(state: State) -> State:
    """The shared state with "my-guid" desired (no instances: each test places its own)."""
    state.desire_lrp(desired_lrp(instances=0))
    return state


def presences(state: State) -> dict[int, str]:
    return {k.presence: lrp.state for k, lrp in state.store.actual_lrps.items()}


OWN = instance()
DRAINING = instance("draining-ig", "draining-cell")


def evacuate_running(
    state: State, instance_key: models.ActualLRPInstanceKey = OWN, **fields: object
) -> bool:
    return state.evacuate_running_actual_lrp(key(), instance_key, net(), **fields)  # type: ignore[arg-type]


# -- evacuate_claimed ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [CLAIMED, RUNNING])
def test_evacuating_a_claimed_instance_unclaims_it_for_another_cell(
    state: State, changes: list[Change], status: str
) -> None:
    before = place(state, status)

    keep = state.evacuate_claimed_actual_lrp(key(), OWN)

    assert keep is False
    assert presences(state) == {ORDINARY: UNCLAIMED}
    assert changes == [Change("actual_lrp", before, row(state), "", False)]


@pytest.mark.parametrize("presence", [EVACUATING, SUSPECT])
def test_evacuate_claimed_deletes_an_evacuating_or_suspect_row(
    state: State, presence: models.ActualLRP.Presence
) -> None:
    place(state, RUNNING, presence)
    place(state, UNCLAIMED)

    assert state.evacuate_claimed_actual_lrp(key(), OWN) is False

    assert presences(state) == {ORDINARY: UNCLAIMED}


def test_evacuate_claimed_of_an_unknown_instance_is_not_found_and_drops_the_container(
    state: State,
) -> None:
    place(state, CLAIMED, instance_key=instance("someone-else"))

    with pytest.raises(ResourceNotFound) as error:
        state.evacuate_claimed_actual_lrp(key(), OWN)

    assert getattr(error.value, "keep_container", False) is False


# -- evacuate_running: the evacuation dance -------------------------------------------------------


def test_evacuating_a_running_instance_keeps_it_as_evacuating_and_unclaims_the_ordinary(
    state: State, clock: Clock
) -> None:
    running = place(
        state, RUNNING, routable=True, availability_zone="z1", metric_tags={"app": "web"}
    )
    clock.advance(SECOND)

    assert evacuate_running(state) is True

    assert presences(state) == {ORDINARY: UNCLAIMED, EVACUATING: RUNNING}
    evacuating = row(state, EVACUATING)
    assert evacuating.actual_lrp_instance_key == OWN
    assert evacuating.actual_lrp_net_info == running.actual_lrp_net_info
    assert (evacuating.routable, evacuating.availability_zone) == (True, "z1")
    assert dict(evacuating.metric_tags) == {"app": "web"}
    assert evacuating.since == clock.now
    assert evacuating.modification_tag == models.ModificationTag(epoch="epoch-2", index=0)
    assert row(state).modification_tag.index == running.modification_tag.index + 1


def test_the_dance_is_recorded_as_the_instance_becoming_evacuating_and_a_new_unclaimed_one(
    state: State, changes: list[Change]
) -> None:
    running = place(state, RUNNING)

    evacuate_running(state)

    assert changes == [
        Change("actual_lrp", running, row(state, EVACUATING), "", False),
        Change("actual_lrp", None, row(state), "", False),
    ]


def test_evacuating_a_claimed_instance_makes_a_running_evacuating_row_without_net_info(
    state: State,
) -> None:
    place(state, CLAIMED)

    assert evacuate_running(state) is True

    assert presences(state) == {ORDINARY: UNCLAIMED, EVACUATING: RUNNING}
    assert row(state, EVACUATING).actual_lrp_net_info == models.ActualLRPNetInfo()


def test_the_dance_overwrites_an_older_evacuating_row_keeping_its_epoch(state: State) -> None:
    older = place(state, RUNNING, EVACUATING, DRAINING, routable=False)
    place(state, RUNNING)

    assert evacuate_running(state) is True

    evacuating = row(state, EVACUATING)
    assert evacuating.actual_lrp_instance_key == OWN
    assert evacuating.modification_tag.epoch == older.modification_tag.epoch
    assert evacuating.modification_tag.index == older.modification_tag.index + 1
    assert evacuating.routable is False


def test_the_dance_from_a_suspect_instance_deletes_the_suspect_row_without_unclaiming(
    state: State, changes: list[Change]
) -> None:
    place(state, CLAIMED, instance_key=instance("replacement-ig", "cell-2"))
    suspect = place(state, RUNNING, SUSPECT)

    assert evacuate_running(state) is True

    assert presences(state) == {ORDINARY: CLAIMED, EVACUATING: RUNNING}
    assert changes == [Change("actual_lrp", suspect, row(state, EVACUATING), "", False)]


def test_the_dance_onto_an_identical_evacuating_row_is_resource_exists_keeping_the_container(
    state: State, changes: list[Change]
) -> None:
    place(state, RUNNING)
    place(state, RUNNING, EVACUATING)

    with pytest.raises(ResourceExists) as error:
        evacuate_running(state)

    assert getattr(error.value, "keep_container", None) is True
    assert presences(state) == {ORDINARY: RUNNING, EVACUATING: RUNNING}
    assert changes == []


def test_evacuate_running_drops_a_target_in_any_other_state(state: State) -> None:
    place(state, UNCLAIMED)
    place(state, CRASHED, SUSPECT, actual_lrp_instance_key=OWN)

    assert evacuate_running(state) is False

    assert presences(state) == {ORDINARY: UNCLAIMED, SUSPECT: CRASHED}


# -- evacuate_running: the evacuating row itself --------------------------------------------------


def test_an_instance_whose_ordinary_row_is_taken_over_becomes_the_evacuating_row(
    state: State, clock: Clock, changes: list[Change]
) -> None:
    place(state, CLAIMED, instance_key=instance("replacement-ig", "cell-2"))

    keep = evacuate_running(
        state,
        DRAINING,
        internal_routes=[models.ActualLRPInternalRoute(hostname="h")],
        metric_tags={"app": "web"},
        routable=False,
        availability_zone="z3",
    )

    assert keep is True
    evacuating = row(state, EVACUATING)
    assert evacuating.state == RUNNING
    assert evacuating.actual_lrp_instance_key == DRAINING
    assert evacuating.actual_lrp_net_info == net()
    assert [r.hostname for r in evacuating.actual_lrp_internal_routes] == ["h"]
    assert dict(evacuating.metric_tags) == {"app": "web"}
    assert (evacuating.routable, evacuating.availability_zone) == (False, "z3")
    assert evacuating.since == clock.now
    assert changes == [Change("actual_lrp", None, evacuating, "", False)]


def test_evacuating_again_with_the_same_net_info_keeps_the_container_and_changes_nothing(
    state: State, changes: list[Change]
) -> None:
    place(state, UNCLAIMED)
    evacuating = place(state, RUNNING, EVACUATING, DRAINING)

    assert evacuate_running(state, DRAINING) is True

    assert row(state, EVACUATING) == evacuating
    assert changes == []


def test_evacuating_again_with_new_net_info_rewrites_the_evacuating_row(
    state: State, clock: Clock, changes: list[Change]
) -> None:
    place(state, UNCLAIMED)
    older = place(state, RUNNING, EVACUATING, DRAINING, routable=True, availability_zone="z1")
    clock.advance(SECOND)

    keep = state.evacuate_running_actual_lrp(
        key(), DRAINING, net("10.0.0.2"), routable=False, availability_zone="z4"
    )

    assert keep is True
    evacuating = row(state, EVACUATING)
    assert evacuating.actual_lrp_net_info == net("10.0.0.2")
    assert evacuating.routable is True  # upstream's UPDATE does not write routable
    assert evacuating.since == clock.now
    assert evacuating.modification_tag.epoch == older.modification_tag.epoch
    assert evacuating.modification_tag.index == older.modification_tag.index + 1
    reported = models.ActualLRP()
    reported.CopyFrom(evacuating)
    reported.availability_zone = "z4"
    assert changes == [Change("actual_lrp", None, reported, "", False, replaced=older)]


def test_rewriting_the_evacuating_row_keeps_its_zone_but_reports_the_new_one(
    state: State, changes: list[Change]
) -> None:
    """Upstream's UPDATE in ``EvacuateActualLRP`` leaves ``availability_zone`` alone; the
    row it returns for the event has the request's zone."""
    place(state, UNCLAIMED)
    place(state, RUNNING, EVACUATING, DRAINING, availability_zone="z1")

    state.evacuate_running_actual_lrp(key(), DRAINING, net("10.0.0.2"), availability_zone="z2")

    assert row(state, EVACUATING).availability_zone == "z1"
    assert [c.after.availability_zone for c in changes] == ["z2"]  # type: ignore[union-attr]


def test_a_second_instance_evacuating_the_same_index_is_told_to_drop_its_container(
    state: State,
) -> None:
    place(state, UNCLAIMED)
    place(state, RUNNING, EVACUATING, DRAINING)

    assert evacuate_running(state, instance("third-ig", "cell-3")) is False

    assert row(state, EVACUATING).actual_lrp_instance_key == DRAINING


# -- evacuate_running: nothing left to keep -------------------------------------------------------


def test_evacuating_an_index_without_rows_drops_the_container(state: State) -> None:
    assert evacuate_running(state) is False


@pytest.mark.parametrize("replacement", [RUNNING, CRASHED])
def test_once_the_replacement_is_running_or_crashed_the_evacuating_row_goes(
    state: State, changes: list[Change], replacement: str
) -> None:
    place(state, replacement, instance_key=instance("replacement-ig", "cell-2"))
    evacuating = place(state, RUNNING, EVACUATING, DRAINING)

    assert evacuate_running(state, DRAINING) is False

    assert presences(state) == {ORDINARY: replacement}
    assert changes == [Change("actual_lrp", evacuating, None, "", False)]


def test_without_an_ordinary_row_the_evacuating_row_goes(state: State) -> None:
    place(state, RUNNING, EVACUATING, DRAINING)

    assert evacuate_running(state, DRAINING) is False

    assert state.store.actual_lrps == {}


def test_without_a_desired_lrp_the_evacuating_row_goes(state: State) -> None:
    state.remove_desired_lrp("my-guid")
    place(state, UNCLAIMED)
    place(state, RUNNING, EVACUATING, DRAINING)

    assert evacuate_running(state, DRAINING) is False

    assert presences(state) == {ORDINARY: UNCLAIMED}


def test_another_instances_evacuating_row_stays_when_a_stranger_is_dropped(state: State) -> None:
    place(state, RUNNING, instance_key=instance("replacement-ig", "cell-2"))
    place(state, RUNNING, EVACUATING, DRAINING)

    assert evacuate_running(state, instance("stranger", "cell-9")) is False

    assert presences(state) == {ORDINARY: RUNNING, EVACUATING: RUNNING}


def test_a_dropped_suspect_target_is_reported_removed_but_stays_as_upstream_does(
    state: State, changes: list[Change]
) -> None:
    place(state, RUNNING, instance_key=instance("replacement-ig", "cell-2"))
    suspect = place(state, RUNNING, SUSPECT)

    assert evacuate_running(state) is False

    assert presences(state) == {ORDINARY: RUNNING, SUSPECT: RUNNING}
    assert changes == [Change("actual_lrp", suspect, None, "", False)]


# -- evacuate_running: RECREATE update strategy ---------------------------------------------------


@pytest.fixture
def recreate(state: State) -> State:
    state.store.desired_lrps["my-guid"].update_strategy = RECREATE  # type: ignore[assignment]
    state.store.desired_lrps["my-guid"].instances = 2
    return state


def test_recreate_unclaims_an_instance_when_all_are_running(
    recreate: State, changes: list[Change]
) -> None:
    running = place(recreate, RUNNING)
    place(recreate, RUNNING, index=1, instance_key=instance("ig-2", "cell-2"))

    assert evacuate_running(recreate) is False

    assert row(recreate).state == UNCLAIMED
    assert EVACUATING not in presences(recreate)
    assert changes == [Change("actual_lrp", running, row(recreate), "", False)]


def test_recreate_keeps_the_container_while_another_instance_is_not_running(
    recreate: State,
) -> None:
    place(recreate, RUNNING)
    place(recreate, UNCLAIMED, index=1)

    assert evacuate_running(recreate) is True

    assert row(recreate).state == RUNNING


@pytest.mark.parametrize("presence", [EVACUATING, SUSPECT])
def test_recreate_deletes_an_evacuating_or_suspect_target(
    recreate: State, presence: models.ActualLRP.Presence
) -> None:
    place(recreate, UNCLAIMED)
    place(recreate, RUNNING, presence)

    assert evacuate_running(recreate) is False

    assert presences(recreate) == {ORDINARY: UNCLAIMED}


def test_recreate_never_makes_an_evacuating_row(recreate: State) -> None:
    place(recreate, UNCLAIMED)

    assert evacuate_running(recreate, DRAINING) is False

    assert presences(recreate) == {ORDINARY: UNCLAIMED}


# -- evacuate_stopped ---------------------------------------------------------------------------


@pytest.mark.parametrize("presence", [ORDINARY, EVACUATING, SUSPECT])
def test_evacuating_a_stopped_instance_deletes_its_row(
    state: State, changes: list[Change], presence: models.ActualLRP.Presence
) -> None:
    stopped = place(state, RUNNING, presence)

    assert state.evacuate_stopped_actual_lrp(key(), OWN) is False

    assert state.store.actual_lrps == {}
    assert changes == [Change("actual_lrp", stopped, None, "", False)]


def test_evacuating_an_unknown_stopped_instance_is_not_found(state: State) -> None:
    place(state, RUNNING, instance_key=instance("someone-else"))

    with pytest.raises(ResourceNotFound):
        state.evacuate_stopped_actual_lrp(key(), OWN)


# -- evacuate_crashed ---------------------------------------------------------------------------


def test_a_crash_while_evacuating_applies_the_crash_policy_without_a_crash_mark(
    state: State, changes: list[Change]
) -> None:
    place(state, RUNNING)

    assert state.evacuate_crashed_actual_lrp(key(), OWN, "oom") is False

    assert (row(state).state, row(state).crash_count, row(state).crash_reason) == (
        UNCLAIMED,
        1,
        "oom",
    )
    assert [c.crashed for c in changes] == [False]


def test_a_third_crash_while_evacuating_stays_crashed(state: State) -> None:
    place(state, RUNNING, crash_count=2)

    state.evacuate_crashed_actual_lrp(key(), OWN, "oom")

    assert (row(state).state, row(state).crash_count) == (CRASHED, 3)


@pytest.mark.parametrize("presence", [EVACUATING, SUSPECT])
def test_evacuate_crashed_deletes_an_evacuating_or_suspect_row(
    state: State, presence: models.ActualLRP.Presence
) -> None:
    place(state, RUNNING, presence)

    assert state.evacuate_crashed_actual_lrp(key(), OWN, "oom") is False

    assert state.store.actual_lrps == {}


def test_evacuate_crashed_of_an_unknown_instance_is_not_found(state: State) -> None:
    with pytest.raises(ResourceNotFound):
        state.evacuate_crashed_actual_lrp(key(), OWN, "oom")


# -- rows sharing an instance key -------------------------------------------------------------


def reclaim_after_evacuating(state: State) -> None:
    """Claim with OWN, evacuate OWN (the dance), claim the replacement with OWN again: the
    evacuating and the ordinary row share the instance key. The database returns the rows of
    an index in primary-key order, the ordinary row first, whichever was written last."""
    place(state, UNCLAIMED)
    state.claim_actual_lrp("my-guid", 0, OWN)
    evacuate_running(state, OWN)
    state.claim_actual_lrp("my-guid", 0, OWN)


def test_evacuate_crashed_after_a_reclaim_crashes_the_ordinary_row_found_first(
    state: State,
) -> None:
    """``lookupLRPInSlice`` takes the first row with the instance key: the ordinary one."""
    reclaim_after_evacuating(state)
    evacuating = row(state, EVACUATING)

    assert state.evacuate_crashed_actual_lrp(key(), OWN, "boom") is False

    assert presences(state) == {ORDINARY: UNCLAIMED, EVACUATING: RUNNING}
    assert row(state).crash_count == 1
    assert row(state, EVACUATING) == evacuating


def test_evacuate_running_after_a_reclaim_finds_the_ordinary_row_first(state: State) -> None:
    """The ordinary row is the target: its evacuation dance finds the evacuating row already
    holding the same instance and net info, ResourceExists, and nothing changes."""
    reclaim_after_evacuating(state)
    before = state.store.snapshot()

    with pytest.raises(ResourceExists) as error:
        evacuate_running(state, OWN)

    assert getattr(error.value, "keep_container", None) is True
    assert dict(state.store.snapshot().actual_lrps) == dict(before.actual_lrps)


def test_evacuate_claimed_after_a_reclaim_unclaims_the_ordinary_row_found_first(
    state: State,
) -> None:
    reclaim_after_evacuating(state)
    evacuating = row(state, EVACUATING)

    assert state.evacuate_claimed_actual_lrp(key(), OWN) is False

    assert presences(state) == {ORDINARY: UNCLAIMED, EVACUATING: RUNNING}
    assert row(state, EVACUATING) == evacuating


# -- remove_evacuating --------------------------------------------------------------------------


def test_remove_evacuating_deletes_the_evacuating_row(state: State, changes: list[Change]) -> None:
    place(state, UNCLAIMED)
    evacuating = place(state, RUNNING, EVACUATING, DRAINING)

    removed = state.remove_evacuating_actual_lrp(key(), DRAINING)

    assert removed == evacuating
    assert presences(state) == {ORDINARY: UNCLAIMED}
    assert changes == [Change("actual_lrp", evacuating, None, "", False)]


@pytest.mark.parametrize("presence", [ORDINARY, SUSPECT])
def test_remove_evacuating_of_a_row_that_is_not_evacuating_is_not_found(
    state: State, presence: models.ActualLRP.Presence
) -> None:
    place(state, RUNNING, presence)

    with pytest.raises(ResourceNotFound):
        state.remove_evacuating_actual_lrp(key(), OWN)

    assert presences(state) == {presence: RUNNING}


def test_remove_evacuating_of_an_unknown_instance_is_not_found(state: State) -> None:
    with pytest.raises(ResourceNotFound):
        state.remove_evacuating_actual_lrp(key(), OWN)


# -- how evacuating rows show -------------------------------------------------------------------


def test_evacuating_rows_appear_in_the_flat_list_and_in_their_group_slot(state: State) -> None:
    place(state, RUNNING)
    evacuate_running(state)

    flat = state.actual_lrps_matching(process_guid="my-guid")
    [group] = resolve_actual_lrp_groups(flat)

    assert sorted((lrp.presence, lrp.state) for lrp in flat) == [
        (ORDINARY, UNCLAIMED),
        (EVACUATING, RUNNING),
    ]
    assert group.instance.state == UNCLAIMED
    assert group.evacuating.actual_lrp_instance_key == OWN


def test_starting_the_replacement_removes_the_evacuating_row(state: State) -> None:
    place(state, RUNNING)
    evacuate_running(state)
    replacement = instance("replacement-ig", "cell-2")

    state.claim_actual_lrp("my-guid", 0, replacement)
    state.start_actual_lrp(key(), replacement, net("10.0.0.3"))

    assert presences(state) == {ORDINARY: RUNNING}
