"""The simulated Diego (``bbs.diego``): cells, reps and an auctioneer acting on the fake."""

from __future__ import annotations

import gc
import json
import threading
import weakref
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from builders import desired_lrp
from fakebbs import FakeBBS, errors, faults, models
from fakebbs._diego.sim import YOUNG_COLLECTION_EVERY, _fewer_collections
from fakebbs.client import BBSClient, EventSource

UNCLAIMED, CLAIMED, RUNNING, CRASHED = "UNCLAIMED", "CLAIMED", "RUNNING", "CRASHED"
EVACUATING = models.ActualLRP.Presence.Value("EVACUATING")


@pytest.fixture
def bbs(fakebbs_in_process: FakeBBS) -> FakeBBS:
    fakebbs_in_process.clock.freeze()
    return fakebbs_in_process


@pytest.fixture
def client(bbs: FakeBBS) -> Iterator[BBSClient]:
    with bbs.client() as client:
        yield client


def two_zones(bbs: FakeBBS, **capacity: Any) -> None:
    bbs.diego.add_cell("cell-1", zone="z1", **capacity)
    bbs.diego.add_cell("cell-2", zone="z2", **capacity)
    bbs.diego.auto = True


def states(client: BBSClient, process_guid: str = "web") -> list[tuple[int, str, str]]:
    rows = client.actual_lrps(process_guid=process_guid)
    return sorted(
        (r.actual_lrp_key.index, r.state, r.actual_lrp_instance_key.cell_id) for r in rows
    )


def drain(events: EventSource) -> list[tuple[str, int, str, int]]:
    """The instance events so far: (kind, index, state, presence)."""
    seen: list[tuple[str, int, str, int]] = []
    while True:
        try:
            event = events.next(timeout=0.2)
        except TimeoutError:
            return seen
        name = type(event).__name__
        if name == "ActualLRPInstanceChangedEvent":
            lrp = event.actual_lrp_key, event.after.state, event.after.presence  # type: ignore[attr-defined]
            seen.append(("changed", lrp[0].index, lrp[1], lrp[2]))
        elif name in ("ActualLRPInstanceCreatedEvent", "ActualLRPInstanceRemovedEvent"):
            row = event.actual_lrp  # type: ignore[attr-defined]
            kind = "created" if "Created" in name else "removed"
            seen.append((kind, row.actual_lrp_key.index, row.state, row.presence))


def test_desired_instances_are_claimed_and_started_across_zones(
    bbs: FakeBBS, client: BBSClient
) -> None:
    two_zones(bbs)
    events = client.subscribe_to_instance_events()

    client.desire_lrp(desired_lrp("web", instances=3, ports=[8080]))

    rows = client.actual_lrps(process_guid="web")
    assert [r.state for r in rows] == [RUNNING] * 3
    assert {r.availability_zone for r in rows} == {"z1", "z2"}
    seen = drain(events)
    for index in range(3):
        assert [(kind, state) for kind, i, state, _ in seen if i == index] == [
            ("created", UNCLAIMED),
            ("changed", CLAIMED),
            ("changed", RUNNING),
        ]


def test_a_started_instance_carries_its_cells_net_info(bbs: FakeBBS, client: BBSClient) -> None:
    two_zones(bbs)
    client.desire_lrp(desired_lrp("web", instances=1, ports=[8080, 2222]))

    (row,) = client.actual_lrps(process_guid="web")
    (cell,) = [c for c in client.cells() if c.cell_id == row.actual_lrp_instance_key.cell_id]
    assert row.availability_zone == cell.zone
    assert row.actual_lrp_net_info.address
    assert row.actual_lrp_net_info.instance_address
    assert [p.container_port for p in row.actual_lrp_net_info.ports] == [8080, 2222]
    assert all(p.host_port > 60000 for p in row.actual_lrp_net_info.ports)
    assert row.metric_tags["source_id"] == "log-web"


