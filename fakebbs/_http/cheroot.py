"""Every use of cheroot's undocumented internals, in one place, checked when imported.

The server needs a few things cheroot's public API does not offer: wake and stop the accept loop
at once (cheroot polls a flag every half second), end a response without its terminating chunk
(an event stream whose subscriber has gone, a fault that cuts an answer short), close the
connection after a response the app marked ``Connection: close``, reach the socket under a
request, and send no ``Server`` header (Go's server sends none); and, so that a connection
waits for its request without a worker, put the bytes of a request read ahead of cheroot into
the connection's reader (cheroot reads through ``_pyio.BufferedReader``, whose buffer is two
attributes). Each needs an attribute cheroot does not document; they are read and written only
here.

``verify()`` runs on import: if the installed cheroot lacks one of them, importing fails with an
``ImportError`` that names the cheroot version and the attribute, instead of a puzzling error in
the middle of a request. The range of cheroot versions known to work is declared in
``pyproject.toml`` and tested at both ends (tests/test_cheroot.py).
"""

from __future__ import annotations

import _pyio  # type: ignore[import-not-found]  # no stub: the pure-Python io cheroot uses
import socket
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

from cheroot import connections as cheroot_connections
from cheroot import makefile as cheroot_makefile
from cheroot import server as cheroot_server

__all__ = [
    "VERSION",
    "close_after_response",
    "drop_server_header",
    "end_response_here",
    "prefill",
    "request_connection",
    "response_is_chunked",
    "request_socket",
    "response_headers",
    "run_accept_loop",
    "stop_accept_loop",
    "verify",
]


def _installed_version() -> str:
    try:
        return metadata.version("cheroot")
    except metadata.PackageNotFoundError:  # run from a source tree
        return str(getattr(cheroot_server.HTTPServer, "version", "unknown"))


VERSION = _installed_version()
"""The installed cheroot's version, as named in the import check's message."""

# Where each attribute lives: (the class that owns it, a method that sets or reads it when the
# class itself does not have it, so that instance attributes can be checked without an instance).
_REQUIRED: tuple[tuple[type, str, Callable[..., Any] | None], ...] = (
    (cheroot_server.HTTPServer, "_connections", cheroot_server.HTTPServer.prepare),
    (cheroot_server.HTTPServer, "expiration_interval", None),
    (cheroot_connections.ConnectionManager, "run", None),
    (
        cheroot_connections.ConnectionManager,
        "_stop_requested",
        cheroot_connections.ConnectionManager.__init__,
    ),
    (cheroot_server.HTTPRequest, "conn", None),
    (cheroot_server.HTTPRequest, "outheaders", None),
    (cheroot_server.HTTPRequest, "close_connection", None),
    (cheroot_server.HTTPRequest, "chunked_write", None),
    (cheroot_server.HTTPRequest, "sent_headers", cheroot_server.HTTPRequest.__init__),
    (cheroot_server.HTTPConnection, "socket", cheroot_server.HTTPConnection.__init__),
    (cheroot_server.HTTPConnection, "rfile", cheroot_server.HTTPConnection.__init__),
    (cheroot_makefile.StreamReader, "has_data", None),
    (_pyio.BufferedReader, "_read_buf", _pyio.BufferedReader._reset_read_buf),
    (_pyio.BufferedReader, "_read_pos", _pyio.BufferedReader._reset_read_buf),
)


def verify(
    required: Iterable[tuple[type, str, Callable[..., Any] | None]] = _REQUIRED,
    version: str = VERSION,
) -> None:
    """Raise ``ImportError`` naming ``version`` and the attribute if one of ``required`` is gone.

    An attribute counts as present when its class has it, or when the given method of the class
    mentions it (instance attributes are set in ``__init__`` or ``prepare``)."""
    for owner, attribute, where in required:
        if hasattr(owner, attribute):
            continue
        code = getattr(where, "__code__", None)
        if code is not None and attribute in code.co_names:
            continue
        raise ImportError(
            f"fakebbs does not support cheroot {version}: it needs "
            f"{owner.__module__}.{owner.__qualname__}.{attribute}, which this version lacks "
            "(see the cheroot range in fakebbs's pyproject.toml)"
        )


verify()


# -- the accept loop -----------------------------------------------------------------------------


def run_accept_loop(server: cheroot_server.HTTPServer) -> None:
    """Accept connections and hand ready ones to the workers until ``stop_accept_loop``."""
    manager: Any = server._connections  # type: ignore[attr-defined]
    manager.run(server.expiration_interval)


def stop_accept_loop(server: cheroot_server.HTTPServer) -> None:
    """Ask the accept loop to end; it notices when its ``select()`` next returns."""
    manager: Any = server._connections  # type: ignore[attr-defined]
    manager._stop_requested = True


# -- one request ---------------------------------------------------------------------------------


def request_socket(request: cheroot_server.HTTPRequest) -> socket.socket:
    """The socket the request came in on (an ``ssl.SSLSocket`` under TLS)."""
    sock: socket.socket = request.conn.socket
    return sock


def request_connection(request: cheroot_server.HTTPRequest) -> cheroot_server.HTTPConnection:
    """The connection the request came in on."""
    conn: cheroot_server.HTTPConnection = request.conn
    return conn


def response_is_chunked(request: cheroot_server.HTTPRequest) -> bool:
    """Whether the response body goes out in chunked coding (an HTTP/1.1 answer of no stated
    length)."""
    return bool(request.chunked_write)


def response_headers(request: cheroot_server.HTTPRequest) -> list[tuple[bytes, bytes]]:
    """The response headers as they will be sent (the app's, then cheroot's own)."""
    headers: list[tuple[bytes, bytes]] = request.outheaders
    return headers


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
