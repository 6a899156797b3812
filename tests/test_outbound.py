"""The calls the BBS makes to reps and the auctioneer: recorded as upstream would make them,
sent when asked (plain HTTP or mutual TLS), and failing with upstream's consequences."""

from __future__ import annotations

import dataclasses
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme
from werkzeug.wrappers import Request, Response

from builders import desired_lrp
from fakebbs import FakeBBS, Snapshot, errors, faults, models
from fakebbs._http.server import Server
from fakebbs._outbound.calls import RETIRE_ATTEMPTS, ClientTLS
from fakebbs.client import BBSClient

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

TIMEOUT = 10.0


def key(process_guid: str, index: int, domain: str = "cf-apps") -> models.ActualLRPKey:
    return models.ActualLRPKey(process_guid=process_guid, index=index, domain=domain)


@pytest.fixture
def bbs() -> Iterator[FakeBBS]:
    fake = FakeBBS()
    yield fake
    assert fake.wait_for_outbound(TIMEOUT)
    fake.check()


@pytest.fixture
def client(bbs: FakeBBS) -> Iterator[BBSClient]:
    with bbs.client() as c:
        yield c


def running(bbs: FakeBBS, guid: str, index: int) -> models.ActualLRP:
    (row,) = [r for r in bbs.client().actual_lrps(process_guid=guid, index=index)]
    return row


# -- recording: the rep ----------------------------------------------------------------------


def test_retiring_a_running_instance_asks_its_cell_to_stop_it(
    bbs: FakeBBS, client: BBSClient
) -> None:
    cell = bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=2, running=2)
    instance = running(bbs, "web", 1).actual_lrp_instance_key.instance_guid

    client.retire_actual_lrp(key("web", 1), trace_id="t-1")

    (call,) = bbs.rep_calls.assert_called(
        "StopLRPInstance", times=1, where={"process_guid": "web", "index": 1}
    )
    assert call.cell_id == "cell-1"
    assert (call.method, call.path, call.body) == (
        "POST",
        f"/v1/lrps/web/instances/{instance}/stop",
        "",
    )
    assert call.request == {"process_guid": "web", "instance_guid": instance, "index": 1}
    assert call.url == cell.rep_url + call.path
    assert call.trace_id == "t-1"
    assert (call.sent, call.error, call.outcome) == (False, None, "not sent")
    assert len(bbs.client().actual_lrps(process_guid="web")) == 2  # the rep removes it


def test_retiring_on_an_unknown_cell_or_an_unclaimed_instance_calls_no_rep(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.desired_lrp("web", instances=2, running=1)  # cell-1 is not registered
    client.retire_actual_lrp(key("web", 0))
    client.retire_actual_lrp(key("web", 1))
    bbs.rep_calls.assert_not_called("*")
    assert bbs.client().actual_lrps(process_guid="web") == []


def test_removing_a_desired_lrp_stops_its_claimed_and_running_instances(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=4, running=1, claimed=1)
    client.remove_desired_lrp("web")
    calls = bbs.rep_calls.assert_called("StopLRPInstance", times=2)
    assert sorted(c.request["index"] for c in calls) == [0, 1]


def test_scaling_down_stops_only_the_instances_above_the_new_count(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=3, running=3)
    client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=1))
    calls = bbs.rep_calls.assert_called("StopLRPInstance", times=2)
    assert sorted(c.request["index"] for c in calls) == [1, 2]
    bbs.rep_calls.assert_not_called("StopLRPInstance", where={"index": 0})


def test_changing_internal_routes_sends_each_instance_its_update_as_json(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=2, running=1, claimed=1, domain="apps")
    update = models.DesiredLRPUpdate()
    update.routes.routes["internal-router"] = b'[{"hostname": "a.apps.internal", "x": 1}]'
    client.update_desired_lrp("web", update)

    calls = bbs.rep_calls.assert_called("UpdateLRPInstance", times=2)
    first = next(c for c in calls if c.request["index"] == 0)
    guid = running(bbs, "web", 0).actual_lrp_instance_key.instance_guid
    assert (first.method, first.path) == ("PUT", f"/v2/lrps/web/instances/{guid}")
    assert first.body == (
        f'{{"instance_guid":"{guid}","process_guid":"web","index":0,"domain":"apps",'
        '"internal_routes":[{"hostname":"a.apps.internal"}],"metric_tags":null}'
    )


