"""The WSGI app: one request pipeline from the route table to the answer.

The stages, in order (``BBSApp.__call__``): match the route, read the body, decode it, consult
the fake's controls (holds, then faults), run the handler (prepare, validate, apply the rule),
encode, and record the call in the journal. The controls act in one place, after decoding, so
a fault or a hold can look at the decoded request, and every request is journaled exactly once
whatever answered it.

Transport as upstream (``handlers/handlers.go`` and the pat mux under rata): every handled
request is answered ``200 application/x-protobuf`` with any error inside the response message;
an unknown path is pat's plain-text 404; a known path with another method is a 405 with
``Allow``. Route matching is exact on the path (no trailing-slash or HEAD leniency, as pat),
which is why this is a dictionary of the route table rather than a werkzeug ``Map``.

Event stream routes (a handler made with ``_handlers._base.streaming``) are answered like
upstream's ``streamEventsToResponse``: 200 with the SSE headers, flushed before any event
exists (a subscriber's connect call waits for the status line), then one chunk per event until
the stream ends (server stop, a dropped slow subscriber) or the client goes away.
"""

from __future__ import annotations

import http.client
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError, Message
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from fakebbs import models
from fakebbs._controls import Faults, Holds
from fakebbs._encoded import Encoded
from fakebbs._events import EventStream
from fakebbs._handlers import HANDLERS, Call
from fakebbs._handlers._base import Handler, RefuseStream
from fakebbs._journal import Call as JournalCall
from fakebbs._journal import Journal
from fakebbs._state import State
from fakebbs._validation import validate
from fakebbs._wire import PROTOBUF, TRACE_HEADER
from fakebbs.errors import BBSError, InvalidRequest, UnknownError
from fakebbs.faults import Fault
from fakebbs.routes import ABORT_ENVIRON_KEY, ROUTES, STREAM_CANCEL_ENVIRON_KEY, Route

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["BBSApp", "PROTOBUF", "DEFAULT_MAX_BODY_BYTES"]

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024

SSE_HEADERS = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache, no-store, must-revalidate"),
    ("Connection", "keep-alive"),
]
"""Upstream ``streamEventsToResponse``'s headers (the body is chunked: no Content-Length)."""

STREAM_POLL_SECONDS = 0.25
"""How often an idle stream checks whether its client is still connected."""

log = logging.getLogger("fakebbs.app")


@dataclass
class _Exchange:
    """One request on its way through the pipeline; becomes the journal's ``Call``."""

    method: str
    path: str
    trace_id: str
    time: float
    route: Route | None = None
    request: Message | None = None
    response: Message | Encoded[Any] | None = None
    error: BBSError | None = None
    fault: Fault | None = None
    status: int = 200

    def call(self) -> JournalCall:
        return JournalCall(
            route=None if self.route is None else self.route.name,
            path=self.path,
            method=self.method,
            request=self.request,
            sent=self.response,
            error=self.error,
            fault=self.fault,
            trace_id=self.trace_id,
            time=self.time,
            status=self.status,
        )