def test_without_cells_nothing_runs(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.diego.auto = True
    client.desire_lrp(desired_lrp("web", instances=2))

    assert [s for _, s, _ in states(client)] == [UNCLAIMED, UNCLAIMED]
    assert len(bbs.diego.calls) == 0


def test_the_simulations_calls_are_journaled_apart_from_the_clients(
    bbs: FakeBBS, client: BBSClient
) -> None:
    two_zones(bbs)
    client.desire_lrp(desired_lrp("web", instances=1))

    bbs.calls.assert_not_called("ClaimActualLRP")
    bbs.diego.calls.assert_called("ClaimActualLRP", where={"process_guid": "web"})
    bbs.diego.calls.assert_called("StartActualLRP")


def test_cells_are_registered_presences(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.diego.add_cell("cell-1", zone="z9", memory_mb=4096, placement_tags=["gpu"])

    (cell,) = client.cells()
    assert (cell.cell_id, cell.zone, cell.capacity.memory_mb) == ("cell-1", "z9", 4096)
    assert list(cell.placement_tags) == ["gpu"]


def test_with_auto_off_work_waits_for_run_until_idle(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.diego.add_cell("cell-1")
    client.desire_lrp(desired_lrp("web", instances=2))
    assert [s for _, s, _ in states(client)] == [UNCLAIMED, UNCLAIMED]

    bbs.diego.run_until_idle()

    assert [s for _, s, _ in states(client)] == [RUNNING, RUNNING]


def test_what_fits_nowhere_gets_the_placement_error_until_a_cell_is_added(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.diego.add_cell("cell-1", memory_mb=1024)
    bbs.diego.auto = True

    client.desire_lrp(desired_lrp("web", instances=3, memory_mb=512))

    rows = sorted(client.actual_lrps(process_guid="web"), key=lambda r: r.actual_lrp_key.index)
    assert [r.state for r in rows] == [RUNNING, RUNNING, UNCLAIMED]
    assert rows[2].placement_error == "insufficient resources: memory"
    bbs.diego.calls.assert_called("FailActualLRP", where={"actual_lrp_key.index": 2})

    bbs.diego.add_cell("cell-2", memory_mb=1024)

    assert states(client)[2] == (2, RUNNING, "cell-2")


def test_a_freed_instance_makes_room_for_what_did_not_fit(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.diego.add_cell("cell-1", containers=1)
    bbs.diego.auto = True
    client.desire_lrp(desired_lrp("web", instances=1))
    client.desire_lrp(desired_lrp("api", instances=1))
    assert client.actual_lrps(process_guid="api")[0].placement_error == (
        "insufficient resources: containers"
    )

    client.remove_desired_lrp("web")

    assert states(client, "api") == [(0, RUNNING, "cell-1")]


def test_a_crash_loop_restarts_at_once_then_after_the_backoff(
    bbs: FakeBBS, client: BBSClient
) -> None:
    two_zones(bbs)
    client.desire_lrp(desired_lrp("web", instances=1))
    events = client.subscribe_to_instance_events()

    bbs.diego.crash("web", 0, reason="out of memory")
    bbs.diego.crash("web", 0, reason="out of memory")
    assert states(client)[0][1] == RUNNING  # crashes 1 and 2 restart at once

    bbs.diego.crash("web", 0, reason="out of memory")
    (row,) = client.actual_lrps(process_guid="web")
    assert (row.state, row.crash_count, row.crash_reason) == (CRASHED, 3, "out of memory")

    bbs.clock.advance(29)
    assert states(client)[0][1] == CRASHED
    bbs.clock.advance(1)  # the 30 s backoff has passed: convergence restarts it
    assert states(client)[0][1] == RUNNING
    changes = [state for kind, _, state, _ in drain(events) if kind == "changed"]
    assert changes[-2:] == [CLAIMED, RUNNING]


def test_crashing_an_instance_no_cell_runs_is_an_error(bbs: FakeBBS) -> None:
    bbs.diego.add_cell("cell-1")

    with pytest.raises(LookupError, match="web"):
        bbs.diego.crash("web", 0)


def test_an_evacuated_cells_instances_end_up_running_elsewhere(
    bbs: FakeBBS, client: BBSClient
) -> None:
    two_zones(bbs)
    client.desire_lrp(desired_lrp("web", instances=4))
    on_cell_1 = [i for i, _, cell in states(client) if cell == "cell-1"]
    events = client.subscribe_to_instance_events()

    bbs.diego.evacuate_cell("cell-1")

    rows = client.actual_lrps(process_guid="web")
    assert {(r.state, r.actual_lrp_instance_key.cell_id) for r in rows} == {(RUNNING, "cell-2")}
    assert all(r.presence != EVACUATING for r in rows)
    seen = drain(events)
    for index in on_cell_1:
        assert ("changed", index, RUNNING, EVACUATING) in seen
        assert ("removed", index, RUNNING, EVACUATING) in seen
    assert [c.cell_id for c in client.cells()] == ["cell-2"]
    bbs.diego.calls.assert_called("EvacuateRunningActualLRP")


def test_an_evacuating_instance_runs_until_its_replacement_does(
    bbs: FakeBBS, client: BBSClient
) -> None:
    two_zones(bbs)
    bbs.diego.timings(start=5)
    client.desire_lrp(desired_lrp("web", instances=1))
    bbs.clock.advance(5)
    (_, _, cell) = states(client)[0]

    bbs.diego.evacuate_cell(cell)
    rows = client.actual_lrps(process_guid="web")
    assert sorted((r.presence, r.state) for r in rows) == [(0, CLAIMED), (EVACUATING, RUNNING)]

    bbs.clock.advance(5)
    assert [(r.presence, r.state) for r in client.actual_lrps(process_guid="web")] == [(0, RUNNING)]


def test_a_removed_cells_instances_are_replaced_after_convergence(
    bbs: FakeBBS, client: BBSClient
) -> None:
    two_zones(bbs)
    client.desire_lrp(desired_lrp("web", instances=2))

    bbs.diego.remove_cell("cell-1")
    assert [c.cell_id for c in client.cells()] == ["cell-2"]
    bbs.clock.advance(30)

    rows = client.actual_lrps(process_guid="web")
    ordinary = [r for r in rows if r.presence == 0]
    assert {(r.state, r.actual_lrp_instance_key.cell_id) for r in ordinary} == {(RUNNING, "cell-2")}


def test_scaling_down_stops_and_removes_instances(bbs: FakeBBS, client: BBSClient) -> None:
    two_zones(bbs)
    client.desire_lrp(desired_lrp("web", instances=3))

    client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=1))

    assert [i for i, _, _ in states(client)] == [0]
    assert sum(len(c.lrps) for c in bbs.diego.cells()) == 1
    bbs.diego.calls.assert_called("RemoveActualLRP")


def test_timings_delay_running_and_stopping_on_the_clock(bbs: FakeBBS, client: BBSClient) -> None:
    two_zones(bbs)
    bbs.diego.timings(start=2.0, stop=0.5)
    client.desire_lrp(desired_lrp("web", instances=1))
    assert states(client)[0][1] == CLAIMED
    bbs.clock.advance(1.5)
    assert states(client)[0][1] == CLAIMED
    bbs.clock.advance(0.5)
    assert states(client)[0][1] == RUNNING

    client.remove_desired_lrp("web")
    assert len(client.actual_lrps(process_guid="web")) == 1  # the rep is still stopping it
    bbs.clock.advance(0.5)
    assert client.actual_lrps(process_guid="web") == []


def test_timings_reject_negative_seconds(bbs: FakeBBS) -> None:
    with pytest.raises(ValueError, match="start"):
        bbs.diego.timings(start=-1)


class Callbacks:
    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        self.arrived = threading.Condition()


@pytest.fixture
def callbacks() -> Iterator[tuple[str, Callbacks]]:
    box = Callbacks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with box.arrived:
                box.bodies.append(json.loads(body))
                box.arrived.notify_all()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/done", box
    server.shutdown()
    server.server_close()
    thread.join()


def task_definition(**fields: object) -> models.TaskDefinition:
    return models.TaskDefinition(
        root_fs="preloaded:cflinuxfs4",
        memory_mb=256,
        disk_mb=256,
        action=models.Action(run_action=models.RunAction(path="/bin/job", user="vcap")),
        **fields,  # type: ignore[arg-type]
    )


def test_a_task_runs_for_its_time_and_completes_with_its_outcome(
    bbs: FakeBBS, client: BBSClient, callbacks: tuple[str, Callbacks]
) -> None:
    url, box = callbacks
    two_zones(bbs)
    bbs.diego.timings(task=10.0)
    bbs.diego.task_outcome("t-*", failed=False, result="ok")

    client.desire_task("t-1", "cf-tasks", task_definition(completion_callback_url=url))
    task = client.task_by_guid("t-1")
    assert (models.Task.State.Name(task.state), task.cell_id) == ("Running", "cell-1")

    bbs.clock.advance(10)
    with box.arrived:
        assert box.arrived.wait_for(lambda: len(box.bodies) == 1, timeout=10)
    assert (box.bodies[0]["task_guid"], box.bodies[0]["result"]) == ("t-1", "ok")
    assert box.bodies[0]["failed"] is False
    assert bbs.diego.cells()[0].tasks == ()


def test_a_task_outcome_can_be_a_failure(bbs: FakeBBS, client: BBSClient) -> None:
    two_zones(bbs)
    bbs.diego.task_outcome(lambda guid: guid.endswith("-bad"), failed=True, failure_reason="boom")

    client.desire_task("t-bad", "cf-tasks", task_definition())
    client.desire_task("t-good", "cf-tasks", task_definition())

    bad, good = client.task_by_guid("t-bad"), client.task_by_guid("t-good")
    assert (bad.failed, bad.failure_reason) == (True, "boom")
    assert (good.failed, good.state) == (False, models.Task.State.Value("Completed"))


def test_the_garbage_collector_runs_less_often_while_the_simulation_works(
    bbs: FakeBBS, client: BBSClient
) -> None:
    while_working: list[int] = []

    def outcome(guid: str) -> bool:
        while_working.append(gc.get_threshold()[0])
        return True

    two_zones(bbs)
    bbs.diego.task_outcome(outcome)
    before = gc.get_threshold()

    client.desire_task("t-1", "cf-tasks", task_definition())

    assert while_working == [max(before[0], YOUNG_COLLECTION_EVERY)]
    assert gc.get_threshold() == before
    assert client.task_by_guid("t-1").state == models.Task.State.Value("Completed")


class Box:
    item: object = None


def test_the_garbage_collector_still_frees_cycles_during_long_work() -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    try:
        with _fewer_collections():
            cycle = Box()
            cycle.item = cycle  # garbage only the cyclic collector frees
            gone = weakref.finalize(cycle, lambda: None)
            del cycle
            kept: list[list[int]] = [[] for _ in range(YOUNG_COLLECTION_EVERY + 1)]  # they stay
            freed = not gone.alive
            del kept
    finally:
        gc.set_threshold(*before)

    assert freed


def test_overlapping_uses_restore_the_thresholds_once_the_last_ends() -> None:
    before = gc.get_threshold()
    first, second = _fewer_collections(), _fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to begin ends first (another namespace)
    still_eased = gc.get_threshold()
    second.__exit__(None, None, None)

    assert still_eased[0] == max(before[0], YOUNG_COLLECTION_EVERY)
    assert gc.get_threshold() == before


def test_a_task_that_fits_nowhere_is_failed_with_the_placement_error(
    bbs: FakeBBS, client: BBSClient
) -> None:
    two_zones(bbs, disk_mb=100)

    client.desire_task("t-1", "cf-tasks", task_definition())

    task = client.task_by_guid("t-1")
    assert (task.failed, task.failure_reason) == (True, "insufficient resources: disk")


def test_placement_tags_choose_the_cell(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.diego.add_cell("plain")
    bbs.diego.add_cell("gpu", placement_tags=["gpu"])
    bbs.diego.add_cell("maybe", optional_placement_tags=["ssd"])
    bbs.diego.auto = True

    client.desire_lrp(desired_lrp("ml", instances=1, PlacementTags=["gpu"]))
    client.desire_lrp(desired_lrp("db", instances=1, PlacementTags=["ssd"]))
    client.desire_lrp(desired_lrp("web", instances=3))
    client.desire_lrp(desired_lrp("x", instances=1, PlacementTags=["tpu", "fpga"]))

    assert states(client, "ml") == [(0, RUNNING, "gpu")]
    assert states(client, "db") == [(0, RUNNING, "maybe")]
    assert {cell for _, _, cell in states(client, "web")} == {"plain", "maybe"}
    (x,) = client.actual_lrps(process_guid="x")
    assert x.placement_error == 'found no compatible cell with placement tags "tpu" and "fpga"'


def test_the_root_filesystem_chooses_the_cell(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.diego.add_cell("fs4", rootfs_providers={"preloaded": ["cflinuxfs4"]})
    bbs.diego.add_cell("docker", rootfs_providers={"docker": []})
    bbs.diego.auto = True

    client.desire_lrp(desired_lrp("image", instances=1, root_fs="docker:///busybox"))
    client.desire_lrp(desired_lrp("stack", instances=1))
    client.desire_lrp(desired_lrp("old", instances=1, root_fs="preloaded:cflinuxfs3"))

    assert states(client, "image") == [(0, RUNNING, "docker")]
    assert states(client, "stack") == [(0, RUNNING, "fs4")]
    (old,) = client.actual_lrps(process_guid="old")
    assert old.placement_error == "found no compatible cell for required rootfs"


def test_volume_drivers_choose_the_cell(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.diego.add_cell("plain")
    bbs.diego.add_cell("nfs", volume_drivers=["nfsv3driver"])
    bbs.diego.auto = True
    mount = models.VolumeMount(driver="nfsv3driver", container_dir="/data", mode="rw")
    other = models.VolumeMount(driver="smbdriver", container_dir="/data", mode="rw")
    mount.shared.volume_id = other.shared.volume_id = "v1"

    client.desire_lrp(desired_lrp("files", instances=1, volume_mounts=[mount]))
    client.desire_lrp(desired_lrp("smb", instances=1, volume_mounts=[other]))

    assert states(client, "files") == [(0, RUNNING, "nfs")]
    (smb,) = client.actual_lrps(process_guid="smb")
    assert smb.placement_error == "found no compatible cell with required volume drivers"


def test_a_fault_on_start_leaves_the_instance_claimed_until_the_rep_tries_again(
    bbs: FakeBBS, client: BBSClient
) -> None:
    two_zones(bbs)
    bbs.fail("StartActualLRP", faults.reset_connection(), times=1)

    client.desire_lrp(desired_lrp("web", instances=1))
    assert states(client)[0][1] == CLAIMED
    assert bbs.diego.calls.last.fault is not None

    bbs.clock.advance(30)
    assert states(client)[0][1] == RUNNING


def test_a_bbs_error_on_claim_gives_the_container_up(bbs: FakeBBS, client: BBSClient) -> None:
    two_zones(bbs)
    bbs.fail("ClaimActualLRP", errors.ActualLRPCannotBeClaimed(), times=1)

    client.desire_lrp(desired_lrp("web", instances=1))

    assert states(client)[0][1] == UNCLAIMED
    assert sum(len(c.lrps) for c in bbs.diego.cells()) == 0


def test_a_held_claim_waits_for_its_release(bbs: FakeBBS, client: BBSClient) -> None:
    two_zones(bbs)
    with bbs.hold("ClaimActualLRP") as gate:
        client.desire_lrp(desired_lrp("web", instances=1))
        gate.wait_arrived()
        assert states(client)[0][1] == UNCLAIMED
    bbs.diego.run_until_idle()

    assert states(client)[0][1] == RUNNING


def test_the_seed_makes_placement_repeatable() -> None:
    def run(seed: int) -> list[tuple[str, int, str]]:
        fake = FakeBBS()
        fake.diego.seed = seed
        for n in range(4):
            fake.diego.add_cell(f"cell-{n}", zone=f"z{n % 2}")
        fake.diego.auto = True
        fake.client().desire_lrp(desired_lrp("web", instances=6))
        rows = fake.client().actual_lrps()
        return sorted(
            (r.actual_lrp_instance_key.instance_guid, r.actual_lrp_key.index, r.availability_zone)
            for r in rows
        )

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_cells_show_what_each_holds(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.diego.add_cell("cell-1", memory_mb=2048, disk_mb=4096, containers=10)
    bbs.diego.auto = True
    client.desire_lrp(desired_lrp("web", instances=2, memory_mb=256, disk_mb=1024))

    (cell,) = bbs.diego.cells()
    assert (cell.available_memory_mb, cell.available_disk_mb, cell.available_containers) == (
        1536,
        2048,
        8,
    )
    assert cell.lrps == (("web", 0, "running"), ("web", 1, "running"))


def test_adding_a_cell_twice_is_an_error(bbs: FakeBBS) -> None:
    bbs.diego.add_cell("cell-1")
    with pytest.raises(ValueError, match="already"):
        bbs.diego.add_cell("cell-1")


def test_reset_forgets_the_simulation(bbs: FakeBBS, client: BBSClient) -> None:
    two_zones(bbs)
    client.desire_lrp(desired_lrp("web", instances=1))

    bbs.reset()

    assert (bbs.diego.cells(), bbs.diego.auto, len(bbs.diego.calls)) == ([], False, 0)
    bbs.client().desire_lrp(desired_lrp("web", instances=1))
    assert [s for _, s, _ in states(bbs.client())] == [UNCLAIMED]


def test_with_the_clock_running_work_falls_due_in_the_background(
    fakebbs_in_process: FakeBBS,
) -> None:
    bbs = fakebbs_in_process  # its clock runs
    bbs.diego.add_cell("cell-1")
    bbs.diego.timings(start=0.05)
    bbs.diego.auto = True
    client = bbs.client()
    events = client.subscribe_to_instance_events()

    client.desire_lrp(desired_lrp("web", instances=1))

    while True:  # no sleeping: the stream says when the instance runs (or times out)
        event = events.next(timeout=10)
        if getattr(getattr(event, "after", None), "state", "") == RUNNING:
            break
    assert states(client) == [(0, RUNNING, "cell-1")]


def test_a_cancelled_task_frees_its_container(bbs: FakeBBS, client: BBSClient) -> None:
    two_zones(bbs)
    bbs.diego.timings(task=60)
    client.desire_task("t-1", "cf-tasks", task_definition())
    assert [c.tasks for c in bbs.diego.cells()] == [("t-1",), ()]

    client.cancel_task("t-1")

    assert [c.tasks for c in bbs.diego.cells()] == [(), ()]
    bbs.clock.advance(60)
    task = client.task_by_guid("t-1")
    assert (task.failed, task.failure_reason) == (True, "task was cancelled")


def test_an_evacuating_cell_lets_its_tasks_finish(bbs: FakeBBS, client: BBSClient) -> None:
    bbs.diego.add_cell("cell-1")
    bbs.diego.auto = True
    bbs.diego.timings(task=10)
    client.desire_task("t-1", "cf-tasks", task_definition())

    bbs.diego.evacuate_cell("cell-1")
    assert [c.evacuating for c in bbs.diego.cells()] == [True]
    bbs.clock.advance(10)

    assert client.task_by_guid("t-1").state == models.Task.State.Value("Completed")
    assert bbs.diego.cells() == [] and client.cells() == []


def test_a_failed_auction_request_is_placed_when_convergence_asks_again(
    bbs: FakeBBS, client: BBSClient
) -> None:
    two_zones(bbs)
    bbs.fail("RequestLRPAuctions", faults.status(500), times=1)

    client.desire_lrp(desired_lrp("web", instances=1))
    assert states(client)[0][1] == UNCLAIMED

    bbs.clock.advance(60)  # stale after 30 s: a convergence pass auctions it again
    assert states(client)[0][1] == RUNNING


def test_a_bbs_error_on_start_is_retried_by_the_rep(bbs: FakeBBS, client: BBSClient) -> None:
    two_zones(bbs)
    bbs.fail("StartActualLRP", errors.Unrecoverable("db down"), times=1)

    client.desire_lrp(desired_lrp("web", instances=1))
    assert states(client)[0][1] == CLAIMED

    bbs.clock.advance(30)
    assert states(client)[0][1] == RUNNING
