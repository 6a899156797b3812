"""A real HTTP(S) server for any WSGI app, run in background threads (cheroot underneath).

Why cheroot and not werkzeug's dev server: the BBS Go client pools HTTP/1.1 connections and
production speaks mutual TLS; werkzeug's server closes every connection after one response.

The lifecycle follows pytest-httpserver: ``start()`` binds and listens in the caller's thread (so
once it returns, connections are accepted; port 0 picks a free port, read it back from ``port``),
a daemon thread then serves; ``stop()`` shuts down and joins; the class is a context manager.

What this server adds on top of cheroot (each is pinned by a test in tests/test_server.py). This
module is the lifecycle; the parts live beside it, and every use of cheroot beyond its
documented API (each subclass and override) is in ``fakebbs._http.cheroot``, checked on import:

* Workers only for requests being processed. A connection waits for its whole request (head,
  and a body up to 1 MiB; the TLS handshake too) on one gatherer thread for all connections,
  and an event stream, once its headers are sent, is written by one writer thread for all
  streams (``fakebbs._http.idle``): idle keep-alive connections, slow senders and open streams hold
  no worker, so no namespace can take them all.
* A worker pool that grows on demand and shrinks when idle. cheroot's ``ThreadPool`` starts
  ``min`` workers and never grows or shrinks by itself. Workers beyond the first ten end after
  ``WORKER_IDLE_TIMEOUT`` (2 s) without work. See ``fakebbs._http.workers``.
* Request bodies: a malformed Content-Length, a broken chunked body or a short one is answered
  ``400 Bad Request`` and closes the connection (``fakebbs._http.middleware``).
* A ``Connection: close`` response header really closes the connection (cheroot ignores it).
* The TLS handshake runs in the gatherer, not in cheroot's accept loop, so a client that
  connects and never handshakes cannot stall everybody else (a worker reports its failure).
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
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from fakebbs._http.cheroot import CherootServer, ContextSSLAdapter
from fakebbs._http.idle import StreamWriter
from fakebbs._http.middleware import BodyReadError, ServerMiddleware
from fakebbs._http.workers import WorkerPool

if TYPE_CHECKING:
    import ssl
    from typing import Self

    from _typeshed.wsgi import WSGIApplication

__all__ = [
    "DEFAULT_THREADS",
    "WORKER_IDLE_TIMEOUT",
    "BodyReadError",
    "Server",
]

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
        self._httpd: CherootServer | None = None
        self._pool: WorkerPool | None = None
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
            adapter = None if self.ssl_context is None else ContextSSLAdapter(self.ssl_context)
            port = self._requested[1]
            httpd = CherootServer(
                self._requested,
                ServerMiddleware(self.app, self.errors),
                requests=self._make_pool,
                streams=StreamWriter(name=f"fakebbs-streams-{port}", timeout=_IO_TIMEOUT),
                ssl_adapter=adapter,
                timeout=_IO_TIMEOUT,
                shutdown_timeout=_SHUTDOWN_GRACE,
                handshake_timeout=_HANDSHAKE_TIMEOUT,
                listen_backlog=_LISTEN_BACKLOG,
            )
            httpd.prepare()  # bind + listen + start the first workers; raises if the port is taken
            host, port = httpd.bound
            self._address = (host, port)
            self._httpd = httpd
            self._thread = threading.Thread(
                target=httpd.serve, name=f"fakebbs-server-{port}", daemon=True
            )
            self._thread.start()
        return self

    def _make_pool(self, httpd: CherootServer) -> WorkerPool:
        self._pool = WorkerPool(
            httpd,
            min(_MIN_THREADS, self.threads),
            self.threads,
            self.worker_idle_timeout,
            self._request_key,
            stuck_worker_wait=_STUCK_WORKER_WAIT,
        )
        return self._pool

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
        return 0 if self._pool is None or self._stopped else self._pool.size()

    def wait_for_worker_threads(self, at_most: int, timeout: float | None = None) -> bool:
        """Wait until idle workers have retired down to ``at_most``; False on timeout."""
        if self._pool is None or self._stopped:
            return True
        return self._pool.wait_for_size(at_most, timeout)

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
