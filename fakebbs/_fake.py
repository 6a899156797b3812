"""The fake as a whole: one state, one WSGI app over it, and a way to serve it."""

from __future__ import annotations

import os
import ssl
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fakebbs import models
from fakebbs._control.controls import FaultRule, Faults, Gate, Holds, OutboundFaults
from fakebbs._control.journal import (
    DEFAULT_JOURNAL_BYTES,
    DEFAULT_JOURNAL_SIZE,
    Journal,
    OutboundJournal,
)
from fakebbs._control.seed import Seed
from fakebbs._control.selectors import Selector, Where
from fakebbs._diego import Diego
from fakebbs._diego.port import BBSPort
from fakebbs._http.app import DEFAULT_MAX_BODY_BYTES, BBSApp
from fakebbs._http.encoded import EncodedLists
from fakebbs._http.events import EventHub
from fakebbs._outbound.callbacks import CallbackWorker
from fakebbs._outbound.calls import (
    AUCTIONEER_CALLS,
    DEFAULT_OUTBOUND_TIMEOUT,
    REP_CALLS,
    ClientTLS,
    Outbound,
)
from fakebbs._rules.convergence import LRPConvergence, TaskConvergence
from fakebbs._rules.state import State
from fakebbs._rules.store import Snapshot, Store, random_guid
from fakebbs._rules.tasks import DEFAULT_MAX_TASK_RETRIES
from fakebbs.client import BBSClient
from fakebbs.clock import Clock, system_clock
from fakebbs.errors import BBSError
from fakebbs.faults import Fault

if TYPE_CHECKING:
    from fakebbs._http.server import Server

__all__ = ["FakeBBS"]


