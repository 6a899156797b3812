"""fakebbs._http.server.Server: lifecycle, keep-alive, worker pool, TLS, bad HTTP, errors, logging.

The server is exercised with a small WSGI app of its own (``EchoApp``), not the fake, so these
tests pin the transport alone.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest
import trustme
from werkzeug.wrappers import Request

from fakebbs import FakeBBS
from fakebbs._http import server as _server
from fakebbs._http.server import BodyReadError, Server
from fakebbs._standalone.namespaces import NAMESPACE_HEADER, namespace_of_request
from fakebbs._standalone.served import served_namespaces

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

TIMEOUT = 5.0  # any single socket operation in these tests; none should come close


class EchoApp:
    """A WSGI app with one behaviour per path.

    ``/echo`` reads the whole body (as werkzeug does) and reports what the server saw;
    ``/stream`` sends a first line, then holds its worker until ``release`` is set;
    ``/ignore-body`` answers without reading the body; ``/boom`` and ``/boom-late`` raise before
    and after the response started; ``/catch-body-error`` answers a bad body itself.
    """

    def __init__(self) -> None:
        self.release = threading.Event()
        self.streams_started = threading.Semaphore(0)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/stream":
            return self._stream(start_response)
        if path == "/boom":
            raise RuntimeError("boom")
        if path == "/boom-late":
            return self._boom_late(start_response)
        if path == "/catch-body-error":
            try:
                Request(environ).get_data()
            except BodyReadError:
                return _answer(start_response, "422 Unprocessable Entity", b"caught")
            return _answer(start_response, "200 OK", b"fine")
        body = b"" if path == "/ignore-body" else Request(environ).get_data()
        facts = {
            "len": len(body),
            "port": environ["REMOTE_PORT"],
            "scheme": environ["wsgi.url_scheme"],
            "client": environ.get("SSL_CLIENT_VERIFY", "-"),
        }
        return _answer(start_response, "200 OK", " ".join(f"{k}={v}" for k, v in facts.items()))

    def _stream(self, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"started\n"
        self.streams_started.release()
        self.release.wait(TIMEOUT)
        yield b"ended\n"

    @staticmethod
    def _boom_late(start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial\n"
        raise RuntimeError("boom while streaming")


def _answer(start_response: StartResponse, status: str, body: str | bytes) -> list[bytes]:
    data = body.encode() if isinstance(body, str) else body
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


@pytest.fixture
def app() -> Iterator[EchoApp]:
    app = EchoApp()
    yield app
    app.release.set()


@pytest.fixture
def server(app: EchoApp) -> Iterator[Server]:
    with Server(app) as server:
        yield server


def get(server: Server, path: str = "/echo", body: bytes | None = None) -> tuple[int, bytes]:
    """One request on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    try:
        conn.request("POST", path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def raw_exchange(server: Server, data: bytes, *, half_close: bool = False) -> bytes:
    """Send bytes on a raw socket and read until the server closes the connection."""
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):  # a timeout here means the server kept it open
            received += chunk
    return received


def assert_serving(server: Server) -> None:
    assert get(server)[0] == 200


# -- lifecycle --------------------------------------------------------------------------------


def test_start_binds_a_free_port_on_loopback_and_returns_the_server(app: EchoApp) -> None:
    server = Server(app)
    try:
        assert server.start() is server
        assert server.host == "127.0.0.1"
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.is_running
    finally:
        server.stop()
    assert not server.is_running


def test_connections_are_accepted_as_soon_as_start_returns(app: EchoApp) -> None:
    with Server(app) as server:
        status, body = get(server, body=b"abc")
        assert status == 200
        assert body.startswith(b"len=3 ")


def test_the_address_is_unknown_before_start(app: EchoApp) -> None:
    server = Server(app)
    with pytest.raises(RuntimeError, match="not started"):
        server.port  # noqa: B018
    with pytest.raises(RuntimeError, match="not started"):
        server.url  # noqa: B018


def test_an_explicit_port_is_used(app: EchoApp) -> None:
    with Server(app) as first:
        port = first.port
    with Server(app, port=port) as second:
        assert second.port == port
        assert_serving(second)


def test_a_port_in_use_fails_start(server: Server, app: EchoApp) -> None:
    with pytest.raises(OSError):
        Server(app, port=server.port).start()