def test_changing_metric_tags_resolves_the_dynamic_ones_per_instance(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=2, running=2)
    update = models.DesiredLRPUpdate()
    update.metric_tags["source_id"].static = "web"
    update.metric_tags["idx"].dynamic = models.MetricTagValue.INDEX
    update.metric_tags["guid"].dynamic = models.MetricTagValue.INSTANCE_GUID
    client.update_desired_lrp("web", update)

    for index in (0, 1):
        guid = running(bbs, "web", index).actual_lrp_instance_key.instance_guid
        (call,) = bbs.rep_calls.to("UpdateLRPInstance", where={"index": index})
        assert call.request["metric_tags"] == {"guid": guid, "idx": str(index), "source_id": "web"}
        assert call.request["internal_routes"] is None
        assert call.body.endswith(
            f'"metric_tags":{{"guid":"{guid}","idx":"{index}","source_id":"web"}}}}'
        )


def test_an_update_that_changes_neither_routes_nor_tags_sends_nothing(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=1, running=1)
    update = models.DesiredLRPUpdate(annotation="new")
    update.metric_tags["source_id"].static = "web"  # the tags it has already
    client.update_desired_lrp("web", update)
    bbs.rep_calls.assert_not_called("*")


def test_cancelling_a_running_task_cancels_it_on_its_cell(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.task("t-run", state="RUNNING", cell_id="cell-1")
    bbs.seed.task("t-pending")
    client.cancel_task("t-run")
    client.cancel_task("t-pending")
    (call,) = bbs.rep_calls.assert_called("CancelTaskOnRep", times=1)
    assert (call.method, call.path, call.body, call.cell_id) == (
        "POST",
        "/v1/tasks/t-run/cancel",
        "",
        "cell-1",
    )


# -- recording: the auctioneer ---------------------------------------------------------------


def test_desiring_an_lrp_asks_the_auctioneer_to_place_every_index(
    bbs: FakeBBS, client: BBSClient
) -> None:
    lrp = models.DesiredLRP(
        process_guid="web",
        domain="apps",
        root_fs="preloaded:cflinuxfs4",
        instances=3,
        memory_mb=256,
        disk_mb=1024,
        max_pids=10,
        PlacementTags=["red"],
        action=models.Action(run_action=models.RunAction(path="/bin/true", user="vcap")),
    )
    lrp.metric_tags["source_id"].static = "web"
    client.desire_lrp(lrp, trace_id="t-9")
    (call,) = bbs.auctioneer_calls.assert_called("RequestLRPAuctions", times=1)
    assert (call.method, call.path, call.trace_id) == ("POST", "/v1/lrps", "t-9")
    assert call.body == (
        '[{"process_guid":"web","domain":"apps","indices":[0,1,2],"PlacementTags":["red"],'
        '"VolumeDrivers":[],"RootFs":"preloaded:cflinuxfs4","MemoryMB":256,"DiskMB":1024,'
        '"MaxPids":10}]'
    )
    bbs.auctioneer_calls.assert_called("RequestLRPAuctions", where={"indices": [0, 1, 2]})


def test_scaling_up_asks_for_the_new_indices_only(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.seed.desired_lrp("web", instances=3)
    client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=5))
    bbs.auctioneer_calls.assert_called(
        "RequestLRPAuctions", times=1, where={"process_guid": "web", "indices": [3, 4]}
    )


def test_a_crash_that_restarts_at_once_is_auctioned_and_a_third_is_not(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.desired_lrp("web", instances=1)
    for crash in range(1, 4):
        instance = models.ActualLRPInstanceKey(instance_guid=f"i-{crash}", cell_id="cell-1")
        client.claim_actual_lrp(key("web", 0), instance)
        client.crash_actual_lrp(key("web", 0), instance, "boom")
        expected = min(crash, 2)
        bbs.auctioneer_calls.assert_called("RequestLRPAuctions", times=expected)


def test_evacuating_a_running_instance_auctions_its_replacement(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=1, running=1)
    row = running(bbs, "web", 0)
    keep = client.evacuate_running_actual_lrp(
        row.actual_lrp_key, row.actual_lrp_instance_key, row.actual_lrp_net_info
    )
    assert keep
    bbs.auctioneer_calls.assert_called("RequestLRPAuctions", times=1, where={"indices": 0})


def volume_drivers(bbs: FakeBBS) -> list[object]:
    """The raw ``VolumeDrivers`` of every LRP start request sent so far, as Go wrote them."""
    calls = bbs.auctioneer_calls.to("RequestLRPAuctions")
    return [start["VolumeDrivers"] for call in calls for start in json.loads(call.body)]


def test_start_requests_built_from_the_desired_lrp_in_hand_list_no_volume_drivers(
    bbs: FakeBBS, client: BBSClient
) -> None:
    """Desire and scale-up build the scheduling info from the request (``DriverNames =
    []string{}``): an empty list."""
    client.desire_lrp(desired_lrp("web", instances=1))
    client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=2))
    assert volume_drivers(bbs) == [[], []]


