"""Fault rules and held routes on a fake: ``FakeBBS.fail``, ``clear_faults`` and ``hold``."""

from __future__ import annotations

import http.client
import threading

import pytest

from builders import desired_lrp
from fakebbs import FakeBBS, errors, faults, models
from fakebbs._control.controls import Holds
from fakebbs.client import BBSClient
from fakebbs.routes import route

KEY = models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps")
INSTANCE = models.ActualLRPInstanceKey(instance_guid="ig-0", cell_id="cell-1")
NET = models.ActualLRPNetInfo(address="10.0.0.1", instance_address="10.255.0.1")


# -- BBS errors ------------------------------------------------------------------------------


def test_a_bbs_error_is_answered_inside_the_route_response_and_changes_nothing(
    fake: FakeBBS, bbs: BBSClient
) -> None:
    fake.fail("DesireDesiredLRP", errors.ResourceConflict("already desired"))

    with pytest.raises(errors.ResourceConflict, match="already desired"):
        bbs.desire_lrp(desired_lrp("web"))

    assert bbs.desired_lrps() == []
    assert fake.calls.last.status == 200


def test_times_limits_a_rule_and_hits_counts_what_it_answered(
    fake: FakeBBS, bbs: BBSClient
) -> None:
    rule = fake.fail("DesireDesiredLRP", errors.ResourceConflict(), times=1)

    with pytest.raises(errors.ResourceConflict):
        bbs.desire_lrp(desired_lrp("web"))
    bbs.desire_lrp(desired_lrp("web"))

    assert (rule.hits, rule.exhausted) == (1, True)
    assert [lrp.process_guid for lrp in bbs.desired_lrps()] == ["web"]


def test_where_narrows_a_rule_to_matching_requests(fake: FakeBBS, bbs: BBSClient) -> None:
    fake.fail("DesireDesiredLRP", errors.Unrecoverable(), where={"desired_lrp.process_guid": "web"})

    bbs.desire_lrp(desired_lrp("api"))
    with pytest.raises(errors.Unrecoverable):
        bbs.desire_lrp(desired_lrp("web"))


def test_a_callable_where_sees_the_decoded_request(fake: FakeBBS, bbs: BBSClient) -> None:
    def many(request: object) -> bool:
        return isinstance(request, models.DesireLRPRequest) and request.desired_lrp.instances > 5

    fake.fail("DesireDesiredLRP", errors.Deadlock(), where=many)

    bbs.desire_lrp(desired_lrp("small", instances=1))
    with pytest.raises(errors.Deadlock):
        bbs.desire_lrp(desired_lrp("big", instances=6))


def test_an_error_type_todays_enum_lacks_reaches_the_client_by_its_number(
    fake: FakeBBS, bbs: BBSClient
) -> None:
    fake.fail("Domains", errors.from_type(22, "a type removed upstream"))

    with pytest.raises(errors.BBSError) as raised:
        bbs.domains()

    assert (raised.value.type, raised.value.message) == (22, "a type removed upstream")
    assert type(raised.value).__name__ == "BBSError22"


def test_the_first_rule_added_answers_and_a_removed_rule_no_longer_does(
    fake: FakeBBS, bbs: BBSClient
) -> None:
    first = fake.fail("Domains", errors.Unrecoverable())
    fake.fail("*", errors.Deadlock())

    with pytest.raises(errors.Unrecoverable):
        bbs.domains()
    first.remove()
    with pytest.raises(errors.Deadlock):
        bbs.domains()
    fake.clear_faults()
    assert bbs.domains() == []
    assert fake.faults == []


def test_a_rule_used_as_a_context_manager_ends_with_its_block(
    fake: FakeBBS, bbs: BBSClient
) -> None:
    with fake.fail("Domains", errors.Unrecoverable()):
        with pytest.raises(errors.Unrecoverable):
            bbs.domains()

    assert bbs.domains() == []


def test_a_star_selector_skips_routes_that_cannot_take_the_action(fake: FakeBBS) -> None:
    rule = fake.fail("*", errors.Unrecoverable())

    assert "EventStream" not in rule.matcher.routes  # event streams have no response message
    assert "DesireDesiredLRP" in rule.matcher.routes


# -- bad input to fail() ---------------------------------------------------------------------


def test_an_unknown_route_name_is_refused_naming_close_ones(fake: FakeBBS) -> None:
    with pytest.raises(ValueError, match="did you mean DesireDesiredLRP"):
        fake.fail("DesireDesiredLrp", errors.Unrecoverable())


