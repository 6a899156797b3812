"""How to test what happens over time without sleeping: a frozen clock and convergence."""

from __future__ import annotations

from fakebbs import BBSClient, FakeBBS, models


def test_a_crashed_instance_restarts_after_its_backoff(
    fakebbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    fakebbs.seed.cell("cell-1")  # convergence treats instances on unknown cells as lost
    fakebbs.seed.desired_lrp("web", instances=1, domain="cf-apps")
    fakebbs.clock.freeze()
    key = models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps")
    cell = models.ActualLRPInstanceKey(instance_guid="i-1", cell_id="cell-1")
    for _ in range(3):  # crashes 1 and 2 restart at once, the third waits 30 s
        fakebbs_client.claim_actual_lrp(key, cell)
        fakebbs_client.crash_actual_lrp(key, cell, "out of memory")

    lrps, _ = fakebbs.converge()
    assert lrps.restarted_crashed == []  # still backing off
    fakebbs.clock.advance(31)
    lrps, _ = fakebbs.converge()
    assert lrps.restarted_crashed == [("web", 0)]


def test_a_domain_goes_stale_when_its_ttl_passes(
    fakebbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    fakebbs.clock.freeze()
    fakebbs.seed.domain("cf-apps", ttl=120)
    fakebbs.clock.advance(119)
    assert fakebbs_client.domains() == ["cf-apps"]
    fakebbs.clock.advance(2)
    assert fakebbs_client.domains() == []
