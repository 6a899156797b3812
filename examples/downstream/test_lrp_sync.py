"""Tests of the downstream sync loop, written the way a project using fakebbs writes them:
the plugin's fixtures (``fakebbs``, ``fakebbs_client``), faults, the journal and a held route.

Run: python -m pytest examples/downstream
"""

from __future__ import annotations

import threading

import pytest
from lrp_sync import sync

from fakebbs import FakeBBS, errors, faults, models
from fakebbs.client import BBSClient


def lrp(guid: str, instances: int = 1) -> models.DesiredLRP:
    run = models.Action(run_action=models.RunAction(path="/bin/app", user="vcap"))
    desired = models.DesiredLRP(
        process_guid=guid,
        domain="cf-apps",
        instances=instances,
        root_fs="preloaded:cflinuxfs4",
        action=run,
    )
    desired.metric_tags["source_id"].static = guid
    return desired


def test_sync_desires_scales_and_removes(fakebbs: FakeBBS, fakebbs_client: BBSClient) -> None:
    fakebbs.seed.desired_lrp("web", instances=1)
    fakebbs.seed.desired_lrp("stale")

    result = sync(fakebbs_client, [lrp("web", instances=3), lrp("api")])

    assert (result.desired, result.scaled, result.removed) == (["api"], ["web"], ["stale"])
    instances = {lrp.process_guid: lrp.instances for lrp in fakebbs_client.desired_lrps()}
    assert instances == {"web": 3, "api": 1}
    fakebbs.calls.assert_called("UpdateDesireLRP", times=1, where={"update.instances": 3})


def test_sync_retries_a_deadlock_once_and_succeeds(
    fakebbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    fakebbs.fail("DesireDesiredLRP", errors.Deadlock("try again"), times=1)

    sync(fakebbs_client, [lrp("web")])

    calls = fakebbs.calls.assert_called(
        "DesireDesiredLRP", times=2, where={"desired_lrp.process_guid": "web"}
    )
    assert isinstance(calls[0].error, errors.Deadlock) and calls[1].error is None


def test_sync_gives_up_after_three_attempts(fakebbs: FakeBBS, fakebbs_client: BBSClient) -> None:
    fakebbs.fail("DesireDesiredLRP", errors.Deadlock())

    with pytest.raises(errors.Deadlock):
        sync(fakebbs_client, [lrp("web")])
    fakebbs.calls.assert_called("DesireDesiredLRP", times=3)


def test_a_dropped_connection_is_retried_by_the_client(fakebbs: FakeBBS) -> None:
    fakebbs.fail("DesiredLRPs", faults.reset_connection(), times=2)

    with fakebbs.client(retries=2, retry_interval=0) as bbs:
        assert sync(bbs, [lrp("web")]).desired == ["web"]
    fakebbs.calls.assert_called("DesiredLRPs", times=3)


def test_an_lrp_desired_by_someone_else_meanwhile_counts_as_done(fakebbs: FakeBBS) -> None:
    results = []

    def run_sync() -> None:
        with fakebbs.client() as bbs:
            results.append(sync(bbs, [lrp("web")]))

    with fakebbs.hold("DesireDesiredLRP") as gate:
        thread = threading.Thread(target=run_sync)
        thread.start()
        gate.wait_arrived(timeout=5)  # sync found no "web" and its desire is in, unanswered
        fakebbs.seed.desired_lrp("web")  # someone else desires it meanwhile
        gate.release()
        thread.join(timeout=5)

    [result] = results
    assert result.desired == []  # the sync's own desire met ResourceExists, and moved on
    assert isinstance(fakebbs.calls.last.error, errors.ResourceExists)
