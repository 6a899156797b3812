"""The calls the BBS makes: to cells' reps (stop, update, cancel) and to the auctioneer (LRP and
task start requests).

The rules decide a call as part of their operation (``Operation.call``), next to the changes
they record, so the HTTP API, seeding and convergence agree on it. When the outermost operation
ends, outside the state's lock, the store hands the calls to ``Outbound.dispatch``, which makes
each one and records it, with its outcome, in ``rep_calls`` or ``auctioneer_calls``:

* by default nothing is sent: a call is recorded as "not sent" and counts as answered 202, as a
  healthy rep or auctioneer answers (no surprise network traffic);
* with ``call_reps`` rep calls go to the cell presence's rep URL, and with ``auctioneer_url``
  start requests go to the auctioneer, over plain HTTP or mutual TLS (``ClientTLS``);
* a fault rule (``FakeBBS.fail`` with a call's name, e.g. ``"StopLRPInstance"``) answers a call
  in place of the rep or auctioneer, sent or not.

Upstream's consequences (``controllers``, ``handlers``, rep ``client.go``, auctioneer
``client.go``): a retire tries to stop a CLAIMED or RUNNING instance up to five times and
answers the last error; a failed stop after a scale-down or removal, a failed update, a failed
cancel and a failed auction are only logged (an instance not placed stays UNCLAIMED until
convergence asks again). A rep answers 202 for success; an update answered 404 by an older rep
is sent again on the v1 route when it carries internal routes. As upstream, the stops of a
scale-down or removal and the updates of a desired LRP update are made in the background (one
worker, in the order decided); every other call before the BBS call that made it answers.

What each call is (``OutboundRequest`` and the functions that build one) is decided by the
rules and defined in ``fakebbs._rules.requests``; the names are re-exported here for callers of
the outbound layer.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from fakebbs._rules.requests import (
    AUCTIONEER_CALLS,
    INTERNAL_ROUTER,
    OUTBOUND_FIELDS,
    REP_CALLS,
    RETIRE_ATTEMPTS,
    OutboundRequest,
    Target,
    cancel_task_request,
    internal_routes_of,
    lrp_auction_request,
    lrp_start,
    metric_tags_for,
    stop_request,
    task_auction_request,
    task_start,
    update_request,
)
from fakebbs._rules.wire import TRACE_HEADER, go_json
from fakebbs.errors import BBSError, UnknownError
from fakebbs.faults import Fault

__all__ = [
    "AUCTIONEER_CALLS",
    "DEFAULT_OUTBOUND_TIMEOUT",
    "OUTBOUND_FIELDS",
    "REP_CALLS",
    "RETIRE_ATTEMPTS",
    "ClientTLS",
    "Outbound",
    "OutboundCall",
    "OutboundRequest",
    "INTERNAL_ROUTER",
    "cancel_task_request",
    "internal_routes_of",
    "lrp_auction_request",
    "lrp_start",
    "metric_tags_for",
    "stop_request",
    "task_auction_request",
    "task_start",
    "update_request",
]

DEFAULT_OUTBOUND_TIMEOUT = 10.0
"""Seconds per socket operation of a sent call (upstream: the BBS's HTTP client timeouts)."""

ACCEPTED = 202

log = logging.getLogger("fakebbs.outbound")


@dataclass(frozen=True)
class OutboundCall:
    """One call the BBS made (or would have made), and what came of it.

    ``route`` is the rep or auctioneer client method (``StopLRPInstance``,
    ``UpdateLRPInstance``, ``CancelTask``, ``RequestLRPAuctions``, ``RequestTaskAuctions``);
    ``cell_id`` the rep's cell ("" for the auctioneer); ``url`` where it went (or would go);
    ``method``, ``path`` and ``body`` (the text, "" for none) as sent; ``request`` the decoded
    body (a stop's and a cancel's route parameters). ``sent`` says it went over the network;
    ``status`` is the HTTP status answered (0: none); ``error`` what upstream's client returned
    (None: success); ``fault`` the fault rule's action that answered it, if any; ``attempt``
    counts from 1 for a retried call; ``outcome`` says it in words.
    """

    route: str
    target: Target
    cell_id: str
    url: str
    method: str
    path: str
    body: str
    request: Any
    trace_id: str
    time: float
    sent: bool
    status: int
    error: str | None
    fault: Fault | None
    attempt: int = 1
    namespace: str = ""

    @property
    def outcome(self) -> str:
        if self.fault is not None:
            head = f"fault {self.fault}"
        elif self.sent:
            head = f"sent, status {self.status}" if self.status else "sent"
        else:
            head = "not sent"
        return head if self.error is None else f"{head}: {self.error}"

    def describe(self) -> str:
        """One line: the call, where it went, its decoded body, and the outcome."""
        where = f" to cell {self.cell_id}" if self.cell_id else ""
        shown = json.dumps(self.request, sort_keys=True)
        if len(shown) > 300:
            shown = shown[:297] + "..."
        return f"{self.route}{where} {self.method} {self.path} {shown} -> {self.outcome}"


@dataclass(frozen=True)
class ClientTLS:
    """The client side of mutual TLS, as the BBS configures it for reps or the auctioneer:
    a CA file to verify the server with, and the client's certificate and key files.
    ``require`` refuses plain-HTTP rep URLs (upstream ``rep_require_tls``); for the
    auctioneer, without it a request that fails over TLS is sent again over plain HTTP
    (upstream ``auctioneer_require_tls``). An empty ``ca_file`` verifies the server with the
    system's trust store."""

    ca_file: str
    cert_file: str
    key_file: str
    require: bool = False

    def context(self) -> ssl.SSLContext:
        """A client context: TLS 1.2 or later, server verified against ``ca_file``."""
        context = ssl.create_default_context(cafile=self.ca_file or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


# -- making the calls ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    sent: bool
    status: int
    error: str | None
    fault: Fault | None = None


FaultLookup = Callable[[str, Any], Fault | None]


class Recorder(Protocol):
    """Where calls are recorded (``fakebbs._control.journal.OutboundJournal``)."""

    def record(self, call: OutboundCall) -> None: ...


class Outbound:
    """Makes and records the calls of one fake (see the module docstring).

    ``rep_calls`` and ``auctioneer_calls`` are where they are recorded (journals); ``fault``
    returns the fault rule's action for a call, if one matches (counting it as a hit).
    """

    def __init__(
        self,
        rep_calls: Recorder,
        auctioneer_calls: Recorder,
        *,
        fault: FaultLookup,
        call_reps: bool = False,
        auctioneer_url: str | None = None,
        rep_tls: ClientTLS | None = None,
        auctioneer_tls: ClientTLS | None = None,
        timeout: float = DEFAULT_OUTBOUND_TIMEOUT,
        namespace: str = "",
        errors: list[BaseException] | None = None,
    ) -> None:
        self.rep_calls = rep_calls
        self.auctioneer_calls = auctioneer_calls
        self._fault = fault
        self.call_reps = call_reps
        self.auctioneer_url = auctioneer_url.rstrip("/") if auctioneer_url else None
        self.rep_tls = rep_tls
        self.auctioneer_tls = auctioneer_tls
        self._rep_context = rep_tls.context() if rep_tls is not None else None
        self._auctioneer_context = auctioneer_tls.context() if auctioneer_tls is not None else None
        self.timeout = timeout
        self.namespace = namespace
        self._errors = errors if errors is not None else []
        self._cond = threading.Condition()
        self._queue: deque[OutboundRequest] = deque()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._generation = 0
        self.receiver: Callable[[OutboundCall], None] | None = None
        """Takes every call neither sent nor answered by a fault rule, as the rep or
        auctioneer it stands for (the simulated Diego, ``fakebbs._diego``)."""

    def _sends(self, request: OutboundRequest) -> bool:
        return self.call_reps if request.target == "rep" else self.auctioneer_url is not None

    def dispatch(self, requests: Sequence[tuple[OutboundRequest, bool]]) -> BBSError | None:
        """Make the calls an operation decided, in order, before the BBS call that decided
        them answers (returns the error it answers, if any), but for the background ones,
        which are queued when they are sent."""
        failure: BBSError | None = None
        background = []
        for request, outermost in requests:
            if outermost and request.answers:
                error = self._make(request)
                if error is not None and failure is None:
                    failure = error if isinstance(error, BBSError) else UnknownError(error)
                continue
            if outermost and request.unreachable_answers:
                _, refused = self._url(request)
                if refused is not None:
                    self._make(request)
                    if failure is None:
                        failure = UnknownError(refused)
                    continue
            if request.background and self._sends(request):
                background.append(request)
            else:
                self._make(request)
        if background:
            with self._cond:
                self._queue.extend(background)
                if not self._busy:
                    self._busy = True
                    self._thread = threading.Thread(
                        target=self._work, name="fakebbs-outbound", daemon=True
                    )
                    self._thread.start()
        return failure

    def _work(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._busy = False
                    self._cond.notify_all()
                    return
                request = self._queue.popleft()
                generation = self._generation
            try:
                self._make(request, generation)
            except Exception as exc:  # noqa: BLE001 (a bug in the fake: kept for check())
                self._errors.append(exc)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every call queued for the background has been made and the worker
        thread has ended; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))
            return not thread.is_alive()
        return True

    def discard(self) -> None:
        """Drop the queued calls; one being made records nothing (a reset fake)."""
        with self._cond:
            self._queue.clear()
            self._generation += 1

    def _make(
        self, request: OutboundRequest, generation: int | None = None
    ) -> str | BBSError | None:
        """Make one call, with its attempts; returns the last error (None: success), or the
        BBS error its ``retry_check`` gave."""
        error: str | None = None
        for attempt in range(1, request.attempts + 1):
            if attempt > 1 and request.retry_check is not None:
                verdict = request.retry_check()
                if verdict is True:
                    return None
                if isinstance(verdict, BBSError):
                    return verdict
            error = self._attempt(request, attempt, generation)
            if error is None:
                return None
        return error

    def _record(self, call: OutboundCall, generation: int | None) -> None:
        with self._cond:
            if generation is not None and generation != self._generation:
                return
        journal = self.rep_calls if call.target == "rep" else self.auctioneer_calls
        journal.record(call)

    def _attempt(
        self, request: OutboundRequest, attempt: int, generation: int | None, *, plain: bool = False
    ) -> str | None:
        url, url_error = self._url(request)
        if plain:
            url = "http" + url[len("https") :]
        started = time.time()
        fault = self._fault(request.route, request.request)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if url_error is not None:
            answer = _Answer(False, 0, url_error)
        elif fault is not None:
            answer = _fault_answer(fault, request, url)
        elif self._sends(request):
            answer = self._send(request, url)
        else:
            answer = _Answer(False, 0, None)
        call = OutboundCall(
            request.route,
            request.target,
            request.cell_id,
            url,
            request.method,
            request.path,
            request.body,
            request.request,
            request.trace_id,
            started,
            answer.sent,
            answer.status,
            answer.error,
            answer.fault,
            attempt,
            self.namespace,
        )
        self._record(call, generation)
        if self.receiver is not None and not (answer.sent or answer.fault or answer.error):
            self.receiver(call)
        if (
            request.route == "UpdateLRPInstance"
            and answer.status == 404
            and request.method == "PUT"
            and request.path.startswith("/v2/")
        ):
            return self._update_r0(request, attempt, generation)
        if request.route == "UpdateLRPInstance" and answer.status == 404:
            return None  # an older rep that will roll soon (rep client)
        tls = self.auctioneer_tls
        if (
            request.target == "auctioneer"
            and answer.sent
            and answer.status == 0
            and not plain
            and url.startswith("https:")
            and tls is not None
            and not tls.require
        ):
            # The auctioneer client tries again over plain HTTP when TLS is not required.
            return self._attempt(request, attempt, generation, plain=True)
        return answer.error

    def _update_r0(
        self, request: OutboundRequest, attempt: int, generation: int | None
    ) -> str | None:
        """A rep without the v2 route: an update carrying internal routes is sent again on
        ``PUT /v1/lrps/...`` without metric tags; one without them counts as done."""
        body = dict(request.request)
        if body.get("internal_routes") is None:
            return None
        body["metric_tags"] = None
        r0 = replace(
            request,
            path="/v1/" + request.path[len("/v2/") :],
            body=go_json(body).decode("utf-8"),
            request=body,
        )
        return self._attempt(r0, attempt, generation)

    def _url(self, request: OutboundRequest) -> tuple[str, str | None]:
        """Where the call goes, and why it cannot be made (rep ``pickURL``) when sent."""
        if request.target == "auctioneer":
            return (self.auctioneer_url or "") + request.path, None
        base = request.rep_url or request.rep_address
        if not self.call_reps:
            return base + request.path, None
        secure = urllib.parse.urlsplit(request.rep_url).scheme == "https"
        tls = self.rep_tls
        if tls is None:
            if secure:
                return base + request.path, (
                    "https scheme not supported since certificates aren't provided"
                )
        elif tls.require:
            if not secure:
                return base + request.path, (
                    "https scheme is required but none of the addresses support it"
                )
            base = request.rep_url
        return base + request.path, None

    def _send(self, request: OutboundRequest, url: str) -> _Answer:
        parts = urllib.parse.urlsplit(url)
        context = self._rep_context if request.target == "rep" else self._auctioneer_context
        try:
            connection: http.client.HTTPConnection
            if parts.scheme == "https":
                connection = http.client.HTTPSConnection(
                    parts.hostname or "", parts.port, timeout=self.timeout, context=context
                )
            else:
                connection = http.client.HTTPConnection(
                    parts.hostname or "", parts.port, timeout=self.timeout
                )
        except (ValueError, OSError) as exc:
            return _Answer(False, 0, _go_error(request, url, exc))
        headers = {}
        if request.trace_id or request.target == "auctioneer":
            headers[TRACE_HEADER] = request.trace_id
        if request.route != "CancelTaskOnRep":
            headers["Content-Type"] = "application/json"
        body = request.body.encode("utf-8")
        try:
            connection.request(request.method, parts.path or "/", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            log.info("%s to %s failed: %s", request.route, url, exc)
            return _Answer(True, 0, _go_error(request, url, exc))
        finally:
            connection.close()
        if status == ACCEPTED:
            return _Answer(True, status, None)
        return _Answer(True, status, _status_error(status))


def _status_error(status: int) -> str:
    reason = http.client.responses.get(status, "")
    return f"http error: status code {status} ({reason})"


def _verb(method: str) -> str:
    return method[:1] + method[1:].lower()


def _go_error(request: OutboundRequest, url: str, exc: BaseException) -> str:
    """A transport error as Go's ``http.Client`` words it: ``Post "URL": cause``."""
    cause = str(exc) or type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        cause = "connect: connection refused"
    elif isinstance(exc, ConnectionResetError):
        cause = "read: connection reset by peer"
    elif isinstance(exc, http.client.RemoteDisconnected):
        cause = "EOF"
    elif isinstance(exc, TimeoutError):
        cause = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    return f'{_verb(request.method)} "{url}": {cause}'


def _fault_answer(fault: Fault, request: OutboundRequest, url: str) -> _Answer:
    """What a fault rule's action makes of a call: a status is an answer of that status; the
    other faults are what a client sees of a connection closed or reset."""
    if fault.kind == "status":
        error = None if fault.status == ACCEPTED else _status_error(fault.status)
        return _Answer(False, fault.status, error, fault)
    if fault.kind == "reset_connection":
        return _Answer(False, 0, _go_error(request, url, ConnectionResetError()), fault)
    return _Answer(False, 0, _go_error(request, url, http.client.RemoteDisconnected("")), fault)
