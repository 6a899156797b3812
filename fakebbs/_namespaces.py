"""Per-test namespaces: one ``FakeBBS`` per name behind one WSGI app, made on first use.

``fakebbs serve`` serves a ``Namespaces``. A request picks its namespace with a path prefix,
``/ns/NAME/...`` (a client whose base URL is ``https://HOST:PORT/ns/NAME`` reaches it
unmodified, since BBS clients join the base URL and the route path), or with the
``X-Fakebbs-Namespace`` header; without either it is the default namespace, whose name is
"". Each namespace is a fake of its own (state, journal, faults, holds, clock, event
streams), so parallel suites that share one server never see each other. The admin API
(``/fakebbs/v1/...``) acts on the namespace the request names, exactly like the BBS routes.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fakebbs._controls import FaultRule, Gate
from fakebbs._fake import FakeBBS
from fakebbs._server import Server
from fakebbs._store import Snapshot

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "ADMIN_PREFIX",
    "NAMESPACE_ENVIRON_KEY",
    "NAMESPACE_HEADER",
    "NAMESPACE_PREFIX",
    "Namespace",
    "Namespaces",
    "PAGE_PREFIX",
    "is_loopback",
    "valid_name",
]

NAMESPACE_PREFIX = "/ns/"
"""A path starting ``/ns/NAME/`` is served by namespace NAME, the rest of the path as is."""

NAMESPACE_HEADER = "X-Fakebbs-Namespace"
"""The header that names a request's namespace when its path has no ``/ns/NAME`` prefix."""

NAMESPACE_ENVIRON_KEY = "fakebbs.namespace"
"""environ key: the name of the namespace serving the request (for the request log)."""

ADMIN_PREFIX = "/fakebbs/v1"
"""The admin API's reserved path prefix; no BBS route starts with it."""

PAGE_PREFIX = "/fakebbs/ui"
"""The live page's path (``fakebbs._ui``), served where the admin API is."""

