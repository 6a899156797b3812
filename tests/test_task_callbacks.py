"""The completion callback: a real POST to a real local receiver, and what its answer does."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fakebbs import ClientTLS, FakeBBS, models
from fakebbs._outbound.callbacks import MAX_CALLBACK_ATTEMPTS, CallbackWorker, callback_json
from fakebbs._rules.state import State
from fakebbs._rules.store import Change, Store
from fakebbs._rules.tasks import COMPLETED, RESOLVING
from fakebbs.client import BBSClient
from fakebbs.tls import Certificates, generate_certificates

HANG = 0  # a "status" that makes the receiver never answer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and answers from ``answers`` (200 when
    it runs out). An answer is a status, ``HANG``, or (status, Location)."""

    url: str
    received: list[Received] = field(default_factory=list)
    answers: deque[int | tuple[int, str]] = field(default_factory=deque)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def record(self, request: Received) -> None:
        with self.arrived:
            self.received.append(request)
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        """Whether ``count`` requests have arrived (a request the caller gave up on may be
        read by the server thread only after the caller moved on)."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


@contextmanager
def receiving(ssl_context: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """A ``Receiver``, over TLS with ``ssl_context``."""
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            me = box[0]
            length = int(self.headers.get("Content-Length") or 0)
            me.record(
                Received(self.command, self.path, dict(self.headers), self.rfile.read(length))
            )
            answer = me.answers.popleft() if me.answers else 200
            if answer == HANG:
                me.release.wait()
                return
            status, location = answer if isinstance(answer, tuple) else (answer, None)
            self.send_response(status)
            if location is not None:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    box.append(Receiver(f"{scheme}://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        box[0].release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def with_callbacks(state: State) -> CallbackWorker:
    """A completion callback worker over ``state``'s task rules, listening to its store, as
    ``FakeBBS`` wires its own."""
    worker = CallbackWorker(state.tasks)
    state.store.listeners.append(worker.on_changes)
    return worker


@pytest.fixture
def callbacks(state: State) -> Iterator[CallbackWorker]:
    """The shared ``state``'s callback worker; the test's callbacks are done, without a bug in
    the worker, once the state is reset."""
    worker = with_callbacks(state)
    yield worker
    state.store.reset()
    assert worker.wait(10)
    assert worker.errors == []


def definition(url: str, **fields: object) -> models.TaskDefinition:
    return models.TaskDefinition(
        root_fs="preloaded:cflinuxfs4",
        action=models.Action(run_action=models.RunAction(path="/bin/task", user="vcap")),
        completion_callback_url=url,
        **fields,  # type: ignore[arg-type]
    )


def complete(state: State, url: str, **fields: object) -> models.Task:
    state.desire_task(definition(url, **fields), "t", "d")
    state.start_task("t", "cell-1")
    return state.complete_task("t", "cell-1", failed=False, result="the result")


def refused_url() -> str:
    """A local URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/cb"


# -- the body ---------------------------------------------------------------------------------


def test_the_body_is_upstreams_json_in_field_order_without_an_empty_annotation() -> None:
    task = models.Task(
        task_guid="t",
        failed=True,
        failure_reason="r",
        result="x",
        created_at=123,
        task_definition=models.TaskDefinition(),
    )

    assert callback_json(task) == (
        b'{"task_guid":"t","failed":true,"failure_reason":"r","result":"x","created_at":123}'
    )


def test_the_body_carries_the_annotation_and_escapes_html_like_go() -> None:
    task = models.Task(
        task_guid="t", result="<a&b>", task_definition=models.TaskDefinition(annotation="ünï")
    )

    body = callback_json(task)

    assert b'"result":"\\u003ca\\u0026b\\u003e"' in body
    assert json.loads(body)["annotation"] == "ünï"
    assert list(json.loads(body)) == [
        "task_guid",
        "failed",
        "failure_reason",
        "result",
        "annotation",
        "created_at",
    ]


# -- delivery ---------------------------------------------------------------------------------


def test_a_completed_task_is_posted_as_json_and_then_deleted(
    state: State, callbacks: CallbackWorker, receiver: Receiver, changes: list[Change]
) -> None:
    completed = complete(state, receiver.url + "/done?x=1", annotation="note")

    assert callbacks.wait(10)

    [request] = receiver.received
    assert (request.method, request.path) == ("POST", "/done?x=1")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "task_guid": "t",
        "failed": False,
        "failure_reason": "",
        "result": "the result",
        "annotation": "note",
        "created_at": completed.created_at,
    }
    assert "t" not in state.store.tasks
    resolving, removed = changes[-2:]
    assert (resolving.before, resolving.after.state) == (completed, RESOLVING)  # type: ignore[union-attr]
    assert removed.after is None and removed.before == resolving.after


