"""The answers that shape the transport rather than carry a message: none at all (a closed or
reset connection), a body cut short, an event stream (its headers, its body one event a chunk,
noticing a subscriber that went away), and the plain protobuf answer most calls get.

On the fake's own server they use the callables it puts in the environ
(``fakebbs._http.environ``); in-process (werkzeug's test client, ``fakebbs.client``) the caller
gets what a socket client would: the exception, the short read, the cancel event.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from fakebbs._http.environ import (
    ABORT_ENVIRON_KEY,
    CLOSE_CONNECTION_ENVIRON_KEY,
    SOCKET_ENVIRON_KEY,
    STREAM_HANDOFF_ENVIRON_KEY,
)
from fakebbs._rules.wire import PROTOBUF
from fakebbs.routes import STREAM_CANCEL_ENVIRON_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from fakebbs._http.events import EventStream

__all__ = [
    "SSE_HEADERS",
    "STREAM_POLL_SECONDS",
    "Aborted",
    "EventStreamResponse",
    "ProtobufAnswer",
    "StreamBody",
    "Subscriber",
    "Truncated",
    "peer_closed",
]

SSE_HEADERS = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache, no-store, must-revalidate"),
    ("Connection", "keep-alive"),
]
"""Upstream ``streamEventsToResponse``'s headers (the body is chunked: no Content-Length)."""

STREAM_POLL_SECONDS = 0.25
"""How often an idle stream checks whether its client is still connected."""


class Aborted:
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


class Truncated:
    """The answer of ``truncated_body``: headers announcing the whole body (at least one byte,
    so that even an empty answer is cut short), then half of it, then the connection closes."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        announced = max(len(self.body), 1)
        half = self.body[: announced // 2]
        write = start_response(
            "200 OK", [("Content-Type", PROTOBUF), ("Content-Length", str(announced))]
        )
        abort = environ.get(ABORT_ENVIRON_KEY)
        if abort is None:  # in-process: reading the body fails as it would from a socket

            def fail() -> None:
                raise http.client.IncompleteRead(half, announced - len(half))

            return TruncatedBody(half, fail)
        write(b"")  # the status line and headers go out even when no byte of the body will
        return TruncatedBody(half, lambda: abort(False))


class TruncatedBody:
    def __init__(self, half: bytes, abort: Callable[[], None]) -> None:
        self._half = half
        self._abort = abort

    def __iter__(self) -> Iterator[bytes]:
        if self._half:
            yield self._half
        self._abort()


class EventStreamResponse:
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
        handoff = environ.get(STREAM_HANDOFF_ENVIRON_KEY)
        if handoff is not None:  # the fake's own server writes the events without a worker
            handoff(self.stream, self.limit)
            return []
        return StreamBody(self.stream, Subscriber(environ), self.limit)


class Subscriber:
    """The client end of a stream: has it gone away? Upstream notices by reading the hijacked
    connection until EOF. Over the fake's own server the fake looks at the socket (the peer
    closed it); in-process, the caller sets the environ's cancel event. (A write to a closed
    connection fails anyway, but an idle stream writes nothing.)"""

    def __init__(self, environ: WSGIEnvironment) -> None:
        self._cancel = environ.get(STREAM_CANCEL_ENVIRON_KEY)
        sock = environ.get(SOCKET_ENVIRON_KEY)
        self._socket = sock if isinstance(sock, socket.socket) else None
        self._abort: Callable[[bool], None] | None = environ.get(ABORT_ENVIRON_KEY)
        self._close: Callable[[], None] | None = environ.get(CLOSE_CONNECTION_ENVIRON_KEY)

    def gone(self) -> bool:
        if isinstance(self._cancel, threading.Event) and self._cancel.is_set():
            return True
        if self._socket is None or not peer_closed(self._socket):
            return False
        if self._abort is not None:
            # Nothing more to send, not even the last chunk (a TLS peer that has gone makes
            # that write fail loudly).
            self._abort(False)
        return True

    def hang_up(self) -> None:
        """Close the connection after the stream, as upstream closes the hijacked one."""
        if self._close is not None:
            self._close()


class StreamBody:
    """The response body of a stream: one chunk per event. A class, not a generator, so that
    ``close()`` unsubscribes even if the server never started iterating."""

    def __init__(self, stream: EventStream, subscriber: Subscriber, limit: int = -1) -> None:
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


def peer_closed(sock: socket.socket) -> bool:
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


class ProtobufAnswer:
    """``200 application/x-protobuf`` with the encoded message: the answer to nearly every
    call, so it skips werkzeug's ``Response`` (building one took about half of a ping's time
    in the app). ``status_code`` and ``get_data`` read like a ``Response``'s."""

    __slots__ = ("body",)
    status_code = 200

    def __init__(self, body: bytes) -> None:
        self.body = body

    def get_data(self) -> bytes:
        return self.body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            "200 OK", [("Content-Type", PROTOBUF), ("Content-Length", str(len(self.body)))]
        )
        return [self.body]
