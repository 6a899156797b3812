"""The ten examples of the 2016 LRP API reference, end to end over a real socket.

Each test makes the example's call on the endpoint the 2016 Go client used (``desire.r1``,
``list.r2``, ...) with the example's inputs, after seeding what the example presumes, and checks
what the reference says comes back.
"""

from __future__ import annotations

from typing import cast

import pytest

from fakebbs import models
from fakebbs.client import BBSClient
from fakebbs.errors import ResourceNotFound


def lrp_2016(process_guid: str, domain: str = "cf-apps", instances: int = 2) -> models.DesiredLRP:
    """A DesiredLRP as a 2016 client builds it: no metric tags, a 2016-era action."""
    return models.DesiredLRP(
        process_guid=process_guid,
        domain=domain,
        root_fs="preloaded:cflinuxfs2",
        instances=instances,
        memory_mb=128,
        disk_mb=512,
        log_guid="log-" + process_guid,
        action=models.Action(
            run_action=models.RunAction(path="/tmp/lifecycle/launcher", user="vcap")
        ),
    )


def desire_2016(bbs: BBSClient, lrp: models.DesiredLRP) -> None:
    response = cast(
        models.DesiredLRPLifecycleResponse,
        bbs.call("DesireDesiredLRP_r1", models.DesireLRPRequest(desired_lrp=lrp)),
    )
    assert not response.HasField("error"), response.error


def groups(response: models.ActualLRPGroupsResponse) -> list[tuple[str, int, str]]:
    return sorted(
        (g.instance.actual_lrp_key.process_guid, g.instance.actual_lrp_key.index, g.instance.state)
        for g in response.actual_lrp_groups
    )


def test_actual_lrp_groups_filters_by_domain_and_cell(bbs: BBSClient) -> None:
    desire_2016(bbs, lrp_2016("app-a", domain="cf-apps", instances=1))
    desire_2016(bbs, lrp_2016("app-b", domain="other", instances=1))

    by_domain = cast(
        models.ActualLRPGroupsResponse,
        bbs.call("ActualLRPGroups", models.ActualLRPGroupsRequest(domain="cf-apps")),
    )
    by_cell = cast(
        models.ActualLRPGroupsResponse,
        bbs.call(
            "ActualLRPGroups", models.ActualLRPGroupsRequest(domain="cf-apps", cell_id="some-cell")
        ),
    )

    assert groups(by_domain) == [("app-a", 0, "UNCLAIMED")]
    assert list(by_cell.actual_lrp_groups) == []


def test_actual_lrp_groups_by_process_guid(bbs: BBSClient) -> None:
    desire_2016(bbs, lrp_2016("my-guid", instances=2))
    desire_2016(bbs, lrp_2016("other-guid", instances=1))

    response = cast(
        models.ActualLRPGroupsResponse,
        bbs.call(
            "ActualLRPGroupsByProcessGuid",
            models.ActualLRPGroupsByProcessGuidRequest(process_guid="my-guid"),
        ),
    )

    assert groups(response) == [("my-guid", 0, "UNCLAIMED"), ("my-guid", 1, "UNCLAIMED")]
    assert all(not g.HasField("evacuating") for g in response.actual_lrp_groups)


def test_actual_lrp_group_by_process_guid_and_index(bbs: BBSClient) -> None:
    desire_2016(bbs, lrp_2016("my-guid", instances=2))

    response = cast(
        models.ActualLRPGroupResponse,
        bbs.call(
            "ActualLRPGroupsByProcessGuidAndIndex",
            models.ActualLRPGroupByProcessGuidAndIndexRequest(process_guid="my-guid", index=0),
        ),
    )
    missing = cast(
        models.ActualLRPGroupResponse,
        bbs.call(
            "ActualLRPGroupsByProcessGuidAndIndex",
            models.ActualLRPGroupByProcessGuidAndIndexRequest(process_guid="my-guid", index=7),
        ),
    )

    instance = response.actual_lrp_group.instance
    assert (instance.actual_lrp_key.process_guid, instance.actual_lrp_key.index) == ("my-guid", 0)
    assert instance.actual_lrp_key.domain == "cf-apps"
    assert missing.error.type == ResourceNotFound.type
    assert missing.error.message == "the requested resource could not be found"


def test_retire_actual_lrp_stops_the_instance_but_keeps_the_desired_state(bbs: BBSClient) -> None:
    desire_2016(bbs, lrp_2016("some-process-guid", instances=2))

    response = bbs.call(
        "RetireActualLRP",
        models.RetireActualLRPRequest(
            actual_lrp_key=models.ActualLRPKey(
                process_guid="some-process-guid", index=0, domain="cf-apps"
            )
        ),
    )

    assert not response.HasField("error")
    remaining = cast(
        models.ActualLRPGroupsResponse,
        bbs.call(
            "ActualLRPGroupsByProcessGuid",
            models.ActualLRPGroupsByProcessGuidRequest(process_guid="some-process-guid"),
        ),
    )
    assert groups(remaining) == [("some-process-guid", 1, "UNCLAIMED")]
    desired = cast(
        models.DesiredLRPResponse,
        bbs.call(
            "DesiredLRPByProcessGuid_r2",
            models.DesiredLRPByProcessGuidRequest(process_guid="some-process-guid"),
        ),
    )
    assert desired.desired_lrp.instances == 2


def test_desired_lrps_filters_by_domain(bbs: BBSClient) -> None:
    desire_2016(bbs, lrp_2016("app-a", domain="cf-apps"))
    desire_2016(bbs, lrp_2016("app-b", domain="other"))

    response = cast(
        models.DesiredLRPsResponse,
        bbs.call("DesiredLRPs_r2", models.DesiredLRPsRequest(domain="cf-apps")),
    )

    assert [lrp.process_guid for lrp in response.desired_lrps] == ["app-a"]