class BBSApp:
    """A WSGI app serving the BBS API over one ``State``.

    ``handlers`` maps route names to handlers (default: every route's); ``journal``, ``faults``
    and ``holds`` are the fake's controls (``FakeBBS`` passes its own; without them the app
    is the bare BBS). The real BBS reads any body size; a test fake should not be run out of
    memory by one, so bodies over ``max_body_bytes`` get a plain 413 instead. Exceptions that
    escape a handler (bugs in the fake) are answered 500 and kept in ``errors`` for tests to
    re-raise.
    """

    def __init__(
        self,
        state: State,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        handlers: Mapping[str, Handler] | None = None,
        errors: list[BaseException] | None = None,
        journal: Journal | None = None,
        faults: Faults | None = None,
        holds: Holds | None = None,
    ) -> None:
        self.state = state
        self.max_body_bytes = max_body_bytes
        self.handlers: dict[str, Handler] = dict(HANDLERS if handlers is None else handlers)
        self.errors: list[BaseException] = [] if errors is None else errors
        self.journal = journal
        self.faults = faults
        self.holds = holds
        self._errors_lock = threading.Lock()
        self._routes: dict[str, dict[str, Route]] = {}
        for route in ROUTES:
            self._routes.setdefault(route.path, {})[route.method] = route

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        exchange = _Exchange(
            request.method, request.path, request.headers.get(TRACE_HEADER, ""), time.time()
        )
        try:
            answer = self._answer(request, exchange)
        finally:
            if self.journal is not None:
                self.journal.record(exchange.call())
        return answer(environ, start_response)

    # -- the stages ------------------------------------------------------------------------

    def _answer(self, request: Request, exchange: _Exchange) -> WSGIApplication:
        methods = self._routes.get(request.path)
        if methods is None:
            return _text(exchange, 404, "404 page not found\n")
        route = methods.get(request.method)
        if route is None:
            response = _text(exchange, 405, "Method Not Allowed\n")
            response.headers["Allow"] = ", ".join(sorted(methods))
            return response
        exchange.route = route
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _text(exchange, 413, f"request body larger than {self.max_body_bytes} bytes\n")
        except HTTPException as exc:
            return _text(exchange, exc.code or 400, f"{exc.description}\n")
        except Exception as exc:  # noqa: BLE001 - a broken chunked body surfaces as anything
            return _text(exchange, 400, f"malformed request body: {exc}\n")
        return self.handle(route, body, exchange)

    def handle(
        self, route: Route, body: bytes, exchange: _Exchange | None = None
    ) -> WSGIApplication:
        """Answer one request for ``route`` whose body has been read."""
        if exchange is None:
            exchange = _Exchange(route.method, route.path, "", time.time(), route)
        handler = self.handlers.get(route.name)
        decode_error: BBSError | None = None
        try:
            exchange.request = _decode(route, body)
        except InvalidRequest as error:
            decode_error = error
        override = self._control(route, exchange)
        if isinstance(override, Fault):
            return self._fault(route, handler, body, exchange, override)
        if isinstance(override, BBSError):
            return _protobuf(exchange, _error_response(route, override, exchange))
        if handler is None:
            message = f"fakebbs: {route.path} ({route.name}) is not implemented yet"
            if route.response is None:
                return _text(exchange, 501, message + "\n")
            return _protobuf(exchange, _error_response(route, UnknownError(message), exchange))
        if handler.stream is not None:
            return self._open_stream(route, handler, body, exchange)
        return self._run(route, handler, body, exchange, decode_error)

    def _control(self, route: Route, exchange: _Exchange) -> BBSError | Fault | None:
        """The control point: hold the request while its route is held, then pick the fault
        or BBS error a rule injects (None: answer normally)."""
        if self.holds is not None:
            self.holds.wait(route, exchange.request)
        if self.faults is None:
            return None
        return self.faults.take(route, exchange.request)

    def _run(
        self,
        route: Route,
        handler: Handler,
        body: bytes,
        exchange: _Exchange,
        decode_error: BBSError | None,
    ) -> Response:
        request = exchange.request
        parsed = False
        try:
            if decode_error is not None:
                raise decode_error
            if handler.prepare is not None and request is not None:
                # prepare rewrites the request in place; the journal keeps what was sent
                request = _copy(request)
                handler.prepare(request, body)
            if request is not None:
                validate(request, require_metric_tags=handler.require_metric_tags)
            parsed = True
            response = handler.run(self.state, request, Call(route, exchange.trace_id, body))
        except BBSError as error:
            response = _error_response(route, error, exchange)
            if not parsed and handler.on_bad_request is not None:
                handler.on_bad_request(response)
        except Exception as exc:
            return self._internal_error(route, exchange, exc)
        exchange.response = response
        return _protobuf(exchange, response)

    def _open_stream(
        self, route: Route, handler: Handler, body: bytes, exchange: _Exchange, limit: int = -1
    ) -> WSGIApplication:
        """Subscribe now (events from here on are the stream's), answer with the stream;
        ``limit`` ends it after that many events (-1: no limit)."""
        assert handler.stream is not None
        try:
            stream = handler.stream(
                self.state, exchange.request, Call(route, exchange.trace_id, body)
            )
        except RefuseStream:
            exchange.status = 500
            return _empty(500)
        except Exception as exc:
            return self._internal_error(route, exchange, exc)
        return _EventStreamResponse(stream, limit)

    def _fault(
        self,
        route: Route,
        handler: Handler | None,
        body: bytes,
        exchange: _Exchange,
        fault: Fault,
    ) -> WSGIApplication:
        """Answer with a transport fault instead of (or, for delays and truncation, around)
        the normal answer."""
        exchange.fault = fault
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            exchange.fault = fault
            if handler is not None and handler.stream is not None:
                return self._open_stream(route, handler, body, exchange)
            decode_error = (
                None
                if exchange.request is not None or route.request is None
                else (InvalidRequest())
            )
            if handler is None:
                return _text(exchange, 501, f"fakebbs: {route.name} is not implemented yet\n")
            return self._run(route, handler, body, exchange, decode_error)
        if fault.kind == "end_stream":
            assert handler is not None
            return self._open_stream(route, handler, body, exchange, limit=fault.after)
        if fault.kind == "status":
            response = _text(exchange, fault.status, fault.body or _reason_line(fault.status))
            for name, value in fault.headers:
                response.headers[name] = value
            return response
        if fault.kind == "bad_body":
            return Response(fault.body.encode("latin-1"), 200, content_type=PROTOBUF)
        if fault.kind == "truncated_body":
            assert handler is not None
            answer = self._run(route, handler, body, exchange, None)
            return _Truncated(answer.get_data())
        exchange.status = 0
        return _Aborted(reset=fault.kind == "reset_connection")

    def _internal_error(self, route: Route, exchange: _Exchange, exc: Exception) -> Response:
        log.exception("fakebbs: handler for %s failed", route.name)
        with self._errors_lock:
            self.errors.append(exc)
        return _text(exchange, 500, f"fakebbs: internal error in {route.name}: {exc!r}\n")