def test_completing_a_task_records_that_its_callback_is_due(
    state: State, changes: list[Change]
) -> None:
    state.desire_task(definition(""), "t", "d")
    state.start_task("t", "cell-1")

    state.complete_task("t", "cell-1", failed=False)

    assert [c.callback for c in changes] == [False, False, True]


def test_convergence_kicks_a_completed_task_through_the_worker_again(
    receiver: Receiver,
) -> None:
    now = [1_000 * 10**9]
    state = State(Store(clock=lambda: now[0]))
    callbacks = with_callbacks(state)
    receiver.answers.extend([503, 503, 503])  # three attempts, then it stays Resolving
    complete(state, receiver.url)
    assert callbacks.wait(10)
    now[0] += 31 * 10**9

    result = state.converge_tasks()  # Resolving too long: Completed again, and kicked

    assert (result.demoted_resolving, result.kicked_completed) == (["t"], ["t"])
    assert callbacks.wait(10)
    assert len(receiver.received) == 4
    assert "t" not in state.store.tasks


@pytest.mark.parametrize(
    "finish",
    [
        lambda s: s.cancel_task("t"),
        lambda s: s.fail_task("t", "broken"),
    ],
)
def test_cancel_and_fail_also_call_back(
    state: State, callbacks: CallbackWorker, receiver: Receiver, finish: Callable[[State], object]
) -> None:
    state.desire_task(definition(receiver.url), "t", "d")

    finish(state)
    assert callbacks.wait(10)

    assert json.loads(receiver.received[0].body)["failed"] is True
    assert "t" not in state.store.tasks


@pytest.mark.parametrize("status", [200, 204, 400, 404, 500, 502])
def test_any_answer_but_503_and_504_deletes_the_task(
    state: State, callbacks: CallbackWorker, receiver: Receiver, status: int
) -> None:
    receiver.answers.append(status)

    complete(state, receiver.url)
    assert callbacks.wait(10)

    assert len(receiver.received) == 1
    assert "t" not in state.store.tasks


@pytest.mark.parametrize("status", [503, 504])
def test_503_and_504_are_tried_three_times_then_the_task_stays_resolving(
    state: State, callbacks: CallbackWorker, receiver: Receiver, status: int
) -> None:
    receiver.answers.extend([status] * MAX_CALLBACK_ATTEMPTS)

    complete(state, receiver.url)
    assert callbacks.wait(10)

    assert len(receiver.received) == MAX_CALLBACK_ATTEMPTS == 3
    assert state.store.tasks["t"].state == RESOLVING


def test_a_503_then_a_200_deletes_the_task(
    state: State, callbacks: CallbackWorker, receiver: Receiver
) -> None:
    receiver.answers.append(503)

    complete(state, receiver.url)
    assert callbacks.wait(10)

    assert len(receiver.received) == 2
    assert "t" not in state.store.tasks


def test_a_refused_connection_gives_up_at_once_and_leaves_the_task_resolving(
    state: State,
    callbacks: CallbackWorker,
) -> None:
    complete(state, refused_url())
    assert callbacks.wait(10)

    assert state.store.tasks["t"].state == RESOLVING


def test_a_receiver_that_never_answers_is_tried_three_times(
    state: State, callbacks: CallbackWorker, receiver: Receiver
) -> None:
    callbacks.timeout = 0.05
    receiver.answers.extend([HANG] * MAX_CALLBACK_ATTEMPTS)

    complete(state, receiver.url)
    assert callbacks.wait(10)

    assert receiver.wait_for(3)
    assert len(receiver.received) == 3
    assert state.store.tasks["t"].state == RESOLVING


def test_a_url_that_is_not_http_leaves_the_task_resolving(
    state: State, callbacks: CallbackWorker
) -> None:
    complete(state, "ftp://127.0.0.1/cb")
    assert callbacks.wait(10)

    assert state.store.tasks["t"].state == RESOLVING


