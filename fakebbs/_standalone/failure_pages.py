"""``pytest --fakebbs-ui``: a live page of what a fake held when a test failed.

The plugin's fakes are reset before the next test, so the page of a failing test shows a copy
taken as it failed: the state, the call journal and the calls made to reps and the auctioneer,
in a namespace named after the test, served (with the admin API) by one ``Namespaces`` on a
loopback port of its own, plain HTTP even when the fake serves mutual TLS, so a browser opens
it. The pages live as long as the test session.
"""

from __future__ import annotations

import re
import threading

from fakebbs._fake import FakeBBS
from fakebbs._http.server import Server
from fakebbs._standalone.namespace import PAGE_PREFIX
from fakebbs._standalone.served import served_namespaces

__all__ = ["FailurePages"]


class FailurePages:
    """Copies of failed tests' fakes, each in a namespace of its own, served on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._copies: dict[str, FakeBBS] = {}
        self._namespaces = served_namespaces(self._make_fake)
        self._server: Server | None = None

    def _make_fake(self, name: str) -> FakeBBS:
        return self._copies.pop(name, None) or FakeBBS(namespace=name)

    def keep(self, fake: FakeBBS, test_id: str) -> str:
        """Copy ``fake`` as it is now into a new namespace named after ``test_id``; the URL
        of its page."""
        with self._lock:
            name = self._free_name(test_id)
            copy = FakeBBS(namespace=name)
            copy.restore(fake.snapshot())
            for call in fake.calls:
                copy.calls.record(call)
            for made in fake.rep_calls:
                copy.rep_calls.record(made)
            for made in fake.auctioneer_calls:
                copy.auctioneer_calls.record(made)
            if fake.clock.frozen:
                copy.clock.freeze(fake.clock.nanoseconds())
            self._copies[name] = copy
            self._namespaces.get(name)
            if self._server is None:
                self._server = self._namespaces.serve("127.0.0.1", 0)
            return f"{self._server.url}/ns/{name}{PAGE_PREFIX}/"

    def _free_name(self, test_id: str) -> str:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", test_id).strip("-._")[:120] or "test"
        taken = set(self._namespaces.names())
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        return name

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()
