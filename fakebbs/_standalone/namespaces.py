"""Per-test namespaces: one ``FakeBBS`` per name behind one WSGI app, made on first use.

``fakebbs serve`` serves a ``Namespaces``. A request picks its namespace with a path prefix,
``/ns/NAME/...`` (a client whose base URL is ``https://HOST:PORT/ns/NAME`` reaches it
unmodified, since BBS clients join the base URL and the route path), or with the
``X-Fakebbs-Namespace`` header; without either (or naming ``default``) it is the default
namespace, named ``default`` in JSON answers, journaled calls and the request log alike. Each
namespace is a fake of its own (state, journal, faults, holds, clock, event
streams), so parallel suites that share one server never see each other. The admin API
(``/fakebbs/v1/...``) acts on the namespace the request names, exactly like the BBS routes.

A namespace is made by the first request to a BBS route or to the admin API in it; a request
to any other path of a namespace that does not exist is answered as the BBS answers an unknown
path (a 404) and makes nothing. At most ``max_namespaces`` namespaces exist besides the default
one; a request that would make one more is a 429 until one is dropped.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from fakebbs._fake import FakeBBS
from fakebbs._http.server import Server
from fakebbs._rules.store import Snapshot
from fakebbs._standalone.namespace import (
    ADMIN_PREFIX,
    DEFAULT_NAMESPACE,
    NAMESPACE_ENVIRON_KEY,
    NAMESPACE_HEADER,
    NAMESPACE_PREFIX,
    PAGE_PREFIX,
    SEED_SNAPSHOT,
    Namespace,
    valid_name,
)
from fakebbs.routes import ROUTES

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "ADMIN_PREFIX",
    "DEFAULT_NAMESPACE",
    "NAMESPACE_ENVIRON_KEY",
    "NAMESPACE_HEADER",
    "NAMESPACE_PREFIX",
    "DEFAULT_MAX_NAMESPACES",
    "LivePage",
    "NamespaceApp",
    "Namespace",
    "NamespaceLimitError",
    "Namespaces",
    "PAGE_PREFIX",
    "is_loopback",
    "namespace_of_request",
    "valid_name",
]

DEFAULT_MAX_NAMESPACES = 1000
"""How many namespaces a server makes at most, besides the default one."""

_ROUTE_PATHS = frozenset(route.path for route in ROUTES)

_PATH_NAMESPACE = re.compile(rb"[A-Z]+ /ns/([^/?# ]*)")
_HEADER_NAMESPACE = re.compile(rb"\r\nx-fakebbs-namespace:[ \t]*([^\r\n]*?)[ \t]*\r\n", re.I)


def namespace_of_request(head: bytes) -> str:
    """The namespace a raw request head names, as ``Namespaces`` will read it (the server
    shares its workers fairly between namespaces with it)."""
    found = _PATH_NAMESPACE.match(head) or _HEADER_NAMESPACE.search(head)
    return found.group(1).decode("latin-1") if found else ""


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class NamespaceLimitError(LookupError):
    """There are ``max_namespaces`` namespaces already: drop one to make another."""


class NamespaceApp(Protocol):
    """What answers the admin API's requests of a namespace (``fakebbs._standalone.admin``)."""

    def __call__(
        self, namespace: Namespace, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]: ...


class LivePage(NamespaceApp, Protocol):
    """The live page (``fakebbs._standalone.ui``): told when an admin request changed a
    namespace's controls, and when its feeds must end."""

    def touch(self, namespace: Namespace, topic: str) -> None: ...

    def end_feeds(self, fake: FakeBBS | None = None) -> None: ...