SEED_SNAPSHOT = "seed"
"""The named snapshot every namespace of a seeded server starts with."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def valid_name(name: str) -> bool:
    """Whether ``name`` can name a namespace: 1 to 128 letters, digits, ``.``, ``_`` or
    ``-``, starting with a letter or digit (so it is safe in a URL path)."""
    return _NAME.fullmatch(name) is not None


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Namespace:
    """One namespace: its fake, and what the admin API keeps for it (named snapshots, the
    fault rules and gates it made, by id)."""

    name: str
    fake: FakeBBS
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    rules: dict[str, FaultRule] = field(default_factory=dict)
    gates: dict[str, Gate] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self) -> str:
        """A fresh id for a fault rule or a gate of this namespace."""
        return str(next(self._ids))

    def live_rules(self) -> dict[str, FaultRule]:
        """The admin-made rules still in force (a reset or removal forgets the others)."""
        current = {id(rule) for rule in self.fake.faults}
        with self.lock:
            for key in [k for k, r in self.rules.items() if id(r) not in current]:
                del self.rules[key]
            return dict(self.rules)

    def live_gates(self) -> dict[str, Gate]:
        """The admin-made gates not yet released."""
        with self.lock:
            for key in [k for k, g in self.gates.items() if g.released]:
                del self.gates[key]
            return dict(self.gates)


class Namespaces:
    """A WSGI app serving any number of fakes, one per namespace (see the module docstring).

    ``make_fake(name)`` builds the fake of a new namespace. ``admin`` turns the admin API on.
    ``seed``, when given, is the state every namespace starts with, also kept in each as the
    named snapshot ``seed``. ``manual_clock`` starts every namespace's clock frozen, and
    freezes it again after a reset. Thread-safe: two first requests to one new namespace make
    one fake.
    """

    def __init__(
        self,
        make_fake: Callable[[str], FakeBBS] = lambda name: FakeBBS(namespace=name),
        *,
        admin: bool = True,
        seed: Snapshot | None = None,
        manual_clock: bool = False,
    ) -> None:
        from fakebbs._admin import AdminAPI
        from fakebbs._ui import PageApp

        self._make_fake = make_fake
        self.admin = admin
        self.seed = seed
        self.manual_clock = manual_clock
        self._lock = threading.Lock()
        self._namespaces: dict[str, Namespace] = {}
        self._admin_api = AdminAPI(self)
        self._page = PageApp()
        self.default = self.get("")

    def get(self, name: str) -> Namespace:
        """The namespace ``name`` ("" is the default one), made now if it is new."""
        with self._lock:
            namespace = self._namespaces.get(name)
            if namespace is None:
                fake = self._make_fake(name)
                if self.manual_clock:
                    fake.clock.freeze()
                namespace = Namespace(name, fake)
                if self.seed is not None:
                    fake.restore(self.seed)
                    namespace.snapshots[SEED_SNAPSHOT] = self.seed
                self._namespaces[name] = namespace
            return namespace

    def reset(self, namespace: Namespace) -> None:
        """``FakeBBS.reset`` of one namespace (its named snapshots stay), the clock frozen
        again under ``manual_clock``."""
        namespace.fake.reset()
        if self.manual_clock:
            namespace.fake.clock.freeze()
        with namespace.lock:
            namespace.rules.clear()
            namespace.gates.clear()

    def drop(self, name: str) -> bool:
        """Forget a namespace (its open streams end, its held requests go on); the default
        namespace is emptied instead. False when there was no such namespace."""
        with self._lock:
            namespace = self._namespaces.get(name)
            if namespace is None:
                return False
            if name:
                del self._namespaces[name]
        namespace.fake._stopping()
        self._page.end_feeds(namespace.fake)  # its pages reconnect, to the namespace made anew
        if not name:
            self.reset(namespace)
        return True

    def names(self) -> list[str]:
        """Every namespace made so far, the default ("") first."""
        with self._lock:
            return sorted(self._namespaces)

    def all(self) -> list[Namespace]:
        with self._lock:
            return [self._namespaces[n] for n in sorted(self._namespaces)]

    def converge(self) -> None:
        """One convergence pass in every namespace (``--converge-interval``)."""
        for namespace in self.all():
            namespace.fake.converge()

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "") or "/"
        name = environ.get("HTTP_" + NAMESPACE_HEADER.upper().replace("-", "_"), "")
        if path.startswith(NAMESPACE_PREFIX):
            name, slash, rest = path[len(NAMESPACE_PREFIX) :].partition("/")
            path = slash + rest
        # Set in the server's environ (the request log reads it), before the app's own copy.
        environ[NAMESPACE_ENVIRON_KEY] = name
        if path != environ.get("PATH_INFO"):
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + NAMESPACE_PREFIX + name
            environ["PATH_INFO"] = path
        if name and not valid_name(name):
            return _plain(
                start_response,
                "400 Bad Request",
                f"fakebbs: {name!r} is not a namespace name (1-128 of A-Z a-z 0-9 . _ -, "
                "starting with a letter or digit)\n",
            )
        namespace = self.get(name)
        page = path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/")
        if page or path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            if not self.admin:
                return _plain(
                    start_response,
                    "404 Not Found",
                    "fakebbs: the admin API is off on a non-loopback address; serve with "
                    "--admin to turn it on\n",
                )
            if page:
                return self._page(namespace, environ, start_response)
            answer = self._admin_api(namespace, environ, start_response)
            if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
                self._page.touch(namespace, "controls")  # fault rules, holds, clock...
            return answer
        return namespace.fake.wsgi_app(environ, start_response)

    # -- serving ---------------------------------------------------------------------------

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, ssl_context: ssl.SSLContext | None = None
    ) -> Server:
        """Start serving every namespace on ``host:port`` from a background thread; stopping
        the returned server ends every namespace's streams and releases their holds."""
        server = Server(
            self,
            host,
            port,
            ssl_context=ssl_context,
            on_stop=self._stopping,
            errors=self.default.fake.errors,
        )
        return server.start()

    def _stopping(self) -> None:
        self._page.end_feeds()
        for namespace in self.all():
            namespace.fake._stopping()


def _plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