def test_a_bad_where_path_is_refused(fake: FakeBBS) -> None:
    with pytest.raises(ValueError, match="DesiredLRP has no field 'instancez'"):
        fake.fail("DesireDesiredLRP", errors.Unrecoverable(), where={"desired_lrp.instancez": 1})


def test_a_bbs_error_on_an_event_stream_is_refused(fake: FakeBBS) -> None:
    with pytest.raises(ValueError, match="EventStream cannot take"):
        fake.fail("EventStream", errors.Unrecoverable())


def test_a_bbs_error_on_ping_is_refused_and_star_skips_ping(fake: FakeBBS) -> None:
    with pytest.raises(ValueError, match="Ping cannot take"):
        fake.fail("Ping", errors.ResourceNotFound())

    assert "Ping" not in fake.fail("*", errors.ResourceNotFound()).matcher.routes


def test_end_stream_on_a_plain_route_is_refused(fake: FakeBBS) -> None:
    with pytest.raises(ValueError, match="event streams only"):
        fake.fail("Ping", faults.end_stream())


def test_a_plain_route_fault_on_an_event_stream_is_refused(fake: FakeBBS) -> None:
    with pytest.raises(ValueError, match="not event streams"):
        fake.fail("TaskEventStream", faults.reset_connection())


def test_something_else_than_an_error_or_a_fault_is_refused(fake: FakeBBS) -> None:
    with pytest.raises(TypeError, match="fakebbs.errors error"):
        fake.fail("Ping", RuntimeError("boom"))  # type: ignore[arg-type]


def test_times_must_be_positive(fake: FakeBBS) -> None:
    with pytest.raises(ValueError, match="times must be a positive"):
        fake.fail("Ping", errors.Unrecoverable(), times=0)


# -- transport faults ------------------------------------------------------------------------


def test_a_reset_connection_beats_a_client_that_retries_fewer_times(fake: FakeBBS) -> None:
    rule = fake.fail("ActualLRPs", faults.reset_connection(), times=3)

    with fake.client(retries=2, retry_interval=0) as bbs, pytest.raises(ConnectionError):
        bbs.actual_lrps()
    with fake.client(retries=0) as bbs:
        assert bbs.actual_lrps() == []
    assert rule.hits == 3


def test_a_client_that_retries_more_times_gets_through(fake: FakeBBS) -> None:
    fake.fail("ActualLRPs", faults.close_connection(), times=3)

    with fake.client(retries=3, retry_interval=0) as bbs:
        assert bbs.actual_lrps() == []
    fake.calls.assert_called("ActualLRPs", times=4)


def test_in_process_a_closed_connection_raises_what_a_socket_client_sees(
    fakebbs_in_process: FakeBBS,
) -> None:
    fakebbs_in_process.fail("Domains", faults.close_connection())
    fakebbs_in_process.fail("Ping", faults.reset_connection())

    with fakebbs_in_process.client() as bbs:
        with pytest.raises(http.client.RemoteDisconnected):
            bbs.domains()
        assert bbs.ping() is False  # the Go client's Ping is false on any failure