class Namespaces:
    """A WSGI app serving any number of fakes, one per namespace (see the module docstring).

    ``make_fake(name)`` builds the fake of a new namespace. ``admin_api(namespaces)`` builds
    the admin API and ``page`` is the live page, both handed in by whoever builds the served app
    (``fakebbs._standalone.served``); ``admin`` turns them on (off on a non-loopback address).
    ``seed``, when given, is the state every namespace starts with and returns to on a reset,
    also kept in each as the named snapshot ``seed``. ``manual_clock`` starts every
    namespace's clock frozen, and freezes it again after a reset. ``setup(fake)`` is applied
    to every namespace's fake when it is made and after each reset (``fakebbs serve
    --cells``: the simulated Diego). ``max_namespaces`` bounds the namespaces made besides the
    default one. Thread-safe: two first requests to one new namespace make one fake.
    """

    def __init__(
        self,
        make_fake: Callable[[str], FakeBBS] = lambda name: FakeBBS(namespace=name),
        *,
        admin: bool = True,
        seed: Snapshot | None = None,
        manual_clock: bool = False,
        setup: Callable[[FakeBBS], None] | None = None,
        max_namespaces: int = DEFAULT_MAX_NAMESPACES,
        state_file: str | os.PathLike[str] | None = None,
        admin_api: Callable[[Namespaces], NamespaceApp] | None = None,
        page: LivePage | None = None,
    ) -> None:
        if max_namespaces < 0:
            raise ValueError(f"max_namespaces must be 0 or more, got {max_namespaces}")
        self.max_namespaces = max_namespaces
        self.state_file = state_file
        """Where ``save_state`` writes every namespace's state (``--state``), or None."""
        self._saving = threading.Lock()
        self._make_fake = make_fake
        self.admin = admin
        self.seed = seed
        self.manual_clock = manual_clock
        self.setup = setup
        self._lock = threading.Lock()
        self._namespaces: dict[str, Namespace] = {}
        self._admin_api = None if admin_api is None else admin_api(self)
        self._page = page
        self.default = self.get(DEFAULT_NAMESPACE)

    def get(self, name: str) -> Namespace:
        """The namespace ``name`` (``default`` or "" is the default one), made now if it is
        new; a NamespaceLimitError if that would make more than ``max_namespaces``."""
        return self._get(name, limited=True)

    def _get(self, name: str, *, limited: bool) -> Namespace:
        name = name or DEFAULT_NAMESPACE
        with self._lock:
            namespace = self._namespaces.get(name)
            if namespace is None:
                if (
                    limited
                    and name != DEFAULT_NAMESPACE
                    and len(self._namespaces) - (DEFAULT_NAMESPACE in self._namespaces)
                    >= self.max_namespaces
                ):
                    raise NamespaceLimitError(
                        f"fakebbs: there are {self.max_namespaces} namespaces already (the most "
                        "this server makes, see --max-namespaces): drop one with DELETE "
                        f"/ns/NAME{ADMIN_PREFIX}/namespace to make {name!r}"
                    )
                fake = self._make_fake(name)
                if self.manual_clock:
                    fake.clock.freeze()
                namespace = Namespace(name, fake)
                if self.seed is not None:
                    fake.restore(self.seed)
                    namespace.snapshots[SEED_SNAPSHOT] = self.seed
                if self.setup is not None:
                    self.setup(fake)
                self._namespaces[name] = namespace
            return namespace

    def find(self, name: str) -> Namespace | None:
        """The namespace ``name`` if it exists (never makes one)."""
        with self._lock:
            return self._namespaces.get(name or DEFAULT_NAMESPACE)

    def reset(self, namespace: Namespace, *, empty: bool = False) -> str:
        """``FakeBBS.reset`` of one namespace (its named snapshots stay), the clock frozen
        again under ``manual_clock``, then the state the server started with (``seed``) unless
        ``empty``. Returns what it went back to: "seed" or "empty"."""
        namespace.fake.reset()
        if self.manual_clock:
            namespace.fake.clock.freeze()
        with namespace.lock:
            namespace.rules.clear()
            namespace.gates.clear()
        to = "empty" if self.seed is None or empty else "seed"
        if self.seed is not None and not empty:
            namespace.fake.restore(self.seed)
        if self.setup is not None:
            self.setup(namespace.fake)
        return to

    def drop(self, name: str) -> bool:
        """Forget a namespace (its open streams end, its held requests go on); the default
        namespace is reset instead. False when there was no such namespace."""
        name = name or DEFAULT_NAMESPACE
        with self._lock:
            namespace = self._namespaces.get(name)
            if namespace is None:
                return False
            if name != DEFAULT_NAMESPACE:
                del self._namespaces[name]
        namespace.fake.release_waiting()
        if self._page is not None:  # its pages reconnect, to the namespace made anew
            self._page.end_feeds(namespace.fake)
        if name == DEFAULT_NAMESPACE:
            self.reset(namespace)
        return True

    def names(self) -> list[str]:
        """Every namespace made so far, the default first."""
        with self._lock:
            return sorted(self._namespaces, key=_default_first)

    def all(self) -> list[Namespace]:
        with self._lock:
            return [self._namespaces[n] for n in sorted(self._namespaces, key=_default_first)]

    def load_state(self) -> int:
        """Restore every namespace the ``state_file`` holds (made as needed, past
        ``max_namespaces`` too); returns how many. A missing file is an empty state; one that
        is not a state file is a ``StateFileError`` before anything changes."""
        from fakebbs._control.statefile import StateFileError, read_state_file

        if self.state_file is None:
            return 0
        try:
            snapshots = read_state_file(self.state_file)
        except FileNotFoundError:
            return 0
        bad = [name for name in snapshots if name and not valid_name(name)]
        if bad:
            raise StateFileError(f"state file {self.state_file}: no namespace name: {bad[0]!r}")
        for name, snapshot in snapshots.items():
            self._get(name, limited=False).fake.restore(snapshot)
        return len(snapshots)

    def save_state(self) -> tuple[int, int]:
        """Write every namespace's state to ``state_file`` atomically; returns (namespaces,
        bytes). A RuntimeError when the server has no state file."""
        from fakebbs._control.statefile import write_state_file

        if self.state_file is None:
            raise RuntimeError("no state file to save to: serve with --state FILE")
        with self._saving:
            snapshots = {namespace.name: namespace.fake.snapshot() for namespace in self.all()}
            return len(snapshots), write_state_file(self.state_file, snapshots)

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
        environ[NAMESPACE_ENVIRON_KEY] = name or DEFAULT_NAMESPACE
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
        page = path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/")
        admin = path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")
        if (page or admin) and not self.admin:
            return _plain(
                start_response,
                "404 Not Found",
                "fakebbs: the admin API is off on a non-loopback address; serve with "
                "--admin to turn it on\n",
            )
        namespace = self.find(name)
        if namespace is None:
            if not (admin or page) and path not in _ROUTE_PATHS:  # a junk path makes nothing
                return _plain(start_response, "404 Not Found", "404 page not found\n")
            try:
                namespace = self.get(name)
            except NamespaceLimitError as exc:
                return _plain(start_response, "429 Too Many Requests", f"{exc}\n")
        if page:
            if self._page is None:
                return _not_served(start_response, "the live page")
            return self._page(namespace, environ, start_response)
        if admin:
            if self._admin_api is None:
                return _not_served(start_response, "the admin API")
            answer = self._admin_api(namespace, environ, start_response)
            if self._page is not None and environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
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
            errors=self.default.fake.handler_errors,
            request_key=namespace_of_request,
        )
        return server.start()

    def _stopping(self) -> None:
        if self._page is not None:
            self._page.end_feeds()
        for namespace in self.all():
            namespace.fake.release_waiting()


def _default_first(name: str) -> tuple[bool, str]:
    return (name != DEFAULT_NAMESPACE, name)


def _not_served(start_response: StartResponse, what: str) -> list[bytes]:
    return _plain(start_response, "404 Not Found", f"fakebbs: {what} is not served here\n")


def _plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
