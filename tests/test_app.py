"""Transport as the real BBS answers it (protocol.md §1), in-process via werkzeug's test client."""

from __future__ import annotations

from typing import cast

import pytest
from werkzeug.test import Client, TestResponse
from werkzeug.wrappers import Response

from builders import desired_lrp
from fakebbs import FakeBBS, models
from fakebbs.routes import Route

PROTOBUF = "application/x-protobuf"


@pytest.fixture
def http() -> Client:
    return Client(FakeBBS().wsgi_app)


def post(http: Client, path: str, body: bytes = b"", **kw: object) -> TestResponse:
    return http.post(path, data=body, headers={"Content-Type": PROTOBUF}, **kw)


def test_a_handled_request_is_200_protobuf_with_no_error_field(http: Client) -> None:
    response = post(http, "/v1/desired_lrps/list.r3")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == PROTOBUF
    assert response.headers["Content-Length"] == str(len(response.data))
    assert not models.DesiredLRPsResponse.FromString(response.data).HasField("error")


def test_ping_answers_available(http: Client) -> None:
    response = post(http, "/v1/ping")

    assert models.PingResponse.FromString(response.data).available is True


def test_an_unknown_path_is_pats_plain_404(http: Client) -> None:
    response = post(http, "/v1/nope")

    assert response.status == "404 Not Found"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.data == b"404 page not found\n"


@pytest.mark.parametrize("path", ["/v1/ping/", "/v1//ping", "/V1/ping"])
def test_paths_match_exactly(http: Client, path: str) -> None:
    assert post(http, path).status_code == 404


def test_a_known_path_with_another_method_is_405_with_allow(http: Client) -> None:
    response = http.get("/v1/ping")

    assert response.status == "405 Method Not Allowed"
    assert response.headers["Allow"] == "POST"
    assert response.data == b"Method Not Allowed\n"


def test_a_get_route_gets_no_implicit_head(http: Client) -> None:
    response = http.head("/v1/tasks/get_by_task_guid")

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_a_path_served_for_two_methods_lists_both_in_allow(http: Client) -> None:
    response = http.put("/v1/cells/list.r1")

    assert response.headers["Allow"] == "GET, POST"


def test_an_undecodable_body_is_invalid_request(http: Client) -> None:
    response = post(http, "/v1/desired_lrp/desire.r2", b"\xff\xff\xff")

    error = models.DesiredLRPLifecycleResponse.FromString(response.data).error
    assert response.status_code == 200
    assert (error.type, error.message) == (4, "the request received is invalid")


def test_a_validation_failure_is_invalid_request_with_upstreams_text(http: Client) -> None:
    body = models.DesiredLRPByProcessGuidRequest().SerializeToString()

    response = post(http, "/v1/desired_lrps/get_by_process_guid.r3", body)

    error = models.DesiredLRPResponse.FromString(response.data).error
    assert (error.type, error.message) == (4, "Invalid field: process_guid")


def test_the_content_type_of_a_request_is_not_looked_at(http: Client) -> None:
    body = models.DesireLRPRequest(desired_lrp=desired_lrp()).SerializeToString()

    response = http.post(
        "/v1/desired_lrp/desire.r2", data=body, headers={"Content-Type": "text/html"}
    )

    assert not models.DesiredLRPLifecycleResponse.FromString(response.data).HasField("error")


def test_a_route_without_a_handler_says_so_inside_the_envelope() -> None:
    app = FakeBBS().wsgi_app
    unbuilt = Route(
        "NotBuilt", "POST", "/v1/not_built", None, "ActualLRPLifecycleResponse", "current"
    )

    response = cast(Response, app.handle(unbuilt, b""))

    error = models.ActualLRPLifecycleResponse.FromString(response.get_data()).error
    assert response.status_code == 200
    assert (error.type, error.message) == (
        0,
        "fakebbs: /v1/not_built (NotBuilt) is not implemented yet",
    )


def test_a_stream_route_without_a_handler_is_a_plain_501() -> None:
    app = FakeBBS().wsgi_app
    unbuilt = Route("NotBuilt", "GET", "/v1/not_built", None, None, "current", stream=True)

    response = cast(Response, app.handle(unbuilt, b""))

    assert response.status_code == 501


def test_an_oversized_body_gets_a_clear_413_and_the_fake_keeps_serving() -> None:
    http = Client(FakeBBS(max_body_bytes=100).wsgi_app)

    too_big = post(http, "/v1/desired_lrp/desire.r2", b"\x0a" * 101)
    after = post(http, "/v1/ping")

    assert too_big.status_code == 413
    assert b"larger than 100 bytes" in too_big.data
    assert models.PingResponse.FromString(after.data).available
