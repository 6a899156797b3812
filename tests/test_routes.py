"""The route table against the fact sheet's §2, row for row, and against the generated models."""

from __future__ import annotations

import re

import pytest

from fakebbs import models
from fakebbs.routes import ROUTES, ROUTES_BY_NAME, Route

TABLE: dict[tuple[str, str], Route] = {(r.path, r.method): r for r in ROUTES}

# protocol.md §2, row for row, one per (path, method): (path, method, "Request -> Response" or
# "SSE" for an event stream, status). "(none)": the route reads no request message; "?": §2 does
# not name the request of that (removed) route, so it is not compared.
SECTION_2 = [
    ("/v1/ping", "POST", "(none) -> PingResponse", "cur"),
    ("/v1/domains/list", "POST", "(none) -> DomainsResponse", "cur"),
    ("/v1/domains/upsert", "POST", "UpsertDomainRequest -> UpsertDomainResponse", "cur"),
    ("/v1/cells/list.r1", "POST", "(none) -> CellsResponse", "cur"),
    ("/v1/cells/list.r1", "GET", "(none) -> CellsResponse", "rem"),
    ("/v1/actual_lrps/list", "POST", "ActualLRPsRequest -> ActualLRPsResponse", "cur"),
    (
        "/v1/actual_lrps/list_by_process_guids",
        "POST",
        "ActualLRPsByProcessGuidsRequest -> ActualLRPsByProcessGuidsResponse",
        "cur",
    ),
    (
        "/v1/actual_lrp_groups/list",
        "POST",
        "ActualLRPGroupsRequest -> ActualLRPGroupsResponse",
        "dep",
    ),
    (
        "/v1/actual_lrp_groups/list_by_process_guid",
        "POST",
        "ActualLRPGroupsByProcessGuidRequest -> ActualLRPGroupsResponse",
        "dep",
    ),
    (
        "/v1/actual_lrp_groups/get_by_process_guid_and_index",
        "POST",
        "ActualLRPGroupByProcessGuidAndIndexRequest -> ActualLRPGroupResponse",
        "dep",
    ),
    ("/v1/actual_lrps/claim", "POST", "ClaimActualLRPRequest -> ActualLRPLifecycleResponse", "cur"),
    (
        "/v1/actual_lrps/start.r1",
        "POST",
        "StartActualLRPRequest -> ActualLRPLifecycleResponse",
        "cur",
    ),
    ("/v1/actual_lrps/start", "POST", "StartActualLRPRequest -> ActualLRPLifecycleResponse", "dep"),
    ("/v1/actual_lrps/crash", "POST", "CrashActualLRPRequest -> ActualLRPLifecycleResponse", "cur"),
    ("/v1/actual_lrps/fail", "POST", "FailActualLRPRequest -> ActualLRPLifecycleResponse", "cur"),
    (
        "/v1/actual_lrps/remove",
        "POST",
        "RemoveActualLRPRequest -> ActualLRPLifecycleResponse",
        "cur",
    ),
    (
        "/v1/actual_lrps/retire",
        "POST",
        "RetireActualLRPRequest -> ActualLRPLifecycleResponse",
        "cur",
    ),
    (
        "/v1/actual_lrps/evacuate_claimed",
        "POST",
        "EvacuateClaimedActualLRPRequest -> EvacuationResponse",
        "cur",
    ),
    (
        "/v1/actual_lrps/evacuate_running.r1",
        "POST",
        "EvacuateRunningActualLRPRequest -> EvacuationResponse",
        "cur",
    ),
    (
        "/v1/actual_lrps/evacuate_running",
        "POST",
        "EvacuateRunningActualLRPRequest -> EvacuationResponse",
        "dep",
    ),
    (
        "/v1/actual_lrps/evacuate_stopped",
        "POST",
        "EvacuateStoppedActualLRPRequest -> EvacuationResponse",
        "cur",
    ),
    (
        "/v1/actual_lrps/evacuate_crashed",
        "POST",
        "EvacuateCrashedActualLRPRequest -> EvacuationResponse",
        "cur",
    ),
    (
        "/v1/actual_lrps/remove_evacuating",
        "POST",
        "RemoveEvacuatingActualLRPRequest -> RemoveEvacuatingActualLRPResponse",
        "cur",
    ),
    ("/v1/desired_lrps/list.r3", "POST", "DesiredLRPsRequest -> DesiredLRPsResponse", "cur"),
    (
        "/v1/desired_lrps/get_by_process_guid.r3",
        "POST",
        "DesiredLRPByProcessGuidRequest -> DesiredLRPResponse",
        "cur",
    ),
    ("/v1/desired_lrps/list.r2", "POST", "DesiredLRPsRequest -> DesiredLRPsResponse", "dep"),
    (
        "/v1/desired_lrps/get_by_process_guid.r2",
        "POST",
        "DesiredLRPByProcessGuidRequest -> DesiredLRPResponse",
        "dep",
    ),
    ("/v1/desired_lrps/list.r1", "POST", "DesiredLRPsRequest -> DesiredLRPsResponse", "rem"),
    ("/v1/desired_lrps/get_by_process_guid.r1", "POST", "? -> DesiredLRPResponse", "rem"),
    ("/v1/desired_lrps/list", "POST", "? -> DesiredLRPsResponse", "rem"),
    ("/v1/desired_lrps/get_by_process_guid", "POST", "? -> DesiredLRPResponse", "rem"),
    (
        "/v1/desired_lrp_scheduling_infos/list",
        "POST",
        "DesiredLRPsRequest -> DesiredLRPSchedulingInfosResponse",
        "cur",
    ),
    (
        "/v1/desired_lrp_scheduling_infos/get_by_process_guid",
        "POST",
        "DesiredLRPByProcessGuidRequest -> DesiredLRPSchedulingInfoByProcessGuidResponse",
        "cur",
    ),
    (
        "/v1/desired_lrp_routing_infos/list",
        "POST",
        "DesiredLRPsRequest -> DesiredLRPsResponse",
        "cur",
    ),
    ("/v1/desired_lrp/desire.r2", "POST", "DesireLRPRequest -> DesiredLRPLifecycleResponse", "cur"),
    ("/v1/desired_lrp/desire.r1", "POST", "DesireLRPRequest -> DesiredLRPLifecycleResponse", "rem"),
    ("/v1/desired_lrp/desire", "POST", "DesireLRPRequest -> DesiredLRPLifecycleResponse", "rem"),
    (
        "/v1/desired_lrp/update",
        "POST",
        "UpdateDesiredLRPRequest -> DesiredLRPLifecycleResponse",
        "cur",
    ),
    (
        "/v1/desired_lrp/remove",
        "POST",
        "RemoveDesiredLRPRequest -> DesiredLRPLifecycleResponse",
        "cur",
    ),
    ("/v1/desired_lrp_events", "GET", "SSE", "rem"),
    ("/v1/actual_lrp_events", "GET", "SSE", "rem"),
    ("/v1/tasks/list.r3", "POST", "TasksRequest -> TasksResponse", "cur"),
    ("/v1/tasks/get_by_task_guid.r3", "POST", "TaskByGuidRequest -> TaskResponse", "cur"),
    ("/v1/tasks/list.r2", "POST", "TasksRequest -> TasksResponse", "dep"),
    ("/v1/tasks/get_by_task_guid.r2", "POST", "TaskByGuidRequest -> TaskResponse", "dep"),
    ("/v1/tasks/list.r1", "POST", "TasksRequest -> TasksResponse", "rem"),
    ("/v1/tasks/list", "POST", "TasksRequest -> TasksResponse", "rem"),
    ("/v1/tasks/get_by_task_guid.r1", "POST", "TaskByGuidRequest -> TaskResponse", "rem"),
    ("/v1/tasks/get_by_task_guid", "GET", "TaskByGuidRequest -> TaskResponse", "rem"),
    ("/v1/tasks/desire.r2", "POST", "DesireTaskRequest -> TaskLifecycleResponse", "cur"),
    ("/v1/tasks/desire.r1", "POST", "DesireTaskRequest -> TaskLifecycleResponse", "rem"),
    ("/v1/tasks/desire", "POST", "DesireTaskRequest -> TaskLifecycleResponse", "rem"),
    ("/v1/tasks/start", "POST", "StartTaskRequest -> StartTaskResponse", "cur"),
    ("/v1/tasks/cancel", "POST", "TaskGuidRequest -> TaskLifecycleResponse", "cur"),
    ("/v1/tasks/fail", "POST", "FailTaskRequest -> TaskLifecycleResponse", "dep"),
    ("/v1/tasks/reject", "POST", "RejectTaskRequest -> TaskLifecycleResponse", "cur"),
    ("/v1/tasks/complete", "POST", "CompleteTaskRequest -> TaskLifecycleResponse", "cur"),
    ("/v1/tasks/resolving", "POST", "TaskGuidRequest -> TaskLifecycleResponse", "cur"),
    ("/v1/tasks/delete", "POST", "TaskGuidRequest -> TaskLifecycleResponse", "cur"),
    ("/v1/events.r1", "GET", "SSE", "dep"),
    ("/v1/events", "GET", "SSE", "dep"),
    ("/v1/events/lrp_instances.r1", "POST", "SSE", "cur"),
    ("/v1/events/lrp_instances", "POST", "SSE", "dep"),
    ("/v1/events/tasks.r1", "POST", "SSE", "cur"),
    ("/v1/events/tasks", "POST", "SSE", "dep"),
]
STATUS = {"cur": "current", "dep": "deprecated", "rem": "removed"}


