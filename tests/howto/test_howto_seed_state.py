"""How to put the fake in a known state, read it back, and reuse it across tests."""

from __future__ import annotations

from fakebbs import BBSClient, FakeBBS, models


def test_seed_a_known_state(fakebbs: FakeBBS, fakebbs_client: BBSClient) -> None:
    # One line per row, as the real lifecycle leaves them; any model field may be given.
    fakebbs.seed.domain("cf-apps", ttl=None)
    fakebbs.seed.cell("cell-1", zone="z1")
    fakebbs.seed.desired_lrp(
        "api", instances=3, running=2, crashed=1, cell_id="cell-1", memory_mb=512
    )
    fakebbs.seed.task("t-1", state="RUNNING", cell_id="cell-1")

    states = [lrp.state for lrp in fakebbs_client.actual_lrps(process_guid="api")]
    assert states == ["RUNNING", "RUNNING", "CRASHED"]
    assert fakebbs_client.desired_lrp_by_process_guid("api").memory_mb == 512
    assert fakebbs_client.task_by_guid("t-1").state == models.Task.Running


def test_seed_once_and_restore_for_each_case(fakebbs: FakeBBS) -> None:
    fakebbs.seed.desired_lrps(1_000, instances=2, running=2)
    seeded = fakebbs.snapshot()  # the whole state, read-only; milliseconds to take and restore

    with fakebbs.client() as client:
        client.remove_desired_lrp("app-000")
        assert len(client.desired_lrps()) == 999
        fakebbs.restore(seeded)  # one write: open event streams get what differs
        assert len(client.desired_lrps()) == 1_000
