"""A real HTTP(S) server for any WSGI app, run in background threads (cheroot underneath).

Why cheroot and not werkzeug's dev server: the BBS Go client pools HTTP/1.1 connections and
production speaks mutual TLS; werkzeug's server closes every connection after one response.

The lifecycle follows pytest-httpserver: ``start()`` binds and listens in the caller's thread (so
once it returns, connections are accepted; port 0 picks a free port, read it back from ``port``),
a daemon thread then serves; ``stop()`` shuts down and joins; the class is a context manager.

What this module adds on top of cheroot (each is pinned by a test in tests/test_server.py; the
few cheroot internals it needs are reached through ``fakebbs._http.cheroot`` only):

* Workers only for requests being processed. A connection waits for its whole request (head,
  and a body up to 1 MiB; the TLS handshake too) on one gatherer thread for all connections,
  and an event stream, once its headers are sent, is written by one writer thread for all
  streams (``fakebbs._http.idle``): idle keep-alive connections, slow senders and open streams hold
  no worker, so no namespace can take them all.
* A worker pool that grows on demand and shrinks when idle. cheroot's ``ThreadPool`` starts
  ``min`` workers and never grows or shrinks by itself. Workers beyond the first ten end after
  ``WORKER_IDLE_TIMEOUT`` (2 s) without work. See ``_WorkerPool``.
* Request bodies: a Content-Length cheroot lets through (``-5``, ``+5``) is answered
  ``400 Bad Request``; ``wsgi.input`` raises ``BodyReadError`` (a ValueError) on a broken chunked
  body and on a body shorter than its Content-Length (cheroot returns it short without a word);
  if the app lets that error escape, the answer is ``400 Bad Request`` (cheroot's is a ``500``
  with an empty body). After any of these the connection is closed: the rest of the stream
  cannot be trusted to start a new request.
* A ``Connection: close`` response header really closes the connection (cheroot ignores it).
* The TLS handshake runs in the gatherer, not in cheroot's accept loop, so a client that
  connects and never handshakes cannot stall everybody else (its failure is reported by a
  worker, as before).
* Logging through ``logging`` (logger ``fakebbs.server``): one INFO line per request (hidden
  unless the logger is enabled at INFO, as the CLI does), refused TLS clients at WARNING in one
  line, app errors at ERROR with traceback.
* No ``Server`` header (Go's server sends none).
* ``stop()`` returns promptly (cheroot's own stop waits up to 0.5 s for its select loop and can
  block forever on a worker stuck inside the app), and does not race with workers handing back
  kept-alive connections (in cheroot that can kill a worker).
"""

from __future__ import annotations

import logging
import queue
import re
import socket
import ssl
import struct
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from cheroot import server as cheroot_server
from cheroot import ssl as cheroot_ssl
from cheroot import wsgi as cheroot_wsgi
from cheroot.makefile import MakeFile

from fakebbs._http import cheroot as _cheroot
from fakebbs._http.environ import (
    ABORT_ENVIRON_KEY,
    CLOSE_CONNECTION_ENVIRON_KEY,
    LOG_ENVIRON_KEY,
    SOCKET_ENVIRON_KEY,
    STREAM_HANDOFF_ENVIRON_KEY,
)
from fakebbs._http.idle import RequestGatherer, StreamWriter

if TYPE_CHECKING:
    from typing import Self

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from fakebbs._http.events import EventStream

__all__ = ["DEFAULT_THREADS", "WORKER_IDLE_TIMEOUT", "BodyReadError", "Server"]

logger = logging.getLogger("fakebbs.server")

DEFAULT_THREADS = 256
"""Default cap on worker threads, i.e. on requests in progress at once.

A worker serves a request whose bytes have arrived, until its answer is out (an event stream:
until its headers are out), so the workers in use are the requests being processed: held
requests, delays and waits of the admin API among them. Workers are started on demand
(``_MIN_THREADS`` up front), so a high cap costs nothing until it is used. A request that
arrives when all ``threads`` workers are busy waits.
"""

_MIN_THREADS = 10
"""Workers started up front; the pool never retires below this many."""

