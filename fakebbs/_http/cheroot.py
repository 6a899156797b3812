"""Every use of cheroot beyond its documented API, in one place, checked when imported.

The server needs things cheroot's public API does not offer: wake and stop the accept loop at
once (cheroot polls a flag every half second), end a response without its terminating chunk (an
event stream whose subscriber has gone, a fault that cuts an answer short), close the connection
after a response the app marked ``Connection: close``, reach the socket under a request, send no
``Server`` header (Go's server sends none), run the TLS handshake off the accept loop, serve from
a worker pool of its own (it replaces ``server.requests``), hand an event stream's socket to one
writer thread; and, so that a connection waits for its request without a worker, put the bytes
of a request read ahead of cheroot into the connection's reader (cheroot reads through
``_pyio.BufferedReader``, whose buffer is two attributes).

So every cheroot subclass lives here (``Gateway``, ``Request``, ``Connection``,
``ContextSSLAdapter``, ``CherootServer``), with every hook it overrides, and the few functions
that read or write cheroot's attributes. The rest of the server uses only this module's names.

``verify()`` runs on import: if the installed cheroot lacks a name this module reads, writes,
overrides or replaces, or no longer calls a hook from where this module relies on it, importing
fails with an ``ImportError`` that names the cheroot version and the name, instead of a hook
that is silently never called or a puzzling error in the middle of a request;
``verify_overrides()`` does the same, once the subclasses are defined, for an overridden method
that takes other parameters in cheroot than in the override. The range of cheroot versions
known to work is declared in ``pyproject.toml`` and tested at both ends (tests/test_cheroot.py).
"""

from __future__ import annotations

import _pyio  # type: ignore[import-not-found]  # no stub: the pure-Python io cheroot uses
import inspect
import logging
import socket
import ssl
import struct
import sys
import threading
from collections.abc import Callable, Iterable
from contextlib import suppress
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol

from cheroot import connections as cheroot_connections
from cheroot import makefile as cheroot_makefile
from cheroot import server as cheroot_server
from cheroot import ssl as cheroot_ssl
from cheroot import wsgi as cheroot_wsgi
from cheroot.makefile import MakeFile
from cheroot.workers import threadpool as cheroot_threadpool