def test_start_requests_read_back_from_the_database_have_null_volume_drivers(
    bbs: FakeBBS, client: BBSClient
) -> None:
    """A crash restart and an evacuation read the scheduling info back: the empty list did not
    survive the database, so Go writes null."""
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=2, running=2)
    crashing = running(bbs, "web", 0)
    client.crash_actual_lrp(crashing.actual_lrp_key, crashing.actual_lrp_instance_key, "boom")
    evacuating = running(bbs, "web", 1)
    client.evacuate_running_actual_lrp(
        evacuating.actual_lrp_key,
        evacuating.actual_lrp_instance_key,
        evacuating.actual_lrp_net_info,
    )
    assert volume_drivers(bbs) == [None, None]


def test_start_requests_name_the_drivers_of_volume_mounts_either_way(
    bbs: FakeBBS, client: BBSClient
) -> None:
    lrp = desired_lrp("web", instances=1)
    lrp.volume_mounts.add(driver="nfs", container_dir="/data", mode="rw")
    client.desire_lrp(lrp)
    instance = models.ActualLRPInstanceKey(instance_guid="i-1", cell_id="cell-1")
    client.claim_actual_lrp(key("web", 0), instance)
    client.crash_actual_lrp(key("web", 0), instance, "boom")
    assert volume_drivers(bbs) == [["nfs"], ["nfs"]]


def test_desiring_a_task_asks_the_auctioneer_to_place_it(bbs: FakeBBS, client: BBSClient) -> None:
    definition = models.TaskDefinition(
        root_fs="docker:///busybox",
        memory_mb=64,
        disk_mb=128,
        action=models.Action(run_action=models.RunAction(path="/bin/true", user="root")),
    )
    client.desire_task("t-1", "tasks", definition)
    (call,) = bbs.auctioneer_calls.assert_called("RequestTaskAuctions", times=1)
    assert (call.method, call.path) == ("POST", "/v1/tasks")
    assert call.body == (
        '[{"TaskGuid":"t-1","Domain":"tasks","PlacementTags":null,"VolumeDrivers":[],'
        '"RootFs":"docker:///busybox","MemoryMB":64,"DiskMB":128,"MaxPids":0,'
        '"state":"Invalid","failed":false}]'
    )


def test_convergence_auctions_missing_instances_and_pending_tasks(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("web", instances=2)
    seeded = bbs.snapshot()
    rows = {key: row for key, row in seeded.actual_lrps.items() if key.index != 1}
    bbs.restore(Snapshot(seeded.desired_lrps, rows, seeded.tasks, seeded.domains, seeded.cells))
    bbs.seed.task("t-pending")
    bbs.converge()
    bbs.auctioneer_calls.assert_called(
        "RequestLRPAuctions", times=1, where={"process_guid": "web", "indices": [1]}
    )
    bbs.auctioneer_calls.assert_called(
        "RequestTaskAuctions", times=1, where={"TaskGuid": "t-pending"}
    )


def test_an_unknown_call_name_or_field_is_an_error_at_once(bbs: FakeBBS) -> None:
    with pytest.raises(ValueError, match="StopLRPInstance"):
        bbs.rep_calls.to("StopLRPInstances")
    with pytest.raises(ValueError, match="no field 'indexes'"):
        bbs.auctioneer_calls.to("RequestLRPAuctions", where={"indexes": 1})


def test_a_wait_reports_the_near_misses(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.seed.desired_lrp("web", instances=1)
    where = {"process_guid": "x"}
    with pytest.raises(AssertionError, match="no calls were recorded"):
        bbs.auctioneer_calls.wait_for("RequestLRPAuctions", timeout=0.01, where=where)
    client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=2))
    with pytest.raises(AssertionError, match="near misses") as info:
        bbs.auctioneer_calls.wait_for("RequestLRPAuctions", timeout=0.01, where=where)
    assert "process_guid: expected 'x', got ['web']" in str(info.value)


