"""The servers the benchmark times and the baselines beside them (a bare app answering
recorded bytes, plain cheroot, a child process, ``fakebbs serve``), and the raw connections
that call them."""

from __future__ import annotations

import http.client
import io
import multiprocessing
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cheroot import wsgi as cheroot_wsgi

from fakebbs._bench.workload import Request, call_sequence, desired_lrp
from fakebbs._fake import FakeBBS
from fakebbs._http.server import Server
from fakebbs._rules.wire import PROTOBUF

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class RawConnection:
    """One raw keep-alive HTTP/1.1 connection: the least client there is between runs."""

    def __init__(self, url: str, context: ssl.SSLContext | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        self.conn: http.client.HTTPConnection
        if parts.scheme == "https":
            self.conn = http.client.HTTPSConnection(
                parts.hostname, parts.port, context=context, timeout=120
            )
        else:
            self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)

    def send(self, request: Request) -> tuple[int, bytes]:
        headers = {"Content-Type": PROTOBUF, "Content-Length": str(len(request.body))}
        self.conn.request(request.method, request.path, request.body, headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def timed(self, request: Request) -> float:
        started = time.perf_counter()
        self.send(request)
        return time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


class Canned:
    """A bare WSGI app answering each path with bytes recorded from the fake: the baseline."""

    def __init__(self) -> None:
        self.answers: dict[str, bytes] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        body = self.answers.get(environ["PATH_INFO"], b"")
        start_response("200 OK", [("Content-Type", PROTOBUF), ("Content-Length", str(len(body)))])
        return [body]


@contextmanager
def bare_server(app: WSGIApplication, tls: TLS | None = None) -> Iterator[str]:
    """``app`` on fakebbs's own server (the baseline: the same server, no BBS behind it)."""
    with Server(app, ssl_context=None if tls is None else tls.server_context()) as server:
        yield server.url


@contextmanager
def plain_cheroot(app: WSGIApplication) -> Iterator[str]:
    """``app`` on cheroot as it comes, without fakebbs's server layer; its URL."""
    server = cheroot_wsgi.Server(("127.0.0.1", 0), app, numthreads=10, timeout=120)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}"
    finally:
        server.stop()
        thread.join()


class TLS:
    """Certificates for mutual TLS on loopback (made with trustme, as the tests do)."""

    def __init__(self) -> None:
        import trustme

        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.client_cert = self.ca.issue_cert("client")

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        self.client_cert.configure_cert(context)
        return context


def tls_or_none() -> TLS | None:
    try:
        return TLS()
    except ImportError:  # trustme is a test dependency
        return None


def in_process_environ(request: Request) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "0",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": PROTOBUF,
        "CONTENT_LENGTH": str(len(request.body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def ignore_start(status: str, headers: Any, exc_info: Any = None) -> Any:
    return None


def call_in_process(app: WSGIApplication, request: Request) -> float:
    started = time.perf_counter()
    result = app(in_process_environ(request), ignore_start)
    try:
        b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return time.perf_counter() - started


def record_answers(timer_app: WSGIApplication, canned: Canned, prefix: str) -> None:
    """Make one iteration of calls against a fresh fake and keep what it answered per path."""

    for request in call_sequence(prefix, 0):
        result = timer_app(in_process_environ(request), ignore_start)
        canned.answers[request.path] = b"".join(result)


def _serve_in_child(kind: str, pipe: Connection) -> None:
    """Child process: serve the fake or the bare app until told to stop; send the URL first."""
    if kind == "fake":
        fake = FakeBBS()
        with fake.client() as client:
            client.desire_lrp(desired_lrp("rps-0"))  # what the get by guid asks for
        with fake.serve() as server:
            pipe.send(server.url)
            pipe.recv()
    else:
        canned = Canned()
        record_answers(FakeBBS().wsgi_app, canned, "rps")
        with bare_server(canned) as url:
            pipe.send(url)
            pipe.recv()


@contextmanager
def child_server(kind: str) -> Iterator[str]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve_in_child, args=(kind, child), daemon=True)
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError(f"the {kind} server did not start")
        yield str(parent.recv())
    finally:
        try:
            parent.send("stop")
        except OSError:
            pass
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()
        parent.close()
        child.close()


@contextmanager
def cli_server(*flags: str, pid: list[int] | None = None) -> Iterator[str]:
    """``fakebbs serve --port 0`` with its stderr (one line per request) drained by a thread;
    its process id is appended to ``pid`` when given."""
    import subprocess

    process = subprocess.Popen(
        [sys.executable, "-m", "fakebbs", "serve", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    stderr = process.stderr
    drain = threading.Thread(target=lambda: [None for _ in iter(lambda: stderr.read(65536), b"")])
    drain.start()
    try:
        line = process.stdout.readline().decode()
        if not line.startswith("fakebbs listening on "):
            raise RuntimeError(f"fakebbs serve did not start: {line!r}")
        if pid is not None:
            pid.append(process.pid)
        yield line.split()[-1]
    finally:
        process.terminate()
        process.wait(10)
        drain.join()
        process.stdout.close()
        stderr.close()