from fakebbs._http import handshake
from fakebbs._http.environ import (
    ABORT_ENVIRON_KEY,
    CLOSE_CONNECTION_ENVIRON_KEY,
    SOCKET_ENVIRON_KEY,
    STREAM_HANDOFF_ENVIRON_KEY,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from fakebbs._http.events import EventStream

__all__ = [
    "VERSION",
    "CherootServer",
    "Connection",
    "ContextSSLAdapter",
    "Gateway",
    "Request",
    "RequestQueue",
    "StreamSink",
    "prefill",
    "verify",
    "verify_overrides",
]

logger = logging.getLogger("fakebbs.server")


def _installed_version() -> str:
    try:
        return metadata.version("cheroot")
    except metadata.PackageNotFoundError:  # run from a source tree
        return str(getattr(cheroot_server.HTTPServer, "version", "unknown"))


VERSION = _installed_version()
"""The installed cheroot's version, as named in the import check's message."""

_Server = cheroot_server.HTTPServer
_Conn = cheroot_server.HTTPConnection
_Req = cheroot_server.HTTPRequest

# Every cheroot name this module reads, writes, overrides or replaces: (the class that owns it,
# a method that sets or reads it when the class itself does not have it, so that instance
# attributes can be checked without an instance).
_REQUIRED: tuple[tuple[type, str, Callable[..., Any] | None], ...] = (
    # read or written
    (_Server, "_connections", _Server.prepare),
    (_Server, "expiration_interval", None),
    (_Server, "ready", None),
    (_Server, "interrupt", None),
    (_Server, "bind_addr", None),
    (_Server, "timeout", None),
    (_Server, "process_conn", None),
    (_Server, "prepare", None),
    (_Server, "socket", _Server.prepare),
    (cheroot_connections.ConnectionManager, "run", None),
    (
        cheroot_connections.ConnectionManager,
        "_stop_requested",
        cheroot_connections.ConnectionManager.__init__,
    ),
    (cheroot_wsgi.Gateway, "req", cheroot_server.Gateway.__init__),
    (_Req, "conn", None),
    (_Req, "outheaders", None),
    (_Req, "close_connection", None),
    (_Req, "chunked_write", None),
    (_Req, "sent_headers", _Req.__init__),
    (_Conn, "socket", _Conn.__init__),
    (_Conn, "rfile", _Conn.__init__),
    (_Conn, "wfile", _Conn.__init__),
    (_Conn, "server", _Conn.__init__),
    (_Conn, "remote_addr", None),
    (_Conn, "remote_port", None),
    (_Conn, "ssl_env", None),
    (cheroot_makefile.StreamReader, "has_data", None),
    (_pyio.BufferedReader, "_read_buf", _pyio.BufferedReader._reset_read_buf),
    (_pyio.BufferedReader, "_read_pos", _pyio.BufferedReader._reset_read_buf),
    # overridden or replaced by the subclasses below
    (cheroot_wsgi.Gateway_10, "get_environ", None),
    (_Req, "send_headers", None),
    (_Conn, "RequestHandlerClass", None),
    (_Conn, "communicate", None),
    (_Conn, "close", None),
    (cheroot_ssl.Adapter, "bind", None),
    (cheroot_ssl.Adapter, "wrap", None),
    (cheroot_ssl.Adapter, "get_environ", None),
    (cheroot_ssl.Adapter, "makefile", None),
    (cheroot_ssl.Adapter, "context", cheroot_ssl.Adapter.__init__),
    (_Server, "ConnectionClass", None),
    (_Server, "keep_alive_conn_limit", None),
    (_Server, "gateway", _Server.__init__),
    (_Server, "ssl_adapter", None),
    (_Server, "requests", cheroot_wsgi.Server.__init__),
    (_Server, "bind_socket", None),
    (_Server, "serve", None),
    (_Server, "stop", None),
    (_Server, "put_conn", None),
    (_Server, "error_log", None),
    # what cheroot's own worker pool offers, which ``RequestQueue`` stands in for
    (cheroot_threadpool.ThreadPool, "start", None),
    (cheroot_threadpool.ThreadPool, "put", None),
    (cheroot_threadpool.ThreadPool, "stop", None),
    (cheroot_threadpool.ThreadPool, "idle", None),
    (cheroot_threadpool.ThreadPool, "qsize", None),
)

# Hooks this module overrides or replaces, and a cheroot method that must still use them: if a
# release stops calling one from there, the override would silently do nothing.
_CALLED: tuple[tuple[Callable[..., Any], str], ...] = (
    (cheroot_wsgi.Gateway.__init__, "get_environ"),
    (_Req.ensure_headers_sent, "send_headers"),
    (_Conn.communicate, "RequestHandlerClass"),
    (_Server.prepare, "requests"),
    (_Server.prepare, "start"),
    (_Server.process_conn, "requests"),
    (_Server.process_conn, "put"),
    (_Server.stop, "requests"),
    (_Server.bind, "bind_socket"),
    (_Server.bind, "ssl_adapter"),
)


def verify(
    required: Iterable[tuple[type, str, Callable[..., Any] | None]] = _REQUIRED,
    version: str = VERSION,
    called: Iterable[tuple[Callable[..., Any], str]] = _CALLED,
) -> None:
    """Raise ``ImportError`` naming ``version`` and the name if one of ``required`` is gone, or
    one of ``called`` is no longer used by its cheroot method.

    An attribute counts as present when its class has it, or when the given method of the class
    mentions it (instance attributes are set in ``__init__`` or ``prepare``)."""
    for owner, attribute, where in required:
        if hasattr(owner, attribute) or _mentions(where, attribute):
            continue
        _unsupported(version, f"{owner.__module__}.{owner.__qualname__}.{attribute}", "lacks")
    for method, name in called:
        if not _mentions(method, name):
            _unsupported(
                version,
                f"{method.__module__}.{method.__qualname__} to use {name}",
                "no longer does",
            )


def verify_overrides(
    subclasses: Iterable[type], version: str = VERSION, *, own_constructors: Iterable[type] = ()
) -> None:
    """Raise ``ImportError`` naming ``version`` and the method if a method one of ``subclasses``
    overrides takes other parameters in cheroot than in the override (cheroot calls it with
    its own). ``own_constructors``: classes whose ``__init__`` only this package calls."""
    own = set(own_constructors)
    for ours in subclasses:
        cheroots = [cls for cls in ours.__mro__[1:] if cls.__module__.startswith("cheroot.")]
        for name, override in vars(ours).items():
            owner = next((cls for cls in cheroots if name in vars(cls)), None)
            if owner is None or (name == "__init__" and ours in own):
                continue
            theirs, mine = _function(vars(owner)[name]), _function(override)
            if theirs is None or mine is None:
                continue
            if _parameters(theirs) != _parameters(mine):
                _unsupported(
                    version,
                    f"{owner.__module__}.{owner.__qualname__}.{name} to take "
                    f"({', '.join(_parameters(mine))})",
                    f"changed to ({', '.join(_parameters(theirs))})",
                )


def _function(value: object) -> Callable[..., Any] | None:
    function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
    return function if inspect.isfunction(function) else None


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _mentions(method: Callable[..., Any] | None, name: str) -> bool:
    code = getattr(method, "__code__", None)
    return code is not None and name in code.co_names


def _unsupported(version: str, needed: str, what: str) -> None:
    raise ImportError(
        f"fakebbs does not support cheroot {version}: it needs {needed}, which this version "
        f"{what} (see the cheroot range in fakebbs's pyproject.toml)"
    )


verify()


# -- one request ---------------------------------------------------------------------------------


def close_after_response(request: cheroot_server.HTTPRequest) -> None:
    """Close the connection once this response is complete (cheroot decides keep-alive from the
    request alone)."""
    request.close_connection = True


def end_response_here(request: cheroot_server.HTTPRequest) -> None:
    """Send nothing more of this response, not even a terminating chunk, then close.

    Call it after the headers went out: cheroot then believes they did, writes no chunk
    framing, and drops the connection after the app returns."""
    request.sent_headers = True
    request.chunked_write = False
    request.close_connection = True


# -- a connection's reader -----------------------------------------------------------------------


def prefill(conn: cheroot_server.HTTPConnection, data: bytes) -> None:
    """Put ``data``, read from the socket ahead of cheroot, in front of what the connection's
    reader holds: cheroot then parses it as if it had read it itself."""
    if not data:
        return
    reader: Any = conn.rfile
    if not isinstance(reader, _pyio.BufferedReader):
        raise TypeError(f"cheroot's reader is a {type(reader).__name__}, not _pyio's")
    reader._read_buf = data + reader._read_buf[reader._read_pos :]
    reader._read_pos = 0


class _WithoutServerHeader(list[tuple[bytes, bytes]]):
    """Response headers to which cheroot cannot add its ``Server`` header."""

    def append(self, header: tuple[bytes, bytes]) -> None:
        if header[0].lower() != b"server":
            super().append(header)


def drop_server_header(request: cheroot_server.HTTPRequest) -> None:
    """Keep cheroot from adding ``Server: ...`` when it sends this response's headers.

    Call it just before cheroot's ``send_headers``: the app's headers are already in place
    (a ``Server`` header the app set itself stays), and cheroot appends its own ones after."""
    request.outheaders = _WithoutServerHeader(request.outheaders)


# -- what the subclasses are handed --------------------------------------------------------------


class RequestQueue(Protocol):
    """What ``CherootServer`` uses in place of cheroot's ``ThreadPool`` (``server.requests``):
    cheroot starts it in ``prepare()``, ``put``s each connection with a request to read, and
    stops it in ``stop()``."""

    min: int
    max: int

    def start(self) -> None: ...

    def put(self, conn: Connection) -> None: ...

    def stop(self, timeout: float | None = ...) -> None: ...

    @property
    def idle(self) -> int: ...

    @property
    def qsize(self) -> int: ...


class StreamSink(Protocol):
    """Who writes an event stream's events once its headers are out (``Gateway``'s handoff)."""

    def add(self, stream: EventStream, sock: socket.socket, *, chunked: bool, limit: int) -> None:
        """Take over ``sock`` and write ``stream``'s events to it."""

    def stop(self, timeout: float) -> None:
        """End every stream and the writer."""


# -- the subclasses ------------------------------------------------------------------------------


class Gateway(cheroot_wsgi.Gateway_10):
    """Puts the server's callables under the environ keys of ``fakebbs._http.environ``."""

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]  # stub says None
        environ: dict[str, Any] = super().get_environ()  # type: ignore[no-untyped-call]
        request = self.req
        sock: socket.socket = request.conn.socket  # an ``ssl.SSLSocket`` under TLS

        def close_connection() -> None:
            close_after_response(request)

        def abort(reset: bool) -> None:
            # Nothing more of this answer goes out (call after start_response), then the
            # connection is closed; with a zero linger the close is a TCP reset.
            if reset:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            end_response_here(request)

        def handoff(stream: EventStream, limit: int) -> None:
            # The stream's headers are out: from here the server's stream writer sends its
            # events, and this worker is free. cheroot sends nothing more and leaves the
            # socket to the writer.
            conn = request.conn
            assert isinstance(conn, Connection)
            chunked = bool(request.chunked_write)  # an HTTP/1.1 answer of no stated length
            end_response_here(request)
            conn.detached = True
            conn.server.streams.add(stream, conn.socket, chunked=chunked, limit=limit)

        environ[CLOSE_CONNECTION_ENVIRON_KEY] = close_connection
        environ[ABORT_ENVIRON_KEY] = abort
        environ[STREAM_HANDOFF_ENVIRON_KEY] = handoff
        environ[SOCKET_ENVIRON_KEY] = sock
        return environ


