"""``python -m fakebbs.bench``: how fast the fake is, each figure beside a same-run baseline.

Figures are printed, never asserted (a 2-core machine shared with other work is noisy); each
comes with the baseline it should be read against and the ratio fakebbs/baseline:

* per call, p50 and p99 over one keep-alive loopback connection, plain and mutual TLS, and
  in-process (no socket): baseline, a bare WSGI app on cheroot answering the same bytes;
* every list route at two sizes over HTTP: baseline, the bare app answering the same bytes
  already built;
* requests per second with 1 and 8 concurrent keep-alive clients (the server in a child
  process): baseline, the bare app;
* fixture costs: start to first answer, stop, reset, snapshot and restore, seeding, and what
  the call journal adds to a call (figures for APIs a fake does not have print "n/a");
* memory per desired LRP with 3 actual LRPs;
* the simulated Diego (``--diego`` alone): 1,000 cells and 100,000 instances placed and
  RUNNING: baseline, the same instances claimed and started by hand through a client.

``--quick`` runs everything at small sizes in seconds (CI runs it once to prove the command
works); ``--json`` prints one JSON object. ``--real-url`` with ``--real-ca``, ``--real-cert``
and ``--real-key`` also times the per-call figures against a real BBS, as a third column.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import io
import json
import multiprocessing
import os
import platform
import ssl
import statistics
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cheroot import wsgi as cheroot_wsgi
from google.protobuf.message import Message

from fakebbs import models
from fakebbs._fake import FakeBBS
from fakebbs._http.server import Server
from fakebbs._rules.wire import PROTOBUF
from fakebbs.routes import route

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["Figure", "Sizes", "main", "run"]

NOT_AVAILABLE = "n/a (not available)"

# ---------------------------------------------------------------------------------------------
# Figures


@dataclass
class Figure:
    """One measured figure, its baseline (same unit, same run) and optional real BBS figure.

    ``value`` is None when the fake lacks the API measured (printed as "n/a (not available)");
    ``target`` is the ratio or absolute value the figure should stay under, if there is one.
    """

    section: str
    name: str
    unit: str
    value: float | None
    baseline: float | None = None
    baseline_name: str = ""
    real: float | None = None
    target: str = ""
    higher_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ratio": self.ratio}


@dataclass(frozen=True)
class Sizes:
    """How much each section does; ``quick()`` for CI."""

    calls: int = 1000  # per-call iterations, per transport
    lists: tuple[int, ...] = (1_000, 10_000)
    list_repeats: int = 5
    rps_seconds: float = 2.0
    fixture_items: int = 10_000
    memory_items: int = 10_000
    repeats: int = 20  # start/stop/reset repetitions
    draws: int = 2000  # examples per strategy figure (a fifth for full desired LRPs)
    machine_examples: int = 100  # examples per state machine figure
    diego_cells: int = 1_000  # the simulated Diego's cells...
    diego_instances: int = 100_000  # ...and the instances placed and RUNNING on them
    streams: int = 2_000  # open event streams, in one namespace of a shared server
    keep_alive: int = 1_000  # idle keep-alive connections, likewise

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            calls=30,
            lists=(100, 1_000),
            list_repeats=2,
            rps_seconds=0.3,
            fixture_items=1_000,
            memory_items=1_000,
            repeats=3,
            draws=200,
            machine_examples=10,
            diego_cells=20,
            diego_instances=1_000,
            streams=50,
            keep_alive=50,
        )


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def _p99(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------------------------
# Requests: the same bytes to every server


@dataclass(frozen=True)
class _Request:
    label: str
    method: str
    path: str
    body: bytes


def _request(label: str, route_name: str, message: Message | None = None) -> _Request:
    target = route(route_name)
    body = b"" if message is None else message.SerializeToString()
    return _Request(label, target.method, target.path, body)


def _desired_lrp(process_guid: str, instances: int = 1) -> models.DesiredLRP:
    """A desired LRP of a realistic size (routes, metric tags, a run action)."""
    lrp = models.DesiredLRP(
        process_guid=process_guid,
        domain="cf-apps",
        root_fs="preloaded:cflinuxfs4",
        instances=instances,
        memory_mb=256,
        disk_mb=1024,
        log_guid=process_guid,
        ports=[8080],
        action=models.Action(run_action=models.RunAction(path="/bin/app", user="vcap")),
    )
    lrp.metric_tags["source_id"].static = process_guid
    lrp.routes.routes["cf-router"] = b'[{"hostnames":["%s.example.com"],"port":8080}]' % (
        process_guid.encode()
    )
    return lrp


def _task_definition() -> models.TaskDefinition:
    return models.TaskDefinition(
        root_fs="preloaded:cflinuxfs4",
        memory_mb=256,
        action=models.Action(run_action=models.RunAction(path="/bin/task", user="vcap")),
    )


_CALLS = ("ping", "desire", "get by guid", "update", "actual LRPs of one guid", "claim", "start")
_CALLS_AFTER = ("remove", "task desire")
CALL_LABELS = _CALLS + _CALLS_AFTER


def _call_sequence(prefix: str, i: int) -> list[_Request]:
    """Iteration ``i`` of the per-call figures: one of each call, on a fresh LRP and task."""
    guid = f"{prefix}-{i}"
    key = models.ActualLRPKey(process_guid=guid, index=0, domain="cf-apps")
    instance = models.ActualLRPInstanceKey(instance_guid=f"{guid}-i", cell_id="cell-1")
    update = models.DesiredLRPUpdate(instances=1, annotation=f"update-{i}")
    start = models.StartActualLRPRequest(
        actual_lrp_key=key,
        actual_lrp_instance_key=instance,
        actual_lrp_net_info=models.ActualLRPNetInfo(
            address="10.0.0.1", instance_address="10.2.0.1"
        ),
    )
    start.Routable = True
    claim = models.ClaimActualLRPRequest(
        process_guid=guid, index=0, actual_lrp_instance_key=instance
    )
    task = models.DesireTaskRequest(
        task_guid=f"task-{guid}", domain="cf-apps", task_definition=_task_definition()
    )
    by_guid = models.DesiredLRPByProcessGuidRequest(process_guid=guid)
    return [
        _request("ping", "Ping"),
        _request(
            "desire", "DesireDesiredLRP", models.DesireLRPRequest(desired_lrp=_desired_lrp(guid))
        ),
        _request("get by guid", "DesiredLRPByProcessGuid", by_guid),
        _request(
            "update",
            "UpdateDesireLRP",
            models.UpdateDesiredLRPRequest(process_guid=guid, update=update),
        ),
        _request(
            "actual LRPs of one guid", "ActualLRPs", models.ActualLRPsRequest(process_guid=guid)
        ),
        _request("claim", "ClaimActualLRP", claim),
        _request("start", "StartActualLRP", start),
        _request("remove", "RemoveDesiredLRP", models.RemoveDesiredLRPRequest(process_guid=guid)),
        _request("task desire", "DesireTask", task),
    ]


class _Connection:
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

    def send(self, request: _Request) -> tuple[int, bytes]:
        headers = {"Content-Type": PROTOBUF, "Content-Length": str(len(request.body))}
        self.conn.request(request.method, request.path, request.body, headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def timed(self, request: _Request) -> float:
        started = time.perf_counter()
        self.send(request)
        return time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


class _Canned:
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
def _bare(app: WSGIApplication, tls: _TLS | None = None) -> Iterator[str]:
    """``app`` on fakebbs's own server (the baseline: the same server, no BBS behind it)."""
    with Server(app, ssl_context=None if tls is None else tls.server_context()) as server:
        yield server.url