class _Aborted:
    """The answer of ``close_connection`` and ``reset_connection``: none. On the fake's own
    server the connection is closed (or reset); in-process the caller gets the exception a
    socket client would."""

    def __init__(self, *, reset: bool) -> None:
        self.reset = reset

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        abort = environ.get(ABORT_ENVIRON_KEY)
        if abort is None:
            if self.reset:
                raise ConnectionResetError(104, "Connection reset by peer (fakebbs fault)")
            raise http.client.RemoteDisconnected(
                "Remote end closed connection without response (fakebbs fault)"
            )
        start_response("200 OK", [])
        abort(self.reset)
        return []


class _Truncated:
    """The answer of ``truncated_body``: the headers of the whole body, half of it, close."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        half = self.body[: len(self.body) // 2]
        abort = environ.get(ABORT_ENVIRON_KEY)
        if abort is None:
            raise http.client.IncompleteRead(half, len(self.body) - len(half))
        start_response(
            "200 OK", [("Content-Type", PROTOBUF), ("Content-Length", str(len(self.body)))]
        )
        return _TruncatedBody(half, lambda: abort(False))


class _TruncatedBody:
    def __init__(self, half: bytes, abort: Callable[[], None]) -> None:
        self._half = half
        self._abort = abort

    def __iter__(self) -> Iterator[bytes]:
        if self._half:
            yield self._half
        self._abort()


class _EventStreamResponse:
    """The WSGI answer of an event stream: headers at once, then the events as they come."""

    def __init__(self, stream: EventStream, limit: int = -1) -> None:
        self.stream = stream
        self.limit = limit

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", list(SSE_HEADERS))
        try:
            write(b"")  # WSGI: the first write sends the status line and headers
        except BaseException:
            self.stream.close()
            raise
        return _StreamBody(self.stream, _Subscriber(environ, write), self.limit)


class _Subscriber:
    """The client end of a stream: has it gone away? Upstream notices by reading the hijacked
    connection until EOF. Under cheroot the fake looks at the socket (the peer closed it);
    in-process, the caller sets the environ's cancel event. (A write to a closed connection
    fails anyway, but an idle stream writes nothing.)"""

    def __init__(self, environ: WSGIEnvironment, write: Callable[[bytes], object]) -> None:
        self._cancel = environ.get(STREAM_CANCEL_ENVIRON_KEY)
        # cheroot's WSGI write() is its gateway's bound method: gateway.req.conn.socket
        self._request: Any = getattr(getattr(write, "__self__", None), "req", None)
        sock = getattr(getattr(self._request, "conn", None), "socket", None)
        self._socket = sock if isinstance(sock, socket.socket) else None

    def gone(self) -> bool:
        if isinstance(self._cancel, threading.Event) and self._cancel.is_set():
            return True
        if self._socket is None or not _peer_closed(self._socket):
            return False
        if self._request is not None:
            # Nothing more to send, not even the last chunk (a TLS peer that has gone makes
            # that write fail loudly).
            self._request.chunked_write = False
        return True

    def hang_up(self) -> None:
        """Close the connection after the stream, as upstream closes the hijacked one."""
        if self._request is not None:
            self._request.close_connection = True


class _StreamBody:
    """The response body of a stream: one chunk per event. A class, not a generator, so that
    ``close()`` unsubscribes even if the server never started iterating."""

    def __init__(self, stream: EventStream, subscriber: _Subscriber, limit: int = -1) -> None:
        self._stream = stream
        self._subscriber = subscriber
        self._left = limit  # events still to send before ending (-1: no limit)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        while self._left != 0:
            chunk = self._stream.poll(STREAM_POLL_SECONDS)
            if chunk is None:
                break
            if chunk:
                self._left -= self._left > 0
                return chunk
            if self._subscriber.gone():
                break
        self._subscriber.hang_up()
        self.close()
        raise StopIteration

    def close(self) -> None:
        self._stream.close()


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the peer closed (or reset) the connection. A streaming client sends nothing
    after its request, so any readable socket is read: EOF or an error means gone; bytes
    (there should be none) are discarded, as upstream's ``rw.ReadFrom(conn)`` does."""
    try:
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
        if not pending:
            if hasattr(select, "poll"):
                poller = select.poll()
                poller.register(sock, select.POLLIN)
                if not poller.poll(0):
                    return False
            elif not select.select([sock], [], [], 0)[0]:
                return False
        timeout = sock.gettimeout()
        sock.settimeout(0)
        try:
            return sock.recv(4096) == b""
        finally:
            sock.settimeout(timeout)
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return False
    except (OSError, ValueError):
        return True