def test_reset_forgets_the_recorded_calls(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("web", instances=1)
    with bbs.client() as c:
        c.update_desired_lrp("web", models.DesiredLRPUpdate(instances=2))
    assert len(bbs.auctioneer_calls) == 1
    bbs.reset()
    assert len(bbs.auctioneer_calls) == 0


# -- failures injected with the fixture API --------------------------------------------------


def test_a_rep_that_fails_every_stop_fails_the_retire_after_five_attempts(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=1, running=1)
    bbs.fail("StopLRPInstance", faults.status(500))
    with pytest.raises(
        errors.UnknownError, match=r"http error: status code 500 \(Internal Server Error\)"
    ):
        client.retire_actual_lrp(key("web", 0))
    calls = bbs.rep_calls.assert_called("StopLRPInstance", times=RETIRE_ATTEMPTS)
    assert [c.attempt for c in calls] == [1, 2, 3, 4, 5]
    assert all(c.status == 500 and c.fault is not None for c in calls)


def test_a_stop_that_succeeds_at_the_last_attempt_retires(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=1, running=1)
    rule = bbs.fail("StopLRPInstance", faults.reset_connection(), times=RETIRE_ATTEMPTS - 1)
    client.retire_actual_lrp(key("web", 0))
    assert rule.hits == RETIRE_ATTEMPTS - 1
    assert "connection reset by peer" in str(bbs.rep_calls[0].error)
    assert bbs.rep_calls.last.error is None


def test_a_failed_stop_after_a_removal_or_a_failed_auction_changes_no_answer(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=2, running=1)
    bbs.fail(["StopLRPInstance", "RequestLRPAuctions"], faults.close_connection())
    client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=3))
    client.remove_desired_lrp("web")
    assert bbs.auctioneer_calls.last.error is not None
    assert bbs.rep_calls.last.error is not None
    assert [r.state for r in bbs.client().actual_lrps(process_guid="web")] == ["RUNNING"]


def test_a_fault_rule_for_the_calls_takes_transport_faults_only(bbs: FakeBBS) -> None:
    with pytest.raises(TypeError, match="HTTP statuses"):
        bbs.fail("CancelTaskOnRep", errors.ResourceNotFound())
    with pytest.raises(ValueError, match="not both"):
        bbs.fail(["CancelTaskOnRep", "DesireTask"], faults.status(500))


def test_a_fault_rule_can_look_into_the_body(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=2, running=2)
    bbs.fail("StopLRPInstance", faults.status(503), where={"index": 1})
    client.retire_actual_lrp(key("web", 0))
    with pytest.raises(errors.UnknownError):
        client.retire_actual_lrp(key("web", 1))


# -- sending ---------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Stub:
    """A small rep or auctioneer: records what it receives, answers ``status``."""

    status: int = 202
    received: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    answer: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.answer.set()  # clear it to hold the answers back

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        with self.arrived:
            self.received.append(
                Received(
                    request.method,
                    request.path,
                    request.get_data(),
                    dict(request.headers),
                )
            )
            self.arrived.notify_all()
        assert self.answer.wait(TIMEOUT)
        return Response("", status=self.status)(environ, start_response)

    def wait(self, count: int) -> list[Received]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, TIMEOUT)
            return list(self.received)


def refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_stops_go_to_the_cells_rep_over_http(client_with_rep: tuple[FakeBBS, Stub]) -> None:
    bbs, rep = client_with_rep
    bbs.seed.desired_lrp("web", instances=1, running=1)
    guid = running(bbs, "web", 0).actual_lrp_instance_key.instance_guid
    with bbs.client() as c:
        c.retire_actual_lrp(key("web", 0), trace_id="t-7")
    (got,) = rep.wait(1)
    assert (got.method, got.path, got.body) == ("POST", f"/v1/lrps/web/instances/{guid}/stop", b"")
    assert got.headers.get("X-Vcap-Request-Id") == "t-7"
    call = bbs.rep_calls.last
    assert (call.sent, call.status, call.error) == (True, 202, None)


def test_a_rep_answering_an_error_fails_the_retire(client_with_rep: tuple[FakeBBS, Stub]) -> None:
    bbs, rep = client_with_rep
    rep.status = 500
    bbs.seed.desired_lrp("web", instances=1, running=1)
    with bbs.client() as c, pytest.raises(errors.UnknownError, match="status code 500"):
        c.retire_actual_lrp(key("web", 0))
    assert len(rep.wait(RETIRE_ATTEMPTS)) == RETIRE_ATTEMPTS