WORKER_IDLE_TIMEOUT = 2.0
"""Seconds a worker above the minimum waits for work before it ends.

The threads a burst of calls needed go away this long after they are done, so threads follow
the load down within seconds; a new burst starts workers again, at the cost of a thread start
(well under a millisecond) per worker."""

_IO_TIMEOUT = 120
"""cheroot's one ``timeout``: per socket read/write, and how long an idle keep-alive connection
is kept. It must outlast the Go client's 90 s idle timeout so that the client, not the server,
closes idle connections (the real BBS never does); otherwise a POST can race a server-side close
and fail with EOF."""

_HANDSHAKE_TIMEOUT = 10.0  # a TLS client gets this long to complete its handshake
_SHUTDOWN_GRACE = 2
"""How long ``stop()`` lets in-flight requests finish before it closes their sockets."""
_STUCK_WORKER_WAIT = 1.0
"""After that, how long it waits for the remaining workers (in all) before leaving them behind."""

_LISTEN_BACKLOG = 128  # cheroot's default of 5 drops SYNs when a Go client opens many conns
_CONTENT_LENGTH = re.compile(r"[0-9]+")  # what Go's server accepts (strconv.ParseUint base 10)
_PLAIN_HTTP_TO_TLS = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 48\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"Client sent an HTTP request to an HTTPS server.\n"
)