def _decode(route: Route, body: bytes) -> Message | None:
    """``parseRequest``: an undecodable body is an InvalidRequest with upstream's text."""
    if route.request is None:
        return None
    message: Message = getattr(models, route.request)()
    try:
        message.ParseFromString(body)
    except DecodeError:
        raise InvalidRequest() from None
    return message


def _error_response(route: Route, error: BBSError, exchange: _Exchange) -> Message:
    assert route.response is not None
    response: Message = getattr(models, route.response)()
    response.error.CopyFrom(error.to_wire())  # type: ignore[attr-defined]
    exchange.error = error
    exchange.response = response
    return response


def _protobuf(exchange: _Exchange, message: Message | Encoded[Any]) -> Response:
    exchange.response = message
    if isinstance(message, Encoded):
        return Response(message.data, 200, content_type=PROTOBUF)
    return Response(message.SerializeToString(deterministic=True), 200, content_type=PROTOBUF)


def _copy(message: Message) -> Message:
    clone = type(message)()
    clone.CopyFrom(message)
    return clone


def _reason_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}\n"
    except ValueError:
        return f"{status}\n"


def _empty(status: int) -> Response:
    """A bodiless answer as Go's ``w.WriteHeader(status)`` sends it: no Content-Type."""
    response = Response(b"", f"{status} {HTTPStatus(status).phrase}")
    del response.headers["Content-Type"]
    return response


def _text(exchange: _Exchange, status: int, body: str) -> Response:
    """A plain-text answer as Go's ``http.Error`` sends it (Go's reason phrase, too)."""
    exchange.status = status
    try:
        line = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:  # a status code http.HTTPStatus does not know (a fault may use any)
        line = str(status)
    response = Response(body, line, content_type="text/plain; charset=utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