def test_a_rep_that_cannot_be_reached_fails_the_retire() -> None:
    bbs = FakeBBS(call_reps=True)
    url = refused_url()
    bbs.seed.cell("cell-1", rep_url=url, rep_address=url)
    bbs.seed.desired_lrp("web", instances=1, running=1)
    with bbs.client() as c, pytest.raises(errors.UnknownError, match="connection refused"):
        c.retire_actual_lrp(key("web", 0))
    assert bbs.rep_calls.last.error == (
        f'Post "{bbs.rep_calls.last.url}": connect: connection refused'
    )


def test_an_https_rep_without_client_certificates_is_not_called() -> None:
    bbs = FakeBBS(call_reps=True)
    bbs.seed.cell("cell-1")  # its rep_url is https
    bbs.seed.desired_lrp("web", instances=1, running=1)
    with (
        bbs.client() as c,
        pytest.raises(errors.UnknownError, match="certificates aren't provided"),
    ):
        c.retire_actual_lrp(key("web", 0))


def test_updates_are_sent_in_the_background(client_with_rep: tuple[FakeBBS, Stub]) -> None:
    bbs, rep = client_with_rep
    bbs.seed.desired_lrp("web", instances=1, running=1)
    update = models.DesiredLRPUpdate()
    update.routes.routes["internal-router"] = b'[{"hostname":"a.internal"}]'
    with bbs.client() as c:
        c.update_desired_lrp("web", update)
    (got,) = rep.wait(1)
    assert got.method == "PUT"
    assert got.headers["Content-Type"] == "application/json"
    assert json.loads(got.body)["internal_routes"] == [{"hostname": "a.internal"}]
    assert bbs.wait_for_outbound(TIMEOUT)
    bbs.rep_calls.wait_for("UpdateLRPInstance", where={"index": 0})


def test_a_scale_down_answers_before_its_stops_are_made(
    client_with_rep: tuple[FakeBBS, Stub],
) -> None:
    bbs, rep = client_with_rep
    bbs.seed.desired_lrp("web", instances=2, running=2)
    rep.answer.clear()
    with bbs.client() as c:
        c.update_desired_lrp("web", models.DesiredLRPUpdate(instances=0))
    rep.wait(1)  # the rep has the first stop, and has not answered it
    assert len(bbs.rep_calls) == 0
    rep.answer.set()
    assert bbs.wait_for_outbound(TIMEOUT)
    assert [c.status for c in bbs.rep_calls] == [202, 202]


def test_an_old_rep_gets_the_update_again_on_the_v1_route(
    client_with_rep: tuple[FakeBBS, Stub],
) -> None:
    bbs, rep = client_with_rep
    rep.status = 404
    bbs.seed.desired_lrp("web", instances=1, running=1)
    update = models.DesiredLRPUpdate()
    update.routes.routes["internal-router"] = b"[]"
    update.metric_tags["source_id"].static = "other"
    with bbs.client() as c:
        c.update_desired_lrp("web", update)
    v2, v1 = rep.wait(2)
    assert v2.path.startswith("/v2/lrps/web/") and v1.path.startswith("/v1/lrps/web/")
    assert json.loads(v2.body)["metric_tags"] == {"source_id": "other"}
    assert json.loads(v1.body)["metric_tags"] is None
    assert json.loads(v1.body)["internal_routes"] == []


@pytest.fixture
def client_with_rep() -> Iterator[tuple[FakeBBS, Stub]]:
    rep = Stub()
    with Server(rep) as server:
        bbs = FakeBBS(call_reps=True)
        bbs.seed.cell("cell-1", rep_url=server.url, rep_address=server.url)
        yield bbs, rep
        assert bbs.wait_for_outbound(TIMEOUT)
        bbs.check()