@contextmanager
def _plain_cheroot(app: WSGIApplication) -> Iterator[str]:
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


class _TLS:
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


def _tls_or_none() -> _TLS | None:
    try:
        return _TLS()
    except ImportError:  # trustme is a test dependency
        return None


# ---------------------------------------------------------------------------------------------
# Per-call figures


def _in_process_environ(request: _Request) -> dict[str, Any]:
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


def _ignore_start(status: str, headers: Any, exc_info: Any = None) -> Any:
    return None


def _call_in_process(app: WSGIApplication, request: _Request) -> float:
    started = time.perf_counter()
    result = app(_in_process_environ(request), _ignore_start)
    try:
        b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return time.perf_counter() - started


Timer = Callable[[_Request], float]


def _time_calls(
    timer: Timer, prefix: str, iterations: int, start: int = 0
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {label: [] for label in CALL_LABELS}
    for i in range(start, start + iterations):
        for request in _call_sequence(prefix, i):
            samples[request.label].append(timer(request))
    return samples


def _interleaved(
    timers: dict[str, Timer], prefix: str, iterations: int, block: int = 5
) -> dict[str, dict[str, list[float]]]:
    """Time the calls against every target in alternating blocks, so that a burst of other
    work on the machine weighs on them all alike."""
    results: dict[str, dict[str, list[float]]] = {
        name: {label: [] for label in CALL_LABELS} for name in timers
    }
    done = 0
    while done < iterations:
        size = min(block, iterations - done)
        for name, timer in timers.items():
            for label, samples in _time_calls(timer, f"{prefix}-{name}", size, done).items():
                results[name][label].extend(samples)
        done += size
    return results


def _record_answers(timer_app: WSGIApplication, canned: _Canned, prefix: str) -> None:
    """Make one iteration of calls against a fresh fake and keep what it answered per path."""

    for request in _call_sequence(prefix, 0):
        result = timer_app(_in_process_environ(request), _ignore_start)
        canned.answers[request.path] = b"".join(result)


def _per_call(sizes: Sizes, tls: _TLS | None, real: _RealBBS | None) -> list[Figure]:
    figures: list[Figure] = []
    canned = _Canned()
    _record_answers(FakeBBS().wsgi_app, canned, "recorded")
    transports: list[tuple[str, _TLS | None]] = [("plain HTTP", None)]
    if tls is not None:
        transports.append(("mutual TLS", tls))
    for transport, tls_ in transports:
        fake = FakeBBS()
        context = None if tls_ is None else tls_.client_context()
        server_context = None if tls_ is None else tls_.server_context()
        with ExitStack() as stack:
            server = stack.enter_context(fake.serve(ssl_context=server_context))
            bare_url = stack.enter_context(_bare(canned, tls_))
            fake_conn = _Connection(server.url, context)
            bare_conn = _Connection(bare_url, context)
            stack.callback(fake_conn.close)
            stack.callback(bare_conn.close)
            timers: dict[str, Timer] = {"fake": fake_conn.timed, "bare": bare_conn.timed}
            real_samples: dict[str, list[float]] = {}
            if real is not None and transport == "mutual TLS":
                real_conn = _Connection(real.url, real.context)
                stack.callback(real_conn.close)
                timers["real"] = real_conn.timed
            results = _interleaved(timers, f"bench-{transport[0]}", sizes.calls)
            real_samples = results.get("real", {})
        for label in CALL_LABELS:
            fake_s, bare_s = results["fake"][label], results["bare"][label]
            for stat, pick in (("p50", _p50), ("p99", _p99)):
                figures.append(
                    Figure(
                        f"per call, {transport}",
                        f"{label} {stat}",
                        "ms",
                        _ms(pick(fake_s)),
                        _ms(pick(bare_s)),
                        "bare app on the same server, same bytes",
                        _ms(pick(real_samples[label])) if label in real_samples else None,
                        "1.2x at p50" if stat == "p50" else "",
                    )
                )
    # In-process: the app alone, no socket.
    fake = FakeBBS()
    in_process = _interleaved(
        {
            "fake": lambda request: _call_in_process(fake.wsgi_app, request),
            "bare": lambda request: _call_in_process(canned, request),
        },
        "bench-in-process",
        sizes.calls,
    )
    for label in CALL_LABELS:
        figures.append(
            Figure(
                "per call, in-process",
                f"{label} p50",
                "ms",
                _ms(_p50(in_process["fake"][label])),
                _ms(_p50(in_process["bare"][label])),
                "bare app, same bytes",
            )
        )
    return figures


def _pings(conns: dict[str, _Connection], count: int, block: int = 10) -> dict[str, list[float]]:
    """Ping over each connection, in alternating blocks; the samples per connection."""
    ping = _request("ping", "Ping")
    samples: dict[str, list[float]] = {name: [] for name in conns}
    done = 0
    while done < count:
        size = min(block, count - done)
        for name, conn in conns.items():
            samples[name].extend(conn.timed(ping) for _ in range(size))
        done += size
    return samples


def _server_layer(sizes: Sizes) -> list[Figure]:
    """Where a call's time goes: cheroot alone, fakebbs's server layer, the app, the CLI's
    request log (``fakebbs serve`` logs every request to stderr, here a pipe read as it fills)."""
    canned = _Canned()
    _record_answers(FakeBBS().wsgi_app, canned, "layers")
    section = "server layer, ping p50 over one keep-alive connection"
    with ExitStack() as stack:
        urls = {
            "cheroot": stack.enter_context(_plain_cheroot(canned)),
            "server": stack.enter_context(_bare(canned)),
            "fake": stack.enter_context(FakeBBS().serve()).url,
            "child": stack.enter_context(_child_server("fake")),
            "cli": stack.enter_context(_cli_server()),
        }
        conns = {name: _Connection(url) for name, url in urls.items()}
        for conn in conns.values():
            stack.callback(conn.close)
        p50 = {name: _ms(_p50(samples)) for name, samples in _pings(conns, sizes.calls).items()}
    bare = "bare app on plain cheroot"
    return [
        Figure(section, "bare app on fakebbs's server (no BBS app)", "ms", p50["server"],
               p50["cheroot"], bare),
        Figure(section, "FakeBBS().serve()", "ms", p50["fake"], p50["cheroot"], bare,
               target="1.2x"),
        Figure(section, "fakebbs serve, request log on (child process)", "ms", p50["cli"],
               p50["child"], "FakeBBS().serve() in a child process, log off"),
    ]  # fmt: skip


@contextmanager
def _cli_server(*flags: str, pid: list[int] | None = None) -> Iterator[str]:
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


# ---------------------------------------------------------------------------------------------
# Lists

LIST_ROUTES: tuple[tuple[str, str, type[Message]], ...] = (
    ("desired LRPs (list.r3)", "DesiredLRPs", models.DesiredLRPsRequest),
    ("desired LRPs (list.r2)", "DesiredLRPs_r2", models.DesiredLRPsRequest),
    ("desired LRPs (2016, list.r1)", "DesiredLRPs_r1", models.DesiredLRPsRequest),
    ("desired LRPs (2016, list)", "DesiredLRPs_r0", models.DesiredLRPsRequest),
    ("scheduling infos", "DesiredLRPSchedulingInfos", models.DesiredLRPsRequest),
    ("routing infos", "DesiredLRPRoutingInfos", models.DesiredLRPsRequest),
    ("actual LRPs", "ActualLRPs", models.ActualLRPsRequest),
    ("actual LRP groups", "ActualLRPGroups", models.ActualLRPGroupsRequest),
    ("tasks (list.r3)", "Tasks", models.TasksRequest),
    ("tasks (list.r2)", "Tasks_r2", models.TasksRequest),
)


def _fill(fake: FakeBBS, count: int) -> None:
    """``count`` desired LRPs with one instance each, and ``count`` tasks, desired in-process."""
    definition = _task_definition()
    with fake.client() as client:
        for i in range(count):
            client.desire_lrp(_desired_lrp(f"app-{i:05d}"))
            client.desire_task(f"task-{i:05d}", "cf-apps", definition)


def _lists(sizes: Sizes) -> list[Figure]:
    figures: list[Figure] = []
    for count in sizes.lists:
        fake = FakeBBS()
        _fill(fake, count)
        canned = _Canned()
        requests = [_request(label, name, kind()) for label, name, kind in LIST_ROUTES]
        for request in requests:
            canned.answers[request.path] = b"".join(
                fake.wsgi_app(_in_process_environ(request), _ignore_start)
            )
        with fake.serve() as server, _bare(canned) as bare_url:
            fake_conn, bare_conn = _Connection(server.url), _Connection(bare_url)
            try:
                for request in requests:
                    fake_s, bare_s = [], []
                    for _ in range(sizes.list_repeats):
                        fake_s.append(fake_conn.timed(request))
                        bare_s.append(bare_conn.timed(request))
                    figures.append(
                        Figure(
                            f"lists of {count:,}",
                            f"{request.label} p50",
                            "ms",
                            _ms(_p50(fake_s)),
                            _ms(_p50(bare_s)),
                            "bare app, bytes already built",
                            target="2x" if count >= 10_000 else "",
                        )
                    )
            finally:
                fake_conn.close()
                bare_conn.close()
    return figures


# ---------------------------------------------------------------------------------------------
# Requests per second, the server in a child process


def _serve_in_child(kind: str, pipe: Connection) -> None:
    """Child process: serve the fake or the bare app until told to stop; send the URL first."""
    if kind == "fake":
        fake = FakeBBS()
        with fake.client() as client:
            client.desire_lrp(_desired_lrp("rps-0"))  # what the get by guid asks for
        with fake.serve() as server:
            pipe.send(server.url)
            pipe.recv()
    else:
        canned = _Canned()
        _record_answers(FakeBBS().wsgi_app, canned, "rps")
        with _bare(canned) as url:
            pipe.send(url)
            pipe.recv()


@contextmanager
def _child_server(kind: str) -> Iterator[str]:
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


def _rps(url: str, request: _Request, clients: int, seconds: float) -> float:
    counts = [0] * clients
    deadline = time.monotonic() + seconds
    barrier = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        conn = _Connection(url)
        try:
            conn.send(request)  # connect first
            barrier.wait()
            while time.monotonic() < deadline:
                conn.send(request)
                counts[number] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()
    deadline = started + seconds
    for thread in threads:
        thread.join()
    return sum(counts) / max(time.monotonic() - started, 1e-9)


_RPS_WINDOWS = 4


def _throughput(sizes: Sizes) -> list[Figure]:
    figures = []
    requests = [
        _request("ping", "Ping"),
        _request(
            "get by guid",
            "DesiredLRPByProcessGuid",
            models.DesiredLRPByProcessGuidRequest(process_guid="rps-0"),
        ),
    ]
    with _child_server("fake") as fake_url, _child_server("bare") as bare_url:
        for request in requests:
            for clients in (1, 8):
                # Alternating windows, so a burst of other work weighs on both alike.
                window = sizes.rps_seconds / _RPS_WINDOWS
                rates: dict[str, list[float]] = {fake_url: [], bare_url: []}
                for _ in range(_RPS_WINDOWS):
                    for url, samples in rates.items():
                        samples.append(_rps(url, request, clients, window))
                fake, bare = statistics.mean(rates[fake_url]), statistics.mean(rates[bare_url])
                figures.append(
                    Figure(
                        "requests per second (server in a child process)",
                        f"{request.label}, {clients} client{'s' if clients > 1 else ''}",
                        "req/s",
                        fake,
                        bare,
                        "bare app on the same server",
                        higher_is_better=True,
                    )
                )
    return figures


# ---------------------------------------------------------------------------------------------
# Fixture costs and memory


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _ping_once(url: str) -> None:
    conn = _Connection(url)
    try:
        conn.send(_request("ping", "Ping"))
    finally:
        conn.close()


def _seed(fake: FakeBBS, count: int) -> Callable[[], object] | None:
    """The fixture API's seeding call, if this fake has it."""
    seed = getattr(fake, "seed", None)
    desired_lrps = getattr(seed, "desired_lrps", None)
    if desired_lrps is None:
        return None
    return lambda: desired_lrps(count, instances=3, running=3)


def _desire_one_by_one(fake: FakeBBS, count: int, prefix: str = "app") -> None:
    """``count`` desired LRPs of 3 instances, each desired by its own in-process call."""
    with fake.client() as client:
        for i in range(count):
            client.desire_lrp(_desired_lrp(f"{prefix}-{i:05d}", instances=3))


def _fixtures(sizes: Sizes) -> list[Figure]:
    figures: list[Figure] = []
    section = "fixture costs"
    count = sizes.fixture_items

    starts, stops, bare_starts, bare_stops = [], [], [], []
    for _ in range(sizes.repeats):
        fake = FakeBBS()
        started = time.perf_counter()
        server = fake.serve()
        _ping_once(server.url)
        starts.append(time.perf_counter() - started)
        stops.append(_timed(server.stop))
        started = time.perf_counter()
        with ExitStack() as stack:
            url = stack.enter_context(_bare(_Canned()))
            _ping_once(url)
            bare_starts.append(time.perf_counter() - started)
            started = time.perf_counter()
        bare_stops.append(time.perf_counter() - started)
    figures.append(
        Figure(section, "serve() start to first answer p50", "ms", _ms(_p50(starts)),
               _ms(_p50(bare_starts)), "bare app on the same server", target="20 ms")
    )  # fmt: skip
    figures.append(
        Figure(section, "stop() p50", "ms", _ms(_p50(stops)), _ms(_p50(bare_stops)),
               "bare app on the same server", target="20 ms")
    )  # fmt: skip

    resets = []
    for _ in range(sizes.repeats):
        fake = FakeBBS()
        _desire_one_by_one(fake, 10)
        resets.append(_timed(fake.reset))
    figures.append(
        Figure(section, "reset(), 10 desired LRPs", "ms", _ms(_p50(resets)), target="1 ms")
    )

    fake = FakeBBS()
    seeding = _seed(fake, count)
    figures.append(
        Figure(
            section,
            f"seed.desired_lrps({count:,}, instances=3, running=3)",
            "ms",
            None if seeding is None else _ms(_timed(seeding)),
            target="1 s" if count >= 10_000 else "",
        )
    )
    if seeding is None:
        _desire_one_by_one(fake, count)
    one_by_one = FakeBBS()
    figures.append(
        Figure(
            section,
            f"desire {count:,} LRPs x3 instances one by one (DesireDesiredLRP, in-process)",
            "ms",
            _ms(_timed(lambda: _desire_one_by_one(one_by_one, count))),
        )
    )
    snapshot = getattr(fake, "snapshot", None)
    restore = getattr(fake, "restore", None)
    snap: list[object] = []
    figures.append(
        Figure(
            section,
            f"snapshot() of {count:,} desired LRPs",
            "ms",
            None if snapshot is None else _ms(_timed(lambda: snap.append(snapshot()))),
        )
    )
    figures.append(
        Figure(
            section,
            f"restore() of {count:,} desired LRPs",
            "ms",
            None if restore is None or not snap else _ms(_timed(lambda: restore(snap[0]))),
        )
    )
    figures.append(
        Figure(section, f"reset(), {count:,} desired LRPs", "ms", _ms(_timed(fake.reset)))
    )
    figures.append(_journal_cost(sizes))
    return figures


def _journal_cost(sizes: Sizes) -> Figure:
    """What recording each call in ``FakeBBS.calls`` adds to a call over a socket."""
    fake = FakeBBS()
    app = fake.wsgi_app
    journal = getattr(fake, "calls", None)
    name = "call journal: desire, get, update, ... p50, journal on"
    if journal is None or getattr(app, "journal", None) is None:
        return Figure("fixture costs", name, "ms", None, target="1.05x")
    on: list[float] = []
    off: list[float] = []
    with fake.serve() as server:
        conn = _Connection(server.url)
        try:
            done = 0
            while done < sizes.calls:
                block = min(50, sizes.calls - done)
                for recording, samples in ((journal, on), (None, off)):
                    app.journal = recording
                    timings = _time_calls(conn.timed, f"journal-{recording is None}", block, done)
                    samples.extend(s for label in CALL_LABELS for s in timings[label])
                done += block
        finally:
            app.journal = journal
            conn.close()
    return Figure(
        "fixture costs", name, "ms", _ms(_p50(on)), _ms(_p50(off)), "journal off", target="1.05x"
    )


def _memory(sizes: Sizes) -> list[Figure]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        grown, how = pool.apply(_memory_in_child, (sizes.memory_items,))
    return [
        Figure(
            "memory (resident set growth of a fresh process)",
            f"per desired LRP with {how}, {sizes.memory_items:,} of them",
            "KB",
            grown / sizes.memory_items / 1024,
            target="20 KB",
        )
    ]


def _memory_in_child(count: int) -> tuple[int, str]:
    """Child process: how many bytes the resident set grows by to hold ``count`` desired LRPs
    with 3 running instances each (protobuf's C allocations included, unlike tracemalloc)."""
    gc.collect()
    before = _resident_bytes()
    fake = FakeBBS()
    seeding = _seed(fake, count)
    if seeding is not None:
        seeding()
        how = "3 running actual LRPs (seed API)"
    else:
        _run_three(fake, count)
        how = "3 running actual LRPs (claimed and started one by one)"
    gc.collect()
    grown = _resident_bytes() - before
    with fake.client() as client:  # counted after measuring: the answer is not what is held
        stored = len(client.desired_lrp_scheduling_infos())
    if stored != count:
        raise RuntimeError(f"seeded {stored} desired LRPs, not {count}")
    return grown, how


def _resident_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource  # peak, not current: close enough while memory only grows

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_three(fake: FakeBBS, count: int) -> None:
    net = models.ActualLRPNetInfo(address="10.0.0.1", instance_address="10.2.0.1")
    with fake.client() as client:
        for i in range(count):
            guid = f"app-{i:05d}"
            client.desire_lrp(_desired_lrp(guid, instances=3))
            for index in range(3):
                key = models.ActualLRPKey(process_guid=guid, index=index, domain="cf-apps")
                instance = models.ActualLRPInstanceKey(
                    instance_guid=f"{guid}-{index}", cell_id="c1"
                )
                client.claim_actual_lrp(key, instance)
                client.start_actual_lrp(key, instance, net)


# ---------------------------------------------------------------------------------------------
# A shared server under load


@dataclass(frozen=True)
class _Usage:
    threads: float | None
    fds: float | None
    rss_mb: float | None


def _usage(pid: int) -> _Usage:
    """A process's threads, open file descriptors and resident set (Linux /proc; None
    elsewhere)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return _Usage(None, None, None)
    return _Usage(
        float(fields["Threads"].strip()), float(fds), int(fields["VmRSS"].split()[0]) / 1024
    )


def _other_namespace_pings(port: int, count: int = 50) -> list[float]:
    """Seconds per ping in namespace ``other``, over one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    samples = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            conn.request("POST", "/ns/other/v1/ping", body=b"")
            conn.getresponse().read()
            samples.append(time.perf_counter() - started)
    finally:
        conn.close()
    return samples


def _open_clients(port: int, count: int, request: bytes, answer_end: bytes) -> list[Any]:
    """``count`` connections that sent ``request`` and read their answer up to
    ``answer_end`` (the end of a stream's headers, or of a ping's answer)."""
    import socket

    clients = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=60)
        clients.append(client)
        client.sendall(request)
        received = b""
        while not received.endswith(answer_end):
            data = client.recv(4096)
            if not data:
                raise RuntimeError("the server closed a connection the bench keeps open")
            received += data
    return clients


