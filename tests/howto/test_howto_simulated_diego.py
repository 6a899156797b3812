"""How to test against a BBS whose instances run: the simulated Diego's cells, reps and
auctioneer act on what the BBS asks of them."""

from __future__ import annotations

from fakebbs import BBSClient, FakeBBS, models


def web(instances: int) -> models.DesiredLRP:
    lrp = models.DesiredLRP(
        process_guid="web",
        domain="cf-apps",
        instances=instances,
        root_fs="preloaded:cflinuxfs4",
        memory_mb=256,
        disk_mb=512,
        ports=[8080],
        action=models.Action(run_action=models.RunAction(path="/bin/web", user="vcap")),
    )
    lrp.metric_tags["source_id"].static = "web"
    return lrp


def test_instances_are_placed_started_and_restarted(
    fakebbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    fakebbs.clock.freeze()
    fakebbs.diego.add_cell("cell-1", zone="z1", memory_mb=8192, disk_mb=16384, containers=250)
    fakebbs.diego.add_cell("cell-2", zone="z2")  # defaults for everything else
    fakebbs.diego.auto = True  # act as changes happen (off: fakebbs.diego.run_until_idle())

    fakebbs_client.desire_lrp(web(3))  # placed, claimed and started before this is answered
    rows = fakebbs_client.actual_lrps(process_guid="web")
    assert [r.state for r in rows] == ["RUNNING"] * 3
    assert {r.availability_zone for r in rows} == {"z1", "z2"}

    for _ in range(3):  # the cell's rep reports each crash; the BBS's restart policy decides
        fakebbs.diego.crash("web", 0, reason="out of memory")
    rows = fakebbs_client.actual_lrps(process_guid="web")
    assert [r.state for r in rows if r.actual_lrp_key.index == 0] == ["CRASHED"]
    fakebbs.clock.advance(30)  # the backoff passes; convergence (every 30 s) restarts it
    assert {r.state for r in fakebbs_client.actual_lrps(process_guid="web")} == {"RUNNING"}


def test_an_evacuated_cell_hands_its_instances_over(
    fakebbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    fakebbs.diego.add_cell("cell-1")
    fakebbs.diego.add_cell("cell-2")
    fakebbs.diego.auto = True
    fakebbs_client.desire_lrp(web(4))

    fakebbs.diego.evacuate_cell("cell-1")  # replacements placed, evacuating rows go as they run
    cells = {r.actual_lrp_instance_key.cell_id for r in fakebbs_client.actual_lrps()}
    assert cells == {"cell-2"}