def test_stop_is_idempotent_and_a_stopped_server_cannot_restart(app: EchoApp) -> None:
    server = Server(app).start()
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError):
        server.start()
    with pytest.raises(RuntimeError), server:
        pass


def test_a_started_server_can_be_used_as_a_context_manager(app: EchoApp) -> None:
    server = Server(app).start()
    with server as same:
        assert same is server
        assert_serving(server)
    assert not server.is_running


def test_stop_closes_the_listening_socket(app: EchoApp) -> None:
    with Server(app) as server:
        address = (server.host, server.port)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=TIMEOUT).close()


def test_stop_joins_every_thread_the_server_started(app: EchoApp) -> None:
    before = set(threading.enumerate())
    with Server(app) as server:
        assert_serving(server)
        idle = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        idle.request("GET", "/echo")
        idle.getresponse().read()  # leaves a kept-alive connection open across stop()
        streams = [_open_stream(server) for _ in range(12)]  # grows the pool past its minimum
        app.release.set()
        for stream in streams:
            stream.close()
    idle.close()
    assert set(threading.enumerate()) == before


def test_stop_while_many_responses_finish_leaves_no_broken_worker() -> None:
    # Workers hand their kept-alive connections back while stop() closes the selector; in plain
    # cheroot one of them can die of "I/O operation on closed epoll object" (pytest reports an
    # exception in a thread as an error).
    for _ in range(5):
        app = EchoApp()
        server = Server(app).start()
        streams = [_open_stream(server) for _ in range(20)]
        app.release.set()
        server.stop()
        for stream in streams:
            stream.close()


def test_on_stop_runs_first_so_endless_responses_can_end(app: EchoApp) -> None:
    before = set(threading.enumerate())
    server = Server(app, on_stop=app.release.set).start()
    stream = _open_stream(server)
    server.stop()
    assert stream.read() == b"ended\n"
    stream.close()
    assert set(threading.enumerate()) == before


def test_stop_gives_up_on_a_worker_stuck_in_the_app(
    app: EchoApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_server, "_SHUTDOWN_GRACE", 0)
    monkeypatch.setattr(_server, "_STUCK_WORKER_WAIT", 0.05)
    server = Server(app).start()
    stream = _open_stream(server)
    server.stop()  # returns although the stream's worker is still inside the app
    assert "still busy after stop()" in caplog.text
    app.release.set()
    stream.close()


# -- keep-alive and the worker pool -------------------------------------------------------------


def test_http11_keep_alive_serves_requests_on_one_connection(server: Server) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/echo", body=b"one")
        first = conn.getresponse().read()
        sock = conn.sock
        conn.request("POST", "/echo", body=b"two!")
        second = conn.getresponse().read()
        assert conn.sock is sock
        port = f"port={sock.getsockname()[1]} ".encode()
    finally:
        conn.close()
    assert first.startswith(b"len=3 " + port)
    assert second.startswith(b"len=4 " + port)


def test_answers_carry_no_server_header_as_go_sends_none(server: Server) -> None:
    answer = raw_exchange(server, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 200 ok\r\n")
    assert b"\r\ndate: " in head
    assert b"\r\nserver:" not in head


def test_a_server_header_the_app_sets_is_kept() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Server", "mine"), ("Content-Length", "0")])
        return []

    with Server(app) as server:
        answer = raw_exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.lower().count(b"\r\nserver:") == 1
    assert b"\r\nServer: mine\r\n" in answer


def test_many_pooled_connections_are_all_kept_alive(server: Server) -> None:
    conns = [
        http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT) for _ in range(30)
    ]
    try:
        for _ in range(2):
            for conn in conns:
                conn.request("GET", "/echo")
                conn.getresponse().read()
        sockets = [conn.sock for conn in conns]
        for conn in conns:
            conn.request("GET", "/echo")
            conn.getresponse().read()
        assert [conn.sock for conn in conns] == sockets
    finally:
        for conn in conns:
            conn.close()


def test_a_chunked_request_body_is_read_and_the_connection_kept(server: Server) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/echo", body=iter([b"hello ", b"world"]), encode_chunked=True)
        assert conn.getresponse().read().startswith(b"len=11 ")
        sock = conn.sock
        conn.request("POST", "/echo", body=b"x")
        assert conn.getresponse().read().startswith(b"len=1 ")
        assert conn.sock is sock
    finally:
        conn.close()


