"""The lifecycle and evacuation routes over the wire: a client against the fake, over a socket
and in-process. The rules themselves are tested in test_lifecycle and test_evacuation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_lifecycle import STATES, instance, key, net, place, table_allows

from builders import desired_lrp
from fakebbs import FakeBBS, models
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
from fakebbs.client import BBSClient
from fakebbs.errors import (
    ActualLRPCannotBeClaimed,
    ActualLRPCannotBeCrashed,
    ActualLRPCannotBeFailed,
    ActualLRPCannotBeStarted,
    InvalidRequest,
    ResourceNotFound,
)

OWN = instance()
OTHER = instance("other-ig", "other-cell")


@pytest.fixture
def changes(fake: FakeBBS) -> Iterator[list[Change]]:
    """The changes the fake publishes during the test."""
    seen: list[Change] = []
    fake._state.store.listeners.append(seen.extend)
    yield seen
    fake._state.store.listeners.remove(seen.extend)


@pytest.fixture
def one_instance(bbs: BBSClient) -> BBSClient:
    bbs.desire_lrp(desired_lrp(instances=1))
    return bbs


def only(bbs: BBSClient, presence: int = ORDINARY) -> models.ActualLRP:
    [lrp] = [a for a in bbs.actual_lrps(process_guid="my-guid") if a.presence == presence]
    return lrp


def running(bbs: BBSClient, instance_key: models.ActualLRPInstanceKey = OWN) -> None:
    bbs.claim_actual_lrp(key(), instance_key)
    bbs.start_actual_lrp(key(), instance_key, net())


# -- lifecycle ----------------------------------------------------------------------------------


def test_an_instance_is_claimed_then_started(one_instance: BBSClient) -> None:
    one_instance.claim_actual_lrp(key(), OWN)
    assert only(one_instance).state == CLAIMED

    one_instance.start_actual_lrp(
        key(), OWN, net(), metric_tags={"app": "web"}, availability_zone="z1"
    )

    started = only(one_instance)
    assert started.state == RUNNING
    assert started.actual_lrp_instance_key == OWN
    assert started.actual_lrp_net_info == net()
    assert (started.routable, started.availability_zone) == (True, "z1")
    assert dict(started.metric_tags) == {"app": "web"}
    assert started.modification_tag.index == 2


def test_start_for_an_unknown_index_creates_a_running_instance(bbs: BBSClient) -> None:
    bbs.start_actual_lrp(key(index=3), OWN, net())

    [lrp] = bbs.actual_lrps()
    assert (lrp.actual_lrp_key.index, lrp.state) == (3, RUNNING)


def test_a_start_without_routable_on_the_wire_is_routable(one_instance: BBSClient) -> None:
    request = models.StartActualLRPRequest(
        actual_lrp_key=key(), actual_lrp_instance_key=OWN, actual_lrp_net_info=net()
    )

    response = one_instance.call("StartActualLRP", request)

    assert not response.HasField("error")
    assert only(one_instance).routable is True


def test_the_old_start_route_ignores_internal_routes_and_metric_tags(
    one_instance: BBSClient,
) -> None:
    request = models.StartActualLRPRequest(
        actual_lrp_key=key(),
        actual_lrp_instance_key=OWN,
        actual_lrp_net_info=net(),
        actual_lrp_internal_routes=[models.ActualLRPInternalRoute(hostname="h")],
        metric_tags={"app": "web"},
        availability_zone="z2",
    )
    request.Routable = False

    response = one_instance.call("StartActualLRP_r0", request)

    assert not response.HasField("error")
    started = only(one_instance)
    assert list(started.actual_lrp_internal_routes) == [] and dict(started.metric_tags) == {}
    assert (started.routable, started.availability_zone) == (False, "z2")


def test_refused_transitions_come_back_as_their_errors(one_instance: BBSClient) -> None:
    with pytest.raises(ActualLRPCannotBeCrashed, match="^cannot crash actual LRP$"):
        one_instance.crash_actual_lrp(key(), OWN, "boom")
    one_instance.claim_actual_lrp(key(), OWN)
    with pytest.raises(ActualLRPCannotBeClaimed, match="^cannot claim actual LRP$"):
        one_instance.claim_actual_lrp(key(), OTHER)
    with pytest.raises(ActualLRPCannotBeFailed, match="^cannot fail actual LRP$"):
        one_instance.fail_actual_lrp(key(), "no room")
    with pytest.raises(ActualLRPCannotBeStarted, match="^cannot start actual LRP$"):
        one_instance.start_actual_lrp(key(domain="elsewhere"), OWN, net())


def test_claiming_an_unknown_instance_is_not_found(bbs: BBSClient) -> None:
    with pytest.raises(ResourceNotFound):
        bbs.claim_actual_lrp(key(), OWN)


def test_the_third_crash_stays_crashed(one_instance: BBSClient) -> None:
    seen = []
    for _ in range(3):
        running(one_instance)
        one_instance.crash_actual_lrp(key(), OWN, "exited")
        lrp = only(one_instance)
        seen.append((lrp.state, lrp.crash_count, lrp.crash_reason))

    assert seen == [(UNCLAIMED, 1, "exited"), (UNCLAIMED, 2, "exited"), (CRASHED, 3, "exited")]


def test_fail_stores_a_long_placement_error_truncated_to_1024_bytes(
    one_instance: BBSClient,
) -> None:
    one_instance.fail_actual_lrp(key(), "p" * 1024)

    stored = only(one_instance).placement_error
    assert stored == "p" * 1013 + "(truncated)"


def test_failing_an_unknown_instance_succeeds(bbs: BBSClient) -> None:
    bbs.fail_actual_lrp(key(), "no room")

    assert bbs.actual_lrps() == []


def test_remove_deletes_the_instance_only_for_its_own_instance_key(
    one_instance: BBSClient,
) -> None:
    running(one_instance)

    with pytest.raises(ResourceNotFound):
        one_instance.remove_actual_lrp(key(), OTHER)
    one_instance.remove_actual_lrp(key(), OWN)

    assert one_instance.actual_lrps() == []
    with pytest.raises(ResourceNotFound):
        one_instance.remove_actual_lrp(key())


def test_lifecycle_requests_are_validated(bbs: BBSClient) -> None:
    claim = cast(
        models.ActualLRPLifecycleResponse,
        bbs.call("ClaimActualLRP", models.ClaimActualLRPRequest(process_guid="my-guid")),
    )
    fail = cast(
        models.ActualLRPLifecycleResponse,
        bbs.call("FailActualLRP", models.FailActualLRPRequest(actual_lrp_key=key())),
    )

    assert claim.error == models.Error(
        type="InvalidRequest", message="Invalid field: actual_lrp_instance_key"
    )
    assert fail.error == models.Error(type="InvalidRequest", message="Invalid field: error_message")


def test_lifecycle_changes_carry_an_empty_trace_id(
    one_instance: BBSClient, changes: list[Change]
) -> None:
    one_instance.claim_actual_lrp(key(), OWN, trace_id="req-1")
    one_instance.start_actual_lrp(key(), OWN, net(), trace_id="req-2")
    one_instance.crash_actual_lrp(key(), OWN, "boom", trace_id="req-3")

    assert [c.trace_id for c in changes] == ["", "", ""]
    assert [c.crashed for c in changes] == [False, False, True]


def test_a_claim_from_a_suspect_instance_succeeds_and_changes_nothing(
    fake: FakeBBS, one_instance: BBSClient
) -> None:
    place(fake._state, RUNNING, SUSPECT, OTHER)

    one_instance.claim_actual_lrp(key(), OTHER)

    assert only(one_instance).state == UNCLAIMED


@settings(max_examples=50, deadline=None)
@given(
    stored=st.sampled_from(STATES),
    target=st.sampled_from([CLAIMED, RUNNING, CRASHED]),
    own_instance=st.booleans(),
)
def test_every_route_answers_as_the_transition_table_says(
    stored: str, target: str, own_instance: bool
) -> None:
    fake = FakeBBS()
    fake._state.desire_lrp(desired_lrp(instances=0))
    before = place(fake._state, stored)
    caller = OWN if own_instance else OTHER
    same = before.actual_lrp_instance_key == caller
    requests = {
        CLAIMED: (
            "ClaimActualLRP",
            models.ClaimActualLRPRequest(
                process_guid="my-guid", index=0, actual_lrp_instance_key=caller
            ),
        ),
        RUNNING: (
            "StartActualLRP",
            models.StartActualLRPRequest(
                actual_lrp_key=key(), actual_lrp_instance_key=caller, actual_lrp_net_info=net("9")
            ),
        ),
        CRASHED: (
            "CrashActualLRP",
            models.CrashActualLRPRequest(
                actual_lrp_key=key(), actual_lrp_instance_key=caller, error_message="boom"
            ),
        ),
    }
    errors = {
        CLAIMED: "ActualLRPCannotBeClaimed",
        RUNNING: "ActualLRPCannotBeStarted",
        CRASHED: "ActualLRPCannotBeCrashed",
    }

    with BBSClient.in_process(fake.wsgi_app) as bbs:
        response = cast(models.ActualLRPLifecycleResponse, bbs.call(*requests[target]))

    if table_allows(stored, target, same, empty=False):
        assert not response.HasField("error")
    else:
        assert models.Error.Type.Name(response.error.type) == errors[target]
        assert [lrp for lrp in fake.snapshot().actual_lrps.values()] == [before]


# -- evacuation ---------------------------------------------------------------------------------


def test_evacuating_a_running_instance_keeps_the_container_and_leaves_an_evacuating_row(
    one_instance: BBSClient,
) -> None:
    running(one_instance)

    assert one_instance.evacuate_running_actual_lrp(key(), OWN, net()) is True

    assert only(one_instance).state == UNCLAIMED
    assert only(one_instance, EVACUATING).actual_lrp_instance_key == OWN
    [group] = one_instance.actual_lrp_groups_by_process_guid("my-guid")
    assert (group.instance.state, group.evacuating.state) == (UNCLAIMED, RUNNING)


def test_a_second_instance_evacuating_the_same_index_drops_its_container(
    one_instance: BBSClient,
) -> None:
    running(one_instance)
    one_instance.evacuate_running_actual_lrp(key(), OWN, net())
    one_instance.claim_actual_lrp(key(), OTHER)

    assert one_instance.evacuate_running_actual_lrp(key(), instance("third", "c3"), net()) is False


def share_an_instance_key(bbs: BBSClient) -> None:
    """Desire 2; evacuate index 1 running with OWN; claim index 1 with OWN: an evacuating row
    and the ordinary row written after it share one instance key."""
    bbs.desire_lrp(desired_lrp(instances=2))
    bbs.evacuate_running_actual_lrp(key(1), OWN, net())
    bbs.claim_actual_lrp(key(1), OWN)


def test_lists_by_process_guid_return_the_ordinary_row_before_the_evacuating_one(
    bbs: BBSClient,
) -> None:
    """Postgres reads them through the primary key index (process guid, index, presence),
    whichever row was written last."""
    share_an_instance_key(bbs)

    by_guid = bbs.actual_lrps(process_guid="my-guid")
    by_index = bbs.actual_lrps(process_guid="my-guid", index=1)

    rows = [(a.actual_lrp_key.index, a.presence) for a in by_guid]
    assert rows == [(0, ORDINARY), (1, ORDINARY), (1, EVACUATING)]
    assert [a.presence for a in by_index] == [ORDINARY, EVACUATING]


def test_evacuate_claimed_of_a_shared_instance_key_unclaims_the_ordinary_row(
    fake: FakeBBS, bbs: BBSClient
) -> None:
    """``lookupLRPInSlice`` finds the ordinary row first: it is unclaimed and auctioned; the
    evacuating row stays."""
    share_an_instance_key(bbs)
    evacuating = only(bbs, EVACUATING)
    fake.auctioneer_calls.clear()

    assert bbs.evacuate_claimed_actual_lrp(key(1), OWN) is False

    [ordinary] = [a for a in bbs.actual_lrps(process_guid="my-guid", index=1) if not a.presence]
    assert (ordinary.state, ordinary.actual_lrp_instance_key) == (UNCLAIMED, instance("", ""))
    assert only(bbs, EVACUATING) == evacuating
    fake.auctioneer_calls.assert_called(
        "RequestLRPAuctions", times=1, where={"process_guid": "my-guid", "indices": [1]}
    )


def test_starting_the_replacement_deletes_the_evacuating_row(one_instance: BBSClient) -> None:
    running(one_instance)
    one_instance.evacuate_running_actual_lrp(key(), OWN, net())

    running(one_instance, OTHER)

    assert [a.presence for a in one_instance.actual_lrps()] == [ORDINARY]


def test_the_old_evacuate_running_route_ignores_internal_routes_and_metric_tags(
    one_instance: BBSClient,
) -> None:
    one_instance.claim_actual_lrp(key(), OTHER)
    request = models.EvacuateRunningActualLRPRequest(
        actual_lrp_key=key(),
        actual_lrp_instance_key=OWN,
        actual_lrp_net_info=net(),
        actual_lrp_internal_routes=[models.ActualLRPInternalRoute(hostname="h")],
        metric_tags={"app": "web"},
        availability_zone="z5",
    )

    response = one_instance.call("EvacuateRunningActualLRP_r0", request)

    assert response == models.EvacuationResponse(keep_container=True)
    evacuating = only(one_instance, EVACUATING)
    assert list(evacuating.actual_lrp_internal_routes) == [] and dict(evacuating.metric_tags) == {}
    assert (evacuating.routable, evacuating.availability_zone) == (True, "z5")


def test_evacuating_a_claimed_instance_unclaims_it(one_instance: BBSClient) -> None:
    one_instance.claim_actual_lrp(key(), OWN)

    assert one_instance.evacuate_claimed_actual_lrp(key(), OWN) is False

    assert only(one_instance).state == UNCLAIMED


def test_evacuating_a_stopped_instance_deletes_it(one_instance: BBSClient) -> None:
    running(one_instance)

    assert one_instance.evacuate_stopped_actual_lrp(key(), OWN) is False

    assert one_instance.actual_lrps() == []


def test_evacuating_a_crashed_instance_applies_the_crash_policy(one_instance: BBSClient) -> None:
    running(one_instance)

    assert one_instance.evacuate_crashed_actual_lrp(key(), OWN, "oom") is False

    assert (only(one_instance).state, only(one_instance).crash_count) == (UNCLAIMED, 1)


def test_remove_evacuating_deletes_the_evacuating_row(one_instance: BBSClient) -> None:
    running(one_instance)
    one_instance.evacuate_running_actual_lrp(key(), OWN, net())

    one_instance.remove_evacuating_actual_lrp(key(), OWN)

    assert [a.presence for a in one_instance.actual_lrps()] == [ORDINARY]
    with pytest.raises(ResourceNotFound):
        one_instance.remove_evacuating_actual_lrp(key(), OWN)


def test_an_evacuation_error_carries_the_servers_keep_container(bbs: BBSClient) -> None:
    with pytest.raises(ResourceNotFound) as error:
        bbs.evacuate_claimed_actual_lrp(key(), OWN)

    assert getattr(error.value, "keep_container", None) is False


def test_evacuation_changes_carry_an_empty_trace_id(
    one_instance: BBSClient, changes: list[Change]
) -> None:
    running(one_instance)
    changes.clear()

    one_instance.evacuate_running_actual_lrp(key(), OWN, net(), trace_id="req-1")
    one_instance.evacuate_stopped_actual_lrp(key(), OWN, trace_id="req-2")

    assert changes and {c.trace_id for c in changes} == {""}


@pytest.mark.parametrize(
    ("route", "keep"),
    [
        ("EvacuateClaimedActualLRP", True),
        ("EvacuateRunningActualLRP", True),
        ("EvacuateRunningActualLRP_r0", True),
        ("EvacuateStoppedActualLRP", False),
        ("EvacuateCrashedActualLRP", False),
    ],
)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff", "the request received is invalid"),
        (b"", "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key"),
    ],
    ids=["undecodable", "invalid"],
)
def test_a_bad_evacuation_request_is_answered_with_upstreams_keep_container(
    bbs: BBSClient, route: str, keep: bool, body: bytes, message: str
) -> None:
    response = cast(models.EvacuationResponse, bbs.call(route, body))

    assert response.error.type == InvalidRequest.type
    assert response.error.message.startswith(message)
    assert response.keep_container is keep


def test_a_bad_remove_evacuating_request_is_answered_with_only_the_error(
    bbs: BBSClient,
) -> None:
    response = bbs.call("RemoveEvacuatingActualLRP", b"\xff")

    assert response == models.RemoveEvacuatingActualLRPResponse(
        error=models.Error(type="InvalidRequest", message="the request received is invalid")
    )
