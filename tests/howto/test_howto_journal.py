"""How to check what a client sent: the call journal, decoded."""

from __future__ import annotations

import pytest

from fakebbs import BBSClient, FakeBBS, models


def test_assert_on_the_calls_a_client_made(fakebbs: FakeBBS, fakebbs_client: BBSClient) -> None:
    fakebbs.seed.desired_lrp("web", instances=2)
    fakebbs_client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=3))

    call = fakebbs.calls.last  # .route .path .method .request .response .error .fault .trace_id
    assert call.route == "UpdateDesireLRP"
    assert isinstance(call.request, models.UpdateDesiredLRPRequest)  # None if undecodable
    assert call.request.update.instances == 3
    fakebbs.calls.assert_called("UpdateDesireLRP", times=1, where={"process_guid": "web"})
    fakebbs.calls.assert_not_called("RemoveDesiredLRP")
    assert [c.route for c in fakebbs.calls] == ["UpdateDesireLRP"]  # seeding is not a call


def test_a_failed_assertion_names_the_near_misses(
    fakebbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    fakebbs.seed.desired_lrp("web")
    fakebbs_client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=2))
    with pytest.raises(AssertionError) as failed:
        fakebbs.calls.assert_called("UpdateDesireLRP", where={"update.instances": 5})
    assert "update.instances" in str(failed.value)  # the field that differed, and its value
