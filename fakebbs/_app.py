"""The WSGI app: match the route, read and decode the body, validate, run the handler, encode.

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

import logging
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError, Message
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from fakebbs import models
from fakebbs._events import EventStream
from fakebbs._handlers import HANDLERS, Call
from fakebbs._handlers._base import Handler, RefuseStream
from fakebbs._state import State
from fakebbs._validation import validate
from fakebbs.errors import BBSError, InvalidRequest, UnknownError
from fakebbs.routes import ROUTES, STREAM_CANCEL_ENVIRON_KEY, Route

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["BBSApp", "PROTOBUF", "DEFAULT_MAX_BODY_BYTES"]

PROTOBUF = "application/x-protobuf"
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
TRACE_HEADER = "X-Vcap-Request-Id"

SSE_HEADERS = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache, no-store, must-revalidate"),
    ("Connection", "keep-alive"),
]
"""Upstream ``streamEventsToResponse``'s headers (the body is chunked: no Content-Length)."""

STREAM_POLL_SECONDS = 0.25
"""How often an idle stream checks whether its client is still connected."""

log = logging.getLogger("fakebbs.app")


class BBSApp:
    """A WSGI app serving the BBS API over one ``State``.

    The real BBS reads any body size; a test fake should not be run out of memory by one, so
    bodies over ``max_body_bytes`` get a plain 413 instead. Exceptions that escape a handler
    (bugs in the fake) are answered 500 and kept in ``errors`` for tests to re-raise.
    """

    def __init__(self, state: State, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.state = state
        self.max_body_bytes = max_body_bytes
        self.errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        self._routes: dict[str, dict[str, Route]] = {}
        for route in ROUTES:
            self._routes.setdefault(route.path, {})[route.method] = route

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> WSGIApplication:
        methods = self._routes.get(request.path)
        if methods is None:
            return _text(404, "404 page not found\n")
        route = methods.get(request.method)
        if route is None:
            response = _text(405, "Method Not Allowed\n")
            response.headers["Allow"] = ", ".join(sorted(methods))
            return response
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _text(413, f"request body larger than {self.max_body_bytes} bytes\n")
        except HTTPException as exc:
            return _text(exc.code or 400, f"{exc.description}\n")
        except Exception as exc:  # noqa: BLE001 - a broken chunked body surfaces as anything
            return _text(400, f"malformed request body: {exc}\n")
        return self.handle(route, body, request.headers.get(TRACE_HEADER, ""))

    def handle(self, route: Route, body: bytes, trace_id: str = "") -> WSGIApplication:
        """Answer one request for ``route`` whose body has been read."""
        handler = HANDLERS.get(route.name)
        if handler is None:
            message = f"fakebbs: {route.path} ({route.name}) is not implemented yet"
            if route.response is None:
                return _text(501, message + "\n")
            return _protobuf(_error_response(route, UnknownError(message)))
        if handler.stream is not None:
            return self._open_stream(route, handler, body, trace_id)
        parsed = False
        try:
            request = _decode(route, body)
            if handler.prepare is not None and request is not None:
                handler.prepare(request, body)
            if request is not None:
                validate(request, require_metric_tags=handler.require_metric_tags)
            parsed = True
            response = handler.run(self.state, request, Call(route, trace_id, body))
        except BBSError as error:
            response = _error_response(route, error)
            if not parsed and handler.on_bad_request is not None:
                handler.on_bad_request(response)
            return _protobuf(response)
        except Exception as exc:
            log.exception("fakebbs: handler for %s failed", route.name)
            with self._errors_lock:
                self.errors.append(exc)
            return _text(500, f"fakebbs: internal error in {route.name}: {exc!r}\n")
        return _protobuf(response)

    def _open_stream(
        self, route: Route, handler: Handler, body: bytes, trace_id: str
    ) -> WSGIApplication:
        """Subscribe now (events from here on are the stream's), answer with the stream."""
        assert handler.stream is not None
        request: Message | None
        try:
            request = _decode(route, body)
        except InvalidRequest:
            request = None
        try:
            stream = handler.stream(self.state, request, Call(route, trace_id, body))
        except RefuseStream:
            return _empty(500)
        except Exception as exc:
            log.exception("fakebbs: handler for %s failed", route.name)
            with self._errors_lock:
                self.errors.append(exc)
            return _text(500, f"fakebbs: internal error in {route.name}: {exc!r}\n")
        return _EventStreamResponse(stream)


class _EventStreamResponse:
    """The WSGI answer of an event stream: headers at once, then the events as they come."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", list(SSE_HEADERS))
        try:
            write(b"")  # WSGI: the first write sends the status line and headers
        except BaseException:
            self.stream.close()
            raise
        return _StreamBody(self.stream, _Subscriber(environ, write))


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

    def __init__(self, stream: EventStream, subscriber: _Subscriber) -> None:
        self._stream = stream
        self._subscriber = subscriber

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        while True:
            chunk = self._stream.poll(STREAM_POLL_SECONDS)
            if chunk is None:
                break
            if chunk:
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


def _error_response(route: Route, error: BBSError) -> Message:
    assert route.response is not None
    response: Message = getattr(models, route.response)()
    wire = models.Error(message=error.message)
    wire.type = error.type  # type: ignore[assignment]  # any number, as upstream's enum is open
    response.error.CopyFrom(wire)  # type: ignore[attr-defined]
    return response


def _protobuf(message: Message) -> Response:
    return Response(message.SerializeToString(deterministic=True), 200, content_type=PROTOBUF)


def _empty(status: int) -> Response:
    """A bodiless answer as Go's ``w.WriteHeader(status)`` sends it: no Content-Type."""
    response = Response(b"", f"{status} {HTTPStatus(status).phrase}")
    del response.headers["Content-Type"]
    return response


def _text(status: int, body: str) -> Response:
    """A plain-text answer as Go's ``http.Error`` sends it (Go's reason phrase, too)."""
    response = Response(
        body, f"{status} {HTTPStatus(status).phrase}", content_type="text/plain; charset=utf-8"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
