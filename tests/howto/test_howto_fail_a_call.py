"""How to make the fake fail a call: a BBS error inside the answer, or a broken transport."""

from __future__ import annotations

import pytest

from fakebbs import BBSClient, FakeBBS, errors, faults, models


def lrp(guid: str, instances: int = 1) -> models.DesiredLRP:
    run = models.Action(run_action=models.RunAction(path="/bin/app", user="vcap"))
    desired = models.DesiredLRP(
        process_guid=guid,
        domain="cf-apps",
        instances=instances,
        root_fs="preloaded:cflinuxfs4",
        action=run,
    )
    desired.metric_tags["source_id"].static = guid  # today's desire route requires tags
    return desired


def test_answer_with_a_bbs_error(fakebbs: FakeBBS, fakebbs_client: BBSClient) -> None:
    rule = fakebbs.fail(
        "DesireDesiredLRP",
        errors.ResourceConflict("already desired"),
        times=1,
        where={"desired_lrp.process_guid": "web"},
    )
    fakebbs_client.desire_lrp(lrp("api"))  # not matched: desired as usual
    with pytest.raises(errors.ResourceConflict):
        fakebbs_client.desire_lrp(lrp("web", instances=3))
    assert rule.hits == 1 and rule.exhausted
    fakebbs_client.desire_lrp(lrp("web", instances=3))  # times=1: the next one goes through


def test_break_the_transport_and_retry(fakebbs: FakeBBS) -> None:
    resets = fakebbs.fail("ActualLRPs", faults.reset_connection(), times=3)
    with fakebbs.client(retries=2, retry_interval=0) as client:  # 3 tries, as the Go client
        with pytest.raises(ConnectionError) as caught:
            client.actual_lrps()
    assert errors.is_retryable(caught.value)  # failed in transport: worth retrying
    assert resets.hits == 3 and resets.exhausted


def test_only_transport_failures_are_retryable(fakebbs: FakeBBS) -> None:
    fakebbs.fail("ActualLRPs", faults.status(503), times=1)
    fakebbs.fail("ActualLRPs", errors.Unrecoverable(), times=1)
    with fakebbs.client() as client:
        with pytest.raises(errors.InvalidResponse) as broken:
            client.actual_lrps()
        with pytest.raises(errors.Unrecoverable) as answered:
            client.actual_lrps()
    assert errors.is_retryable(broken.value)
    assert not errors.is_retryable(answered.value)  # the BBS answered: retrying will not help
