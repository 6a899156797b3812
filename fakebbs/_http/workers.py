"""The worker pool the server hands connections to, in place of cheroot's ``ThreadPool``.

Workers serve requests whose bytes have all arrived (the request gatherer of
``fakebbs._http.idle`` waits for them, one thread for every connection); the pool grows on demand
up to a cap, shrinks when idle, and keeps each key's requests (a namespace's) to a fair share.
It reaches cheroot only through ``fakebbs._http.cheroot``'s ``Connection`` and ``CherootServer``.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from contextlib import suppress

from fakebbs._http.cheroot import CherootServer, Connection
from fakebbs._http.idle import RequestGatherer

__all__ = ["WorkerPool"]

logger = logging.getLogger("fakebbs.server")


class WorkerPool:
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
        server: CherootServer,
        minimum: int,
        maximum: int,
        idle_timeout: float,
        request_key: Callable[[bytes], str] | None = None,
        *,
        stuck_worker_wait: float,
    ) -> None:
        self.server = server
        self.min = minimum
        self.max = maximum
        self.share = maximum if request_key is None else max(1, maximum // 2)
        """Workers the requests of one key may take at once (all of them when requests are not
        told apart)."""
        self.idle_timeout = idle_timeout
        self.stuck_worker_wait = stuck_worker_wait
        """After ``stop()``'s grace, how long it waits for the remaining workers (in all)
        before leaving them behind."""
        # (connection, its key); None: stop
        self._queue: queue.SimpleQueue[tuple[Connection, str] | None] = queue.SimpleQueue()
        self._by_key: Counter[str] = Counter()  # outstanding connections of each key
        self._held_back: dict[str, deque[Connection]] = {}  # beyond the share, in order
        self._changed = threading.Condition()  # guards the fields below; notified on any change
        self._workers: set[threading.Thread] = set()
        self._serving: dict[threading.Thread, Connection] = {}
        self._retired: list[threading.Thread] = []  # may still be returning; pruned on spawn
        self._outstanding = 0
        self._stopping = False
        self._started = 0  # for worker names
        self.gatherer = RequestGatherer(
            self._dispatch,
            request_key=request_key,
            timeout=server.timeout,
            handshake_timeout=server.handshake_timeout,
            name=f"fakebbs-gatherer-{id(self):x}",
        )

    # -- cheroot's interface ----------------------------------------------------------------

    def start(self) -> None:
        with self._changed:
            for _ in range(self.min):
                self._spawn()
        self.gatherer.start()

    def put(self, conn: Connection) -> None:
        # cheroot hands over a new connection, or one with bytes to read: a worker gets it
        # once its request is all there (see fakebbs._http.idle), unless it is already read.
        if conn.has_buffered_request():
            self._dispatch(conn)
        else:
            self.gatherer.add(conn)

    def _dispatch(self, conn: Connection) -> None:
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

    def _enqueue(self, conn: Connection, key: str) -> None:
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

    def get(self) -> tuple[Connection, str] | None:
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

    def stop(self, timeout: float | None = None) -> None:
        """End every worker: idle ones at once, busy ones when their connection is done (within
        ``timeout``); then close the sockets under the rest. A worker stuck in the app (an event
        stream nobody ended) is reported and left behind (it is a daemon) instead of hanging."""
        self.gatherer.stop(self.stuck_worker_wait)
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
        _join_all([worker for worker, _ in stuck], self.stuck_worker_wait)
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

    def _serve(self, conn: Connection) -> None:
        keep_alive = False
        try:
            keep_alive = conn.communicate()
        except ConnectionError as exc:
            logger.debug("connection from %s dropped: %s", conn.peer, exc)
        except Exception:
            logger.exception("error serving a connection from %s", conn.peer)
        finally:
            try:
                if keep_alive:
                    self.server.put_conn(conn)
                else:
                    conn.close()
            except Exception:
                logger.exception("error closing a connection from %s", conn.peer)


def _join_all(threads: list[threading.Thread], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))