@pytest.mark.parametrize(
    ("path", "method", "messages", "status"),
    SECTION_2,
    ids=[f"{m} {p}" for p, m, _, _ in SECTION_2],
)
def test_every_row_of_section_2_is_in_the_table_with_its_method_messages_and_status(
    path: str, method: str, messages: str, status: str
) -> None:
    route = TABLE[(path, method)]
    assert route.status == STATUS[status]
    assert route.stream == (messages == "SSE")
    if messages != "SSE":
        request, response = messages.split(" -> ")
        assert route.response == response
        if request != "?":
            assert route.request == (None if request == "(none)" else request)


def test_the_table_has_no_route_that_section_2_lacks() -> None:
    documented = [(path, method) for path, method, _, _ in SECTION_2]
    assert len(set(documented)) == len(documented)
    assert set(TABLE) == set(documented)


def test_names_are_unique_and_current_ones_match_upstream_route_names() -> None:
    assert len(ROUTES_BY_NAME) == len(ROUTES)
    # A few rows whose Go names are easy to get wrong (routes.go at HEAD).
    assert ROUTES_BY_NAME["UpdateDesireLRP"].path == "/v1/desired_lrp/update"
    assert ROUTES_BY_NAME["ActualLRPGroupsByProcessGuidAndIndex"].path == (
        "/v1/actual_lrp_groups/get_by_process_guid_and_index"
    )
    assert ROUTES_BY_NAME["StartActualLRP"].path == "/v1/actual_lrps/start.r1"
    assert ROUTES_BY_NAME["StartActualLRP_r0"].path == "/v1/actual_lrps/start"