def test_start_requests_go_to_the_auctioneer_over_http() -> None:
    auctioneer = Stub()
    with Server(auctioneer) as server:
        bbs = FakeBBS(auctioneer_url=server.url)
        bbs.seed.desired_lrp("web", instances=1)
        with bbs.client() as c:
            c.update_desired_lrp("web", models.DesiredLRPUpdate(instances=2), trace_id="t-3")
        # Made before the update answered, as upstream asks the auctioneer inline.
        (got,) = auctioneer.received
        assert len(bbs.auctioneer_calls) == 1
    assert (got.method, got.path) == ("POST", "/v1/lrps")
    assert got.headers["X-Vcap-Request-Id"] == "t-3"
    assert json.loads(got.body)[0]["indices"] == [1]
    assert got.body.decode() == bbs.auctioneer_calls.last.body
    assert bbs.auctioneer_calls.last.status == 202


def write_identity(
    ca: trustme.CA, tmp_path: Path, name: str, *, trusting: trustme.CA | None = None
) -> ClientTLS:
    """Files for a client certificate issued by ``ca``, trusting ``trusting`` (default:
    ``ca``) to verify servers."""
    cert = ca.issue_cert(name)
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "c.pem", tmp_path / "k.pem"
    (trusting or ca).cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return ClientTLS(str(ca_file), str(cert_file), str(key_file))


def mutual_tls_server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    context.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(context)
    return context


def test_reps_and_the_auctioneer_are_called_over_mutual_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    tls = write_identity(ca, tmp_path, "bbs.service.cf.internal")
    rep, auctioneer = Stub(), Stub()
    context = mutual_tls_server_context(ca)
    with (
        Server(rep, ssl_context=context) as rep_server,
        Server(auctioneer, ssl_context=context) as auctioneer_server,
    ):
        bbs = FakeBBS(
            call_reps=True,
            rep_tls=tls,
            auctioneer_url=auctioneer_server.url,
            auctioneer_tls=tls,
        )
        assert rep_server.url.startswith("https://")
        bbs.seed.cell("cell-1", rep_url=rep_server.url, rep_address="http://unused:1800")
        bbs.seed.task("t-1", state="RUNNING", cell_id="cell-1")
        with bbs.client() as c:
            c.cancel_task("t-1")
            c.desire_task(
                "t-2",
                "tasks",
                models.TaskDefinition(
                    root_fs="docker:///busybox",
                    action=models.Action(
                        run_action=models.RunAction(path="/bin/true", user="root")
                    ),
                ),
            )
        (cancel,) = rep.wait(1)
        (task,) = auctioneer.wait(1)
        assert bbs.wait_for_outbound(TIMEOUT)
    assert (cancel.method, cancel.path) == ("POST", "/v1/tasks/t-1/cancel")
    assert json.loads(task.body)[0]["TaskGuid"] == "t-2"
    assert bbs.rep_calls.last.error is None and bbs.auctioneer_calls.last.error is None


def test_a_rep_refusing_the_client_certificate_fails_the_retire(tmp_path: Path) -> None:
    ca = trustme.CA()
    stranger = write_identity(trustme.CA(), tmp_path, "stranger", trusting=ca)
    rep = Stub()
    with Server(rep, ssl_context=mutual_tls_server_context(ca)) as server:
        bbs = FakeBBS(call_reps=True, rep_tls=stranger)
        bbs.seed.cell("cell-1", rep_url=server.url)
        bbs.seed.desired_lrp("web", instances=1, running=1)
        with bbs.client() as c, pytest.raises(errors.UnknownError):
            c.retire_actual_lrp(key("web", 0))
    assert rep.received == []
    assert len(bbs.rep_calls) == RETIRE_ATTEMPTS
    assert all(call.sent and call.status == 0 for call in bbs.rep_calls)


def test_a_rep_the_bbs_does_not_trust_is_not_told_anything(tmp_path: Path) -> None:
    ca = trustme.CA()
    trusting_another = write_identity(ca, tmp_path, "bbs", trusting=trustme.CA())
    rep = Stub()
    with Server(rep, ssl_context=mutual_tls_server_context(ca)) as server:
        bbs = FakeBBS(call_reps=True, rep_tls=trusting_another)
        bbs.seed.cell("cell-1", rep_url=server.url)
        bbs.seed.desired_lrp("web", instances=1, running=1)
        with bbs.client() as c, pytest.raises(errors.UnknownError, match="CERTIFICATE_VERIFY"):
            c.retire_actual_lrp(key("web", 0))
    assert rep.received == []


# -- the admin API ---------------------------------------------------------------------------