def _back_to_idle(pid: int, idle: _Usage, timeout: float = 30.0) -> float | None:
    """Seconds until the process's threads and fds are back to ``idle``'s (None: not within
    ``timeout``, or not measurable here)."""
    if idle.threads is None:
        return None
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        now = _usage(pid)
        if now.threads is not None and now.fds is not None and idle.fds is not None:
            if now.threads <= idle.threads and now.fds <= idle.fds:
                return time.monotonic() - started
        time.sleep(0.05)
    return None


def _load(sizes: Sizes) -> list[Figure]:
    section = "a shared server under load (fakebbs serve --quiet, namespaces hog and other)"
    loads = (
        (
            f"{sizes.streams:,} open event streams",
            sizes.streams,
            b"POST /ns/hog/v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 0\r\n\r\n",
            b"\r\n\r\n",
        ),
        (
            f"{sizes.keep_alive:,} idle keep-alive connections",
            sizes.keep_alive,
            b"POST /ns/hog/v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            b"\x08\x01",
        ),
    )
    figures: list[Figure] = []
    pid: list[int] = []
    with _cli_server("--quiet", pid=pid) as url:
        port = urllib.parse.urlsplit(url).port or 0
        _other_namespace_pings(port, 5)  # makes namespace other
        idle = _usage(pid[0])
        idle_pings = _other_namespace_pings(port)
        for name, count, request, answer_end in loads:
            clients = _open_clients(port, count, request, answer_end)
            try:
                loaded = _usage(pid[0])
                pings = _other_namespace_pings(port)
            finally:
                for client in clients:
                    client.close()
            back = _back_to_idle(pid[0], idle)
            figures += [
                Figure(section, f"{name}: threads", "", loaded.threads, idle.threads, "idle"),
                Figure(section, f"{name}: file descriptors", "", loaded.fds, idle.fds, "idle"),
                Figure(section, f"{name}: resident set", "MB", loaded.rss_mb, idle.rss_mb, "idle"),
                Figure(
                    section,
                    f"{name}: ping p50, other namespace",
                    "ms",
                    _ms(_p50(pings)),
                    _ms(_p50(idle_pings)),
                    "idle",
                ),
                Figure(
                    section,
                    f"{name}: slowest of 50 pings, other namespace",
                    "ms",
                    _ms(max(pings)),
                    _ms(max(idle_pings)),
                    "idle",
                    target="100 ms",
                ),
                Figure(
                    section,
                    f"{name}: closed, back to idle threads and fds in",
                    "s",
                    back,
                    target="5 s",
                ),
            ]
    return figures