class FakeBBS:
    """An in-memory BBS.

    ``wsgi_app`` serves the BBS HTTP API over the fake's state; mount it in any WSGI server,
    call it in-process with ``werkzeug.test.Client``, or let ``serve()`` run it on a local
    socket. Set the state up with ``seed``, read it with ``snapshot()`` or ``client()``.
    Two fakes share nothing.

    Inside, the fake builds its parts once and wires them here: the store (the data), the
    rules over it (``fakebbs._rules.state.State``), and the store's listeners, which hear
    every change whatever made it: the task completion callback worker, the event hub the
    streams subscribe to, and the list answers' byte cache.

    ``namespace`` is the name its journaled calls carry (``fakebbs serve`` runs one fake per
    namespace). ``handler_errors`` keeps what went wrong inside the fake (``check()``).

    The calls the real BBS makes to cells' reps and to the auctioneer are recorded in
    ``rep_calls`` and ``auctioneer_calls`` and, by default, not sent. ``call_reps=True`` sends
    rep calls to each cell presence's rep URL; ``auctioneer_url`` sends start requests there;
    ``rep_tls`` / ``auctioneer_tls`` (``ClientTLS``) give the client certificate files for
    mutual TLS; ``outbound_timeout`` bounds each socket operation (see ``fakebbs._outbound.calls``).
    ``callback_tls`` is the client TLS of task completion callbacks to ``https`` URLs: upstream
    uses the BBS's own TLS configuration (its certificate and key as the client identity, its
    CA file as the trust root); without it the system's trust store verifies the receiver.

    Each journal (``calls``, ``rep_calls``, ``auctioneer_calls``) keeps the newest
    ``journal_size`` calls within ``journal_bytes``; either at 0 turns the journals off.
    """

    def __init__(
        self,
        *,
        clock: Clock | Callable[[], int] = system_clock,
        new_guid: Callable[[], str] = random_guid,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_task_retries: int = DEFAULT_MAX_TASK_RETRIES,
        journal_size: int = DEFAULT_JOURNAL_SIZE,
        journal_bytes: int = DEFAULT_JOURNAL_BYTES,
        namespace: str = "",
        call_reps: bool = False,
        auctioneer_url: str | None = None,
        rep_tls: ClientTLS | None = None,
        auctioneer_tls: ClientTLS | None = None,
        outbound_timeout: float = DEFAULT_OUTBOUND_TIMEOUT,
        callback_tls: ClientTLS | None = None,
    ) -> None:
        self.namespace = namespace
        """The namespace this fake serves ("" outside ``fakebbs serve``'s namespaces)."""
        self.clock = clock if isinstance(clock, Clock) else Clock(clock)
        """The fake's clock: real time (or the ``clock`` given) until frozen; see ``Clock``."""
        self.handler_errors: list[BaseException] = []
        """Exceptions raised inside the fake (its app or its server threads): bugs in the fake,
        never BBS errors (those are ``fakebbs.errors``). ``check()`` re-raises them."""
        self.calls = Journal(journal_size, journal_bytes)
        """The call journal: every request that reached the fake, decoded, oldest first."""
        self.rep_calls = OutboundJournal.for_reps(journal_size, journal_bytes)
        """The calls made (or, unless ``call_reps``, that would have been made) to cells'
        reps: stop, update and cancel, oldest first (see ``fakebbs._outbound.calls``)."""
        self.auctioneer_calls = OutboundJournal.for_auctioneer(journal_size, journal_bytes)
        """The LRP and task start requests made (or, without ``auctioneer_url``, that would
        have been made) to the auctioneer, oldest first."""
        self._faults = Faults()
        self._outbound_faults = OutboundFaults()
        self._holds = Holds()
        # Makes the calls to reps and the auctioneer (``wait_for_outbound``).
        self._outbound = Outbound(
            self.rep_calls,
            self.auctioneer_calls,
            fault=self._outbound_faults.take_call,
            call_reps=call_reps,
            auctioneer_url=auctioneer_url,
            rep_tls=rep_tls,
            auctioneer_tls=auctioneer_tls,
            timeout=outbound_timeout,
            namespace=namespace,
            errors=self.handler_errors,
        )
        # The data, the rules over it, and what listens to its changes, each built here once.
        store = Store(clock=self.clock, new_guid=new_guid, dispatcher=self._outbound.dispatch)
        self._state = State(store, max_task_retries=max_task_retries)
        self._callbacks = CallbackWorker(
            self._state.tasks,
            ssl_context=None if callback_tls is None else callback_tls.context(),
        )
        self._events = EventHub(store)  # every change, whatever made it, reaches the streams
        self._lists = EncodedLists(store)
        store.listeners.extend(
            [self._callbacks.on_changes, self._events.publish, self._lists.forget]
        )
        self.wsgi_app = BBSApp(
            self._state,
            events=self._events,
            lists=self._lists,
            max_body_bytes=max_body_bytes,
            errors=self.handler_errors,
            journal=self.calls,
            faults=self._faults,
            holds=self._holds,
            namespace=namespace,
        )
        self._servers: list[Server] = []
        self.client_options: dict[str, Any] = {}
        """What every ``client()`` over the socket starts from (``BBSClient`` keyword arguments,
        which a call's own options override); the pytest plugin sets its
        ``fakebbs_client_options`` here."""
        self._servers_lock = threading.Lock()
        self.seed = Seed(store)
        """Put the fake in a known state, one line per row; see ``fakebbs._control.seed``."""
        self.diego = Diego(
            BBSPort(
                self._state,
                self.wsgi_app.handlers,
                self._faults,
                self._holds,
                Journal(journal_size),
                namespace,
                lists=self._lists,
            ),
            clock=self.clock,
            converge=self.converge,
            register=self._state.register_cell,
            unregister=self._state.unregister_cell,
            desired=self._desired_lrp,
            errors=self.handler_errors,
        )
        """The simulated Diego around this fake: cells, reps and an auctioneer that act on
        what the BBS asks of them (off until a cell is added); see ``fakebbs._diego``."""
        self._outbound.receiver = self.diego.receive

    @property
    def state(self) -> State:
        """Deprecated: the state and its rules, called directly. Set up state with ``seed``,
        read it with ``snapshot()`` or ``client()``, and drive the rules through ``client()``
        (the rule methods here take other arguments than the client's and skip validation)."""
        warnings.warn(
            "FakeBBS.state is deprecated: set up state with FakeBBS.seed, read it with "
            "FakeBBS.snapshot() or FakeBBS.client(), and make calls through FakeBBS.client()",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._state

    def reset(self) -> None:
        """Back to a freshly started, empty BBS: no state, no fault rules, no held routes, an
        empty journal, no recorded errors, no simulated cells, and the clock running in real
        time again."""
        self._faults.clear()
        self._outbound_faults.clear()
        self._holds.release_all()
        self.diego.reset()  # after the holds: nothing of it may wait at one
        self._outbound.discard()
        self._state.store.reset()
        self.clock.unfreeze()
        self.calls.clear()
        self.rep_calls.clear()
        self.auctioneer_calls.clear()
        del self.handler_errors[:]

    # -- making calls fail -----------------------------------------------------------------

    def fail(
        self,
        selector: Selector,
        action: BBSError | Fault,
        *,
        times: int | None = None,
        where: Where = None,
    ) -> FaultRule:
        """Answer the matching requests with ``action`` instead of the normal answer.

        ``selector`` names routes of the table (``"DesireDesiredLRP"``), every revision of one
        (``"DesireDesiredLRP*"``), a list of names, or ``"*"``. ``action`` is a BBS error
        (``errors.ResourceConflict("...")``, returned inside the route's own 200 response as
        the BBS does) or a transport fault from ``fakebbs.faults``. ``times`` limits the rule
        to that many matching requests (None: all); ``where`` narrows it by fields of the
        decoded request (dotted paths to values, or a callable taking the request). The first
        rule added that matches and is not used up answers a request. Returns the rule
        (``hits``, ``remove()``, a context manager).

        The calls the fake makes fail the same way: a selector of their names
        (``"StopLRPInstance"``, ``"UpdateLRPInstance"``, ``"CancelTaskOnRep"``,
        ``"RequestLRPAuctions"``, ``"RequestTaskAuctions"``) with ``faults.status(code)``
        (the rep or auctioneer answers that status), ``faults.reset_connection()`` or
        ``faults.close_connection()`` (it cannot be reached), or ``faults.delay(s)``; ``where``
        looks into the decoded body. The rule answers in place of the rep or auctioneer, whether
        the call is sent or only recorded."""
        names = [selector] if isinstance(selector, str) else list(selector)
        outbound = [n for n in names if n in REP_CALLS or n in AUCTIONEER_CALLS]
        if outbound:
            if len(outbound) != len(names):
                raise ValueError(
                    "a fault rule is either for BBS routes or for the calls the BBS makes "
                    f"({', '.join(REP_CALLS + AUCTIONEER_CALLS)}), not both"
                )
            return self._outbound_faults.add(names, action, times=times, where=where)
        return self._faults.add(selector, action, times=times, where=where)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._faults.clear()
        self._outbound_faults.clear()

    @property
    def faults(self) -> list[FaultRule]:
        """The fault rules in force, oldest first (those for the calls the fake makes last)."""
        return self._faults.rules + self._outbound_faults.rules

    # -- holding routes --------------------------------------------------------------------

    def hold(self, selector: Selector, *, where: Where = None) -> Gate:
        """Hold the matching requests, undecided, until the returned gate is released (on
        ``release()`` or leaving its ``with`` block): the way to change state while a client's
        request is in flight. ``gate.wait_arrived()`` waits for a request to be held."""
        return self._holds.add(selector, where)

    # -- checking --------------------------------------------------------------------------

    def check(self) -> None:
        """Re-raise the first exception raised inside the fake since the last ``check()`` or
        ``reset()`` (a bug in the fake, answered 500), and forget them all."""
        errors = list(self.handler_errors)
        del self.handler_errors[: len(errors)]
        if errors:
            raise errors[0]

    @property
    def server(self) -> Server | None:
        """The running server of the latest ``serve()``, or None when the fake is not served."""
        with self._servers_lock:
            return next((s for s in reversed(self._servers) if s.is_running), None)

    @property
    def url(self) -> str:
        """The URL of ``server`` (``http://127.0.0.1:PORT``); an error when not served."""
        server = self.server
        if server is None:
            raise RuntimeError("this FakeBBS is not served: call serve() first")
        return server.url

    def client(self, **options: Any) -> BBSClient:
        """A ``BBSClient`` for this fake: over the socket of its running server when it is
        served (``client_options``, then ``options``, go to ``BBSClient``: for example
        ``ssl_context`` or ``retries``), otherwise calling its WSGI app in-process."""
        server = self.server
        if server is None:
            return BBSClient.in_process(self.wsgi_app, **options)
        return BBSClient(server.url, **{**self.client_options, **options})

    def snapshot(self) -> Snapshot:
        """The whole BBS state as it is now (desired and actual LRPs, tasks, domains, cells),
        to ``restore`` later: seed once, restore per test. Taking one costs a copy of each
        table's dictionary, nothing per message; later writes do not change it."""
        return self._state.store.snapshot()

    def restore(self, snapshot: Snapshot) -> None:
        """Make the state exactly what ``snapshot`` holds, as one recorded change: open
        event streams get the events of the rows that differ (a restore is a write like any
        other), and pending task completion callbacks of the state before are dropped. The
        clock, fault rules and the journal are not part of a snapshot."""
        self._state.store.restore(snapshot)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state (what ``snapshot()`` holds) to the file ``path``, atomically: a
        reader sees the old file or the new one, never half of one. ``load`` reads it back,
        in this fake or another, in this process or a later one."""
        from fakebbs._control.statefile import write_state_file

        write_state_file(path, {self.namespace: self.snapshot()})

    def load(self, path: str | os.PathLike[str]) -> None:
        """Make the state what the state file ``path`` holds (as ``restore`` does, one
        recorded change): the file ``save`` wrote, or the namespace of a ``fakebbs serve
        --state`` file named like this fake's (or its only one). A file that is not one, is
        damaged, or comes from a newer fakebbs is a ``ValueError`` and changes nothing."""
        from fakebbs._control.statefile import StateFileError, read_state_file

        snapshots = read_state_file(path)
        snapshot = snapshots.get(self.namespace)
        if snapshot is None and len(snapshots) == 1:
            (snapshot,) = snapshots.values()
        if snapshot is None:
            names = ", ".join(repr(name) for name in sorted(snapshots)) or "none"
            raise StateFileError(
                f"state file {os.fspath(path)}: no namespace {self.namespace!r} (it has {names})"
            )
        self.restore(snapshot)

    def converge(self) -> tuple[LRPConvergence, TaskConvergence]:
        """Run one convergence pass over LRPs and tasks now, and say what it did.

        The real BBS converges every 30 s; the fake only when asked (or with ``fakebbs serve
        --converge-interval``), so a test decides when crashed instances restart, missing ones
        appear and old tasks expire. Move a ``ManualClock`` first to let backoffs pass.
        """
        return self._state.converge()

    def _desired_lrp(self, process_guid: str) -> models.DesiredLRP | None:
        try:
            return self._state.desired_lrp_by_process_guid(process_guid)
        except BBSError:
            return None

    def register_cell(self, cell: models.CellPresence | str) -> None:
        """Deprecated: ``seed.cell`` adds a cell (a ``CellPresence`` as it is, or an id with
        the fields it needs). This one registers a bare id as a presence of that id alone."""
        warnings.warn(
            "FakeBBS.register_cell is deprecated: add a cell with FakeBBS.seed.cell",
            DeprecationWarning,
            stacklevel=2,
        )
        presence = models.CellPresence(cell_id=cell) if isinstance(cell, str) else cell
        self._state.register_cell(presence)

    def unregister_cell(self, cell_id: str) -> None:
        """Forget a cell, as when its presence expires (unknown ids are ignored)."""
        self._state.unregister_cell(cell_id)

    def cell_presences(self) -> list[models.CellPresence]:
        """The registered cells' presences (copies), in the order they were first added."""
        return self._state.cell_presences()

    def wait_for_callbacks(self, timeout: float | None = None) -> bool:
        """Wait until every task completion callback has been made; False on timeout."""
        return self._callbacks.wait(timeout)

    @property
    def open_event_streams(self) -> int:
        """How many event streams are subscribed now: wait for it to rise before making a
        change a stream must see, or to fall back to 0 once clients have closed theirs."""
        return self._events.subscriber_count

    def wait_for_outbound(self, timeout: float | None = None) -> bool:
        """Wait until every call to a rep or the auctioneer in flight has been made (those
        upstream makes in the background: the stops of a scale-down or removal, the updates
        of a desired LRP update); False if ``timeout`` seconds ran out first."""
        return self._outbound.wait(timeout)

    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Server:
        """Start serving on ``host:port`` (port 0 picks a free one) from a background thread.

        Returns the started server; use it as a context manager or call ``stop()``. Stopping
        it ends the fake's open event streams cleanly (subscribers see the end of the stream).
        """
        from fakebbs._http.server import Server

        server = Server(
            self.wsgi_app,
            host,
            port,
            ssl_context=ssl_context,
            on_stop=self.release_waiting,
            errors=self.handler_errors,
        )
        server.start()
        with self._servers_lock:
            self._servers = [s for s in self._servers if s.is_running] + [server]
        return server

    def release_waiting(self) -> None:
        """Release every held request and end the open event streams cleanly (subscribers see
        the end of the stream): what a server of this fake does when it stops, so that
        nothing keeps its workers busy. The fake stays usable."""
        self._holds.release_all()
        self._events.end_streams()

    # -- deprecated names --------------------------------------------------------------------

    @property
    def errors(self) -> list[BaseException]:
        """Deprecated: ``handler_errors`` (a name apart from ``fakebbs.errors``, the BBS
        errors)."""
        warnings.warn(
            "FakeBBS.errors is deprecated: it is FakeBBS.handler_errors (exceptions raised "
            "inside the fake, not fakebbs.errors)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.handler_errors

    @property
    def events(self) -> EventHub:
        """Deprecated: the fake's event hub, an internal part. Read events through a client's
        event stream (``client().subscribe_to_events()`` and its kin)."""
        warnings.warn(
            "FakeBBS.events is deprecated: it is internal; read events from a client's "
            "event stream",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._events

    @property
    def outbound(self) -> Outbound:
        """Deprecated: the maker of calls to reps and the auctioneer, an internal part. Read
        the calls in ``rep_calls`` and ``auctioneer_calls``; wait with ``wait_for_outbound``."""
        warnings.warn(
            "FakeBBS.outbound is deprecated: it is internal; read rep_calls and "
            "auctioneer_calls, and wait with FakeBBS.wait_for_outbound()",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._outbound
