"""The live page of the fake: ``/fakebbs/ui/`` of each namespace, and the feed that keeps it live.

``Namespaces`` serves it beside the admin API, under the same rules (off where the admin API
is off). The page itself is three hand-written files shipped in the package (``page/``); it
reads the admin API's JSON (``/fakebbs/v1/summary``, the paged ``/lrps``, ``/tasks``,
``/journal/page``...) and acts through it (removing a fault rule, releasing a hold). The URL
names the namespace like any other request: ``/fakebbs/ui/`` is the default namespace's page,
``/ns/NAME/fakebbs/ui/`` the page of NAME.

``GET /fakebbs/ui/feed`` is a server-sent event stream from the fake itself, so the page never
polls: ``changed`` events name what changed (``lrps``, ``tasks``, ``domains``, ``cells``,
``journal``, ``made``, ``controls``), and ``bbs`` events carry the fake's own events (desired
LRP, instance and task events, as the BBS event streams send them) in protobuf's JSON mapping.
They come from one ``_Watch`` per fake, a listener of the fake's one record of changes (the
store's operations, as the event hubs hear them) and of its journals: no second copy of state.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from fakebbs._fake import FakeBBS
from fakebbs._http.events import Event, calculate_events
from fakebbs._http.transport import Subscriber
from fakebbs._rules.store import Change, Store
from fakebbs._standalone.admin_json import to_json
from fakebbs._standalone.namespace import PAGE_PREFIX

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from fakebbs._standalone.namespace import Namespace

__all__ = ["PageApp"]

FEED_WAIT_SECONDS = 0.25
"""How long the feed waits for a change before it looks whether its reader has gone."""

MAX_BACKLOG = 2000
"""Feed items a watch keeps for readers that fall behind; older ones are skipped."""

MAX_EVENTS_PER_OPERATION = 200
"""BBS events of one operation that reach the page (a bulk seed is shown by its last ones)."""

_FILES = {
    "": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
}
_TOPICS_OF_KIND = {
    "desired_lrp": ("lrps",),
    "actual_lrp": ("lrps", "cells"),
    "task": ("tasks", "cells"),
    "domain": ("domains",),
    "cell": ("cells",),
}
_ALL_TOPICS = ("lrps", "tasks", "domains", "cells", "journal", "made", "controls")
_HUBS = frozenset({"desired", "instance", "task"})  # not the deprecated group events


class _Watch:
    """What the page feeds of one fake listen to: a numbered backlog of changed topics and
    BBS events, appended by the fake's listeners (quick, never blocking), read by each open
    feed from where it left off."""

    def __init__(self, fake: FakeBBS) -> None:
        self._cond = threading.Condition()
        self._backlog: deque[tuple[int, str, Any]] = deque(maxlen=MAX_BACKLOG)
        self._seq = 0
        self._readers = 0
        self._generation = 0
        self._store: Store = fake._state.store
        self._store.listeners.append(self._on_changes)
        fake.calls.listeners.append(lambda: self.touch("journal"))
        fake.rep_calls.listeners.append(lambda: self.touch("made"))
        fake.auctioneer_calls.listeners.append(lambda: self.touch("made"))
        fake._holds.listeners.append(lambda: self.touch("controls"))  # arrivals, releases

    def _on_changes(self, changes: list[Change]) -> None:
        """The store listener (under the store's lock): the topics, and the events the BBS
        streams get, computed only while a page is open."""
        with self._cond:
            if not self._readers:
                return
        topics: set[str] = set()
        for change in changes:
            if change.kind == "restore":
                topics.update(_ALL_TOPICS)
            else:
                topics.update(_TOPICS_OF_KIND[change.kind])
        events = [e for e in calculate_events(changes, self._store.actual_lrps) if e.hub in _HUBS]
        with self._cond:
            self._append("changed", sorted(topics))
            for event in events[-MAX_EVENTS_PER_OPERATION:]:
                self._append("bbs", event)
            self._cond.notify_all()

    def touch(self, topic: str) -> None:
        """Tell open feeds ``topic`` changed."""
        with self._cond:
            if self._readers:
                self._append("changed", [topic])
                self._cond.notify_all()

    def _append(self, kind: str, payload: Any) -> None:
        self._seq += 1
        self._backlog.append((self._seq, kind, payload))

    def end_feeds(self) -> None:
        """End the feeds open now (the server is stopping); later ones work again."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def feed(self, subscriber: Subscriber) -> Iterator[bytes]:
        """One reader's SSE body: a ``hello`` first, then what changes, until the reader goes
        or the feeds end."""
        with self._cond:
            self._readers += 1
            seen, generation = self._seq, self._generation
        try:
            yield b"retry: 1000\nevent: hello\ndata: {}\n\n"
            while True:
                with self._cond:
                    if self._seq == seen and self._generation == generation:
                        self._cond.wait(FEED_WAIT_SECONDS)
                    if self._generation != generation:
                        return
                    items = [item for item in self._backlog if item[0] > seen]
                    skipped = bool(items) and items[0][0] > seen + 1
                    seen = self._seq
                if items or skipped:
                    yield _frames(items, skipped)
                elif subscriber.gone():
                    return
        finally:
            with self._cond:
                self._readers -= 1


def _frames(items: list[tuple[int, str, Any]], skipped: bool) -> bytes:
    """The SSE frames of ``items``: one ``changed`` with every topic they name (all of them
    when some were skipped), then each ``bbs`` event."""
    topics = set(_ALL_TOPICS) if skipped else set()
    out = []
    for _, kind, payload in items:
        if kind == "changed":
            topics.update(payload)
    if topics:
        out.append(_sse("changed", {"topics": sorted(topics)}))
    for _, kind, payload in items:
        if kind == "bbs":
            assert isinstance(payload, Event)
            out.append(_sse("bbs", {"type": payload.name, "event": to_json(payload.message)}))
    return b"".join(out)


def _sse(name: str, value: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(value, separators=(',', ':'))}\n\n".encode()


class PageApp:
    """The page and its feed for every namespace of one ``Namespaces``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: weakref.WeakKeyDictionary[FakeBBS, _Watch] = weakref.WeakKeyDictionary()

    def watch(self, fake: FakeBBS) -> _Watch:
        with self._lock:
            watch = self._watches.get(fake)
            if watch is None:
                watch = self._watches[fake] = _Watch(fake)
            return watch

    def touch(self, namespace: Namespace, topic: str) -> None:
        """Tell the open pages of ``namespace`` that ``topic`` changed (an admin request)."""
        with self._lock:
            watch = self._watches.get(namespace.fake)
        if watch is not None:
            watch.touch(topic)

    def end_feeds(self, fake: FakeBBS | None = None) -> None:
        """End the open feeds (of ``fake`` only, when given); pages reconnect by themselves."""
        with self._lock:
            watches = [w for f, w in self._watches.items() if fake is None or f is fake]
        for watch in watches:
            watch.end_feeds()

    def __call__(
        self, namespace: Namespace, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        name = path[len(PAGE_PREFIX) :]
        method = environ.get("REQUEST_METHOD", "GET")
        if name == "":  # the relative URLs of the page need the slash
            location = environ.get("SCRIPT_NAME", "") + PAGE_PREFIX + "/"
            response = Response("", 308, headers={"Location": location})
        elif method not in ("GET", "HEAD"):
            response = Response(f"{method} is not allowed here (GET)\n", 405)
            response.headers["Allow"] = "GET, HEAD"
        elif name == "/feed":
            if method == "GET":
                return self._feed(namespace, environ, start_response)
            response = Response(b"", 200, content_type="text/event-stream")  # HEAD
        elif name.removeprefix("/") in _FILES:
            filename, content_type = _FILES[name.removeprefix("/")]
            body = resources.files("fakebbs._standalone").joinpath("page", filename).read_bytes()
            response = Response(body, 200, content_type=content_type)
            response.headers["Cache-Control"] = "no-cache"
        else:
            response = Response(f"fakebbs: no page {path}\n", 404, mimetype="text/plain")
        return response(environ, start_response)

    def _feed(
        self, namespace: Namespace, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        write = start_response(
            "200 OK",
            [
                ("Content-Type", "text/event-stream"),
                ("Cache-Control", "no-cache"),
                ("X-Accel-Buffering", "no"),
            ],
        )
        write(b"")  # the headers go out now, so the page knows it is connected
        return self.watch(namespace.fake).feed(Subscriber(environ))
