"""BBSClient: what it sends, how it maps answers (upstream ``client.go: do``), its connections.

Transport behaviour is checked against ``StandIn``, a recording HTTP/1.1 server that answers from
a queue of canned replies; typed methods are checked against the real fake at the end.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import trustme
from google.protobuf.message import Message

from builders import desired_lrp
from fakebbs import FakeBBS, errors, faults, models
from fakebbs.client import GO_DEFAULT_RETRIES, BBSClient
from fakebbs.faults import Fault

PROTO = "application/x-protobuf"

# -- the stand-in server -----------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request as the stand-in received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer_port: int


@dataclass(frozen=True)
class Reply:
    """A canned answer. ``close`` drops the connection after it without announcing it."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = PROTO
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False
    hang: bool = False  # wait until the stand-in stops (for timeouts)


def proto(message: Message, status: int = 200, **kwargs: Any) -> Reply:
    return Reply(status=status, body=message.SerializeToString(), **kwargs)


@dataclass
class StandIn:
    """A recording server: ``replies`` are used in order, then ``default``."""

    seen: list[Seen] = field(default_factory=list)
    replies: deque[Reply] = field(default_factory=deque)
    default: Reply = field(default_factory=Reply)
    closed_connections: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    stopping: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def answer(self, seen: Seen) -> Reply:
        self.seen.append(seen)
        return self.replies.popleft() if self.replies else self.default


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = Seen(
            self.command, self.path, dict(self.headers.items()), body, self.client_address[1]
        )
        reply = self.server.stand_in.answer(seen)
        if reply.hang:
            self.server.stand_in.stopping.wait(10)
        self.send_response(reply.status)
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)
        self.close_connection = reply.close

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins every connection's thread

    def __init__(self, stand_in: StandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stand_in = stand_in

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.stand_in.closed_connections.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a hung reply written after the client gave up


@contextlib.contextmanager
def serving(ssl_context: ssl.SSLContext | None = None) -> Iterator[StandIn]:
    stand_in = StandIn()
    server = _Server(stand_in)
    scheme = "http"
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    stand_in.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        stand_in.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    with serving() as stand_in:
        yield stand_in


@pytest.fixture
def client(stand_in: StandIn) -> Iterator[BBSClient]:
    with BBSClient(stand_in.url, timeout=5) as client:
        yield client


KEY = models.ActualLRPKey(process_guid="pg", index=1, domain="d")
INSTANCE_KEY = models.ActualLRPInstanceKey(instance_guid="ig", cell_id="cell")
NET_INFO = models.ActualLRPNetInfo(address="10.0.0.1")
ENDPOINT_NOT_FOUND = Reply(
    status=404, body=b"404 page not found\n", content_type="text/plain; charset=utf-8"
)


# -- what is sent --------------------------------------------------------------------------------


def test_a_call_posts_the_serialised_request_to_the_route_path(
    stand_in: StandIn, client: BBSClient
) -> None:
    client.desired_lrp_by_process_guid("pg")
    [seen] = stand_in.seen
    assert (seen.method, seen.path) == ("POST", "/v1/desired_lrps/get_by_process_guid.r3")
    assert seen.body == models.DesiredLRPByProcessGuidRequest(process_guid="pg").SerializeToString()


def test_a_request_carries_the_protobuf_content_type_and_its_length(
    stand_in: StandIn, client: BBSClient
) -> None:
    client.retire_actual_lrp(KEY)
    [seen] = stand_in.seen
    assert seen.headers["Content-Type"] == PROTO
    assert seen.headers["Content-Length"] == str(len(seen.body))


def test_a_route_without_a_request_message_sends_an_empty_body(
    stand_in: StandIn, client: BBSClient
) -> None:
    client.ping()
    [seen] = stand_in.seen
    assert (seen.path, seen.body, seen.headers["Content-Length"]) == ("/v1/ping", b"", "0")


def test_the_trace_id_is_sent_as_x_vcap_request_id(stand_in: StandIn, client: BBSClient) -> None:
    client.remove_desired_lrp("pg", trace_id="trace-1")
    assert stand_in.seen[0].headers["X-Vcap-Request-Id"] == "trace-1"


def test_an_empty_trace_id_header_is_sent_when_none_is_given(
    stand_in: StandIn, client: BBSClient
) -> None:
    client.domains()
    assert stand_in.seen[0].headers["X-Vcap-Request-Id"] == ""


def test_call_reaches_a_removed_revision_by_endpoint_name(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.default = proto(
        models.DesiredLRPsResponse(desired_lrps=[models.DesiredLRP(process_guid="pg")])
    )
    response = client.call("DesiredLRPs_r0", models.DesiredLRPsRequest(domain="d"))
    assert stand_in.seen[0].path == "/v1/desired_lrps/list"
    assert isinstance(response, models.DesiredLRPsResponse)
    assert [lrp.process_guid for lrp in response.desired_lrps] == ["pg"]


def test_call_returns_the_error_field_instead_of_raising_it(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.default = proto(
        models.TaskResponse(error=models.Error(type=models.Error.ResourceNotFound, message="gone"))
    )
    response = client.call("TaskByGuid_r2", models.TaskByGuidRequest(task_guid="t"))
    assert isinstance(response, models.TaskResponse)
    assert (response.error.type, response.error.message) == (13, "gone")


def test_call_still_raises_request_failures(stand_in: StandIn, client: BBSClient) -> None:
    stand_in.default = ENDPOINT_NOT_FOUND
    with pytest.raises(errors.InvalidResponse, match="404"):
        client.call("Tasks_r1", models.TasksRequest())


def test_call_uses_the_routes_method(stand_in: StandIn, client: BBSClient) -> None:
    client.call("TaskByGuid_r0", models.TaskByGuidRequest(task_guid="t"))
    assert (stand_in.seen[0].method, stand_in.seen[0].path) == ("GET", "/v1/tasks/get_by_task_guid")


def test_call_sends_bytes_verbatim(stand_in: StandIn, client: BBSClient) -> None:
    client.call("UpsertDomain", b"\xff\xff")
    assert stand_in.seen[0].body == b"\xff\xff"


def test_call_refuses_an_event_stream_route(client: BBSClient) -> None:
    with pytest.raises(ValueError, match="event stream"):
        client.call("LRPInstanceEventStream")


def test_a_url_path_prefix_is_kept(stand_in: StandIn) -> None:
    with BBSClient(stand_in.url + "/bbs/", timeout=5) as client:
        client.ping()
    assert stand_in.seen[0].path == "/bbs/v1/ping"


# -- how answers are mapped (client.go: do) ------------------------------------------------------


def test_a_router_error_header_raises_router_error_with_its_value(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.default = proto(
        models.DomainsResponse(domains=["d"]), headers=(("X-Cf-Routererror", "unknown_route"),)
    )
    with pytest.raises(errors.RouterError) as raised:
        client.domains()
    assert raised.value.message == "unknown_route"


def test_a_protobuf_answer_with_an_error_raises_that_error(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.default = proto(
        models.DesiredLRPResponse(
            error=models.Error(
                type=models.Error.ResourceNotFound,
                message="the requested resource could not be found",
            )
        )
    )
    not_found = "^the requested resource could not be found$"
    with pytest.raises(errors.ResourceNotFound, match=not_found):
        client.desired_lrp_by_process_guid("pg")


def test_an_empty_error_field_is_still_an_error(stand_in: StandIn, client: BBSClient) -> None:
    stand_in.default = proto(models.UpsertDomainResponse(error=models.Error()))
    with pytest.raises(errors.UnknownError) as raised:
        client.upsert_domain("d", 0)
    assert raised.value.message == ""


def test_a_protobuf_answer_with_status_500_is_still_decoded(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.default = proto(models.DomainsResponse(domains=["cf-apps"]), status=500)
    assert client.domains() == ["cf-apps"]


def test_content_type_parameters_and_case_do_not_matter(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.default = proto(
        models.DomainsResponse(domains=["d"]), content_type="Application/X-Protobuf; charset=binary"
    )
    assert client.domains() == ["d"]


def test_an_undecodable_protobuf_body_raises_invalid_protobuf_message(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.default = Reply(body=b"\xff\xff\xff")
    with pytest.raises(errors.InvalidProtobufMessage, match="^failed to unmarshal proto: "):
        client.domains()


def test_a_non_protobuf_404_is_endpoint_not_found(stand_in: StandIn, client: BBSClient) -> None:
    stand_in.default = ENDPOINT_NOT_FOUND
    with pytest.raises(errors.InvalidResponse, match="^Invalid Response with status code: 404$"):
        client.domains()


@pytest.mark.parametrize("status", [300, 405, 500, 503])
def test_a_non_protobuf_failure_status_is_an_invalid_response(
    stand_in: StandIn, client: BBSClient, status: int
) -> None:
    stand_in.default = Reply(status=status, content_type="text/plain")
    with pytest.raises(errors.InvalidResponse) as raised:
        client.domains()
    assert raised.value.message == f"Invalid Response with status code: {status}"


def test_a_non_protobuf_2xx_is_a_zero_valued_response(stand_in: StandIn, client: BBSClient) -> None:
    stand_in.default = Reply(body=b"<html>ok</html>", content_type="text/html")
    assert client.desired_lrps() == []


def test_a_missing_content_type_is_not_protobuf(stand_in: StandIn, client: BBSClient) -> None:
    stand_in.default = Reply(status=404, content_type=None)
    with pytest.raises(errors.InvalidResponse, match="status code: 404"):
        client.domains()


def _catalogue() -> list[type[errors.BBSError]]:
    classes = (getattr(errors, name) for name in errors.__all__)
    return [
        cls
        for cls in classes
        if isinstance(cls, type) and issubclass(cls, errors.BBSError) and cls is not errors.BBSError
    ]


@pytest.mark.parametrize("cls", _catalogue(), ids=lambda cls: cls.__name__)
def test_each_error_type_raises_its_class(
    stand_in: StandIn, client: BBSClient, cls: type[errors.BBSError]
) -> None:
    stand_in.default = proto(
        models.TaskLifecycleResponse(error=models.Error(type=cast(Any, cls.type), message="why"))
    )
    with pytest.raises(errors.BBSError) as raised:
        client.cancel_task("t")
    assert type(raised.value) is cls
    assert raised.value.message == "why"


@pytest.mark.parametrize("number", [1, 25, 99])
def test_an_unknown_error_type_still_raises_a_bbs_error_with_its_number(
    stand_in: StandIn, client: BBSClient, number: int
) -> None:
    stand_in.default = proto(
        models.TaskLifecycleResponse(error=models.Error(type=cast(Any, number), message="old"))
    )
    with pytest.raises(errors.BBSError) as raised:
        client.cancel_task("t")
    assert (raised.value.type, raised.value.message) == (number, "old")


def test_a_timeout_raises_timeout(stand_in: StandIn) -> None:
    stand_in.default = Reply(hang=True)
    with BBSClient(stand_in.url, timeout=0.2) as client, pytest.raises(errors.Timeout) as raised:
        client.domains()
    assert raised.value.message.startswith(f'Post "{stand_in.url}/v1/domains/list": ')


def test_an_unreachable_server_raises_the_connection_error() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with BBSClient(url, timeout=5) as client, pytest.raises(ConnectionRefusedError):
        client.domains()


# -- retries and revision fallbacks (client.go: doRequest) ---------------------------------------


def test_no_request_is_retried_by_default(stand_in: StandIn, client: BBSClient) -> None:
    stand_in.default = Reply(status=500, content_type="text/plain")
    with pytest.raises(errors.InvalidResponse):
        client.domains()
    assert len(stand_in.seen) == 1


def test_a_request_failure_is_retried_up_to_retries_times(stand_in: StandIn) -> None:
    stand_in.default = Reply(status=502, content_type="text/plain")
    client = BBSClient(stand_in.url, timeout=5, retries=GO_DEFAULT_RETRIES, retry_interval=0)
    with client, pytest.raises(errors.InvalidResponse):
        client.domains()
    assert len(stand_in.seen) == 3


def test_a_retry_that_succeeds_returns_its_answer(stand_in: StandIn) -> None:
    stand_in.replies.append(Reply(status=503, content_type=None))
    stand_in.default = proto(models.DomainsResponse(domains=["d"]))
    with BBSClient(stand_in.url, timeout=5, retries=1, retry_interval=0) as client:
        assert client.domains() == ["d"]
    assert len(stand_in.seen) == 2


def test_retries_changed_after_construction_apply_to_the_next_call(stand_in: StandIn) -> None:
    stand_in.default = Reply(status=502, content_type="text/plain")
    with BBSClient(stand_in.url, timeout=5) as client:
        client.retries, client.retry_interval = 1, 0
        with pytest.raises(errors.InvalidResponse):
            client.domains()
    assert len(stand_in.seen) == 2
    assert (client.retries, client.retry_interval) == (1, 0)


def test_an_error_in_the_response_is_not_retried(stand_in: StandIn) -> None:
    stand_in.default = proto(models.DomainsResponse(error=models.Error(type=models.Error.Deadlock)))
    client = BBSClient(stand_in.url, timeout=5, retries=2, retry_interval=0)
    with client, pytest.raises(errors.Deadlock):
        client.domains()
    assert len(stand_in.seen) == 1


def test_start_actual_lrp_falls_back_to_the_r0_route_on_404(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.replies.append(ENDPOINT_NOT_FOUND)
    client.start_actual_lrp(
        KEY, INSTANCE_KEY, NET_INFO, metric_tags={"k": "v"}, availability_zone="z1"
    )
    assert [seen.path for seen in stand_in.seen] == [
        "/v1/actual_lrps/start.r1",
        "/v1/actual_lrps/start",
    ]
    sent = models.StartActualLRPRequest.FromString(stand_in.seen[1].body)
    assert sent == models.StartActualLRPRequest(
        actual_lrp_key=KEY, actual_lrp_instance_key=INSTANCE_KEY, actual_lrp_net_info=NET_INFO
    )


def test_start_actual_lrp_sends_routable_and_the_r1_fields(
    stand_in: StandIn, client: BBSClient
) -> None:
    client.start_actual_lrp(KEY, INSTANCE_KEY, NET_INFO, routable=False, availability_zone="z1")
    sent = models.StartActualLRPRequest.FromString(stand_in.seen[0].body)
    assert sent.HasField("Routable") and not sent.Routable
    assert sent.availability_zone == "z1"


def test_start_actual_lrp_does_not_fall_back_on_other_failures(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.default = Reply(status=500, content_type="text/plain")
    with pytest.raises(errors.InvalidResponse):
        client.start_actual_lrp(KEY, INSTANCE_KEY, NET_INFO)
    assert len(stand_in.seen) == 1


def test_start_actual_lrp_raises_the_error_of_the_fallback(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.replies.append(ENDPOINT_NOT_FOUND)
    stand_in.default = proto(
        models.ActualLRPLifecycleResponse(
            error=models.Error(type=models.Error.ActualLRPCannotBeStarted)
        )
    )
    with pytest.raises(errors.ActualLRPCannotBeStarted):
        client.start_actual_lrp(KEY, INSTANCE_KEY, NET_INFO)


def test_evacuate_running_falls_back_to_the_r0_route_on_404(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.replies.append(ENDPOINT_NOT_FOUND)
    stand_in.default = proto(models.EvacuationResponse(keep_container=True))
    assert client.evacuate_running_actual_lrp(KEY, INSTANCE_KEY, NET_INFO) is True
    assert stand_in.seen[1].path == "/v1/actual_lrps/evacuate_running"


def test_evacuation_returns_the_servers_keep_container(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.default = proto(models.EvacuationResponse(keep_container=False))
    assert client.evacuate_claimed_actual_lrp(KEY, INSTANCE_KEY) is False


@pytest.mark.parametrize(
    ("method", "default"),
    [
        ("evacuate_claimed_actual_lrp", True),
        ("evacuate_running_actual_lrp", True),
        ("evacuate_stopped_actual_lrp", False),
        ("evacuate_crashed_actual_lrp", False),
    ],
)
def test_a_failed_evacuation_raises_with_the_go_clients_default_keep_container(
    stand_in: StandIn, client: BBSClient, method: str, default: bool
) -> None:
    stand_in.default = Reply(status=500, content_type="text/plain")
    extra = {
        "evacuate_running_actual_lrp": (NET_INFO,),
        "evacuate_crashed_actual_lrp": ("boom",),
    }.get(method, ())
    with pytest.raises(errors.InvalidResponse) as raised:
        getattr(client, method)(KEY, INSTANCE_KEY, *extra)
    assert raised.value.keep_container is default


def test_an_evacuation_error_carries_the_responses_keep_container(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.default = proto(
        models.EvacuationResponse(
            error=models.Error(type=models.Error.ResourceNotFound), keep_container=True
        )
    )
    with pytest.raises(errors.ResourceNotFound) as raised:
        client.evacuate_stopped_actual_lrp(KEY, INSTANCE_KEY)
    assert raised.value.keep_container is True


def test_ping_is_false_on_any_failure(stand_in: StandIn, client: BBSClient) -> None:
    stand_in.default = Reply(status=503, content_type=None)
    assert client.ping() is False


def test_ping_is_false_when_nothing_listens() -> None:
    with BBSClient(f"http://127.0.0.1:{_free_port()}", timeout=5) as client:
        assert client.ping() is False


# -- connections ---------------------------------------------------------------------------------


def test_sequential_calls_share_one_connection(stand_in: StandIn, client: BBSClient) -> None:
    client.domains()
    client.domains()
    assert stand_in.seen[0].peer_port == stand_in.seen[1].peer_port


def test_a_connection_the_server_closed_while_idle_is_reopened(
    stand_in: StandIn, client: BBSClient
) -> None:
    stand_in.replies.append(proto(models.DomainsResponse(domains=["a"]), close=True))
    stand_in.default = proto(models.DomainsResponse(domains=["b"]))
    assert client.domains() == ["a"]
    assert stand_in.closed_connections.acquire(timeout=5)
    assert client.domains() == ["b"]
    assert stand_in.seen[0].peer_port != stand_in.seen[1].peer_port


def test_concurrent_calls_use_separate_connections(stand_in: StandIn, client: BBSClient) -> None:
    stand_in.replies.append(Reply(hang=True))
    hung = threading.Thread(target=client.ping)
    hung.start()
    while not stand_in.seen:  # the first call holds its connection in the server now
        threading.Event().wait(0.01)
    client.domains()
    stand_in.stopping.set()
    hung.join()
    assert stand_in.seen[0].peer_port != stand_in.seen[1].peer_port


def test_a_closed_client_refuses_calls(stand_in: StandIn) -> None:
    client = BBSClient(stand_in.url)
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.domains()


def test_https_calls_share_one_tls_connection() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with serving(server_context) as stand_in:
        stand_in.default = proto(models.DomainsResponse(domains=["d"]))
        with BBSClient(stand_in.url, ssl_context=client_context, timeout=5) as client:
            assert client.domains() == client.domains() == ["d"]
    assert stand_in.seen[0].peer_port == stand_in.seen[1].peer_port


def test_an_ssl_context_needs_an_https_url() -> None:
    with pytest.raises(ValueError, match="Expected https URL"):
        BBSClient("http://127.0.0.1:1", ssl_context=ssl.create_default_context())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- typed methods against the fake (fixtures `bbs` and `fake` come from conftest.py) -----------


def test_ping_against_the_fake_is_true(bbs: BBSClient) -> None:
    assert bbs.ping() is True


def test_an_upserted_domain_is_listed(bbs: BBSClient) -> None:
    bbs.upsert_domain("cf-apps", 0)
    assert bbs.domains() == ["cf-apps"]


def test_cells_of_a_fake_without_cells_is_empty(bbs: BBSClient) -> None:
    assert bbs.cells() == []


def test_a_desired_lrp_can_be_read_back(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    got = bbs.desired_lrp_by_process_guid("web")
    assert (got.process_guid, got.instances) == ("web", 2)


def test_desiring_a_process_guid_twice_raises_resource_exists(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    with pytest.raises(errors.ResourceExists):
        bbs.desire_lrp(desired_lrp("web"))


def test_an_invalid_desired_lrp_raises_invalid_request(bbs: BBSClient) -> None:
    with pytest.raises(errors.InvalidRequest, match="process_guid"):
        bbs.desire_lrp(desired_lrp(""))


def test_desired_lrps_filters_by_domain(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    bbs.desire_lrp(desired_lrp("worker", domain="other"))
    assert [lrp.process_guid for lrp in bbs.desired_lrps(domain="other")] == ["worker"]


def test_desired_lrps_filters_by_process_guids_and_app_guid_prefixes(bbs: BBSClient) -> None:
    for guid in ("app1-v1", "app1-v2", "app2-v1"):
        bbs.desire_lrp(desired_lrp(guid))
    assert {lrp.process_guid for lrp in bbs.desired_lrps(app_guids=["app1"])} == {
        "app1-v1",
        "app1-v2",
    }
    assert [lrp.process_guid for lrp in bbs.desired_lrps(process_guids=["app2-v1"])] == ["app2-v1"]


def test_scheduling_and_routing_infos_describe_the_desired_lrp(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    [info] = bbs.desired_lrp_scheduling_infos()
    one = bbs.desired_lrp_scheduling_info_by_process_guid("web")
    [routing] = bbs.desired_lrp_routing_infos(process_guids=["web"])
    assert info == one
    assert info.desired_lrp_key.process_guid == routing.process_guid == "web"


def test_update_desired_lrp_changes_the_instance_count(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    bbs.update_desired_lrp("web", models.DesiredLRPUpdate(instances=3), trace_id="t")
    assert bbs.desired_lrp_by_process_guid("web").instances == 3
    assert sorted(lrp.actual_lrp_key.index for lrp in bbs.actual_lrps(process_guid="web")) == [
        0,
        1,
        2,
    ]


def test_updating_an_unknown_desired_lrp_raises_resource_not_found(bbs: BBSClient) -> None:
    with pytest.raises(errors.ResourceNotFound):
        bbs.update_desired_lrp("nope", models.DesiredLRPUpdate(instances=1))


def test_a_removed_desired_lrp_is_gone(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    bbs.remove_desired_lrp("web")
    with pytest.raises(errors.ResourceNotFound):
        bbs.desired_lrp_by_process_guid("web")


def test_desiring_creates_unclaimed_actual_lrps(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    lrps = bbs.actual_lrps(process_guid="web")
    assert sorted((lrp.actual_lrp_key.index, lrp.state) for lrp in lrps) == [
        (0, "UNCLAIMED"),
        (1, "UNCLAIMED"),
    ]


def test_actual_lrps_index_zero_is_a_filter(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    assert [lrp.actual_lrp_key.index for lrp in bbs.actual_lrps(index=0)] == [0]


def test_actual_lrps_by_process_guids_lists_only_those(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    bbs.desire_lrp(desired_lrp("worker"))
    lrps = bbs.actual_lrps_by_process_guids(["worker"])
    assert {lrp.actual_lrp_key.process_guid for lrp in lrps} == {"worker"}


def test_actual_lrp_groups_hold_one_instance_each(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    groups = bbs.actual_lrp_groups(domain="cf-apps")
    assert sorted(group.instance.actual_lrp_key.index for group in groups) == [0, 1]
    assert len(bbs.actual_lrp_groups_by_process_guid("web")) == 2


def test_actual_lrp_group_by_process_guid_and_index(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    group = bbs.actual_lrp_group_by_process_guid_and_index("web", 1)
    assert group.instance.actual_lrp_key.index == 1
    with pytest.raises(errors.ResourceNotFound):
        bbs.actual_lrp_group_by_process_guid_and_index("web", 5)


def test_retiring_an_unclaimed_instance_removes_it(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    bbs.retire_actual_lrp(models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps"))
    assert [lrp.actual_lrp_key.index for lrp in bbs.actual_lrps(process_guid="web")] == [1]


def test_retiring_an_unknown_instance_raises_resource_not_found(bbs: BBSClient) -> None:
    with pytest.raises(errors.ResourceNotFound):
        bbs.retire_actual_lrp(models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps"))


def test_call_reaches_a_deprecated_revision_of_the_fake(bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    response = bbs.call("DesiredLRPs_r2", models.DesiredLRPsRequest())
    assert isinstance(response, models.DesiredLRPsResponse)
    assert [lrp.process_guid for lrp in response.desired_lrps] == ["web"]


# -- what each fault raises (the README's fault table), in-process and over a socket -----------


@pytest.mark.parametrize(
    ("fault", "raised", "says"),
    [
        # http.client.RemoteDisconnected is a ConnectionResetError (and so a ConnectionError).
        (faults.close_connection(), http.client.RemoteDisconnected, "Remote end closed"),
        # Over a socket the reset may reach the client as RemoteDisconnected: a subclass.
        (faults.reset_connection(), ConnectionResetError, None),
        (faults.truncated_body(), errors.InvalidResponse, "failed to read body: IncompleteRead"),
        (faults.bad_body(), errors.InvalidProtobufMessage, "failed to unmarshal proto"),
        (faults.status(503), errors.InvalidResponse, "Invalid Response with status code: 503"),
        (faults.not_found(), errors.InvalidResponse, "Invalid Response with status code: 404"),
        (faults.router_error("no_route"), errors.RouterError, "no_route"),
    ],
    ids=str,
)
def test_each_fault_raises_a_retryable_request_failure(
    fake: FakeBBS, bbs: BBSClient, fault: Fault, raised: type[Exception], says: str | None
) -> None:
    fake.fail("Domains", fault, times=1)
    with pytest.raises(raised, match=says) as caught:
        bbs.domains()
    assert errors.is_retryable(caught.value)
    assert bbs.domains() == []  # the rule is used up: the next call is answered


def test_a_delay_longer_than_the_timeout_raises_timeout_a_timeout_error() -> None:
    fake = FakeBBS()
    fake.fail("Domains", faults.delay(1), times=1)
    with fake.serve(), fake.client(timeout=0.1) as bbs:
        with pytest.raises(errors.Timeout) as caught:
            bbs.domains()
    assert isinstance(caught.value, TimeoutError) and errors.is_retryable(caught.value)


def test_a_delay_in_process_only_answers_late(fakebbs_in_process: FakeBBS) -> None:
    fakebbs_in_process.fail("Domains", faults.delay(0.01), times=1)
    with fakebbs_in_process.client() as bbs:
        assert bbs.domains() == []


def test_end_stream_ends_the_event_source_with_eof(fake: FakeBBS, bbs: BBSClient) -> None:
    fake.fail("TaskEventStream", faults.end_stream(), times=1)
    with bbs.subscribe_to_task_events() as events, pytest.raises(EOFError):
        events.next(timeout=5)


def test_a_bbs_error_answered_is_not_retryable(fake: FakeBBS, bbs: BBSClient) -> None:
    fake.fail("Domains", errors.Timeout("the BBS timed out"), times=1)
    with pytest.raises(errors.Timeout) as caught:
        bbs.domains()
    assert not errors.is_retryable(caught.value)
    assert not errors.is_retryable(errors.ResourceNotFound())
    assert not errors.is_retryable(ValueError("not a transport error"))


def test_retries_retry_exactly_what_is_retryable(fake: FakeBBS) -> None:
    fake.fail("Domains", faults.reset_connection(), times=2)
    with fake.client(retries=2, retry_interval=0) as bbs:
        assert bbs.domains() == []
    fake.fail("Domains", errors.Deadlock(), times=1)
    with fake.client(retries=2, retry_interval=0) as bbs, pytest.raises(errors.Deadlock):
        bbs.domains()
    fake.calls.assert_called("Domains", times=4)  # two resets, an answer, then the error