def test_an_unread_chunked_body_closes_the_connection(server: Server) -> None:
    request = (
        b"POST /ignore-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
    )
    answer = raw_exchange(server, request)  # no half-close: the server must close
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in answer


class Stream:
    """A ``/stream`` response whose first line has arrived."""

    def __init__(self, server: Server) -> None:
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        self.conn.request("GET", "/stream")
        self.response = self.conn.getresponse()
        assert self.response.readline() == b"started\n"

    def read(self) -> bytes:
        return self.response.read()

    def close(self) -> None:
        self.response.close()
        self.conn.close()


def _open_stream(server: Server) -> Stream:
    return Stream(server)


def test_the_pool_grows_past_its_initial_workers_for_long_lived_responses(
    server: Server, app: EchoApp
) -> None:
    streams = [_open_stream(server) for _ in range(3 * _server._MIN_THREADS)]
    try:
        assert_serving(server)  # an ordinary call still gets a worker
    finally:
        app.release.set()
        for stream in streams:
            assert stream.read() == b"ended\n"
            stream.close()


def test_workers_a_burst_of_streams_needed_retire_once_idle(app: EchoApp) -> None:
    with Server(app, worker_idle_timeout=0.2) as server:
        baseline = server.worker_threads
        threads_before = set(threading.enumerate())
        streams = [_open_stream(server) for _ in range(50)]
        assert server.worker_threads >= 50
        app.release.set()
        for stream in streams:
            assert stream.read() == b"ended\n"
            stream.close()
        assert server.wait_for_worker_threads(baseline, timeout=30)
        assert server.worker_threads == baseline == _server._MIN_THREADS
        # at most the minimum of the burst's threads live on, in place of retired first workers
        # (other servers' idle workers may retire meanwhile, so no count of the whole process)
        assert len(set(threading.enumerate()) - threads_before) <= _server._MIN_THREADS
        assert_serving(server)  # the pool still serves, and grows again when needed
        again = [_open_stream(server) for _ in range(2 * _server._MIN_THREADS)]
        for stream in again:
            stream.close()


def _threads_started_since(before: set[threading.Thread]) -> int:
    return len(set(threading.enumerate()) - before)


def test_open_event_streams_hold_no_worker_and_leave_no_thread_behind() -> None:
    fake = FakeBBS()
    threads_before = set(threading.enumerate())
    with Server(fake.wsgi_app, worker_idle_timeout=0.2, on_stop=fake.release_waiting) as server:
        baseline = server.worker_threads
        # what this server runs when idle: its minimum workers, the accept loop, the gatherer
        idle_threads = baseline + 2
        assert _threads_started_since(threads_before) == idle_threads
        streams = []
        for _ in range(50):
            conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
            conn.request("POST", "/v1/events/lrp_instances.r1", body=b"")
            response = conn.getresponse()
            assert response.status == 200
            streams.append((conn, response))
        fake.seed.desired_lrp("web")
        for _, response in streams:  # one writer thread serves every subscriber
            assert response.readline() == b"id: 0\n"
        assert server.worker_threads == baseline
        assert _threads_started_since(threads_before) == idle_threads + 1  # the writer
        for conn, response in streams:  # the subscribers go away without a word
            response.close()
            conn.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            fake.open_event_streams or _threads_started_since(threads_before) > idle_threads
        ):
            threading.Event().wait(0.05)
        assert fake.open_event_streams == 0
        assert _threads_started_since(threads_before) == idle_threads
    assert set(threading.enumerate()) == threads_before


_WAITING_CLIENTS = {
    "open event streams": b"POST /ns/hog/v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: x\r\n"
    b"Content-Length: 0\r\n\r\n",
    "half a request head": b"POST /ns/hog/v1/ping HTTP/1.1\r\nHost: x\r\n",
    "a head without its body": b"POST /ns/hog/v1/desired_lrp/desire.r2 HTTP/1.1\r\nHost: x\r\n"
    b"Content-Length: 100\r\n\r\n",
    "a chunked body cut off": b"POST /ns/hog/v1/desired_lrp/desire.r2 HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel",
    "nothing at all": b"",
}