# ---------------------------------------------------------------------------------------------
# The run


@dataclass(frozen=True)
class _RealBBS:
    url: str
    context: ssl.SSLContext


@dataclass
class BenchReport:
    figures: list[Figure] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "seconds": self.seconds,
            "figures": [figure.as_dict() for figure in self.figures],
        }

    def text(self) -> str:
        real = any(figure.real is not None for figure in self.figures)
        lines = [
            "fakebbs bench on " + ", ".join(f"{k} {v}" for k, v in self.machine.items()),
            f"({self.seconds:.0f} s; ratio = fakebbs / baseline; under 1 is faster, but for req/s)",
        ]
        section = baseline = ""
        for figure in self.figures:
            if figure.section != section:
                section = figure.section
                baseline = figure.baseline_name
                lines.append("")
                lines.append(f"{section} (baseline: {baseline or '-'})")
                header = f"  {'figure':<58} {'fakebbs':>12} {'baseline':>12} {'ratio':>7}"
                if real:
                    header += f" {'real BBS':>10}"
                lines.append(header + "  target")
            row = _row(figure, real)
            if figure.baseline_name and figure.baseline_name != baseline:
                row += f"  [baseline: {figure.baseline_name}]"
            lines.append(row)
        return "\n".join(lines)


def _diego(sizes: Sizes) -> list[Figure]:
    """The simulated Diego: cells and instances placed and RUNNING (``fakebbs._diego``)."""
    from fakebbs._diego.bench import by_hand, simulated

    cells, instances = sizes.diego_cells, sizes.diego_instances
    sim = simulated(cells, instances)
    hand = by_hand(cells, instances)
    if sim.running != instances or hand.running != instances:
        raise RuntimeError(f"only {sim.running} / {hand.running} of {instances} instances ran")
    section = f"simulated Diego: {cells:,} cells, {instances:,} instances placed and RUNNING"
    baseline = "claimed and started by hand through an in-process client"
    return [
        Figure(
            section,
            "wall time",
            "s",
            sim.seconds,
            hand.seconds,
            baseline,
            target="10 s" if (cells, instances) == (1_000, 100_000) else "",
        ),
        Figure(section, "CPU time", "s", sim.cpu_seconds, hand.cpu_seconds, baseline),
        Figure(
            section,
            "instances per second",
            "inst/s",
            instances / sim.seconds,
            instances / hand.seconds,
            baseline,
            higher_is_better=True,
        ),
    ]


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "req/s" or value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}" if value < 1 else f"{value:.1f} {unit}"