def test_a_removed_route_whose_go_name_was_reused_keeps_its_go_name() -> None:
    old = ROUTES_BY_NAME["DesiredLRPs_r0"]
    assert old.path == "/v1/desired_lrps/list"
    assert old.upstream_name == "DesiredLRPs"
    assert ROUTES_BY_NAME["DesiredLRPs"].upstream_name == "DesiredLRPs"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_message_named_by_the_table_exists(route: object) -> None:
    for name in (route.request, route.response):  # type: ignore[attr-defined]
        if name is not None:
            assert re.fullmatch(r"[A-Za-z]+", name)
            assert hasattr(models, name), name


@pytest.mark.parametrize(
    "name",
    [
        "ABORT_ENVIRON_KEY",
        "CLOSE_CONNECTION_ENVIRON_KEY",
        "LOG_ENVIRON_KEY",
        "SOCKET_ENVIRON_KEY",
        "STREAM_HANDOFF_ENVIRON_KEY",
    ],
)
def test_a_server_environ_key_still_read_from_routes_warns_and_is_the_servers_own(
    name: str,
) -> None:
    from fakebbs import routes
    from fakebbs._http import environ

    with pytest.warns(DeprecationWarning, match=f"fakebbs.routes.{name} is deprecated"):
        value = getattr(routes, name)
    assert value == getattr(environ, name)
    assert name not in routes.__all__


def test_routes_has_no_other_attribute_by_way_of_its_deprecated_names() -> None:
    from fakebbs import routes

    with pytest.raises(AttributeError, match="NO_SUCH_ENVIRON_KEY"):
        routes.NO_SUCH_ENVIRON_KEY  # noqa: B018