@pytest.mark.parametrize("waiting", list(_WAITING_CLIENTS))
def test_300_clients_waiting_in_one_namespace_do_not_stall_another(waiting: str) -> None:
    namespaces = served_namespaces()
    with namespaces.serve() as server:
        clients = []
        try:
            for _ in range(300):
                client = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
                clients.append(client)
                client.sendall(_WAITING_CLIENTS[waiting])
            if waiting == "open event streams":
                hog = namespaces.get("hog").fake
                deadline = time.monotonic() + 30
                while hog.open_event_streams < 300 and time.monotonic() < deadline:
                    threading.Event().wait(0.05)
                assert hog.open_event_streams == 300
            conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
            conn.request("POST", "/ns/other/v1/ping", body=b"")
            answer = conn.getresponse()
            assert (answer.status, answer.read()) == (200, b"\x08\x01")
            conn.close()
            # and no worker waits for them: those the burst needed retire while they stay
            assert server.wait_for_worker_threads(_server._MIN_THREADS, timeout=30)
        finally:
            for client in clients:
                client.close()


def test_idle_workers_never_retire_below_the_minimum(app: EchoApp) -> None:
    with Server(app, worker_idle_timeout=0.01) as server:
        streams = [_open_stream(server) for _ in range(3)]
        app.release.set()
        for stream in streams:
            stream.close()
        assert not server.wait_for_worker_threads(_server._MIN_THREADS - 1, timeout=0.3)
        assert server.worker_threads == _server._MIN_THREADS


def test_threads_caps_the_requests_served_at_once(app: EchoApp) -> None:
    with Server(app, threads=1) as server:
        stream = _open_stream(server)
        waiting = http.client.HTTPConnection(server.host, server.port, timeout=0.3)
        try:
            waiting.request("GET", "/echo")
            with pytest.raises(TimeoutError):
                waiting.getresponse()
        finally:
            waiting.close()
        app.release.set()
        assert stream.read() == b"ended\n"
        stream.close()
        assert_serving(server)


def test_threads_must_be_positive(app: EchoApp) -> None:
    with pytest.raises(ValueError):
        Server(app, threads=0)
    with pytest.raises(ValueError):
        Server(app, worker_idle_timeout=0)


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *, require_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