def _row(figure: Figure, real: bool) -> str:
    if figure.value is None:
        return f"  {figure.name:<58} {NOT_AVAILABLE}"
    ratio = "-" if figure.ratio is None else f"{figure.ratio:.2f}x"
    row = (
        f"  {figure.name:<58} {_number(figure.value, figure.unit):>12} "
        f"{_number(figure.baseline, figure.unit):>12} {ratio:>7}"
    )
    if real:
        row += f" {_number(figure.real, figure.unit):>10}"
    if not figure.target:
        return row
    return row + (f"  >= {figure.target}" if figure.higher_is_better else f"  < {figure.target}")


def _machine() -> dict[str, str]:
    import cheroot
    import google.protobuf
    from google.protobuf.internal import api_implementation

    return {
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "protobuf": f"{google.protobuf.__version__} ({api_implementation.Type()})",
        "cheroot": cheroot.__version__,
        "system": f"{platform.system()} {platform.machine()}",
    }


SECTIONS = ("calls", "layers", "lists", "rps", "fixtures", "memory", "diego", "load")
"""The sections a plain run measures."""
STRATEGIES = "strategies"
"""The Hypothesis strategies section (``--strategies``; needs the hypothesis extra)."""


def _strategies(sizes: Sizes) -> list[Figure]:
    from fakebbs.strategies._bench import figures

    section = "Hypothesis strategies and state machine (@given, generate phase)"
    return [
        Figure(
            section,
            name,
            unit,
            value,
            baseline,
            baseline_name,
            target=target,
            higher_is_better=True,
        )
        for name, unit, value, baseline, baseline_name, target in figures(
            sizes.draws, sizes.machine_examples
        )
    ]