def test_the_admin_api_lists_waits_for_and_fails_the_calls_made() -> None:
    from werkzeug.test import Client

    from fakebbs._standalone.served import served_namespaces

    spaces = served_namespaces()
    admin = Client(spaces)
    fake = spaces.get("").fake
    fake.seed.cell("cell-1")
    fake.seed.desired_lrp("web", instances=2, running=2)
    added = admin.post(
        "/fakebbs/v1/faults",
        json={"route": "StopLRPInstance", "fault": {"kind": "status", "code": 500}, "times": 5},
    )
    assert added.status_code == 200, added.get_data(as_text=True)
    with BBSClient.in_process(spaces) as c:
        with pytest.raises(errors.UnknownError):
            c.retire_actual_lrp(key("web", 1))
        c.update_desired_lrp("web", models.DesiredLRPUpdate(instances=3))

    listed = admin.get(
        "/fakebbs/v1/rep_calls", query_string={"where": '{"index": 1}', "limit": "2"}
    ).json
    assert listed is not None
    assert [(c["route"], c["status"], c["attempt"]) for c in listed["calls"]] == [
        ("StopLRPInstance", 500, 4),
        ("StopLRPInstance", 500, 5),
    ]
    assert listed["calls"][0]["fault"]["kind"] == "status"
    waited = admin.post(
        "/fakebbs/v1/auctioneer_calls/wait",
        json={"route": "RequestLRPAuctions", "where": {"indices": [2]}, "timeout": 1},
    )
    assert waited.status_code == 200, waited.get_data(as_text=True)
    assert waited.json is not None and waited.json["request"][0]["process_guid"] == "web"
    missing = admin.post(
        "/fakebbs/v1/auctioneer_calls/wait",
        json={"route": "RequestTaskAuctions", "timeout": 0.01},
    )
    assert missing.status_code == 408
    assert admin.delete("/fakebbs/v1/rep_calls").json == {"calls": [], "dropped": 0}
    assert len(fake.rep_calls) == 0
    bad = admin.get("/fakebbs/v1/rep_calls", query_string={"route": "StopLRP"})
    assert bad.status_code == 400


# -- the command line ------------------------------------------------------------------------


def test_serve_flags_configure_every_namespace(tmp_path: Path) -> None:
    from fakebbs import cli

    tls = write_identity(trustme.CA(), tmp_path, "bbs")
    args = cli._parser().parse_args(
        [
            "serve",
            "--call-reps",
            "--rep-require-tls",
            "--auctioneer-url",
            "http://127.0.0.1:9016",
            *("--rep-ca-cert", tls.ca_file, "--rep-client-cert", tls.cert_file),
            *("--rep-client-key", tls.key_file),
        ]
    )
    fake = cli._namespaces(args).get("team-a").fake
    assert fake._outbound.call_reps
    assert fake._outbound.auctioneer_url == "http://127.0.0.1:9016"
    assert fake._outbound.rep_tls == ClientTLS(tls.ca_file, tls.cert_file, tls.key_file, True)
    assert fake._outbound.auctioneer_tls is None
    plain = cli._namespaces(cli._parser().parse_args(["serve"])).get("").fake
    assert (plain._outbound.call_reps, plain._outbound.auctioneer_url) == (False, None)


def test_serve_refuses_half_a_set_of_tls_files(capsys: pytest.CaptureFixture[str]) -> None:
    from fakebbs import cli

    assert cli.main(["serve", "--port", "0", "--auctioneer-ca-cert", "ca.pem"]) == 2
    assert "--auctioneer-client-cert" in capsys.readouterr().err
    assert cli.main(["serve", "--port", "0", "--auctioneer-require-tls"]) == 2
    assert "--auctioneer-require-tls needs --auctioneer-ca-cert" in capsys.readouterr().err