def client_context(ca: trustme.CA, *, with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if with_cert:
        ca.issue_cert("bbs-client").configure_cert(context)
    return context


def tls_get(server: Server, context: ssl.SSLContext, requests: int = 1) -> list[bytes]:
    conn = http.client.HTTPSConnection(server.host, server.port, timeout=TIMEOUT, context=context)
    try:
        bodies = []
        for _ in range(requests):
            conn.request("POST", "/echo", body=b"tls")
            response = conn.getresponse()
            assert response.status == 200
            bodies.append(response.read())
        return bodies
    finally:
        conn.close()


def test_tls_requests_are_served_with_keep_alive(app: EchoApp, ca: trustme.CA) -> None:
    context = server_context(ca, require_client_cert=False)
    with Server(app, ssl_context=context) as server:
        assert server.url == f"https://127.0.0.1:{server.port}"
        first, second = tls_get(server, client_context(ca, with_cert=False), requests=2)
    assert first.startswith(b"len=3 ")
    assert b" scheme=https " in first
    assert first.split()[1] == second.split()[1]  # same client port: one connection


def test_mutual_tls_accepts_a_client_certificate(app: EchoApp, ca: trustme.CA) -> None:
    context = server_context(ca, require_client_cert=True)
    with Server(app, ssl_context=context) as server:
        (body,) = tls_get(server, client_context(ca, with_cert=True))
    assert body.endswith(b" client=SUCCESS")


def test_mutual_tls_refuses_a_client_without_a_certificate(app: EchoApp, ca: trustme.CA) -> None:
    context = server_context(ca, require_client_cert=True)
    with Server(app, ssl_context=context) as server:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            tls_get(server, client_context(ca, with_cert=False))
        tls_get(server, client_context(ca, with_cert=True))


def test_plain_http_to_a_tls_server_gets_a_400(app: EchoApp, ca: trustme.CA) -> None:
    with Server(app, ssl_context=server_context(ca, require_client_cert=False)) as server:
        answer = raw_exchange(server, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert answer.endswith(b"Client sent an HTTP request to an HTTPS server.\n")
        tls_get(server, client_context(ca, with_cert=False))


def test_a_client_that_never_handshakes_does_not_block_others(app: EchoApp, ca: trustme.CA) -> None:
    context = server_context(ca, require_client_cert=False)
    with (
        Server(app, ssl_context=context) as server,
        socket.create_connection((server.host, server.port), timeout=TIMEOUT),
    ):
        tls_get(server, client_context(ca, with_cert=False))


def test_a_client_closing_an_event_stream_under_mutual_tls_is_no_error(
    ca: trustme.CA, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeBBS()
    caplog.set_level(logging.DEBUG, logger="fakebbs.server")
    context = server_context(ca, require_client_cert=True)
    with fake.serve(ssl_context=context) as server:
        client = client_context(ca, with_cert=True)
        conn = http.client.HTTPSConnection(
            server.host, server.port, timeout=TIMEOUT, context=client
        )
        conn.request("POST", "/v1/events/lrp_instances.r1", body=b"")
        response = conn.getresponse()
        assert response.status == 200
        fake.seed.desired_lrp("web")
        assert response.fp is not None and response.fp.readline()  # the stream is flowing
        response.close()
        conn.close()  # the subscriber goes away without a word
        deadline = time.monotonic() + 10
        while fake.open_event_streams and time.monotonic() < deadline:
            fake.seed.desired_lrp(f"more-{time.monotonic_ns()}")  # writes to a closed stream
            threading.Event().wait(0.05)
        assert fake.open_event_streams == 0
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert noisy == [], [r.getMessage() for r in noisy]
    assert fake.handler_errors == []


# -- bad HTTP -----------------------------------------------------------------------------------

BAD_REQUESTS = {
    "malformed request line": (
        b"GARBAGE\r\n\r\n",
        False,
        b"400 Bad Request",
        b"Malformed Request-Line",
    ),
    "binary request line": (b"\x00\x01\x02\xff\r\n\r\n", False, b"400 Bad Request", b"Malformed"),
    "header line without a colon": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
        False,
        b"400 Bad Request",
        b"Illegal header line.",
    ),
    "non-numeric Content-Length": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        False,
        b"400 Bad Request",
        b"Malformed Content-Length Header.",
    ),
    "negative Content-Length": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello",
        False,
        b"400 Bad Request",
        b"Malformed Content-Length Header.",
    ),
    "signed Content-Length": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
        False,
        b"400 Bad Request",
        b"Malformed Content-Length Header.",
    ),
    "body shorter than Content-Length": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello",
        True,
        b"400 Bad Request",
        b"Request body ended after 5 of the 10 bytes its Content-Length announced.",
    ),
    "chunk size that is not hex": (
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nhello\r\n0\r\n\r\n"
        ),
        False,
        b"400 Bad Request",
        b"Malformed chunked request body: Bad chunked transfer size: b'zz'",
    ),
    "chunk without its CRLF": (
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhelloXX0\r\n\r\n"
        ),
        False,
        b"400 Bad Request",
        b"Malformed chunked request body: Bad chunked transfer coding",
    ),
    "chunked body cut short": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        True,
        b"400 Bad Request",
        b"Malformed chunked request body: Bad chunked transfer coding",
    ),
    "unsupported transfer coding": (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        False,
        b"501 Unimplemented",
        b"",
    ),
    "unsupported HTTP version": (
        b"GET /echo HTTP/2.0\r\nHost: x\r\n\r\n",
        False,
        b"505 HTTP Version Not Supported",
        b"Cannot fulfill request",
    ),
}


@pytest.mark.parametrize(
    ("request_bytes", "half_close", "status", "message"),
    list(BAD_REQUESTS.values()),
    ids=list(BAD_REQUESTS),
)
def test_bad_http_gets_an_http_answer_and_a_closed_connection(
    server: Server, request_bytes: bytes, half_close: bool, status: bytes, message: bytes
) -> None:
    answer = raw_exchange(server, request_bytes, half_close=half_close)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status + b"\r\n")
    assert body.startswith(message)
    assert_serving(server)


def test_a_bad_body_the_app_answers_itself_still_closes_the_connection(server: Server) -> None:
    request = (
        b"POST /catch-body-error HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nhello\r\n0\r\n\r\n"
    )
    answer = raw_exchange(server, request)
    assert answer.startswith(b"HTTP/1.1 422 Unprocessable Entity\r\n")
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.endswith(b"\r\n\r\ncaught")