def run(
    sizes: Sizes | None = None,
    *,
    sections: Iterable[str] = SECTIONS,
    real_url: str | None = None,
    real_context: ssl.SSLContext | None = None,
    progress: Callable[[str], None] = lambda section: None,
) -> BenchReport:
    """Measure the chosen sections and return the figures."""
    sizes = sizes or Sizes()
    report = BenchReport(machine=_machine())
    started = time.monotonic()
    real = None
    if real_url is not None:
        if real_context is None:
            raise ValueError("a real BBS needs its client certificate (--real-cert, --real-key)")
        real = _RealBBS(real_url, real_context)
    tls = _tls_or_none()
    measures: dict[str, Callable[[], list[Figure]]] = {
        "calls": lambda: _per_call(sizes, tls, real),
        "layers": lambda: _server_layer(sizes),
        "lists": lambda: _lists(sizes),
        "rps": lambda: _throughput(sizes),
        "fixtures": lambda: _fixtures(sizes),
        "memory": lambda: _memory(sizes),
        STRATEGIES: lambda: _strategies(sizes),
        "diego": lambda: _diego(sizes),
        "load": lambda: _load(sizes),
    }
    for section in sections:
        if section not in measures:
            raise ValueError(f"no such section: {section!r}")
        progress(section)
        report.figures += measures[section]()
    report.seconds = time.monotonic() - started
    return report