def test_a_served_fake_sends_start_requests_to_the_auctioneer_it_is_given() -> None:
    import subprocess
    import sys

    auctioneer = Stub()
    with Server(auctioneer) as server:
        command = [sys.executable, "-m", "fakebbs", "serve", "--port", "0"]
        with subprocess.Popen(
            [*command, "--auctioneer-url", server.url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ) as proc:
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                url = line.rsplit(" ", 1)[-1].strip()
                assert url.startswith("http://127.0.0.1:"), line
                with BBSClient(url, timeout=TIMEOUT) as c:
                    c.desire_task(
                        "t-1",
                        "tasks",
                        models.TaskDefinition(
                            root_fs="docker:///busybox",
                            action=models.Action(
                                run_action=models.RunAction(path="/bin/true", user="root")
                            ),
                        ),
                    )
                (got,) = auctioneer.wait(1)
            finally:
                proc.terminate()
                proc.wait(TIMEOUT)
    assert (got.method, got.path) == ("POST", "/v1/tasks")
    assert json.loads(got.body)[0]["TaskGuid"] == "t-1"


def test_a_cancel_whose_rep_url_cannot_be_used_is_answered_with_that_error() -> None:
    bbs = FakeBBS(call_reps=True)
    bbs.seed.cell("cell-1")  # https rep URL, and no client certificates given
    bbs.seed.task("t-1", state="RUNNING", cell_id="cell-1")
    with bbs.client() as c:
        with pytest.raises(errors.UnknownError, match="certificates aren't provided"):
            c.cancel_task("t-1")
        assert c.task_by_guid("t-1").failure_reason == "task was cancelled"


def test_a_cancel_the_rep_refuses_still_succeeds(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.task("t-1", state="RUNNING", cell_id="cell-1")
    bbs.fail("CancelTaskOnRep", faults.status(500))
    client.cancel_task("t-1")
    assert bbs.rep_calls.last.error == "http error: status code 500 (Internal Server Error)"


def test_convergence_tells_reps_of_routes_and_tags_their_instances_missed(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp(
        "web", instances=2, routes={"internal-router": [{"hostname": "a.internal"}]}
    )
    net = models.ActualLRPNetInfo(address="10.0.0.1")
    for index, hostnames, tags in (
        (0, ["a.internal"], {"source_id": "web"}),  # as desired: nothing to tell
        (1, [], {"source_id": "old"}),
    ):
        instance = models.ActualLRPInstanceKey(instance_guid=f"i-{index}", cell_id="cell-1")
        client.start_actual_lrp(
            key("web", index),
            instance,
            net,
            internal_routes=[models.ActualLRPInternalRoute(hostname=h) for h in hostnames],
            metric_tags=tags,
        )
    bbs.converge()
    calls = bbs.rep_calls.assert_called("UpdateLRPInstance", times=2, where={"index": 1})
    assert {
        (json.dumps(c.request["internal_routes"]), json.dumps(c.request["metric_tags"]))
        for c in calls
    } == {
        ('[{"hostname": "a.internal"}]', "null"),
        ("null", '{"source_id": "web"}'),
    }
    bbs.rep_calls.assert_not_called("UpdateLRPInstance", where={"index": 0})


def test_a_cell_gone_between_stop_attempts_makes_the_retire_remove_the_row(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.cell("cell-1")
    bbs.seed.desired_lrp("web", instances=1, running=1)

    def cell_goes_away(request: object) -> bool:
        bbs.unregister_cell("cell-1")  # while the rep fails the first stop
        return True

    bbs.fail("StopLRPInstance", faults.status(500), times=1, where=cell_goes_away)
    client.retire_actual_lrp(key("web", 0))
    bbs.rep_calls.assert_called("StopLRPInstance", times=1)
    assert bbs.client().actual_lrps(process_guid="web") == []


@pytest.mark.parametrize("require", [False, True], ids=["fallback", "required"])
def test_an_auctioneer_failing_over_tls_is_asked_again_over_http_unless_tls_is_required(
    tmp_path: Path, require: bool
) -> None:
    tls = dataclasses.replace(write_identity(trustme.CA(), tmp_path, "bbs"), require=require)
    auctioneer = Stub()
    with Server(auctioneer) as server:  # plain HTTP only
        https_url = "https://" + server.url.removeprefix("http://")
        bbs = FakeBBS(auctioneer_url=https_url, auctioneer_tls=tls)
        bbs.seed.desired_lrp("web", instances=1)
        with bbs.client() as c:
            c.update_desired_lrp("web", models.DesiredLRPUpdate(instances=2))
    first, *rest = bbs.auctioneer_calls
    assert first.url.startswith("https://") and first.error is not None
    if require:
        assert rest == [] and auctioneer.received == []
    else:
        (again,) = rest
        assert again.url == server.url + "/v1/lrps"
        assert (again.status, again.error) == (202, None)
        assert [r.path for r in auctioneer.received] == ["/v1/lrps"]


def test_a_fault_rule_for_the_bbs_cancel_route_is_not_one_for_the_rep(bbs: FakeBBS) -> None:
    rule = bbs.fail("CancelTask", errors.ResourceNotFound())

    assert rule.matcher.routes == {"CancelTask"}  # the BBS route, answered inside its response