def test_a_request_cut_off_in_its_headers_does_not_hurt_the_server(server: Server) -> None:
    raw_exchange(server, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Le", half_close=True)
    raw_exchange(server, b"", half_close=True)
    assert_serving(server)


# -- app errors and logging -------------------------------------------------------------------


def test_an_app_exception_is_logged_recorded_and_answered_500(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="fakebbs.server"):
        status, body = get(server, "/boom")
    assert (status, body) == (500, b"Internal Server Error\n")
    (record,) = [r for r in caplog.records if r.name == "fakebbs.server"]
    assert record.levelno == logging.ERROR
    assert "POST /boom" in record.getMessage()
    assert record.exc_info is not None
    assert [str(error) for error in server.errors] == ["boom"]
    assert_serving(server)


def test_an_exception_while_streaming_is_logged_and_drops_the_connection(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    answer = raw_exchange(server, b"GET /boom-late HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert not answer.endswith(b"0\r\n\r\n")  # no terminating chunk: the client sees it broke
    assert "boom while streaming" in caplog.text
    assert [str(error) for error in server.errors] == ["boom while streaming"]
    assert_serving(server)


def test_each_request_is_logged_on_one_info_line(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="fakebbs.server"):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        try:
            conn.request("POST", "/echo?x=1", body=b"abc")
            conn.getresponse().read()
        finally:
            conn.close()
    (record,) = [r for r in caplog.records if r.name == "fakebbs.server"]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    # EchoApp notes no route: the fake's own lines are checked in tests/test_cli.py
    assert re.fullmatch(
        r"POST /echo\?x=1 route=- namespace=- status=200 result=- duration=\d+\.\dms "
        r"client=127\.0\.0\.1:\d+",
        message,
    ), message


def test_requests_are_not_logged_by_default(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    assert_serving(server)
    assert [r for r in caplog.records if r.name == "fakebbs.server"] == []


def test_requests_held_in_one_namespace_take_at_most_half_the_workers() -> None:
    namespaces = served_namespaces()
    gate = namespaces.get("hog").fake.hold("Ping")
    with namespaces.serve() as server:
        clients = []
        try:
            for _ in range(300):  # more held requests than the server has workers
                client = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
                clients.append(client)
                client.sendall(b"POST /ns/hog/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n")
            gate.wait_arrived(timeout=30, count=_server.DEFAULT_THREADS // 2)
            conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
            conn.request("POST", "/v1/ping", headers={NAMESPACE_HEADER: "other"}, body=b"")
            answer = conn.getresponse()
            assert (answer.status, answer.read()) == (200, b"\x08\x01")
            conn.close()
            assert gate.arrived == _server.DEFAULT_THREADS // 2  # the rest wait their turn
            gate.release()
            for client in clients:  # and every one is answered once the hold is released
                assert client.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
        finally:
            gate.release()
            for client in clients:
                client.close()


@pytest.mark.parametrize(
    ("head", "namespace"),
    [
        (b"POST /ns/suite-a/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n", "suite-a"),
        (b"GET /ns/b HTTP/1.1\r\n\r\n", "b"),
        (b"POST /v1/ping HTTP/1.1\r\nX-Fakebbs-Namespace: c\r\n\r\n", "c"),
        (b"POST /v1/ping HTTP/1.1\r\nx-fakebbs-namespace:  d \r\nHost: x\r\n\r\n", "d"),
        (b"POST /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n", ""),
        (b"POST /v1/pi", ""),
    ],
)
def test_the_fair_share_key_is_the_namespace_the_request_names(head: bytes, namespace: str) -> None:
    assert namespace_of_request(head) == namespace


def test_300_silent_tls_connections_do_not_stall_another_namespace(ca: trustme.CA) -> None:
    namespaces = served_namespaces()
    context = server_context(ca, require_client_cert=True)
    with namespaces.serve(ssl_context=context) as server:
        silent = [
            socket.create_connection((server.host, server.port), timeout=TIMEOUT)
            for _ in range(300)
        ]
        try:
            client = client_context(ca, with_cert=True)
            conn = http.client.HTTPSConnection(
                server.host, server.port, timeout=TIMEOUT, context=client
            )
            conn.request("POST", "/ns/other/v1/ping", body=b"")
            answer = conn.getresponse()
            assert (answer.status, answer.read()) == (200, b"\x08\x01")
            conn.close()
            assert server.wait_for_worker_threads(_server._MIN_THREADS, timeout=30)
        finally:
            for sock in silent:
                sock.close()