def _sections(args: argparse.Namespace) -> Sequence[str]:
    """The sections asked for: ``--only``'s, then ``--strategies``'s and ``--diego``'s; a plain
    run's when none is."""
    chosen = list(args.only or [])
    chosen += [STRATEGIES] if args.strategies else []
    chosen += ["diego"] if args.diego else []
    return chosen or SECTIONS


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m fakebbs.bench",
        description="Time the fake, each figure beside a baseline measured in the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: seconds, for CI")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only",
        action="append",
        choices=(*SECTIONS, STRATEGIES),
        help="run only this section (repeatable)",
    )
    parser.add_argument(
        "--strategies",
        action="store_true",
        help="time the Hypothesis strategies and state machine instead (the hypothesis extra)",
    )
    parser.add_argument(
        "--diego",
        action="store_true",
        help="only the simulated Diego: 1,000 cells and 100,000 instances placed and RUNNING",
    )
    parser.add_argument("--real-url", help="a real BBS (https) to time the same calls against")
    parser.add_argument("--real-ca", help="CA file that signed the real BBS's certificate")
    parser.add_argument("--real-cert", help="client certificate file for the real BBS")
    parser.add_argument("--real-key", help="client key file for the real BBS")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    context = None
    if args.real_url is not None:
        if not (args.real_cert and args.real_key):
            print("fakebbs.bench: --real-url needs --real-cert and --real-key", file=sys.stderr)
            return 2
        context = ssl.create_default_context(cafile=args.real_ca)
        context.load_cert_chain(args.real_cert, args.real_key)

    def progress(section: str) -> None:
        if not args.json:
            print(f"measuring {section}...", file=sys.stderr, flush=True)

    report = run(
        Sizes.quick() if args.quick else Sizes(),
        sections=_sections(args),
        real_url=args.real_url,
        real_context=context,
        progress=progress,
    )
    print(json.dumps(report.as_dict()) if args.json else report.text(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