class Request(cheroot_server.HTTPRequest):
    """Honours the app's ``Connection: close`` and sends no ``Server`` header."""

    def send_headers(self) -> None:
        # cheroot decides keep-alive from the request alone; honour the app's "Connection: close"
        # (used by the server's 400/500 answers, after which the stream cannot be trusted).
        headers: list[tuple[bytes, bytes]] = self.outheaders  # the app's, then cheroot's own
        for name, value in headers:
            if name.lower() == b"connection" and b"close" in value.lower():
                close_after_response(self)
        drop_server_header(self)  # Go's server sends none
        super().send_headers()


class Connection(cheroot_server.HTTPConnection):
    """A connection whose TLS handshake may still be due, whose request counts against a key's
    fair share, and whose socket an event stream's writer may take over."""

    RequestHandlerClass = Request
    server: CherootServer
    socket: socket.socket

    def __init__(self, server: CherootServer, sock: Any, makefile: Any = MakeFile) -> None:
        super().__init__(server, sock, makefile)
        self.handshake_pending = isinstance(sock, ssl.SSLSocket)
        """A TLS handshake is still due (the gatherer does it, or reports its failure)."""
        self._handshake_failure: OSError | None = None
        self.detached = False
        """The socket went to the stream writer: closing this connection leaves it open."""
        self.request_key = ""
        """Whose fair share of workers the connection's request counts against."""

    @property
    def peer(self) -> str:
        """``HOST:PORT`` of the client, for log lines."""
        return f"{self.remote_addr}:{self.remote_port}"

    def has_buffered_request(self) -> bool:
        """Bytes of a request are already read into the connection's reader."""
        return bool(self.rfile.has_data())

    def communicate(self) -> bool:
        """Read and answer one request (after the TLS handshake, if due); True to keep the
        connection."""
        if self.handshake_pending and not self._handshake():
            return False
        return bool(super().communicate())  # type: ignore[no-untyped-call]

    def handshake_done(self) -> None:
        """The TLS handshake has completed (in the request gatherer)."""
        assert isinstance(self.socket, ssl.SSLSocket)
        self.handshake_pending = False
        self.ssl_env = handshake.tls_environ(self.socket)

    def handshake_failed(self, failure: OSError) -> None:
        """The TLS handshake failed in the request gatherer: the worker reports it."""
        self._handshake_failure = failure

    def close(self) -> None:
        if self.detached:  # the stream writer owns the socket: let go of it, but keep it open
            for stream in (self.rfile, self.wfile):
                with suppress(OSError, ValueError):
                    stream.close()  # its socket's own close() then closes at once
            return
        # cheroot closes only the read side; after a failed write the write buffer still holds
        # bytes, and the writer's __del__ then tries to flush them into a closed socket
        # (reported as an unraisable exception under ``python -X dev``). A failed flush still
        # closes the writer.
        with suppress(OSError, ValueError):
            self.wfile.close()
        super().close()

    def _handshake(self) -> bool:
        sock = self.socket
        assert isinstance(sock, ssl.SSLSocket)
        done = handshake.complete(
            sock,
            self.peer,
            failure=self._handshake_failure,
            handshake_timeout=self.server.handshake_timeout,
            io_timeout=self.server.timeout,
        )
        if done:
            self.handshake_done()
        return done