def test_a_307_redirect_is_posted_again_to_the_new_location(
    state: State, callbacks: CallbackWorker, receiver: Receiver
) -> None:
    receiver.answers.append((307, "/elsewhere"))

    complete(state, receiver.url + "/cb")
    assert callbacks.wait(10)

    assert [(r.method, r.path) for r in receiver.received] == [
        ("POST", "/cb"),
        ("POST", "/elsewhere"),
    ]
    assert receiver.received[1].body == receiver.received[0].body
    assert "t" not in state.store.tasks


def test_a_302_redirect_is_followed_with_a_get_like_go(
    state: State, callbacks: CallbackWorker, receiver: Receiver
) -> None:
    receiver.answers.append((302, "/elsewhere"))

    complete(state, receiver.url + "/cb")
    assert callbacks.wait(10)

    assert [(r.method, r.path, r.body) for r in receiver.received][1] == ("GET", "/elsewhere", b"")
    assert "t" not in state.store.tasks


# -- ownership of the task ----------------------------------------------------------------------


def test_a_task_resolved_by_someone_else_first_is_not_posted(
    state: State, callbacks: CallbackWorker, receiver: Receiver
) -> None:
    with state.store.lock:  # the worker waits for the lock, so the stager is first
        complete(state, receiver.url)
        state.resolving_task("t")

    assert callbacks.wait(10)

    assert receiver.received == []
    assert state.store.tasks["t"].state == RESOLVING


def test_a_task_without_callback_url_stays_completed(
    state: State, callbacks: CallbackWorker
) -> None:
    complete(state, "")

    assert callbacks.wait(10)
    assert state.store.tasks["t"].state == COMPLETED


def test_reset_drops_callbacks_that_have_not_run(
    state: State, callbacks: CallbackWorker, receiver: Receiver
) -> None:
    with state.store.lock:
        complete(state, receiver.url)
        state.store.reset()
        state.desire_task(definition(receiver.url), "t", "d")  # a new task with the same guid

    assert callbacks.wait(10)

    assert receiver.received == []
    assert state.store.tasks["t"].state == models.Task.Pending


def test_no_worker_thread_is_left_once_callbacks_are_done(
    state: State, callbacks: CallbackWorker, receiver: Receiver
) -> None:
    complete(state, receiver.url)

    assert callbacks.wait(10)
    assert callbacks.active_threads == 0


def test_waiting_without_any_callback_returns_at_once() -> None:
    assert with_callbacks(State(Store())).wait(0)


# -- over the BBS API -------------------------------------------------------------------------


def test_a_client_completing_a_task_triggers_the_callback(
    bbs: BBSClient, fake: FakeBBS, receiver: Receiver
) -> None:
    bbs.desire_task("t", "d", definition(receiver.url))
    bbs.start_task("t", "cell-1")

    bbs.complete_task("t", "cell-1", failed=True, failure_reason="exit status 1")
    assert fake._callbacks.wait(10)

    assert json.loads(receiver.received[0].body)["failure_reason"] == "exit status 1"
    assert bbs.tasks() == []


# -- over mutual TLS --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return generate_certificates(tmp_path_factory.mktemp("certs"))


def callback_over_tls(fake: FakeBBS, certificates: Certificates) -> tuple[Receiver, list[str]]:
    """Complete a task whose callback URL is an https receiver that requires a client
    certificate its CA signed (as upstream's secure_test.go's); (receiver, tasks left)."""
    with receiving(certificates.server_context(require_client_cert=True)) as receiver:
        client = fake.client()
        client.desire_task("t", "d", definition(receiver.url + "/test"))
        client.start_task("t", "cell-1")
        client.complete_task("t", "cell-1", failed=False, result="done")
        assert fake.wait_for_callbacks(10)
        return receiver, [task.task_guid for task in client.tasks()]


def test_callbacks_to_https_urls_use_the_client_tls_the_bbs_is_configured_with(
    certificates: Certificates,
) -> None:
    """``cmd/bbs/secure_test.go``: the BBS's own certificate, key and CA file."""
    tls = ClientTLS(
        str(certificates.ca_cert), str(certificates.server_cert), str(certificates.server_key)
    )
    receiver, left = callback_over_tls(FakeBBS(callback_tls=tls), certificates)

    assert [(r.method, r.path) for r in receiver.received] == [("POST", "/test")]
    assert left == []


def test_without_client_tls_an_https_receiver_requiring_it_is_not_reached(
    certificates: Certificates,
) -> None:
    receiver, left = callback_over_tls(FakeBBS(), certificates)

    assert receiver.received == []
    assert left == ["t"]
