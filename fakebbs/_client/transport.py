"""How ``BBSClient`` talks to a BBS: a pool of HTTP/1.1 keep-alive connections (or a WSGI app
called in-process), the retries of request failures, and upstream ``client.do``'s mapping of an
answer to a response message or an error (steps 1-4 of ``fakebbs.client``'s docstring)."""

from __future__ import annotations

import http.client
import itertools
import select
import ssl
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import werkzeug.datastructures
import werkzeug.test
from google.protobuf.message import DecodeError, Message

from fakebbs import models
from fakebbs._client.events import EventSource, lines_of_chunks, lines_of_response
from fakebbs._rules.wire import PROTOBUF, ROUTER_ERROR_HEADER, TRACE_HEADER
from fakebbs.errors import (
    BBSError,
    InvalidProtobufMessage,
    InvalidResponse,
    RouterError,
    Timeout,
    is_retryable,
)
from fakebbs.routes import STREAM_CANCEL_ENVIRON_KEY, Route

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["ENDPOINT_NOT_FOUND_MESSAGE", "TRANSPORT_ERRORS", "Transport", "failed"]

ENDPOINT_NOT_FOUND_MESSAGE = "Invalid Response with status code: 404"

TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


class Transport:
    """The connections to one BBS URL (``http://`` or ``https://``), or to a WSGI app
    in-process (``in_process``): requests out, decoded responses or request failures back.

    ``retries`` and ``retry_interval`` are read on every call, so changing them takes effect
    on the next one.
    """

    def __init__(
        self,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None,
        timeout: float | None,
        retries: int,
        retry_interval: float,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http or https URL, got {url!r}")
        if ssl_context is not None and parts.scheme != "https":
            raise ValueError("Expected https URL")  # upstream newSecureClient's words
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.url = url
        self._scheme = parts.scheme
        self._netloc = parts.netloc.rpartition("@")[2]
        self._prefix = parts.path.rstrip("/")  # rata joins the base URL and the route path
        self._base = f"{parts.scheme}://{self._netloc}{self._prefix}"
        self._ssl_context = ssl_context
        self._timeout = timeout
        self.retries = retries
        self.retry_interval = retry_interval
        self._lock = threading.Lock()
        self._idle: list[http.client.HTTPConnection] = []
        self._closed = False
        self._wsgi: werkzeug.test.Client | None = None

    def in_process(self, app: WSGIApplication) -> None:
        """Call ``app`` directly from now on, instead of a socket."""
        self._wsgi = werkzeug.test.Client(app)

    def close(self) -> None:
        """Close the idle connections; busy ones are closed when their call ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def open_stream(self, target: Route, body: bytes) -> EventSource:
        """Open an event stream as go-sse does: the route's method, no Content-Type and no
        request id; a status other than 200 is ``InvalidResponse``."""
        headers = {} if not body and target.method == "GET" else {"Content-Length": str(len(body))}
        if self._wsgi is not None:
            return _open_in_process(
                self._wsgi.application, target, self._prefix + target.path, body, headers
            )
        conn = self._connection()
        try:
            conn.request(target.method, self._prefix + target.path, body or None, headers)
            sock = conn.sock
            response = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        if response.status != 200:
            conn.close()
            raise failed(InvalidResponse(f"bad response from event source: {response.status}"))
        if sock is not None:
            sock.settimeout(None)  # the client's timeout bounds the connect; a stream may idle
        return EventSource(lines_of_response(response), conn.close, sock)

    def exchange(self, target: Route, request: Message | bytes | None, trace_id: str) -> Message:
        """Upstream ``doRequest``: attempts until one succeeds, without looking at ``error``."""
        if isinstance(request, Message):
            body = request.SerializeToString()
        else:
            body = request or b""
        response_type: type[Message] = getattr(models, target.response or "")
        attempt = 0
        while True:
            try:
                return self._attempt(target, body, response_type, trace_id)
            except Exception as err:
                if attempt >= self.retries or not is_retryable(err):
                    raise
            attempt += 1
            time.sleep(self.retry_interval)

    def _attempt(
        self, target: Route, body: bytes, response_type: type[Message], trace_id: str
    ) -> Message:
        """One request and upstream ``do``'s mapping of its result."""
        if self._wsgi is not None:
            try:
                reply = self._wsgi.open(
                    self._prefix + target.path,
                    method=target.method,
                    data=body,
                    headers=self._headers(target, body, trace_id),
                )
                payload = reply.get_data()
            except http.client.IncompleteRead as err:  # a truncated_body fault: 200, then cut
                cut = werkzeug.datastructures.Headers({"Content-Type": PROTOBUF})
                return self._result(200, cut, b"", err, response_type)
            return self._result(reply.status_code, reply.headers, payload, None, response_type)
        conn = self._checkout()
        try:
            status, headers, payload, read_error = self._round_trip(conn, target, body, trace_id)
        except TimeoutError as err:
            conn.close()
            # worded like Go's *url.Error: Post "http://host/v1/ping": <reason>
            where = f'{target.method.title()} "{self._base}{target.path}"'
            raise failed(Timeout(f"{where}: {err or 'timed out'}")) from err
        except BaseException:
            conn.close()
            raise
        self._checkin(conn)
        return self._result(status, headers, payload, read_error, response_type)

    def _result(
        self,
        status: int,
        headers: http.client.HTTPMessage | werkzeug.datastructures.Headers,
        payload: bytes,
        read_error: Exception | None,
        response_type: type[Message],
    ) -> Message:
        router_error = headers.get(ROUTER_ERROR_HEADER)
        if router_error is not None:
            raise failed(RouterError(router_error))
        if _media_type(headers.get("Content-Type")) == PROTOBUF:
            if read_error is not None:
                raise failed(InvalidResponse(f"failed to read body: {read_error}")) from read_error
            try:
                return response_type.FromString(payload)
            except DecodeError as err:
                raise failed(InvalidProtobufMessage(f"failed to unmarshal proto: {err}")) from err
        if status == 404:
            raise failed(InvalidResponse(ENDPOINT_NOT_FOUND_MESSAGE))
        if status > 299:
            raise failed(InvalidResponse(f"Invalid Response with status code: {status}"))
        return response_type()

    def _round_trip(
        self, conn: http.client.HTTPConnection, target: Route, body: bytes, trace_id: str
    ) -> tuple[int, http.client.HTTPMessage, bytes, Exception | None]:
        headers = self._headers(target, body, trace_id)
        conn.request(target.method, self._prefix + target.path, body or None, headers)
        response = conn.getresponse()
        try:
            payload = response.read()
        except (http.client.IncompleteRead, OSError) as err:
            conn.close()  # the rest of the body is lost; the socket cannot be reused
            return response.status, response.headers, b"", err
        return response.status, response.headers, payload, None

    @staticmethod
    def _headers(target: Route, body: bytes, trace_id: str) -> dict[str, str]:
        headers = {"Content-Type": PROTOBUF, TRACE_HEADER: trace_id}
        # Go's transport leaves out "Content-Length: 0" on a GET with no body.
        if body or target.method != "GET":
            headers["Content-Length"] = str(len(body))
        return headers

    def _checkout(self) -> http.client.HTTPConnection:
        with self._lock:
            if self._closed:
                raise RuntimeError("the client has been closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            return self._connection()
        if _dropped(conn):
            conn.close()  # http.client reopens it on the next request
        return conn

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(conn)
                return
        conn.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            context = self._ssl_context or ssl.create_default_context()
            if self._timeout is None:
                return http.client.HTTPSConnection(self._netloc, context=context)
            return http.client.HTTPSConnection(self._netloc, timeout=self._timeout, context=context)
        if self._timeout is None:
            return http.client.HTTPConnection(self._netloc)
        return http.client.HTTPConnection(self._netloc, timeout=self._timeout)


def _open_in_process(
    app: WSGIApplication,
    target: Route,
    path: str,
    body: bytes,
    headers: dict[str, str],
) -> EventSource:
    cancel = threading.Event()
    environ = werkzeug.test.EnvironBuilder(
        path=path, method=target.method, data=body, headers=list(headers.items())
    ).get_environ()
    environ[STREAM_CANCEL_ENVIRON_KEY] = cancel
    statuses: list[str] = []
    written: list[bytes] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return written.append

    # Not werkzeug's run_wsgi_app: it waits for the first body chunk, i.e. the first event.
    app_iter = app(environ, start_response)
    code = int(statuses[-1].split(" ", 1)[0])
    if code != 200:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()
        raise failed(InvalidResponse(f"bad response from event source: {code}"))
    return EventSource(lines_of_chunks(itertools.chain(written, app_iter), app_iter), cancel.set)


def failed(error: BBSError) -> BBSError:
    """``error``, marked as a request failure (``errors.is_retryable``)."""
    error.retryable = True
    return error


def _media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value, lower case, without parameters (Go mime)."""
    if content_type is None:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection is unusable: readable while idle means EOF (or junk)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
