"""Tests of the rollout controller against fakebbs's simulated Diego: the plugin's fixtures
(``fakebbs``, ``fakebbs_client``) with cells added to ``fakebbs.diego``.

Run: python -m pytest examples/controller
"""

from __future__ import annotations

import threading

import pytest
from rollout import NotHealthy, Rollout

from fakebbs import FakeBBS, models
from fakebbs.client import BBSClient


def lrp(guid: str, instances: int = 1) -> models.DesiredLRP:
    run = models.Action(run_action=models.RunAction(path="/bin/app", user="vcap"))
    desired = models.DesiredLRP(
        process_guid=guid,
        domain="cf-apps",
        instances=instances,
        root_fs="preloaded:cflinuxfs4",
        memory_mb=256,
        disk_mb=512,
        ports=[8080],
        action=run,
    )
    desired.metric_tags["source_id"].static = guid
    return desired


@pytest.fixture
def bbs(fakebbs: FakeBBS) -> FakeBBS:
    """The plugin's fake with two simulated cells acting as changes happen."""
    fakebbs.diego.add_cell("cell-1", zone="z1")
    fakebbs.diego.add_cell("cell-2", zone="z2")
    fakebbs.diego.auto = True
    return fakebbs


def test_deploy_returns_once_every_instance_runs(bbs: FakeBBS, fakebbs_client: BBSClient) -> None:
    running = Rollout(fakebbs_client).deploy(lrp("web", instances=3))

    assert [r.actual_lrp_key.index for r in running] == [0, 1, 2]
    assert {r.availability_zone for r in running} == {"z1", "z2"}


def test_the_app_survives_a_cell_evacuation(bbs: FakeBBS, fakebbs_client: BBSClient) -> None:
    rollout = Rollout(fakebbs_client)
    rollout.deploy(lrp("web", instances=4))

    bbs.diego.evacuate_cell("cell-1")
    running = rollout.wait_healthy("web")

    assert {r.actual_lrp_instance_key.cell_id for r in running} == {"cell-2"}
    assert [c.cell_id for c in fakebbs_client.cells()] == ["cell-2"]


def test_deploy_waits_while_instances_start(bbs: FakeBBS, fakebbs_client: BBSClient) -> None:
    bbs.clock.freeze()
    bbs.diego.timings(start=20.0)
    result: list[object] = []
    rollout = Rollout(fakebbs_client)
    worker = threading.Thread(target=lambda: result.append(rollout.deploy(lrp("web", 2))))
    worker.start()
    bbs.calls.wait_for("DesireDesiredLRP")

    bbs.clock.advance(20)
    worker.join(timeout=10)

    assert len(result) == 1 and len(result[0]) == 2  # type: ignore[arg-type]


def test_deploy_gives_up_when_the_app_cannot_be_placed(
    bbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    big = lrp("big")
    big.memory_mb = 64 * 1024

    with pytest.raises(NotHealthy, match="UNCLAIMED"):
        Rollout(fakebbs_client, timeout=0.5).deploy(big)
    (row,) = fakebbs_client.actual_lrps(process_guid="big")
    assert row.placement_error == "insufficient resources: memory"