def test_a_plain_404_makes_the_client_fall_back_to_the_older_revision(
    fake: FakeBBS, bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    fake.fail("StartActualLRP", faults.not_found())

    bbs.start_actual_lrp(KEY, INSTANCE, NET)

    assert [c.route for c in fake.calls.to("StartActualLRP*")] == [
        "StartActualLRP",
        "StartActualLRP_r0",
    ]
    assert [a.state for a in bbs.actual_lrps(process_guid="web")] == ["RUNNING"]


def test_a_router_error_reaches_the_client_as_a_router_error(fake: FakeBBS, bbs: BBSClient) -> None:
    fake.fail("Domains", faults.router_error("no_endpoints"))

    with pytest.raises(errors.RouterError, match="no_endpoints"):
        bbs.domains()


def test_a_plain_text_500_is_an_invalid_response(fake: FakeBBS, bbs: BBSClient) -> None:
    fake.fail("Domains", faults.status(500, "oops\n"))

    with pytest.raises(errors.InvalidResponse, match="500"):
        bbs.domains()


def test_a_body_that_is_not_protobuf_fails_to_decode(fake: FakeBBS, bbs: BBSClient) -> None:
    fake.fail("Domains", faults.bad_body())

    with pytest.raises(errors.InvalidProtobufMessage):
        bbs.domains()


def test_a_truncated_body_is_an_invalid_response_and_the_change_is_made(
    fake: FakeBBS, bbs: BBSClient
) -> None:
    fake.fail("UpsertDomain", faults.truncated_body())

    with pytest.raises(errors.InvalidResponse, match="failed to read body"):
        bbs.upsert_domain("cf-apps", 0)

    fake.clear_faults()
    assert bbs.domains() == ["cf-apps"]


def test_a_delay_answers_normally_afterwards(fake: FakeBBS, bbs: BBSClient) -> None:
    fake.fail("*", faults.delay(0.01))

    bbs.upsert_domain("cf-apps", 0)

    assert bbs.domains() == ["cf-apps"]
    assert fake.calls.last.fault == faults.delay(0.01)


def test_end_stream_after_n_events_ends_the_stream_cleanly(fake: FakeBBS, bbs: BBSClient) -> None:
    fake.fail("TaskEventStream", faults.end_stream(after=1))

    with bbs.subscribe_to_task_events() as events:
        task = models.TaskDefinition(
            root_fs="preloaded:cflinuxfs4",
            action=models.Action(run_action=models.RunAction(path="/bin/t", user="vcap")),
        )
        bbs.desire_task("t-1", "cf-apps", task)
        bbs.desire_task("t-2", "cf-apps", task)
        first = events.next(timeout=5)
        with pytest.raises(EOFError):
            events.next(timeout=5)

    assert isinstance(first, models.TaskCreatedEvent)
    assert first.task.task_guid == "t-1"


# -- holding a route -------------------------------------------------------------------------


def test_a_held_request_waits_while_state_changes_behind_its_back(fake: FakeBBS) -> None:
    seen: list[list[str]] = []

    def list_lrps() -> None:
        with fake.client() as bbs:
            seen.append([lrp.process_guid for lrp in bbs.desired_lrps()])

    with fake.client() as bbs, fake.hold("DesiredLRPs") as gate:
        thread = threading.Thread(target=list_lrps)
        thread.start()
        gate.wait_arrived(timeout=10)
        assert seen == []  # in, unanswered
        bbs.desire_lrp(desired_lrp("late"))
        gate.release()
        thread.join(10)

    assert seen == [["late"]]
    assert gate.arrived == 1


def test_wait_arrived_times_out_when_nothing_comes(fake: FakeBBS) -> None:
    with fake.hold("DesiredLRPs") as gate, pytest.raises(TimeoutError, match="0 of 1"):
        gate.wait_arrived(timeout=0.01)


def test_a_hold_only_holds_matching_requests(fake: FakeBBS, bbs: BBSClient) -> None:
    with fake.hold("DesireDesiredLRP", where={"desired_lrp.process_guid": "held"}) as gate:
        bbs.desire_lrp(desired_lrp("free"))

    assert gate.arrived == 0


def test_reset_releases_held_requests(fake: FakeBBS) -> None:
    gate = fake.hold("Domains")
    done = threading.Event()

    def call() -> None:
        with fake.client() as bbs:
            bbs.domains()
        done.set()

    threading.Thread(target=call).start()
    gate.wait_arrived(timeout=10)
    fake.reset()

    assert done.wait(10)
    assert gate.released


def test_a_hold_on_an_unknown_route_is_refused(fake: FakeBBS) -> None:
    with pytest.raises(ValueError, match="no BBS route is named 'DesiredLRPz'"):
        fake.hold("DesiredLRPz")


def test_asking_whether_a_request_would_be_held_holds_nothing() -> None:
    holds = Holds()
    claim = models.ClaimActualLRPRequest(process_guid="web")
    assert not holds.holding(route("ClaimActualLRP"), claim)

    gate = holds.add("ClaimActualLRP", {"process_guid": "web"})

    assert holds.holding(route("ClaimActualLRP"), claim)
    assert not holds.holding(route("ClaimActualLRP"), models.ClaimActualLRPRequest())
    assert gate.arrived == 0


def test_a_status_fault_takes_only_headers_that_keep_the_connection_sound() -> None:
    assert faults.status(503, headers={"Retry-After": "1"}).headers == (("Retry-After", "1"),)
    with pytest.raises(ValueError, match="not an HTTP header name"):
        faults.status(503, headers={"X\r\nY": "1"})
    with pytest.raises(ValueError, match="not an HTTP header value"):
        faults.status(503, headers={"X": "1\nY: 2"})
    with pytest.raises(ValueError, match="set by the server"):
        faults.status(503, headers={"Content-Length": "999"})