def test_desired_lrp_by_process_guid_returns_what_was_desired(bbs: BBSClient) -> None:
    lrp = lrp_2016("some-processs-guid")
    desire_2016(bbs, lrp)

    got = cast(
        models.DesiredLRPResponse,
        bbs.call(
            "DesiredLRPByProcessGuid_r2",
            models.DesiredLRPByProcessGuidRequest(process_guid="some-processs-guid"),
        ),
    )

    returned = got.desired_lrp
    assert returned.modification_tag.epoch != "" and returned.modification_tag.index == 0
    returned.ClearField("modification_tag")
    returned.ClearField("routes")
    assert returned == lrp


def test_desired_lrp_scheduling_infos(bbs: BBSClient) -> None:
    desire_2016(bbs, lrp_2016("app-a", domain="cf-apps", instances=3))
    desire_2016(bbs, lrp_2016("app-b", domain="other"))

    response = cast(
        models.DesiredLRPSchedulingInfosResponse,
        bbs.call("DesiredLRPSchedulingInfos", models.DesiredLRPsRequest(domain="cf-apps")),
    )

    [info] = response.desired_lrp_scheduling_infos
    assert info.desired_lrp_key == models.DesiredLRPKey(
        process_guid="app-a", domain="cf-apps", log_guid="log-app-a"
    )
    assert info.instances == 3
    assert info.desired_lrp_resource == models.DesiredLRPResource(
        memory_mb=128, disk_mb=512, root_fs="preloaded:cflinuxfs2"
    )


def test_desire_lrp_creates_it_and_its_actual_lrps(bbs: BBSClient) -> None:
    response = bbs.call(
        "DesireDesiredLRP_r1",
        models.DesireLRPRequest(desired_lrp=lrp_2016("new-guid", instances=2)),
    )

    assert not response.HasField("error")
    listed = cast(
        models.DesiredLRPsResponse, bbs.call("DesiredLRPs_r2", models.DesiredLRPsRequest())
    )
    assert [lrp.process_guid for lrp in listed.desired_lrps] == ["new-guid"]
    actual = cast(
        models.ActualLRPGroupsResponse,
        bbs.call(
            "ActualLRPGroupsByProcessGuid",
            models.ActualLRPGroupsByProcessGuidRequest(process_guid="new-guid"),
        ),
    )
    assert groups(actual) == [("new-guid", 0, "UNCLAIMED"), ("new-guid", 1, "UNCLAIMED")]


def test_update_desired_lrp_sets_instances_routes_and_annotation(bbs: BBSClient) -> None:
    lrp = lrp_2016("some-process-guid", instances=2)
    lrp.routes.routes["cf-router"] = b'[{"hostnames":["a.example.com"],"port":8080}]'
    desire_2016(bbs, lrp)

    update = models.DesiredLRPUpdate(instances=4, annotation="My annotation")
    update.routes.SetInParent()  # Routes: &models.Routes{} clears every route
    response = bbs.call(
        "UpdateDesireLRP",
        models.UpdateDesiredLRPRequest(process_guid="some-process-guid", update=update),
    )

    assert not response.HasField("error")
    got = cast(
        models.DesiredLRPResponse,
        bbs.call(
            "DesiredLRPByProcessGuid_r2",
            models.DesiredLRPByProcessGuidRequest(process_guid="some-process-guid"),
        ),
    )
    assert got.desired_lrp.instances == 4
    assert got.desired_lrp.annotation == "My annotation"
    assert dict(got.desired_lrp.routes.routes) == {}
    assert got.desired_lrp.modification_tag.index == 1
    actual = cast(
        models.ActualLRPGroupsResponse,
        bbs.call(
            "ActualLRPGroupsByProcessGuid",
            models.ActualLRPGroupsByProcessGuidRequest(process_guid="some-process-guid"),
        ),
    )
    assert [index for _, index, _ in groups(actual)] == [0, 1, 2, 3]


def test_remove_desired_lrp(bbs: BBSClient) -> None:
    desire_2016(bbs, lrp_2016("some-process-guid", instances=2))

    response = bbs.call(
        "RemoveDesiredLRP", models.RemoveDesiredLRPRequest(process_guid="some-process-guid")
    )
    again = cast(
        models.DesiredLRPLifecycleResponse,
        bbs.call(
            "RemoveDesiredLRP", models.RemoveDesiredLRPRequest(process_guid="some-process-guid")
        ),
    )

    assert not response.HasField("error")
    assert again.error.type == ResourceNotFound.type
    got = cast(
        models.DesiredLRPResponse,
        bbs.call(
            "DesiredLRPByProcessGuid_r2",
            models.DesiredLRPByProcessGuidRequest(process_guid="some-process-guid"),
        ),
    )
    assert got.error.type == ResourceNotFound.type
    actual = cast(
        models.ActualLRPGroupsResponse,
        bbs.call(
            "ActualLRPGroupsByProcessGuid",
            models.ActualLRPGroupsByProcessGuidRequest(process_guid="some-process-guid"),
        ),
    )
    assert list(actual.actual_lrp_groups) == []


@pytest.mark.parametrize("route", ["DesireDesiredLRP_r1", "DesireDesiredLRP_r0"])
def test_2016_desire_routes_accept_lrps_without_metric_tags(bbs: BBSClient, route: str) -> None:
    response = cast(
        models.DesiredLRPLifecycleResponse,
        bbs.call(route, models.DesireLRPRequest(desired_lrp=lrp_2016("no-tags"))),
    )

    assert not response.HasField("error"), response.error