class ContextSSLAdapter(cheroot_ssl.Adapter):
    """A cheroot TLS adapter fed with a ready ``ssl.SSLContext``.

    cheroot's builtin adapter insists on certificate file names and builds its own context.
    ``wrap`` does not handshake: cheroot calls it in the accept loop, so a handshake there would
    let one silent client block all others; the request gatherer and ``Connection`` handshake
    instead.
    """

    def __init__(self, context: ssl.SSLContext) -> None:  # cheroot's takes file names
        self.certificate = None
        self.private_key = None
        self.certificate_chain = None
        self.ciphers = None
        self.private_key_password = None
        self.context = context

    def bind(self, sock: socket.socket) -> socket.socket:
        return sock

    def wrap(self, sock: socket.socket) -> tuple[ssl.SSLSocket, dict[str, Any]]:
        wrapped = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, {}

    def get_environ(self) -> dict[str, Any]:
        return {}  # per connection instead: handshake.tls_environ

    def makefile(self, sock: socket.socket, mode: str = "r", bufsize: int = -1) -> Any:
        return MakeFile(sock, mode, bufsize)


class CherootServer(cheroot_wsgi.Server):
    """cheroot's WSGI server with our connections, worker pool and stream writer, a prompt
    ``stop()`` and no race between ``stop()`` and a worker handing back a connection.

    ``requests`` makes the worker pool for this server (it replaces cheroot's ``ThreadPool``);
    ``streams`` writes event streams handed off by ``Gateway``.
    """

    ConnectionClass = Connection
    # cheroot's default (10) closes the 11th idle pooled connection
    keep_alive_conn_limit = None  # type: ignore[assignment]  # None is documented: no limit
    requests: RequestQueue

    def __init__(
        self,
        bind_addr: tuple[str, int],
        app: WSGIApplication,
        *,
        requests: Callable[[CherootServer], RequestQueue],
        streams: StreamSink,
        ssl_adapter: ContextSSLAdapter | None,
        timeout: int,
        shutdown_timeout: int,
        handshake_timeout: float,
        listen_backlog: int,
    ) -> None:
        super().__init__(
            bind_addr,
            app,
            server_name="fakebbs",  # the environ's SERVER_NAME (no Server header is sent)
            request_queue_size=listen_backlog,
            timeout=timeout,
            shutdown_timeout=shutdown_timeout,
        )
        self.handshake_timeout = handshake_timeout
        self.gateway = Gateway
        self.requests = requests(self)
        self.ssl_adapter = ssl_adapter
        self.streams = streams
        self._stopping = False
        self._put_conn_lock = threading.Lock()

    @property
    def bound(self) -> tuple[str, int]:
        """The host and port bound (after ``prepare()``)."""
        host, port = self.bind_addr[:2]
        return host, port

    @staticmethod
    def bind_socket(socket_: socket.socket, bind_addr: Any) -> socket.socket:
        # cheroot leaks the new socket when bind() fails (port taken): close it.
        try:
            socket_.bind(bind_addr)
        except OSError:
            socket_.close()
            raise
        return socket_

    def serve(self) -> None:
        # cheroot's serve() minus two things: the "unservicable connections" thread (only used
        # when the accept queue is bounded, and ours is not; cheroot never joins that thread),
        # and re-raising worker interrupts in this thread (they are logged instead).
        while self.ready and not self._stopping and not self.interrupt:
            try:
                self._connections.run(self.expiration_interval)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - logged; the loop must go on, as in cheroot
                self.error_log("error in the accept loop", level=logging.ERROR, traceback=True)

    def stop(self) -> None:
        with self._put_conn_lock:
            first = self.ready and not self._stopping
            self._stopping = True
        if first:
            # cheroot's stop() waits for the select loop to notice a flag, i.e. up to
            # ``expiration_interval`` (0.5 s); set the flag and wake the loop with a connection.
            self._connections._stop_requested = True  # type: ignore[attr-defined]
            self._wake_accept_loop()
            self.streams.stop(self.shutdown_timeout)
        super().stop()

    def _wake_accept_loop(self) -> None:
        with suppress(OSError):
            address = self.socket.getsockname()[:2]
            with socket.create_connection(address, timeout=1.0):
                pass

    def put_conn(self, conn: Any) -> None:
        # A worker hands back a kept-alive connection. In cheroot this races with stop(): the
        # worker can register it with the selector just after stop() closed the selector, and
        # dies of the ValueError. Here stop() first sets ``_stopping`` under the same lock.
        with self._put_conn_lock:
            if self._stopping or not self.ready:
                conn.close()
            elif isinstance(conn.socket, ssl.SSLSocket) and conn.socket.pending():
                # Bytes already decrypted into the TLS layer's buffer do not wake the selector.
                self.process_conn(conn)
            else:
                super().put_conn(conn)

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        # cheroot reports a client that closed its connection while a response was being
        # written as "socket.error 8" with a traceback when TLS is on (the TLS layer raises
        # SSLEOFError, which cheroot's list of errors to ignore lacks): every closed event
        # stream did so. A client going away is not an error of the server.
        gone = sys.exc_info()[1]
        if traceback and isinstance(gone, _CLIENT_GONE):
            logger.debug("a client closed its connection during a response: %r", gone)
            return
        logger.log(level, "%s", msg, exc_info=traceback)


_CLIENT_GONE = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError)
"""What a write or read raises when the client closed the connection (with TLS or not)."""


verify_overrides(
    [Gateway, Request, Connection, ContextSSLAdapter, CherootServer],
    own_constructors=[ContextSSLAdapter, CherootServer],
)
