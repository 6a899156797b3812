"""The task completion callback: a small background pool that POSTs finished tasks to their
``completion_callback_url`` (upstream ``taskworkpool/taskcallback.go``).

For each submitted task a worker thread, like upstream's ``HandleCompletedTask``:

1. moves the task Completed → Resolving (through the state rules, so the change is recorded
   for the event streams); if that is refused (someone else resolved or deleted it) it gives up;
2. POSTs ``callback_json(task)`` with ``Content-Type: application/json``;
3. makes at most ``MAX_CALLBACK_ATTEMPTS`` attempts: a timeout is tried again, any other
   transport error (refused, reset, closed without an answer, bad URL) gives up at once;
4. deletes the task on any HTTP status except 503 and 504, which are tried again; after the
   last attempt the task stays Resolving.

Redirects are followed as Go's ``http.Client`` does (301/302/303 become a GET without body,
307/308 repeat the POST, at most 10). Only the standard library is used.

Threads are started on demand, at most ``max_workers`` at a time, and end as soon as nothing is
queued, so an idle fake holds no thread. ``wait`` blocks until every submitted callback has
finished (for tests); ``discard`` drops the queued ones and makes the running ones write
nothing more (a reset fake must not be touched by callbacks of the state before it).
"""

from __future__ import annotations

import base64
import http.client
import logging
import ssl
import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from fakebbs import models
from fakebbs._rules.store import Change, Store
from fakebbs._rules.wire import go_json
from fakebbs.errors import BBSError

__all__ = [
    "DEFAULT_CALLBACK_TIMEOUT",
    "DEFAULT_CALLBACK_WORKERS",
    "MAX_CALLBACK_ATTEMPTS",
    "CallbackTarget",
    "CallbackWorker",
    "callback_json",
]

MAX_CALLBACK_ATTEMPTS = 3
"""Upstream ``MAX_CB_RETRIES``: attempts, not retries."""

DEFAULT_CALLBACK_TIMEOUT = 10.0
"""Seconds per socket operation. Upstream uses the BBS's ``communication_timeout`` for the whole
request; a fake has no config file, so this is a fixed, overridable choice."""

DEFAULT_CALLBACK_WORKERS = 8
"""Upstream's pool has ``task_callback_workers`` goroutines; a fake needs only a few threads."""

_MAX_REDIRECTS = 10  # Go's http.Client default policy
_RETRY_STATUSES = frozenset({503, 504})  # upstream shouldResolve() is false only for these
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

log = logging.getLogger("fakebbs.callbacks")


class CallbackTarget(Protocol):
    """What the worker needs of the task rules (``fakebbs._rules.tasks.TaskRules``): the
    store (for its lock) and two of the rules."""

    @property
    def store(self) -> Store: ...

    def resolving_task(self, task_guid: str, trace_id: str = "") -> models.Task: ...

    def delete_task(self, task_guid: str, trace_id: str = "") -> models.Task: ...


def callback_json(task: models.Task) -> bytes:
    """The body upstream POSTs: its ``TaskCallbackResponse`` through Go's ``json.Marshal``
    (fields in declaration order, ``annotation`` left out when empty, HTML characters escaped,
    no spaces)."""
    fields: dict[str, object] = {
        "task_guid": task.task_guid,
        "failed": task.failed,
        "failure_reason": task.failure_reason,
        "result": task.result,
    }
    if task.task_definition.annotation:
        fields["annotation"] = task.task_definition.annotation
    fields["created_at"] = task.created_at
    return go_json(fields)


class _GiveUp(Exception):
    """A request failure upstream does not retry (anything but a client timeout)."""


@dataclass(frozen=True)
class _Job:
    task: models.Task
    generation: int