class Server:
    """Serve a WSGI app over HTTP/1.1 (keep-alive, optionally TLS) from background threads.

    >>> with Server(app) as server:  # doctest: +SKIP
    ...     urllib.request.urlopen(server.url + "/v1/ping", data=b"").read()
    b'\x08\x01'

    ``ssl_context`` is a server-side context with the certificate loaded; make it require client
    certificates (``verify_mode = CERT_REQUIRED`` and a CA loaded) for mutual TLS. ``threads`` caps
    the worker threads (see ``DEFAULT_THREADS``); workers beyond the first few end after
    ``worker_idle_timeout`` seconds without work. ``on_stop`` is called first thing in ``stop()``:
    use it to end responses that would otherwise never finish (event streams), so their workers
    can be joined. ``request_key`` maps a request's head (its bytes up to the blank line) to
    whose fair share of the workers it counts against (``Namespaces`` passes its namespace):
    one key's requests take at most half the workers at once.
    """

    def __init__(
        self,
        app: WSGIApplication,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        threads: int = DEFAULT_THREADS,
        worker_idle_timeout: float = WORKER_IDLE_TIMEOUT,
        on_stop: Callable[[], object] | None = None,
        errors: list[BaseException] | None = None,
        request_key: Callable[[bytes], str] | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        if not worker_idle_timeout > 0:
            raise ValueError(f"worker_idle_timeout must be positive, got {worker_idle_timeout}")
        self.app = app
        self.ssl_context = ssl_context
        self.threads = threads
        self.worker_idle_timeout = worker_idle_timeout
        self.errors: list[BaseException] = [] if errors is None else errors
        """Exceptions the app raised while handling requests (they are also logged); pass the
        app's own list as ``errors`` to keep one list for both."""
        self._requested = (host, port)
        self._request_key = request_key
        self._on_stop = on_stop
        self._httpd: _CherootServer | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None
        self._stopped = False
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and listen (in this thread), then serve from a daemon thread. Returns ``self``."""
        with self._lock:
            if self._httpd is not None or self._stopped:
                raise RuntimeError("a Server can be started only once; make a new one")
            adapter = None if self.ssl_context is None else _ContextSSLAdapter(self.ssl_context)
            httpd = _CherootServer(
                self._requested,
                _ServerMiddleware(self.app, self.errors),
                self.threads,
                self.worker_idle_timeout,
                adapter,
                self._request_key,
            )
            httpd.prepare()  # bind + listen + start the first workers; raises if the port is taken
            host, port = httpd.bind_addr[:2]
            self._address = (host, port)
            self._httpd = httpd
            self._thread = threading.Thread(
                target=httpd.serve, name=f"fakebbs-server-{port}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close connections, join every thread. Safe to call more than once."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            if self._httpd is None:
                return
            if self._on_stop is not None:
                try:
                    self._on_stop()
                except Exception:
                    logger.exception("on_stop callback failed")
            self._httpd.stop()
            assert self._thread is not None
            self._thread.join()

    @property
    def is_running(self) -> bool:
        return self._httpd is not None and not self._stopped

    def __enter__(self) -> Self:
        if self._httpd is None:
            self.start()
        elif self._stopped:
            raise RuntimeError("this Server has been stopped")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- worker threads --------------------------------------------------------------------

    @property
    def worker_threads(self) -> int:
        """How many worker threads there are now (0 before start and after stop)."""
        return 0 if self._httpd is None or self._stopped else self._httpd.requests.size()

    def wait_for_worker_threads(self, at_most: int, timeout: float | None = None) -> bool:
        """Wait until idle workers have retired down to ``at_most``; False on timeout."""
        if self._httpd is None or self._stopped:
            return True
        return self._httpd.requests.wait_for_size(at_most, timeout)

    # -- where it listens ------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address bound (``127.0.0.1`` for the default)."""
        return self._bound()[0]

    @property
    def port(self) -> int:
        """The port bound (the real one when constructed with port 0)."""
        return self._bound()[1]

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` or ``https://HOST:PORT``, no trailing slash."""
        host, port = self._bound()
        scheme = "http" if self.ssl_context is None else "https"
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{port}"

    def _bound(self) -> tuple[str, int]:
        if self._address is None:
            raise RuntimeError("the Server is not started yet: call start() first")
        return self._address

    def __repr__(self) -> str:
        where = self.url if self._address is not None else "not started"
        state = "running" if self.is_running else "stopped" if self._stopped else "new"
        return f"<Server {where} {state}>"


# ---------------------------------------------------------------------------------------------
# WSGI layer: bad bodies, errors, request log


class BodyReadError(ValueError):
    """The request body could not be read (malformed chunked coding, or cut short).

    Raised by ``wsgi.input`` reads; a ValueError like cheroot's own chunked-coding errors, so
    werkzeug's request stream turns it into ``ClientDisconnected`` (a 400) as it does those.
    """


class _GuardedInput:
    """``wsgi.input`` that notices a body that cannot be read, and whether it was read to its end.

    cheroot raises ValueError on a broken chunked body and silently returns a short body when
    the client stops sending before Content-Length; both become ``BodyReadError`` here.
    """

    def __init__(self, stream: Any, length: int | None) -> None:
        self._stream = stream
        self._length = length  # None: chunked, read up to the terminating chunk
        self._received = 0
        self.error: str | None = None
        self.finished = length == 0

    def read(self, size: int | None = -1) -> bytes:
        whole = size is None or size < 0
        return self._guard(self._stream.read, None if whole else size, whole)

    def readline(self, size: int | None = -1) -> bytes:
        return self._guard(self._stream.readline, None if size is None or size < 0 else size)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines = []
        while line := self.readline():
            lines.append(line)
            if hint is not None and 0 < hint <= sum(map(len, lines)):
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def _guard(
        self, read: Callable[[int | None], bytes], size: int | None, whole: bool = False
    ) -> bytes:
        if self.error is not None:
            raise BodyReadError(self.error)
        try:
            data = bytes(read(size))
        except ValueError as exc:  # cheroot's ChunkedRFile: bad size line, missing CRLF, EOF
            self._fail(f"Malformed chunked request body: {exc}", exc)
        self._received += len(data)
        if self._length is None:
            self.finished = self.finished or whole or not data
        elif self._received < self._length and (whole or not data):
            self._fail(
                f"Request body ended after {self._received} of the {self._length} bytes"
                " its Content-Length announced."
            )
        else:
            self.finished = self._received >= self._length
        return data

    def _fail(self, message: str, cause: BaseException | None = None) -> NoReturn:
        self.error = message
        raise BodyReadError(message) from cause


class _ServerMiddleware:
    """Between cheroot and the app: validate Content-Length, guard the body, log, catch errors."""

    def __init__(self, app: WSGIApplication, errors: list[BaseException]) -> None:
        self.app = app
        self.errors = errors

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        log = _RequestLog(environ)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            log.status = status.split(" ", 1)[0]
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        close_connection: Callable[[], None] = environ.get(
            CLOSE_CONNECTION_ENVIRON_KEY, lambda: None
        )
        codings = environ.get("HTTP_TRANSFER_ENCODING", "").split(",")
        chunked = "chunked" in (coding.strip().lower() for coding in codings)  # as cheroot does
        declared = environ.get("CONTENT_LENGTH") or "0"
        if not chunked and not _CONTENT_LENGTH.fullmatch(declared):
            # cheroot rejects only what int() rejects, and int() takes "-5", "+5" and "1_0".
            close_connection()
            answer = _plain(start, "400 Bad Request", "Malformed Content-Length Header.")
            return _LoggedResponse(answer, log, self.errors)
        body = _GuardedInput(environ["wsgi.input"], None if chunked else int(declared))
        environ["wsgi.input"] = body

        def start_app_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            # After a bad body the stream cannot be trusted to start a new request; and cheroot
            # does not skip an unread chunked body before the next request (it does for a known
            # length), so close in both cases.
            if body.error is not None or (chunked and not body.finished):
                close_connection()
            return start(status, headers, exc_info)

        def after_response() -> None:
            if body.error is not None:  # the app read (and failed on) the body while streaming
                close_connection()

        try:
            result = self.app(environ, start_app_response)
        except BodyReadError as exc:  # the app let it through: answer for it
            close_connection()
            result = _plain(start, "400 Bad Request", str(exc), sys.exc_info())
        except Exception as exc:
            self.errors.append(exc)
            logger.exception(
                "error in the app handling %s %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
            )
            close_connection()
            result = _plain(
                start, "500 Internal Server Error", "Internal Server Error", sys.exc_info()
            )
        return _LoggedResponse(result, log, self.errors, after_response)


def _plain(
    start: Callable[..., Any], status: str, message: str, exc_info: Any = None
) -> list[bytes]:
    body = message.encode("utf-8", "replace") + b"\n"
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start(status, headers, exc_info)
    return [body]


class _RequestLog:
    """The request's one log line, for instance::

        POST /v1/desired_lrp/desire.r2 route=DesireDesiredLRP_r2 namespace=default status=200
        result=ResourceExists duration=0.4ms client=127.0.0.1:50712  (one line)

    ``route``, ``namespace`` and ``result`` are what the app filled in under ``LOG_ENVIRON_KEY``
    (``-`` for an app that does not); ``duration`` runs until the response starts.
    The line is written before the first response byte, so a client that has its answer can
    rely on the line being there, and an event stream shows up when it opens. Nothing is
    formatted unless the logger is enabled at INFO.
    """

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.environ = environ
        self.started = time.perf_counter()
        self.status = "-"
        self.note = ["-", "-", "-"]  # the app fills in route, namespace, result
        environ[LOG_ENVIRON_KEY] = self.note
        self._written = False

    def write(self) -> None:
        if self._written:
            return
        self._written = True
        if logger.isEnabledFor(logging.INFO):
            environ = self.environ
            route, namespace, result = self.note
            logger.info(
                "%s %s route=%s namespace=%s status=%s result=%s duration=%.1fms client=%s:%s",
                environ.get("REQUEST_METHOD", "-"),
                environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"),
                route,
                namespace,
                self.status,
                result,
                (time.perf_counter() - self.started) * 1000,
                environ.get("REMOTE_ADDR", "-"),
                environ.get("REMOTE_PORT", "-"),
            )


class _LoggedResponse:
    """The app's response iterable; writes the request's log line before its first byte."""

    def __init__(
        self,
        result: Iterable[bytes],
        log: _RequestLog,
        errors: list[BaseException],
        after: Callable[[], None] = lambda: None,
    ) -> None:
        self._result = result
        self._log = log
        self._errors = errors
        self._after = after

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._result:
                if chunk:
                    self._log.write()
                yield chunk
        except Exception as exc:
            # cheroot logs it (through _CherootServer.error_log) and drops the connection.
            self._errors.append(exc)
            raise
        self._log.write()  # an empty body: cheroot sends the headers after this

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._after()
            self._log.write()


# ---------------------------------------------------------------------------------------------
# cheroot layer (cheroot's undocumented internals are reached only through fakebbs._http.cheroot)


class _WorkerPool:
    """The request queue cheroot hands ready connections to, with worker threads of our own.

    cheroot's ``ThreadPool`` starts ``min`` workers and never adds or retires any by itself. This
    pool implements the same interface (``min``, ``max``, ``start``, ``put``, ``get``, ``stop``,
    ``idle``, ``qsize``) and:

    * starts a worker whenever a connection would otherwise wait, up to ``max``: every open event
      stream holds a worker for as long as its subscriber stays;
    * retires a worker that has had nothing to do for ``idle_timeout`` seconds, down to ``min``,
      so the threads a burst of streams or calls needed do not stay for the server's life.

    ``_outstanding`` counts connections handed over whose ``communicate()`` has not returned
    (queued or being served). A worker retires only if every outstanding connection still has a
    worker without it, so a queued connection never waits for a worker that just left.

    Fair share: requests of one key (``Namespaces`` keys them by namespace, see
    ``Server(request_key=)``) take at most ``share`` workers (half the cap) at once; more of that
    key wait in a queue of their own, served as that key's requests finish, so requests that
    wait inside the app (held routes, delays, admin waits) in one namespace never take every
    worker from the others.
    """

    def __init__(
        self,
        server: _CherootServer,
        minimum: int,
        maximum: int,
        idle_timeout: float,
        request_key: Callable[[bytes], str] | None = None,
    ) -> None:
        self.server = server
        self.min = minimum
        self.max = maximum
        self.share = maximum if request_key is None else max(1, maximum // 2)
        """Workers the requests of one key may take at once (all of them when requests are not
        told apart)."""
        self.idle_timeout = idle_timeout
        # (connection, its key); None: stop
        self._queue: queue.SimpleQueue[tuple[_Connection, str] | None] = queue.SimpleQueue()
        self._by_key: Counter[str] = Counter()  # outstanding connections of each key
        self._held_back: dict[str, deque[_Connection]] = {}  # beyond the share, in order
        self._changed = threading.Condition()  # guards the fields below; notified on any change
        self._workers: set[threading.Thread] = set()
        self._serving: dict[threading.Thread, _Connection] = {}
        self._retired: list[threading.Thread] = []  # may still be returning; pruned on spawn
        self._outstanding = 0
        self._stopping = False
        self._started = 0  # for worker names
        self.gatherer = RequestGatherer(
            self._dispatch,
            request_key=request_key,
            timeout=server.timeout,
            handshake_timeout=_HANDSHAKE_TIMEOUT,
            name=f"fakebbs-gatherer-{id(self):x}",
        )

    # -- cheroot's interface ----------------------------------------------------------------

    def start(self) -> None:
        with self._changed:
            for _ in range(self.min):
                self._spawn()
        self.gatherer.start()

    def put(self, conn: _Connection) -> None:
        # cheroot hands over a new connection, or one with bytes to read: a worker gets it
        # once its request is all there (see fakebbs._http.idle), unless it is already read.
        if conn.rfile.has_data():
            self._dispatch(conn)
        else:
            self.gatherer.add(conn)

    def _dispatch(self, conn: _Connection) -> None:
        key = conn.request_key
        with self._changed:
            if self._stopping:
                conn.close()
                return
            if self._by_key[key] >= self.share:
                self._held_back.setdefault(key, deque()).append(conn)
                return
            self._by_key[key] += 1
            self._enqueue(conn, key)

    def _enqueue(self, conn: _Connection, key: str) -> None:
        # Called with the lock held.
        self._outstanding += 1
        if self._outstanding > len(self._workers) and len(self._workers) < self.max:
            self._spawn()
        self._queue.put((conn, key))

    def _done(self, key: str) -> None:
        # A connection of ``key`` is done with its worker; called with the lock held.
        self._outstanding -= 1
        waiting = self._held_back.get(key)
        if waiting:
            conn = waiting.popleft()
            if not waiting:
                del self._held_back[key]
            self._enqueue(conn, key)
        else:
            self._by_key[key] -= 1
            if not self._by_key[key]:
                del self._by_key[key]

    def get(self) -> tuple[_Connection, str] | None:
        """The next connection (and its key) for the calling worker, or None when it is to
        end."""
        worker = threading.current_thread()
        while True:
            try:
                conn = self._queue.get(timeout=self.idle_timeout)
            except queue.Empty:
                with self._changed:
                    if self._may_retire(worker):
                        self._workers.discard(worker)
                        self._retired.append(worker)
                        self._changed.notify_all()
                        return None
                continue
            if conn is not None:
                with self._changed:
                    self._serving[worker] = conn[0]
            return conn

    @property
    def idle(self) -> int:
        with self._changed:
            return len(self._workers) - len(self._serving)

    @property
    def qsize(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float | None = _SHUTDOWN_GRACE) -> None:
        """End every worker: idle ones at once, busy ones when their connection is done (within
        ``timeout``); then close the sockets under the rest. A worker stuck in the app (an event
        stream nobody ended) is reported and left behind (it is a daemon) instead of hanging."""
        self.gatherer.stop(_STUCK_WORKER_WAIT)
        with self._changed:
            self._stopping = True
            workers, self._workers = self._workers, set()
            held_back, self._held_back = self._held_back, {}
            self._changed.notify_all()
        for waiting in held_back.values():
            for held in waiting:
                held.close()
        for _ in workers:
            self._queue.put(None)
        # stop() may run in a worker (cheroot stops the server from one on a fatal error).
        others = [worker for worker in workers if worker is not threading.current_thread()]
        _join_all(others, timeout or 0.0)
        with self._changed:
            stuck = [(worker, self._serving.get(worker)) for worker in others if worker.is_alive()]
        for _, conn in stuck:
            if conn is not None:  # unblocks a worker waiting for request bytes
                with suppress(OSError):
                    conn.socket.shutdown(socket.SHUT_RD)
        _join_all([worker for worker, _ in stuck], _STUCK_WORKER_WAIT)
        for worker, _ in stuck:
            if worker.is_alive():
                logger.warning(
                    "%s is still busy after stop() (a response that never ends?); leaving it",
                    worker.name,
                )

    # -- for Server --------------------------------------------------------------------------

    def size(self) -> int:
        with self._changed:
            return len(self._workers)

    def wait_for_size(self, at_most: int, timeout: float | None) -> bool:
        """Wait until at most ``at_most`` workers are left and those that retired have ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._workers) <= at_most, timeout):
                return False
            retired = list(self._retired)
        for worker in retired:
            worker.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))
        return not any(worker.is_alive() for worker in retired)

    # -- workers -----------------------------------------------------------------------------

    def _may_retire(self, worker: threading.Thread) -> bool:
        # Called with the lock held.
        return worker in self._workers and len(self._workers) > max(self.min, self._outstanding)

    def _spawn(self) -> None:
        # Called with the lock held.
        self._retired = [worker for worker in self._retired if worker.is_alive()]
        self._started += 1
        worker = threading.Thread(
            target=self._work,
            name=f"fakebbs-worker-{self._started}",
            daemon=True,  # a forgotten server must not keep the interpreter alive
        )
        self._workers.add(worker)
        self._changed.notify_all()
        worker.start()

    def _work(self) -> None:
        worker = threading.current_thread()
        try:
            while (taken := self.get()) is not None:
                conn, key = taken
                try:
                    self._serve(conn)
                finally:
                    with self._changed:
                        self._serving.pop(worker, None)
                        self._done(key)
                        self._changed.notify_all()
        finally:  # also when something escaped _serve (SystemExit from the app): not counted
            with self._changed:
                self._workers.discard(worker)
                self._changed.notify_all()

    def _serve(self, conn: _Connection) -> None:
        keep_alive = False
        try:
            keep_alive = conn.communicate()
        except ConnectionError as exc:
            logger.debug("connection from %s dropped: %s", conn.remote_addr, exc)
        except Exception:
            logger.exception("error serving a connection from %s", conn.remote_addr)
        finally:
            try:
                if keep_alive:
                    self.server.put_conn(conn)
                else:
                    conn.close()
            except Exception:
                logger.exception("error closing a connection from %s", conn.remote_addr)


def _join_all(threads: list[threading.Thread], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))


class _Gateway(cheroot_wsgi.Gateway_10):
    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]  # stub says None
        environ: dict[str, Any] = super().get_environ()  # type: ignore[no-untyped-call]
        request = self.req

        def close_connection() -> None:
            _cheroot.close_after_response(request)

        def abort(reset: bool) -> None:
            # Nothing more of this answer goes out (call after start_response), then the
            # connection is closed; with a zero linger the close is a TCP reset.
            if reset:
                _cheroot.request_socket(request).setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            _cheroot.end_response_here(request)

        def handoff(stream: EventStream, limit: int) -> None:
            # The stream's headers are out: from here the server's stream writer sends its
            # events, and this worker is free. cheroot sends nothing more and leaves the
            # socket to the writer.
            conn = _cheroot.request_connection(request)
            assert isinstance(conn, _Connection)
            chunked = _cheroot.response_is_chunked(request)
            _cheroot.end_response_here(request)
            conn.detached = True
            conn.server.streams.add(stream, conn.socket, chunked=chunked, limit=limit)

        environ[CLOSE_CONNECTION_ENVIRON_KEY] = close_connection
        environ[ABORT_ENVIRON_KEY] = abort
        environ[STREAM_HANDOFF_ENVIRON_KEY] = handoff
        environ[SOCKET_ENVIRON_KEY] = _cheroot.request_socket(request)
        return environ


class _Request(cheroot_server.HTTPRequest):
    def send_headers(self) -> None:
        # cheroot decides keep-alive from the request alone; honour the app's "Connection: close"
        # (used by the 400/500 answers above, after which the stream cannot be trusted).
        for name, value in _cheroot.response_headers(self):
            if name.lower() == b"connection" and b"close" in value.lower():
                _cheroot.close_after_response(self)
        _cheroot.drop_server_header(self)  # Go's server sends none
        super().send_headers()


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request
    server: _CherootServer
    socket: socket.socket

    def __init__(self, server: _CherootServer, sock: Any, makefile: Any = MakeFile) -> None:
        super().__init__(server, sock, makefile)
        self.handshake_pending = isinstance(sock, ssl.SSLSocket)
        """A TLS handshake is still due (the gatherer does it, or reports its failure)."""
        self._handshake_failure: OSError | None = None
        self.detached = False
        """The socket went to the stream writer: closing this connection leaves it open."""
        self.request_key = ""
        """Whose fair share of workers the connection's request counts against."""

    def communicate(self) -> bool:
        if self.handshake_pending and not self._handshake():
            return False
        return bool(super().communicate())  # type: ignore[no-untyped-call]

    def handshake_done(self) -> None:
        """The TLS handshake has completed (in the request gatherer)."""
        assert isinstance(self.socket, ssl.SSLSocket)
        self.handshake_pending = False
        self.ssl_env = _tls_environ(self.socket)

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
        peer = f"{self.remote_addr}:{self.remote_port}"
        try:
            if self._handshake_failure is not None:
                raise self._handshake_failure
            sock.settimeout(_HANDSHAKE_TIMEOUT)
            sock.do_handshake()
            sock.settimeout(self.server.timeout)
        except (ssl.SSLEOFError, ConnectionError) as exc:
            # The client went away before saying anything (stop() wakes its loop like that).
            logger.debug("TLS handshake with %s failed: %s", peer, exc)
            return False
        except ssl.SSLError as exc:
            if "http request" in str(exc).lower():
                self._answer_plain_http(sock)
                logger.warning("refused %s: plain HTTP sent to the TLS port", peer)
            else:
                logger.warning("refused %s: TLS handshake failed: %s", peer, _tls_reason(exc))
            return False
        except OSError as exc:
            logger.warning("refused %s: TLS handshake failed: %s", peer, exc)
            return False
        self.handshake_done()
        return True

    @staticmethod
    def _answer_plain_http(sock: ssl.SSLSocket) -> None:
        # Like Go's server: a plain-text 400 on the raw socket (the TLS layer never came up).
        # Then read what the client still sends, so closing does not reset the connection
        # before the client has read the answer.
        with suppress(OSError):
            socket.socket.sendall(sock, _PLAIN_HTTP_TO_TLS)
            socket.socket.shutdown(sock, socket.SHUT_WR)
            socket.socket.settimeout(sock, 1.0)
            while socket.socket.recv(sock, 65536):
                pass


def _tls_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason for a failed handshake, in a few words (``PEER_DID_NOT_RETURN_A_
    CERTIFICATE``, ``CERTIFICATE_VERIFY_FAILED``, ...) rather than the whole error tuple."""
    reason = getattr(exc, "reason", None)
    detail = getattr(exc, "verify_message", None)
    if reason and detail:
        return f"{reason} ({detail})"
    return str(reason or exc)


def _tls_environ(sock: ssl.SSLSocket) -> dict[str, Any]:
    """What the WSGI environ says about a TLS connection (mod_ssl's names, as cheroot uses)."""
    name, protocol, _ = sock.cipher() or ("", "", 0)
    verified = sock.context.verify_mode != ssl.CERT_NONE and sock.getpeercert()
    return {
        "wsgi.url_scheme": "https",
        "HTTPS": "on",
        "SSL_PROTOCOL": protocol,
        "SSL_CIPHER": name,
        "SSL_CLIENT_VERIFY": "SUCCESS" if verified else "NONE",
    }


class _ContextSSLAdapter(cheroot_ssl.Adapter):
    """A cheroot TLS adapter fed with a ready ``ssl.SSLContext``.

    cheroot's builtin adapter insists on certificate file names and builds its own context.
    ``wrap`` does not handshake: cheroot calls it in the accept loop, so a handshake there would
    let one silent client block all others; ``_Connection`` handshakes in the worker instead.
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
        return {}  # per connection instead: _tls_environ

    def makefile(self, sock: socket.socket, mode: str = "r", bufsize: int = -1) -> Any:
        return MakeFile(sock, mode, bufsize)


class _CherootServer(cheroot_wsgi.Server):
    ConnectionClass = _Connection
    # cheroot's default (10) closes the 11th idle pooled connection
    keep_alive_conn_limit = None  # type: ignore[assignment]  # None is documented: no limit
    requests: _WorkerPool

    def __init__(
        self,
        bind_addr: tuple[str, int],
        app: WSGIApplication,
        threads: int,
        worker_idle_timeout: float,
        ssl_adapter: _ContextSSLAdapter | None,
        request_key: Callable[[bytes], str] | None = None,
    ) -> None:
        super().__init__(
            bind_addr,
            app,
            server_name="fakebbs",  # the environ's SERVER_NAME (no Server header is sent)
            request_queue_size=_LISTEN_BACKLOG,
            timeout=_IO_TIMEOUT,
            shutdown_timeout=_SHUTDOWN_GRACE,
        )
        self.gateway = _Gateway
        self.requests = _WorkerPool(
            self, min(_MIN_THREADS, threads), threads, worker_idle_timeout, request_key
        )
        self.ssl_adapter = ssl_adapter
        self.streams = StreamWriter(name=f"fakebbs-streams-{bind_addr[1]}", timeout=_IO_TIMEOUT)
        self._stopping = False
        self._put_conn_lock = threading.Lock()

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
                _cheroot.run_accept_loop(self)
            except Exception:  # noqa: BLE001 - logged; the loop must go on, as in cheroot
                self.error_log("error in the accept loop", level=logging.ERROR, traceback=True)

    def stop(self) -> None:
        with self._put_conn_lock:
            first = self.ready and not self._stopping
            self._stopping = True
        if first:
            # cheroot's stop() waits for the select loop to notice a flag, i.e. up to
            # ``expiration_interval`` (0.5 s); set the flag and wake the loop with a connection.
            _cheroot.stop_accept_loop(self)
            self._wake_accept_loop()
            self.streams.stop(_SHUTDOWN_GRACE)
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
