"""The actual LRP lifecycle rules (claim, start, crash, fail, remove, unclaim), called directly."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from builders import desired_lrp
from fakebbs import models
from fakebbs._rules.lifecycle import (
    allows_transition,
    backoff,
    should_restart,
    should_restart_immediately,
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
)
from fakebbs.errors import (
    ActualLRPCannotBeClaimed,
    ActualLRPCannotBeCrashed,
    ActualLRPCannotBeFailed,
    ActualLRPCannotBeStarted,
    ActualLRPCannotBeUnclaimed,
    BBSError,
    ResourceNotFound,
)
from rules_support import START, Clock, new_state, put_row

SECOND = 10**9
MINUTE = 60 * SECOND


def key(index: int = 0, domain: str = "cf-apps") -> models.ActualLRPKey:
    return models.ActualLRPKey(process_guid="my-guid", index=index, domain=domain)


def instance(guid: str = "ig-1", cell_id: str = "cell-1") -> models.ActualLRPInstanceKey:
    return models.ActualLRPInstanceKey(instance_guid=guid, cell_id=cell_id)


def net(address: str = "10.0.0.1", port: int = 8080) -> models.ActualLRPNetInfo:
    return models.ActualLRPNetInfo(
        address=address, ports=[models.PortMapping(container_port=8080, host_port=port)]
    )


def place(
    state: State,
    status: str,
    presence: models.ActualLRP.Presence = ORDINARY,
    instance_key: models.ActualLRPInstanceKey | None = None,
    index: int = 0,
    **fields: object,
) -> models.ActualLRP:
    """Store a row as the routes (or convergence, for SUSPECT rows) would have left it."""
    lrp = state.store.new_actual_lrp("my-guid", index, "cf-apps")
    lrp.state = status
    lrp.presence = presence
    if status in (CLAIMED, RUNNING):
        lrp.actual_lrp_instance_key.CopyFrom(instance_key or instance())
    if status == RUNNING:
        lrp.actual_lrp_net_info.CopyFrom(net())
    for name, value in fields.items():
        if isinstance(value, dict):
            getattr(lrp, name).update(value)
        elif isinstance(value, Message):
            getattr(lrp, name).CopyFrom(value)
        else:
            setattr(lrp, name, value)
    put_row(state, lrp)
    return lrp


def row(state: State, presence: int = ORDINARY, index: int = 0) -> models.ActualLRP:
    return state.store.actual_lrps[ActualKey("my-guid", index, presence)]


def still_desired(state: State) -> None:
    """Store the desired LRP directly (no change is published) if it is not there: a crash
    that restarts at once needs it, as upstream reads it to place the instance."""
    state.store.desired_lrps.setdefault("my-guid", desired_lrp(instances=1))


# -- the transition table (§4.2) ----------------------------------------------------------------

# Which caller instance keys each stored state accepts for each target state: "any", the row's
# own ("same"), only an "empty" one, or "never". Requests always carry a non-empty instance key,
# so "same" never matches the empty key of an UNCLAIMED or CRASHED row over the API.
TRANSITIONS: dict[tuple[str, str], str] = {
    (UNCLAIMED, UNCLAIMED): "any",
    (UNCLAIMED, CLAIMED): "any",
    (UNCLAIMED, RUNNING): "any",
    (UNCLAIMED, CRASHED): "never",
    (CLAIMED, UNCLAIMED): "empty",
    (CLAIMED, CLAIMED): "same",
    (CLAIMED, RUNNING): "any",
    (CLAIMED, CRASHED): "same",
    (RUNNING, UNCLAIMED): "empty",
    (RUNNING, CLAIMED): "same",
    (RUNNING, RUNNING): "same",
    (RUNNING, CRASHED): "same",
    (CRASHED, UNCLAIMED): "empty",
    (CRASHED, CLAIMED): "same",
    (CRASHED, RUNNING): "same",
    (CRASHED, CRASHED): "never",
}

REFUSALS: dict[str, type[BBSError]] = {
    CLAIMED: ActualLRPCannotBeClaimed,
    RUNNING: ActualLRPCannotBeStarted,
    CRASHED: ActualLRPCannotBeCrashed,
}

STATES = [UNCLAIMED, CLAIMED, RUNNING, CRASHED]


def table_allows(stored: str, target: str, same: bool, empty: bool) -> bool:
    rule = TRANSITIONS[(stored, target)]
    return rule == "any" or (rule == "same" and same) or (rule == "empty" and empty)


def call_for(
    state: State, target: str, instance_key: models.ActualLRPInstanceKey, domain: str
) -> Callable[[], object]:
    still_desired(state)
    calls: dict[str, Callable[[], object]] = {
        CLAIMED: lambda: state.claim_actual_lrp("my-guid", 0, instance_key),
        RUNNING: lambda: state.start_actual_lrp(key(domain=domain), instance_key, net("10.9.9.9")),
        CRASHED: lambda: state.crash_actual_lrp(key(domain=domain), instance_key, "boom"),
    }
    return calls[target]


@given(
    stored=st.sampled_from(STATES),
    target=st.sampled_from([CLAIMED, RUNNING, CRASHED]),
    own_instance=st.booleans(),
    own_domain=st.booleans(),
)
def test_every_call_is_allowed_or_refused_as_the_transition_table_says(
    stored: str, target: str, own_instance: bool, own_domain: bool
) -> None:
    state = new_state()
    before = place(state, stored)
    caller = instance() if own_instance else instance("other-ig", "other-cell")
    same = before.actual_lrp_instance_key == caller
    # Only start passes the caller's key (domain included); the others use the row's own.
    allowed = table_allows(stored, target, same, empty=False) and (own_domain or target != RUNNING)
    seen: list[Change] = []
    state.store.listeners.append(seen.extend)

    call = call_for(state, target, caller, "cf-apps" if own_domain else "other-domain")

    if allowed:
        call()
    else:
        with pytest.raises(REFUSALS[target]):
            call()
        assert row(state) == before
        assert seen == []


@given(
    stored=st.sampled_from(STATES),
    target=st.sampled_from(STATES),
    caller_kind=st.sampled_from(["own", "other", "empty"]),
)
def test_allows_transition_is_the_table_for_every_instance_key(
    stored: str, target: str, caller_kind: str
) -> None:
    lrp = place(new_state(), stored)
    caller = {
        "own": lrp.actual_lrp_instance_key,
        "other": instance("x", "y"),
        "empty": models.ActualLRPInstanceKey(),
    }[caller_kind]
    same = lrp.actual_lrp_instance_key == caller
    empty = caller == models.ActualLRPInstanceKey()

    allowed = allows_transition(lrp, lrp.actual_lrp_key, caller, target)

    assert allowed == table_allows(stored, target, same, empty)


def test_a_transition_for_another_key_is_never_allowed() -> None:
    lrp = place(new_state(), UNCLAIMED)

    assert not allows_transition(lrp, key(domain="elsewhere"), instance(), CLAIMED)
    assert not allows_transition(lrp, key(index=1), instance(), CLAIMED)


@given(stored=st.sampled_from([CLAIMED, RUNNING, CRASHED]))
def test_fail_is_refused_unless_the_instance_is_unclaimed(stored: str) -> None:
    state = new_state()
    before = place(state, stored)

    with pytest.raises(ActualLRPCannotBeFailed):
        state.fail_actual_lrp(key(), "no cell")

    assert row(state) == before


# -- claim --------------------------------------------------------------------------------------


def test_claim_takes_the_instance_and_clears_net_info_and_placement_error(
    state: State, clock: Clock
) -> None:
    place(state, UNCLAIMED, placement_error="no room", crash_count=2, crash_reason="oom")
    clock.advance(SECOND)

    state.claim_actual_lrp("my-guid", 0, instance())

    claimed = row(state)
    assert claimed.state == CLAIMED
    assert claimed.actual_lrp_instance_key == instance()
    assert claimed.placement_error == ""
    assert claimed.since == clock.now
    assert claimed.modification_tag == models.ModificationTag(epoch="epoch-0", index=1)
    assert (claimed.crash_count, claimed.crash_reason) == (2, "oom")


def test_claiming_a_running_instance_with_its_own_key_moves_it_back_to_claimed(
    state: State,
) -> None:
    place(state, RUNNING)

    state.claim_actual_lrp("my-guid", 0, instance())

    assert row(state).state == CLAIMED
    assert row(state).HasField("actual_lrp_net_info")
    assert row(state).actual_lrp_net_info == models.ActualLRPNetInfo()


def test_a_repeated_claim_changes_nothing_but_reports_the_row_unchanged(
    state: State, clock: Clock, changes: list[Change]
) -> None:
    """Upstream hands its event calculator (before, after) even when nothing was written."""
    place(state, UNCLAIMED)
    state.claim_actual_lrp("my-guid", 0, instance())
    claimed = row(state)
    clock.advance(SECOND)

    state.claim_actual_lrp("my-guid", 0, instance())

    assert row(state) == claimed
    assert changes[1:] == [Change("actual_lrp", claimed, claimed)]


def test_claiming_a_missing_instance_is_not_found(state: State) -> None:
    place(state, RUNNING, presence=EVACUATING)

    with pytest.raises(ResourceNotFound):
        state.claim_actual_lrp("my-guid", 0, instance("new-ig"))


def test_a_claim_from_a_suspect_instance_is_ignored(state: State, changes: list[Change]) -> None:
    place(state, RUNNING, presence=SUSPECT, instance_key=instance("old-ig", "lost-cell"))
    place(state, UNCLAIMED)

    state.claim_actual_lrp("my-guid", 0, instance("old-ig", "lost-cell"))

    assert row(state).state == UNCLAIMED
    assert changes == []


def test_a_claim_records_one_change_with_an_empty_trace_id(
    state: State, changes: list[Change]
) -> None:
    before = place(state, UNCLAIMED)

    state.claim_actual_lrp("my-guid", 0, instance())

    assert changes == [Change("actual_lrp", before, row(state), "", False)]


# -- start --------------------------------------------------------------------------------------


def test_start_without_an_instance_row_creates_a_running_one(state: State, clock: Clock) -> None:
    state.start_actual_lrp(
        key(),
        instance(),
        net(),
        internal_routes=[models.ActualLRPInternalRoute(hostname="web.apps.internal")],
        metric_tags={"app_name": "web"},
        routable=False,
        availability_zone="z1",
    )

    started = row(state)
    assert started.state == RUNNING
    assert started.actual_lrp_key == key()
    assert started.actual_lrp_instance_key == instance()
    assert started.actual_lrp_net_info == net()
    assert [r.hostname for r in started.actual_lrp_internal_routes] == ["web.apps.internal"]
    assert dict(started.metric_tags) == {"app_name": "web"}
    assert started.HasField("routable") and started.routable is False
    assert started.availability_zone == "z1"
    assert started.since == clock.now
    assert started.modification_tag == models.ModificationTag(epoch="epoch-0", index=0)


def test_start_of_a_claimed_instance_records_the_reported_fields(
    state: State, clock: Clock
) -> None:
    place(state, CLAIMED, crash_count=1, crash_reason="oom")
    clock.advance(SECOND)

    state.start_actual_lrp(key(), instance(), net(), availability_zone="z2")

    started = row(state)
    assert started.state == RUNNING
    assert started.actual_lrp_net_info == net()
    assert started.routable is True
    assert started.availability_zone == "z2"
    assert started.since == clock.now
    assert started.modification_tag.index == 1
    assert (started.crash_count, started.crash_reason) == (1, "oom")


def test_a_claimed_instance_may_be_started_by_another_instance(state: State) -> None:
    place(state, CLAIMED)

    state.start_actual_lrp(key(), instance("other-ig", "other-cell"), net())

    assert row(state).actual_lrp_instance_key == instance("other-ig", "other-cell")


def test_start_clears_the_placement_error(state: State) -> None:
    place(state, UNCLAIMED, placement_error="no room")

    state.start_actual_lrp(key(), instance(), net())

    assert row(state).placement_error == ""


def test_a_repeated_identical_start_changes_nothing(
    state: State, clock: Clock, changes: list[Change]
) -> None:
    place(state, CLAIMED)
    state.start_actual_lrp(key(), instance(), net(), metric_tags={"a": "b"})
    started = row(state)
    clock.advance(SECOND)

    state.start_actual_lrp(key(), instance(), net(), metric_tags={"a": "b"})

    assert row(state) == started
    assert len(changes) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"net_info": net(port=9090)},
        {"routable": False},
        {"availability_zone": "z9"},
        {"metric_tags": {"a": "c"}},
        {"internal_routes": [models.ActualLRPInternalRoute(hostname="h")]},
    ],
    ids=["net-info", "routable", "zone", "metric-tags", "internal-routes"],
)
def test_a_start_that_reports_anything_new_is_a_change(
    state: State, clock: Clock, change: dict[str, object]
) -> None:
    place(state, CLAIMED)
    first: dict[str, object] = {"net_info": net(), "metric_tags": {"a": "b"}}
    state.start_actual_lrp(key(), instance(), **first)  # type: ignore[arg-type]
    clock.advance(SECOND)

    state.start_actual_lrp(key(), instance(), **{**first, **change})  # type: ignore[arg-type]

    assert row(state).modification_tag.index == 2
    assert row(state).since == clock.now


def test_start_with_another_domain_is_refused(state: State) -> None:
    place(state, CLAIMED)

    with pytest.raises(ActualLRPCannotBeStarted):
        state.start_actual_lrp(key(domain="elsewhere"), instance(), net())


@pytest.mark.parametrize("suspect_written_first", [False, True])
def test_start_removes_the_evacuating_and_the_suspect_row_of_the_index(
    state: State, changes: list[Change], suspect_written_first: bool
) -> None:
    """Evacuating first, then suspect, as upstream's StartActualLRP does, whatever order the
    rows were written in."""
    if suspect_written_first:
        suspect = place(state, RUNNING, SUSPECT, instance("lost-ig", "lost-cell"))
    evacuating = place(state, RUNNING, EVACUATING, instance("old-ig", "draining-cell"))
    if not suspect_written_first:
        suspect = place(state, RUNNING, SUSPECT, instance("lost-ig", "lost-cell"))
    place(state, CLAIMED)

    state.start_actual_lrp(key(), instance(), net())

    assert set(state.store.actual_lrps) == {ActualKey("my-guid", 0, ORDINARY)}
    assert [(c.before, c.after) for c in changes[1:]] == [(evacuating, None), (suspect, None)]


def test_a_repeated_start_still_removes_an_evacuating_row(state: State) -> None:
    running = place(state, RUNNING, routable=True)
    place(state, RUNNING, EVACUATING, instance("old-ig", "draining-cell"))

    state.start_actual_lrp(key(), instance(), net())

    assert set(state.store.actual_lrps) == {ActualKey("my-guid", 0, ORDINARY)}
    assert row(state) == running


def test_a_start_from_a_suspect_instance_is_ignored(state: State, changes: list[Change]) -> None:
    place(state, RUNNING, SUSPECT, instance("lost-ig", "lost-cell"))
    place(state, CLAIMED)

    state.start_actual_lrp(key(), instance("lost-ig", "lost-cell"), net())

    assert row(state).state == CLAIMED
    assert row(state, SUSPECT).state == RUNNING
    assert changes == []


# -- crash (§4.4) -------------------------------------------------------------------------------


def crash(state: State, reason: str = "exited with status 1") -> None:
    still_desired(state)
    state.crash_actual_lrp(key(), instance(), reason)


def run_again(state: State) -> None:
    state.claim_actual_lrp("my-guid", 0, instance())
    state.start_actual_lrp(key(), instance(), net())


def test_the_first_two_crashes_restart_at_once_and_the_third_stays_crashed(
    state: State, changes: list[Change]
) -> None:
    place(state, RUNNING)

    outcomes = []
    for _ in range(3):
        crash(state)
        outcomes.append((row(state).state, row(state).crash_count))
        if row(state).state == UNCLAIMED:
            run_again(state)

    assert outcomes == [(UNCLAIMED, 1), (UNCLAIMED, 2), (CRASHED, 3)]
    assert [c.after.state for c in changes if c.crashed] == [  # type: ignore[union-attr]
        UNCLAIMED,
        UNCLAIMED,
        CRASHED,
    ]


def test_a_crash_clears_the_instance_and_keeps_what_the_rep_reported(
    state: State, clock: Clock
) -> None:
    place(state, RUNNING, availability_zone="z1", metric_tags={"a": "b"})
    clock.advance(SECOND)

    crash(state, "oom")

    crashed = row(state)
    assert crashed.HasField("actual_lrp_instance_key") and crashed.HasField("actual_lrp_net_info")
    assert crashed.actual_lrp_instance_key == models.ActualLRPInstanceKey()
    assert crashed.actual_lrp_net_info == models.ActualLRPNetInfo()
    assert crashed.crash_reason == "oom"
    assert crashed.since == clock.now
    assert crashed.modification_tag.index == 1
    assert crashed.availability_zone == "z1" and dict(crashed.metric_tags) == {"a": "b"}
    assert crashed.HasField("routable")


def test_a_crash_is_recorded_as_a_crash_from_the_running_row(
    state: State, changes: list[Change]
) -> None:
    before = place(state, RUNNING)

    crash(state)

    assert changes == [Change("actual_lrp", before, row(state), "", True)]


def test_a_crash_after_running_more_than_five_minutes_counts_from_one_again(
    state: State, clock: Clock
) -> None:
    place(state, RUNNING, crash_count=7, since=clock.now)
    clock.advance(5 * MINUTE + 1)

    crash(state)

    assert (row(state).state, row(state).crash_count) == (UNCLAIMED, 1)


def test_a_crash_exactly_five_minutes_after_starting_still_adds_up(
    state: State, clock: Clock
) -> None:
    place(state, RUNNING, crash_count=7, since=clock.now)
    clock.advance(5 * MINUTE)

    crash(state)

    assert (row(state).state, row(state).crash_count) == (CRASHED, 8)


def test_a_claimed_instance_crashing_always_adds_to_its_count(state: State, clock: Clock) -> None:
    place(state, CLAIMED, crash_count=2, since=clock.now)
    clock.advance(60 * MINUTE)

    crash(state)

    assert (row(state).state, row(state).crash_count) == (CRASHED, 3)


def test_a_crash_reason_is_stored_truncated_but_recorded_whole(
    state: State, changes: list[Change]
) -> None:
    place(state, RUNNING)
    reason = "x" * 2000

    crash(state, reason)

    assert row(state).crash_reason == "x" * 1013 + "(truncated)"
    assert changes[0].after.crash_reason == reason  # type: ignore[union-attr]


def test_crashing_a_suspect_instance_deletes_the_suspect_row(
    state: State, changes: list[Change]
) -> None:
    suspect = place(state, RUNNING, SUSPECT, instance("lost-ig", "lost-cell"))
    place(state, UNCLAIMED)

    assert state.crash_actual_lrp(key(), instance("lost-ig", "lost-cell"), "gone") is None

    assert set(state.store.actual_lrps) == {ActualKey("my-guid", 0, ORDINARY)}
    assert changes == [Change("actual_lrp", suspect, None, "", False)]


def test_a_crash_that_restarts_without_a_desired_lrp_commits_then_is_not_found(
    state: State, changes: list[Change]
) -> None:
    """Upstream reads the scheduling info to place the instance only after committing."""
    before = place(state, RUNNING)

    with pytest.raises(ResourceNotFound):
        state.crash_actual_lrp(key(), instance(), "boom")

    assert (row(state).state, row(state).crash_count, row(state).crash_reason) == (
        UNCLAIMED,
        1,
        "boom",
    )
    assert changes == [Change("actual_lrp", before, row(state), "", True)]


def test_a_crash_that_stays_crashed_without_a_desired_lrp_succeeds(state: State) -> None:
    place(state, RUNNING, crash_count=2)

    state.crash_actual_lrp(key(), instance(), "boom")

    assert (row(state).state, row(state).crash_count) == (CRASHED, 3)


def test_crashing_a_missing_instance_is_not_found(state: State) -> None:
    with pytest.raises(ResourceNotFound):
        crash(state)


@pytest.mark.parametrize(
    ("count", "seconds"),
    [
        (0, 0),
        (2, 0),
        (3, 30),
        (4, 60),
        (5, 120),
        (6, 240),
        (7, 480),
        (8, 960),
        (9, 960),
        (199, 960),
    ],
)
def test_the_restart_backoff_doubles_from_thirty_seconds_up_to_sixteen_minutes(
    count: int, seconds: int
) -> None:
    assert backoff(count) == seconds


@pytest.mark.parametrize(("count", "restart"), [(0, True), (1, True), (2, True), (3, False)])
def test_only_the_first_two_crashes_restart_immediately(count: int, restart: bool) -> None:
    assert should_restart_immediately(count) is restart


def test_a_crashed_instance_restarts_once_its_backoff_has_passed() -> None:
    crashed_at = START

    assert not should_restart(crashed_at + 30 * SECOND - 1, crashed_at, 3)
    assert should_restart(crashed_at + 30 * SECOND, crashed_at, 3)
    assert not should_restart(crashed_at + 15 * MINUTE, crashed_at, 8)
    assert should_restart(crashed_at + 16 * MINUTE, crashed_at, 8)


def test_an_instance_that_crashed_two_hundred_times_is_never_restarted() -> None:
    assert should_restart(START + 10**6 * MINUTE, START, 199)
    assert not should_restart(START + 10**6 * MINUTE, START, 200)


# -- fail ---------------------------------------------------------------------------------------


def test_fail_records_the_placement_error_on_the_unclaimed_instance(
    state: State, clock: Clock
) -> None:
    place(state, UNCLAIMED)
    clock.advance(SECOND)

    failed = state.fail_actual_lrp(key(), "insufficient resources")

    assert failed == row(state)
    assert (failed.state, failed.placement_error) == (UNCLAIMED, "insufficient resources")
    assert failed.since == clock.now
    assert failed.modification_tag.index == 1


def test_failing_a_missing_instance_succeeds_and_changes_nothing(
    state: State, changes: list[Change]
) -> None:
    assert state.fail_actual_lrp(key(), "insufficient resources") is None

    assert state.store.actual_lrps == {} and changes == []


@pytest.mark.parametrize(
    ("size", "stored_size", "truncated"),
    [(1023, 1023, False), (1024, 1024, True), (5000, 1024, True)],
)
def test_a_placement_error_of_1024_bytes_or_more_is_stored_truncated(
    state: State, changes: list[Change], size: int, stored_size: int, truncated: bool
) -> None:
    place(state, UNCLAIMED)
    message = "e" * size

    state.fail_actual_lrp(key(), message)

    stored = row(state).placement_error
    assert len(stored.encode()) == stored_size
    assert stored.endswith("(truncated)") is truncated
    assert changes[0].after.placement_error == message  # type: ignore[union-attr]


# -- remove -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [UNCLAIMED, CLAIMED, RUNNING, CRASHED])
def test_remove_deletes_the_instance_in_any_state(
    state: State, changes: list[Change], status: str
) -> None:
    before = place(state, status)

    removed = state.remove_actual_lrp("my-guid", 0)

    assert removed == before and state.store.actual_lrps == {}
    assert changes == [Change("actual_lrp", before, None, "", False)]


def test_remove_with_an_instance_key_deletes_only_that_instance(state: State) -> None:
    place(state, RUNNING)

    with pytest.raises(ResourceNotFound):
        state.remove_actual_lrp("my-guid", 0, instance("other-ig"))
    state.remove_actual_lrp("my-guid", 0, instance())

    assert state.store.actual_lrps == {}


def test_remove_with_an_empty_instance_key_matches_an_unclaimed_instance(state: State) -> None:
    place(state, UNCLAIMED)

    state.remove_actual_lrp("my-guid", 0, models.ActualLRPInstanceKey())

    assert state.store.actual_lrps == {}


def test_remove_leaves_the_evacuating_row_and_needs_an_ordinary_one(state: State) -> None:
    place(state, RUNNING, EVACUATING)

    with pytest.raises(ResourceNotFound):
        state.remove_actual_lrp("my-guid", 0)

    assert set(state.store.actual_lrps) == {ActualKey("my-guid", 0, EVACUATING)}


# -- unclaim (internal) -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [CLAIMED, RUNNING, CRASHED])
def test_unclaim_returns_the_instance_to_unclaimed(state: State, clock: Clock, status: str) -> None:
    place(state, status, crash_count=3)
    clock.advance(SECOND)

    before, after = state.unclaim_actual_lrp("my-guid", 0)

    assert before.state == status
    assert after == row(state)
    assert after.state == UNCLAIMED and after.crash_count == 3
    assert after.actual_lrp_instance_key == models.ActualLRPInstanceKey()
    assert after.actual_lrp_net_info == models.ActualLRPNetInfo()
    assert after.since == clock.now and after.modification_tag.index == 1


def test_an_unclaimed_instance_cannot_be_unclaimed(state: State) -> None:
    place(state, UNCLAIMED)

    with pytest.raises(ActualLRPCannotBeUnclaimed):
        state.unclaim_actual_lrp("my-guid", 0)


def test_a_stale_unclaim_leaves_a_claimed_instance_alone(state: State) -> None:
    place(state, CLAIMED)

    with pytest.raises(ActualLRPCannotBeUnclaimed):
        state.unclaim_actual_lrp("my-guid", 0, stale=True)

    assert row(state).state == CLAIMED


def test_unclaim_carries_the_callers_trace_id(state: State, changes: list[Change]) -> None:
    place(state, RUNNING)

    state.unclaim_actual_lrp("my-guid", 0, trace_id="converge-1")

    assert [c.trace_id for c in changes] == ["converge-1"]


# -- what the rules hand out --------------------------------------------------------------------


def test_rows_the_rules_return_are_copies(state: State) -> None:
    state.desire_lrp(desired_lrp(instances=1))

    failed = state.fail_actual_lrp(key(), "insufficient resources")
    assert failed is not None
    failed.state = CRASHED
    failed.placement_error = "changed by the caller"

    assert row(state).state == UNCLAIMED
    assert row(state).placement_error == "insufficient resources"


def test_every_row_keeps_routable_and_its_embedded_messages_on_the_wire(state: State) -> None:
    state.desire_lrp(desired_lrp(instances=1))
    state.claim_actual_lrp("my-guid", 0, instance())
    state.crash_actual_lrp(key(), instance(), "boom")

    wire = models.ActualLRP.FromString(row(state).SerializeToString())

    for field in (
        "actual_lrp_key",
        "actual_lrp_instance_key",
        "actual_lrp_net_info",
        "modification_tag",
        "routable",
    ):
        assert wire.HasField(field), field