class CallbackWorker:
    """A bounded pool of threads delivering completion callbacks for one state.

    ``timeout`` (seconds per socket operation), ``max_workers`` and ``ssl_context`` (for
    ``https`` callback URLs; default: the system's trust store) may be changed at any time and
    apply to callbacks started afterwards. Unexpected exceptions in a worker (bugs in the fake)
    are logged and kept in ``errors``.
    """

    def __init__(
        self,
        target: CallbackTarget,
        *,
        timeout: float = DEFAULT_CALLBACK_TIMEOUT,
        max_workers: int = DEFAULT_CALLBACK_WORKERS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.max_workers = max_workers
        self.ssl_context = ssl_context
        self.errors: list[BaseException] = []
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._threads: set[threading.Thread] = set()
        self._generation = 0

    def on_changes(self, changes: list[Change]) -> None:
        """The ``Store`` listener: submit each task whose change says its callback is due and
        that has a callback URL; a ``restore`` change (a reset or restore of the state) drops
        the callbacks of the state before it (``discard``)."""
        for change in changes:
            if change.kind == "restore":
                self.discard()
            elif change.callback and isinstance(change.after, models.Task):
                if change.after.task_definition.completion_callback_url:
                    self.submit(change.after)

    def submit(self, task: models.Task) -> None:
        """Deliver ``task``'s callback in the background (upstream ``Submit``)."""
        with self._cond:
            self._queue.append(_Job(task, self._generation))
            if len(self._threads) < max(1, self.max_workers):
                thread = threading.Thread(
                    target=self._work, name="fakebbs-task-callback", daemon=True
                )
                self._threads.add(thread)
                thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no callback is queued or running; False if ``timeout`` ran out first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._threads, timeout)

    @property
    def active_threads(self) -> int:
        """How many worker threads are running (0 once every callback is done)."""
        with self._cond:
            return len(self._threads)

    def discard(self) -> None:
        """Drop the queued callbacks; running ones finish their request but change nothing.

        Call it holding the state's lock, so that no running callback is between its check
        and its write."""
        with self._cond:
            self._queue.clear()
            self._generation += 1
            self._cond.notify_all()

    # -- the worker threads ---------------------------------------------------------------

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                if not self._queue:
                    self._threads.discard(me)
                    self._cond.notify_all()
                    return
                job = self._queue.popleft()
            try:
                self._handle(job)
            except Exception as exc:  # a bug in the fake: keep serving the other callbacks
                log.exception("fakebbs: task callback for %s failed", job.task.task_guid)
                with self._cond:
                    self.errors.append(exc)

    def _current(self, job: _Job) -> bool:
        with self._cond:
            return job.generation == self._generation

    def _handle(self, job: _Job) -> None:
        """Upstream ``HandleCompletedTask``."""
        task = job.task
        url = task.task_definition.completion_callback_url
        if not url:
            return
        with self.target.store.lock:
            if not self._current(job):
                return
            try:
                self.target.resolving_task(task.task_guid)
            except BBSError as err:
                log.info("task %s: marking as resolving failed: %s", task.task_guid, err)
                return
        body = callback_json(task)
        status = 0
        for _ in range(MAX_CALLBACK_ATTEMPTS):
            try:
                status = self._post(url, body)
            except TimeoutError:
                continue
            except (_GiveUp, OSError, http.client.HTTPException, ValueError) as err:
                log.info("task %s: callback to %s failed: %s", task.task_guid, url, err)
                return
            if status not in _RETRY_STATUSES:
                with self.target.store.lock:
                    if not self._current(job):
                        return
                    try:
                        self.target.delete_task(task.task_guid)
                    except BBSError as err:
                        log.info("task %s: delete failed: %s", task.task_guid, err)
                return
        log.info("task %s: callback to %s failed with status %s", task.task_guid, url, status)

    def _post(self, url: str, body: bytes) -> int:
        """POST ``body`` to ``url`` following redirects as Go does; returns the final status."""
        method: str = "POST"
        payload: bytes | None = body
        for _ in range(_MAX_REDIRECTS + 1):
            status, location = self._exchange(method, url, payload)
            if status not in _REDIRECT_STATUSES or not location:
                return status
            url = urllib.parse.urljoin(url, location)
            if status in (301, 302, 303):
                method, payload = "GET", None
        raise _GiveUp(f"stopped after {_MAX_REDIRECTS} redirects")

    def _exchange(self, method: str, url: str, payload: bytes | None) -> tuple[int, str | None]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _GiveUp(f"unsupported callback URL {url!r}")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            context = self.ssl_context or ssl.create_default_context()
            conn = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=self.timeout, context=context
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        headers = {"User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if parts.username is not None:
            credentials = (
                f"{urllib.parse.unquote(parts.username)}:"
                f"{urllib.parse.unquote(parts.password or '')}"
            )
            headers["Authorization"] = "Basic " + base64.b64encode(
                credentials.encode("utf-8")
            ).decode("ascii")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, target, payload, headers)
            response = conn.getresponse()
            return response.status, response.getheader("Location")
        finally:
            conn.close()
