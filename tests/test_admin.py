"""fakebbs._standalone.admin: the fixture API as JSON over HTTP, under /fakebbs/v1/, per
namespace."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from admin_support import ADMIN, call
from werkzeug.test import Client

from builders import desired_lrp
from fakebbs import BBSClient, cli, errors, models
from fakebbs._standalone.namespaces import Namespaces
from processes import http_json, serving


@pytest.fixture
def bbs(namespaces: Namespaces) -> Iterator[BBSClient]:
    """A BBS client of the default namespace, in-process."""
    with BBSClient.in_process(namespaces) as client:
        yield client


def error_of(admin: Client, method: str, path: str, body: Any = None, status: int = 400) -> str:
    answer = call(admin, method, path, body, status)
    assert set(answer) == {"error"}
    message: str = answer["error"]
    return message


# -- about the server --------------------------------------------------------------------------


def test_version_names_the_api_and_the_namespace(admin: Client) -> None:
    answer = call(admin, "GET", "/version")
    assert answer["api"] == "v1"
    assert answer["namespace"] == "default"
    assert answer["fakebbs"]


@pytest.mark.parametrize("path", ["", "/"])
def test_the_root_lists_every_endpoint(admin: Client, path: str) -> None:
    endpoints = call(admin, "GET", path)["endpoints"]
    assert "GET /fakebbs/v1/version" in endpoints
    assert "POST /fakebbs/v1/holds/{gate_id}/wait" in endpoints
    assert "GET /fakebbs/v1/rep_calls" in endpoints
    assert "POST /fakebbs/v1/auctioneer_calls/wait" in endpoints
    assert not [e for e in endpoints if "<" in e or ":" in e]
    assert len(endpoints) == len(set(endpoints)) > 30


def test_an_unknown_admin_path_is_a_json_404(admin: Client) -> None:
    assert "no admin endpoint" in error_of(admin, "GET", "/nope", status=404)


def test_a_wrong_method_is_a_json_405_with_allow(admin: Client) -> None:
    response = admin.open(ADMIN + "/version", method="DELETE")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.json is not None and "DELETE is not allowed" in response.json["error"]


def test_a_body_that_is_not_json_is_refused(admin: Client) -> None:
    response = admin.post(ADMIN + "/faults", data=b"{nope")
    assert response.status_code == 400
    assert response.json is not None and "not JSON" in response.json["error"]


def test_unknown_body_fields_are_named(admin: Client) -> None:
    message = error_of(admin, "POST", "/clock/advance", {"seconds": 1, "minutes": 2})
    assert "minutes" in message and "seconds" in message


# -- state, reset, snapshots -------------------------------------------------------------------


def test_state_dumps_every_table_in_protobuf_json(
    admin: Client, namespaces: Namespaces, bbs: BBSClient
) -> None:
    bbs.upsert_domain("cf-apps", 0)
    bbs.desire_lrp(desired_lrp("web", instances=1))
    namespaces.default.fake.seed.cell("cell-1")
    state = call(admin, "GET", "/state")
    assert state["domains"] == [{"name": "cf-apps", "expires_at": None}]
    assert [c["cell_id"] for c in state["cells"]] == ["cell-1"]
    assert [d["process_guid"] for d in state["desired_lrps"]] == ["web"]
    assert state["desired_lrps"][0]["memory_mb"] == 256
    assert [a["actual_lrp_key"]["index"] for a in state["actual_lrps"]] == [0]
    assert state["actual_lrps"][0]["state"] == "UNCLAIMED"
    assert state["tasks"] == []


def test_reset_empties_the_namespace_and_drops_its_rules(
    admin: Client, namespaces: Namespaces, bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    call(admin, "POST", "/faults", {"route": "Ping", "fault": {"kind": "not_found"}})
    call(admin, "POST", "/reset")
    assert call(admin, "GET", "/state")["desired_lrps"] == []
    assert call(admin, "GET", "/faults") == {"faults": []}
    assert len(namespaces.default.fake.calls) == 0


def test_reset_acts_on_one_namespace(admin: Client, namespaces: Namespaces) -> None:
    namespaces.get("a").fake.seed.cell("cell-a")
    namespaces.get("b").fake.seed.cell("cell-b")
    assert admin.post("/ns/a" + ADMIN + "/reset").status_code == 200
    assert namespaces.get("a").fake.cell_presences() == []
    assert [c.cell_id for c in namespaces.get("b").fake.cell_presences()] == ["cell-b"]


def test_a_named_snapshot_restores_the_state_it_took(admin: Client, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    taken = call(admin, "PUT", "/snapshots/base")
    assert (taken["snapshot"], taken["desired_lrps"], taken["actual_lrps"]) == ("base", 1, 2)
    bbs.desire_lrp(desired_lrp("api"))
    bbs.remove_desired_lrp("web")
    call(admin, "POST", "/snapshots/base/restore")
    assert [d.process_guid for d in bbs.desired_lrps()] == ["web"]
    assert call(admin, "GET", "/snapshots")["snapshots"]["base"]["desired_lrps"] == 1


def test_snapshots_survive_a_reset_and_can_be_deleted(admin: Client, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    call(admin, "PUT", "/snapshots/base")
    call(admin, "POST", "/reset")
    call(admin, "POST", "/snapshots/base/restore")
    assert [d.process_guid for d in bbs.desired_lrps()] == ["web"]
    call(admin, "DELETE", "/snapshots/base")
    assert call(admin, "GET", "/snapshots") == {"snapshots": {}}


def test_an_unknown_snapshot_is_a_404_listing_the_known_ones(admin: Client) -> None:
    call(admin, "PUT", "/snapshots/one")
    message = error_of(admin, "POST", "/snapshots/two/restore", status=404)
    assert "'two'" in message and "one" in message


def test_snapshots_belong_to_their_namespace(admin: Client) -> None:
    call(admin, "PUT", "/snapshots/base")
    assert admin.post("/ns/other" + ADMIN + "/snapshots/base/restore").status_code == 404


# -- faults ------------------------------------------------------------------------------------


def test_a_bbs_error_by_name_is_answered_inside_the_response(admin: Client, bbs: BBSClient) -> None:
    rule = call(
        admin,
        "POST",
        "/faults",
        {
            "route": "DesireDesiredLRP*",
            "error": {"type": "ResourceConflict", "message": "busy"},
            "times": 1,
            "where": {"desired_lrp.process_guid": "web"},
        },
    )
    assert rule["error"] == {"type": "ResourceConflict", "message": "busy"}
    bbs.desire_lrp(desired_lrp("other"))
    with pytest.raises(errors.ResourceConflict, match="busy"):
        bbs.desire_lrp(desired_lrp("web"))
    bbs.desire_lrp(desired_lrp("web"))  # times: 1
    listed = call(admin, "GET", "/faults")["faults"]
    assert [(r["id"], r["hits"], r["times"]) for r in listed] == [(rule["id"], 1, 1)]


def test_a_bbs_error_by_number_may_be_one_the_catalogue_lacks(
    admin: Client, bbs: BBSClient
) -> None:
    call(admin, "POST", "/faults", {"route": "Domains", "error": {"type": 2, "message": "old"}})
    with pytest.raises(errors.BBSError, match="old") as caught:
        bbs.domains()
    assert caught.value.type == 2


def test_a_transport_fault_with_parameters(admin: Client, bbs: BBSClient) -> None:
    call(
        admin,
        "POST",
        "/faults",
        {"route": "Domains", "fault": {"kind": "router_error", "message": "no_route"}},
    )
    with pytest.raises(errors.RouterError, match="no_route"):
        bbs.domains()


def test_a_status_fault_takes_a_code(admin: Client, bbs: BBSClient) -> None:
    rule = call(
        admin,
        "POST",
        "/faults",
        {"route": "Ping", "fault": {"kind": "status", "code": 503, "body": "down\n"}},
    )
    assert rule["fault"] == {"kind": "status", "code": 503, "body": "down\n"}
    assert not bbs.ping()


@pytest.mark.parametrize(
    "body",
    [
        {"route": "Ping", "fault": {"kind": "status", "code": 503}},
        {
            "route": "Ping",
            "fault": {"kind": "status", "code": 500, "body": "x", "headers": {"A": "b"}},
        },
        {"route": "Domains", "fault": {"kind": "router_error", "message": "no_route"}},
        {"route": "Domains", "fault": {"kind": "not_found"}},
        {"route": "Domains", "fault": {"kind": "delay", "seconds": 0.5}, "times": 2},
        {"route": "Domains", "fault": {"kind": "bad_body"}},
        {"route": "Domains", "fault": {"kind": "truncated_body"}},
        {"route": "TaskEventStream*", "fault": {"kind": "end_stream", "after": 2}},
        {"route": ["Domains", "Cells"], "error": {"type": "Deadlock", "message": "d"}},
        {
            "route": "DesireDesiredLRP",
            "error": {"type": 11},
            "where": {"desired_lrp.process_guid": "web"},
        },
    ],
)
def test_a_fault_rule_as_answered_can_be_posted_back(admin: Client, body: dict[str, Any]) -> None:
    answered = call(admin, "POST", "/faults", body)
    call(admin, "DELETE", "/faults")
    again = call(admin, "POST", "/faults", answered)
    assert {**again, "id": answered["id"]} == answered
    assert call(admin, "GET", "/faults") == {"faults": [again]}


def test_holds_and_fault_rules_count_their_ids_apart(admin: Client) -> None:
    assert call(admin, "POST", "/faults", {"route": "Cells", "error": {"type": 4}})["id"] == "1"
    assert call(admin, "POST", "/faults", {"route": "Cells", "error": {"type": 4}})["id"] == "2"
    assert call(admin, "POST", "/holds", {"route": "Domains"})["id"] == "1"
    call(admin, "DELETE", "/holds")


def test_an_unknown_route_points_curl_users_at_the_route_list(admin: Client) -> None:
    message = error_of(admin, "POST", "/faults", {"route": "DesireLRP", "error": {"type": 4}})
    assert "fakebbs.routes" not in message
    assert message.endswith("(GET /fakebbs/v1/routes lists them)")
    routes = call(admin, "GET", "/routes")["routes"]
    assert {
        "selector": "DesiredLRPs_r0",
        "method": "POST",
        "path": "/v1/desired_lrps/list",
        "status": "removed",
        "go_name": "DesiredLRPs",
    } in routes
    assert len(routes) == len({r["selector"] for r in routes}) > 60


def test_a_fault_rule_is_removed_by_id(admin: Client, bbs: BBSClient) -> None:
    rule = call(admin, "POST", "/faults", {"route": "Domains", "error": {"type": "Deadlock"}})
    removed = call(admin, "DELETE", f"/faults/{rule['id']}")
    assert removed["error"] == {"type": "Deadlock", "message": errors.Deadlock().message}
    assert bbs.domains() == []
    assert "no fault rule" in error_of(admin, "DELETE", f"/faults/{rule['id']}", status=404)


def test_all_fault_rules_are_cleared(admin: Client, bbs: BBSClient) -> None:
    call(admin, "POST", "/faults", {"route": "*", "fault": {"kind": "delay", "seconds": 0}})
    call(admin, "POST", "/faults", {"route": "Domains", "error": {"type": "Deadlock"}})
    call(admin, "DELETE", "/faults")
    assert call(admin, "GET", "/faults") == {"faults": []}
    assert bbs.domains() == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"route": "Nope", "fault": {"kind": "not_found"}}, "no BBS route is named 'Nope'"),
        ({"route": "DesireLRP", "fault": {"kind": "not_found"}}, "did you mean"),
        ({"route": "Ping", "fault": {"kind": "boom"}}, "fault.kind: expected one of"),
        ({"route": "Ping", "fault": {"kind": "delay", "seconds": -1}}, "finite number"),
        ({"route": "Ping", "fault": {"kind": "delay", "secs": 1}}, "unknown parameter 'secs'"),
        ({"route": "Ping", "fault": {"kind": "status"}}, "code is required"),
        ({"route": "Ping", "error": {"type": "Nope"}}, "no BBS error type 'Nope'"),
        ({"route": "Ping", "error": {"type": True}}, "error.type"),
        ({"route": "Ping"}, "exactly one of 'error'"),
        ({"fault": {"kind": "not_found"}}, "missing field(s): route"),
        ({"route": "Ping", "error": {"type": 4}, "times": 0}, "times must be"),
        ({"route": "Ping", "error": {"type": 4}, "times": "2"}, "times: expected"),
        ({"route": 3, "error": {"type": 4}}, "route: expected"),
        (
            {"route": "DesireDesiredLRP", "error": {"type": 4}, "where": {"lrp.guid": "x"}},
            "has no field 'lrp'",
        ),
        ({"route": "TaskEventStream", "error": {"type": 4}}, "cannot take"),
        ({"route": "Ping", "fault": {"kind": "end_stream"}}, "cannot take"),
    ],
)
def test_a_bad_fault_rule_says_what_is_wrong(
    admin: Client, body: dict[str, Any], says: str
) -> None:
    assert says in error_of(admin, "POST", "/faults", body)
    assert call(admin, "GET", "/faults") == {"faults": []}


def test_faults_belong_to_their_namespace(namespaces: Namespaces, admin: Client) -> None:
    admin.post("/ns/a" + ADMIN + "/faults", json={"route": "Ping", "fault": {"kind": "not_found"}})
    assert admin.post("/ns/b/v1/ping").status_code == 200
    assert admin.post("/ns/a/v1/ping").status_code == 404


# -- the journal -------------------------------------------------------------------------------


def test_the_journal_lists_decoded_calls(admin: Client, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=3))
    bbs.ping()
    calls = call(admin, "GET", "/journal")["calls"]
    assert [c["route"] for c in calls] == ["DesireDesiredLRP", "Ping"]
    desire = calls[0]
    assert desire["request"]["desired_lrp"]["instances"] == 3
    assert desire["response"] == {}
    assert (desire["method"], desire["path"], desire["status"]) == (
        "POST",
        "/v1/desired_lrp/desire.r2",
        200,
    )


def test_the_journal_is_queried_by_route_and_where(admin: Client, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    bbs.desire_lrp(desired_lrp("api"))
    with pytest.raises(errors.ResourceExists):
        bbs.desire_lrp(desired_lrp("api"))
    found = admin.get(
        ADMIN + "/journal",
        query_string={"route": "DesireDesiredLRP*", "where": '{"desired_lrp.process_guid": "api"}'},
    ).json
    assert found is not None
    assert [c["error"] for c in found["calls"]] == [
        None,
        {"type": "ResourceExists", "message": errors.ResourceExists().message},
    ]
    limited = admin.get(ADMIN + "/journal", query_string={"limit": "1"}).json
    assert limited is not None and len(limited["calls"]) == 1


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"route": "Nope"}, "no BBS route"),
        ({"route": "Ping", "where": "{"}, "where: not JSON"),
        ({"where": "{}"}, "where needs a route"),
        ({"route": "DesireDesiredLRP", "where": '{"x": 1}'}, "has no field 'x'"),
        ({"limit": "-1"}, "limit"),
        ({"rout": "Ping"}, "unknown query parameter"),
    ],
)
def test_a_bad_journal_query_says_what_is_wrong(
    admin: Client, query: dict[str, str], says: str
) -> None:
    response = admin.get(ADMIN + "/journal", query_string=query)
    assert response.status_code == 400
    assert response.json is not None and says in response.json["error"]


def test_the_journal_is_cleared(admin: Client, bbs: BBSClient) -> None:
    bbs.ping()
    call(admin, "DELETE", "/journal")
    assert call(admin, "GET", "/journal")["calls"] == []


def test_waiting_for_a_call_returns_it_once_made(admin: Client, namespaces: Namespaces) -> None:
    def later() -> None:
        namespaces.default.fake.calls.wait_for("Ping", timeout=5)  # the waiter is ready first
        with BBSClient.in_process(namespaces) as client:
            client.desire_lrp(desired_lrp("web"))

    thread = threading.Thread(target=later)
    thread.start()
    with BBSClient.in_process(namespaces) as client:
        client.ping()
    found = call(
        admin,
        "POST",
        "/journal/wait",
        {"route": "DesireDesiredLRP", "where": {"desired_lrp.process_guid": "web"}, "timeout": 5},
    )
    thread.join()
    assert found["request"]["desired_lrp"]["process_guid"] == "web"


def test_waiting_in_vain_is_a_408_with_the_near_misses(admin: Client, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("api"))
    message = error_of(
        admin,
        "POST",
        "/journal/wait",
        {"route": "DesireDesiredLRP", "where": {"desired_lrp.process_guid": "web"}, "timeout": 0},
        status=408,
    )
    assert "near misses" in message and "'api'" in message


@pytest.mark.parametrize("timeout", [-1, 1e9, "5", None])
def test_a_wait_timeout_must_be_a_sensible_number(admin: Client, timeout: Any) -> None:
    message = error_of(admin, "POST", "/journal/wait", {"route": "Ping", "timeout": timeout})
    assert "timeout" in message


# -- holds -------------------------------------------------------------------------------------


def test_a_held_route_waits_until_released(admin: Client, namespaces: Namespaces) -> None:
    gate = call(admin, "POST", "/holds", {"route": "DesiredLRPs"})
    answers: list[list[models.DesiredLRP]] = []

    def list_lrps() -> None:
        with BBSClient.in_process(namespaces) as client:
            answers.append(client.desired_lrps())

    thread = threading.Thread(target=list_lrps)
    thread.start()
    arrived = call(admin, "POST", f"/holds/{gate['id']}/wait", {"timeout": 5})
    assert arrived["arrived"] == 1 and answers == []
    namespaces.default.fake.seed.desired_lrp("late")  # behind the client's back
    released = call(admin, "DELETE", f"/holds/{gate['id']}")
    thread.join(5)
    assert released["released"] is True
    assert [[d.process_guid for d in a] for a in answers] == [["late"]]
    assert call(admin, "GET", "/holds") == {"holds": []}


def test_waiting_for_a_held_request_in_vain_is_a_408(admin: Client) -> None:
    gate = call(admin, "POST", "/holds", {"route": "Ping"})
    message = error_of(admin, "POST", f"/holds/{gate['id']}/wait", {"timeout": 0}, status=408)
    assert "0 of 1 request(s) to Ping arrived" in message
    call(admin, "DELETE", "/holds")
    assert "no held route" in error_of(admin, "DELETE", f"/holds/{gate['id']}", status=404)


def test_a_bad_hold_says_what_is_wrong(admin: Client) -> None:
    assert "no BBS route" in error_of(admin, "POST", "/holds", {"route": "Pong"})
    assert "missing field(s): route" in error_of(admin, "POST", "/holds", {})
    gate = call(admin, "POST", "/holds", {"route": "Ping"})
    message = error_of(admin, "POST", f"/holds/{gate['id']}/wait", {"count": 0})
    assert "count" in message
    call(admin, "DELETE", "/holds")


# -- clock, convergence, cells -----------------------------------------------------------------


def test_the_clock_freezes_advances_and_runs_again(admin: Client, namespaces: Namespaces) -> None:
    assert call(admin, "GET", "/clock")["frozen"] is False
    frozen = call(admin, "POST", "/clock/freeze", {"at": 1_000_000_000_000_000_000})
    assert frozen["nanoseconds"] == 1_000_000_000_000_000_000
    assert frozen["time"] == "2001-09-09T01:46:40+00:00"
    moved = call(admin, "POST", "/clock/advance", {"seconds": 31})
    assert moved["nanoseconds"] == 1_000_000_031_000_000_000
    assert namespaces.default.fake.clock() == moved["nanoseconds"]
    assert call(admin, "POST", "/clock/unfreeze")["frozen"] is False


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/clock/advance", {"seconds": -1}, "seconds: expected a number >= 0"),
        ("/clock/advance", {}, "missing field(s): seconds"),
        ("/clock/advance", {"seconds": "1"}, "seconds"),
        ("/clock/freeze", {"at": "yesterday"}, "at: expected Unix nanoseconds"),
    ],
)
def test_a_bad_clock_request_says_what_is_wrong(
    admin: Client, path: str, body: Any, says: str
) -> None:
    assert says in error_of(admin, "POST", path, body)


def test_converge_says_what_it_did(admin: Client, namespaces: Namespaces, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    bbs.remove_actual_lrp(models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps"))
    done = call(admin, "POST", "/converge")
    assert done["lrps"]["created_missing"] == [["web", 0]]
    assert done["tasks"]["expired_pending"] == []
    assert [a.actual_lrp_key.index for a in bbs.actual_lrps(process_guid="web")] == [0]


def test_cells_are_registered_listed_and_unregistered(admin: Client, bbs: BBSClient) -> None:
    cell = call(
        admin,
        "POST",
        "/cells",
        {"cell_id": "cell-1", "rep_address": "http://10.0.0.1:1800", "zone": "z1"},
    )
    assert cell["zone"] == "z1"
    assert [c.cell_id for c in bbs.cells()] == ["cell-1"]
    assert [c["cell_id"] for c in call(admin, "GET", "/cells")["cells"]] == ["cell-1"]
    call(admin, "DELETE", "/cells/cell-1")
    assert bbs.cells() == []
    assert "no cell 'cell-1'" in error_of(admin, "DELETE", "/cells/cell-1", status=404)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"zone": "z1"}, "cell_id is required"),
        ({"cell_id": "c", "colour": "red"}, "colour"),
        ([1], "expected a JSON object"),
        (None, "needs a JSON body"),
    ],
)
def test_a_bad_cell_says_what_is_wrong(admin: Client, body: Any, says: str) -> None:
    assert says in error_of(admin, "POST", "/cells", body)


# -- namespaces --------------------------------------------------------------------------------


def test_a_namespace_is_dropped_through_the_admin_api(
    admin: Client, namespaces: Namespaces
) -> None:
    admin.post("/ns/tmp/v1/ping")
    assert admin.delete("/ns/tmp" + ADMIN + "/namespace").json == {"dropped": "tmp"}
    assert "tmp" not in namespaces.names()


def test_errors_inside_the_fake_are_listed(admin: Client, namespaces: Namespaces) -> None:
    assert call(admin, "GET", "/errors") == {"errors": []}
    namespaces.default.fake.handler_errors.append(RuntimeError("boom"))
    assert call(admin, "GET", "/errors") == {"errors": ["RuntimeError('boom')"]}
    del namespaces.default.fake.handler_errors[:]


# -- fakebbs serve: the admin API of a real process --------------------------------------------


def test_serve_answers_the_admin_api_in_each_namespace() -> None:
    with serving() as url:
        status, rule = http_json(
            "POST",
            f"{url}/ns/a{ADMIN}/faults",
            {"route": "DesireDesiredLRP", "error": {"type": "ResourceConflict", "message": "no"}},
        )
        assert status == 200
        with BBSClient(f"{url}/ns/a") as in_a, BBSClient(f"{url}/ns/b") as in_b:
            with pytest.raises(errors.ResourceConflict, match="no"):
                in_a.desire_lrp(desired_lrp("web"))
            in_b.desire_lrp(desired_lrp("web"))
        status, journal = http_json("GET", f"{url}/ns/b{ADMIN}/journal?route=DesireDesiredLRP")
        assert [c["namespace"] for c in journal["calls"]] == ["b"]
        status, state = http_json("GET", f"{url}/ns/a{ADMIN}/state")
        assert state["desired_lrps"] == []
        assert http_json("DELETE", f"{url}{ADMIN}/faults/{rule['id']}")[0] == 404
        assert http_json("GET", f"{url}{ADMIN}/namespaces")[1] == {
            "namespaces": ["default", "a", "b"]
        }


def test_serve_with_a_manual_clock_starts_every_namespace_frozen() -> None:
    with serving("--manual-clock") as url:
        status, clock = http_json("GET", f"{url}/ns/x{ADMIN}/clock")
        assert (status, clock["frozen"]) == (200, True)
        _, moved = http_json("POST", f"{url}/ns/x{ADMIN}/clock/advance", {"seconds": 2.5})
        assert moved["nanoseconds"] == clock["nanoseconds"] + 2_500_000_000
        http_json("POST", f"{url}/ns/x{ADMIN}/reset")
        assert http_json("GET", f"{url}/ns/x{ADMIN}/clock")[1]["frozen"] is True


def test_a_held_request_is_released_over_http() -> None:
    with serving() as url:
        _, gate = http_json("POST", f"{url}{ADMIN}/holds", {"route": "Ping"})
        answers: list[bool] = []

        def ping() -> None:
            with BBSClient(url) as client:
                answers.append(client.ping())

        thread = threading.Thread(target=ping)
        thread.start()
        status, arrived = http_json("POST", f"{url}{ADMIN}/holds/{gate['id']}/wait", {})
        assert (status, arrived["arrived"], answers) == (200, 1, [])
        http_json("DELETE", f"{url}{ADMIN}/holds/{gate['id']}")
        thread.join(10)
        assert answers == [True]


@pytest.mark.parametrize(
    ("flags", "admin"),
    [
        (["--host", "127.0.0.1"], True),
        (["--host", "::1"], True),
        (["--host", "0.0.0.0"], False),
        (["--host", "0.0.0.0", "--admin"], True),
        (["--host", "10.0.0.7"], False),
    ],
)
def test_the_admin_api_is_off_on_a_non_loopback_bind_unless_asked(
    flags: list[str], admin: bool
) -> None:
    args = cli._parser().parse_args(["serve", *flags])
    assert cli._namespaces(args).admin is admin


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/converge"),
        ("PUT", "/snapshots/base"),
        ("POST", "/clock/unfreeze"),
    ],
)
def test_endpoints_without_parameters_refuse_fields(
    admin: Client, namespaces: Namespaces, method: str, path: str
) -> None:
    namespaces.default.fake.seed.cell("kept")
    message = error_of(admin, method, path, {"force": True})
    assert message == "unknown field(s) force (this endpoint takes: none)"
    assert [c.cell_id for c in namespaces.default.fake.cell_presences()] == ["kept"]


# -- inputs checked before they change anything -------------------------------------------------


def test_an_advance_past_int64_nanoseconds_is_a_400_and_the_clock_stays(
    admin: Client, bbs: BBSClient
) -> None:
    at = call(admin, "POST", "/clock/freeze", {"at": 2**62})["nanoseconds"]
    assert "int64" in error_of(admin, "POST", "/clock/advance", {"seconds": 1e12})
    assert "int64" in error_of(admin, "POST", "/clock/advance", {"seconds": 5e9})
    assert "int64" in error_of(admin, "POST", "/clock/freeze", {"at": 2**63})
    assert call(admin, "GET", "/clock")["nanoseconds"] == at
    bbs.desire_lrp(desired_lrp("web"))  # the namespace still works
    assert [d.process_guid for d in bbs.desired_lrps()] == ["web"]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("path", ["/seed", "/faults", "/journal/wait", "/clock/advance"])
def test_a_body_nested_too_deeply_is_a_400(admin: Client, path: str) -> None:
    for depth in (101, 100_000):
        response = admin.post(ADMIN + path, data=nested(depth))
        assert response.status_code == 400, response.get_data(as_text=True)
        assert response.json == {"error": "the body: JSON nested deeper than 100 levels"}


def test_a_where_query_nested_too_deeply_is_a_400(admin: Client) -> None:
    for made in ("journal", "rep_calls"):
        response = admin.get(f"{ADMIN}/{made}", query_string={"route": "*", "where": nested(5000)})
        assert response.status_code == 400
        assert response.json == {"error": "where: JSON nested deeper than 100 levels"}


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"X-A\r\nX-B": "1"}, "is not an HTTP header name"),
        ({"": "1"}, "is not an HTTP header name"),
        ({"X-A": "1\r\nX-B: 2"}, "is not an HTTP header value"),
        ({"X-A": "\x00"}, "is not an HTTP header value"),
        ({"Content-Length": "999"}, "set by the server"),
        ({"transfer-encoding": "chunked"}, "set by the server"),
    ],
)
def test_a_fault_rule_with_a_header_that_would_break_the_wire_is_a_400(
    admin: Client, namespaces: Namespaces, headers: dict[str, str], says: str
) -> None:
    fault = {"kind": "status", "code": 503, "headers": headers}
    assert says in error_of(admin, "POST", "/faults", {"route": "Ping", "fault": fault})
    assert namespaces.default.fake.faults == []


# -- bounded memory -----------------------------------------------------------------------------


def test_the_journal_pages_with_after_and_limit(admin: Client, bbs: BBSClient) -> None:
    for _ in range(5):
        bbs.ping()
    bbs.desire_lrp(desired_lrp("web"))
    first = call(admin, "GET", "/journal?limit=2&after=0")
    assert [c["seq"] for c in first["calls"]] == [1, 2]
    assert first["next"] == 2
    rest = call(admin, "GET", f"/journal?after={first['next']}")
    assert [c["seq"] for c in rest["calls"]] == [3, 4, 5, 6]
    assert rest["next"] == 6
    assert call(admin, "GET", "/journal?after=6")["calls"] == []
    newest = call(admin, "GET", "/journal?limit=1")
    assert [c["route"] for c in newest["calls"]] == ["DesireDesiredLRP"]
    desires = call(admin, "GET", "/journal?route=DesireDesiredLRP*&after=2")
    assert ([c["seq"] for c in desires["calls"]], desires["next"]) == ([6], 6)
    assert "after" in error_of(admin, "GET", "/journal?after=-1")


def test_the_journal_is_streamed_call_by_call(admin: Client, bbs: BBSClient) -> None:
    bbs.ping()
    response = admin.get(ADMIN + "/journal")
    assert response.is_streamed
    assert response.json is not None and len(response.json["calls"]) == 1
    made = admin.get(ADMIN + "/rep_calls?limit=5&after=0")
    assert made.is_streamed and made.json == {"calls": [], "dropped": 0, "next": 0}


def test_an_admin_body_over_64_mib_is_a_413(admin: Client, namespaces: Namespaces) -> None:
    response = admin.post(
        ADMIN + "/seed",
        data=b'{"domains": ["d"]}',
        environ_overrides={"CONTENT_LENGTH": str(64 * 1024 * 1024 + 1)},
    )
    assert response.status_code == 413
    assert namespaces.default.fake.snapshot().domains == {}
