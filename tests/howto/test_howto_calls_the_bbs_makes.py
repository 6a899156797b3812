"""How to check the calls the BBS makes to cells' reps and to the auctioneer."""

from __future__ import annotations

import pytest

from fakebbs import BBSClient, FakeBBS, errors, faults, models


def test_scaling_asks_the_auctioneer_and_the_reps(
    fakebbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    fakebbs.seed.cell("cell-1")
    fakebbs.seed.desired_lrp("web", instances=3, running=3)

    # Scaling to 5 asks the auctioneer to place indices 3 and 4...
    fakebbs_client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=5))
    fakebbs.auctioneer_calls.assert_called(
        "RequestLRPAuctions", times=1, where={"process_guid": "web", "indices": [3, 4]}
    )
    # ...and scaling to 1 asks cell-1's rep to stop indices 1 and 2 (the rows stay RUNNING
    # until the rep removes them).
    fakebbs_client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=1))
    stops = fakebbs.rep_calls.assert_called("StopLRPInstance", times=2)
    assert {(c.cell_id, c.request["index"]) for c in stops} == {("cell-1", 1), ("cell-1", 2)}
    assert stops[0].path.startswith("/v1/lrps/web/instances/")
    assert stops[0].outcome == "not sent"  # recorded only, unless FakeBBS(call_reps=True)


def test_a_rep_that_keeps_failing_makes_a_retire_fail(
    fakebbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    fakebbs.seed.cell("cell-1")
    fakebbs.seed.desired_lrp("web", instances=1, running=1)
    fakebbs.fail("StopLRPInstance", faults.status(500))  # answers in place of the rep
    key = models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps")
    with pytest.raises(errors.UnknownError, match="status code 500"):
        fakebbs_client.retire_actual_lrp(key)
    assert fakebbs.rep_calls.last.attempt == 5  # upstream's five attempts
