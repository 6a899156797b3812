"""The fake as a whole: one state, one WSGI app over it, and a way to serve it."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from fakebbs import models
from fakebbs._app import DEFAULT_MAX_BODY_BYTES, BBSApp
from fakebbs._convergence import LRPConvergence, TaskConvergence
from fakebbs._events import EventHub
from fakebbs._seed import Seed
from fakebbs._state import State
from fakebbs._store import Snapshot, random_guid
from fakebbs._tasks import DEFAULT_MAX_TASK_RETRIES
from fakebbs.clock import Clock, system_clock

if TYPE_CHECKING:
    from fakebbs._server import Server

__all__ = ["FakeBBS"]


class FakeBBS:
    """An in-memory BBS.

    ``wsgi_app`` serves the BBS HTTP API over ``state``; mount it in any WSGI server, call it
    in-process with ``werkzeug.test.Client``, or let ``serve()`` run it on a local socket.
    Two fakes share nothing.
    """

    def __init__(
        self,
        *,
        clock: Clock | Callable[[], int] = system_clock,
        new_guid: Callable[[], str] = random_guid,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_task_retries: int = DEFAULT_MAX_TASK_RETRIES,
    ) -> None:
        self.clock = clock if isinstance(clock, Clock) else Clock(clock)
        """The fake's clock: real time (or the ``clock`` given) until frozen; see ``Clock``."""
        self.state = State(clock=self.clock, new_guid=new_guid)
        # The BBS config's max_task_retries: rejections a task survives before it is failed.
        self.state.max_task_retries = max_task_retries
        self.events = EventHub(self.state)
        """The event hubs: every state change, whatever made it, reaches the open streams."""
        self.wsgi_app = BBSApp(self.state, max_body_bytes=max_body_bytes, events=self.events)
        self.seed = Seed(self.state)
        """Put the fake in a known state, one line per row; see ``fakebbs._seed``."""

    def reset(self) -> None:
        """Forget all state, as a freshly started, empty BBS, and let the clock run again
        (``clock.unfreeze()``)."""
        self.state.reset()
        self.clock.unfreeze()

    def snapshot(self) -> Snapshot:
        """The whole BBS state as it is now (desired and actual LRPs, tasks, domains, cells),
        to ``restore`` later: seed once, restore per test. Taking one costs a copy of each
        table's dictionary, nothing per message; later writes do not change it."""
        return self.state.snapshot()

    def restore(self, snapshot: Snapshot) -> None:
        """Make the state exactly what ``snapshot`` holds, as one recorded change: open
        event streams get the events of the rows that differ (a restore is a write like any
        other), and pending task completion callbacks of the state before are dropped. The
        clock, fault rules and the journal are not part of a snapshot."""
        self.state.restore(snapshot)

    def converge(self) -> tuple[LRPConvergence, TaskConvergence]:
        """Run one convergence pass over LRPs and tasks now, and say what it did.

        The real BBS converges every 30 s; the fake only when asked (or with ``fakebbs serve
        --converge-interval``), so a test decides when crashed instances restart, missing ones
        appear and old tasks expire. Move a ``ManualClock`` first to let backoffs pass.
        """
        return self.state.converge()

    def register_cell(self, cell: models.CellPresence | str) -> None:
        """Make a cell known (a ``CellPresence``, or just its id), as its rep's presence does.

        Which cells exist decides what retire, scale-down and convergence do with CLAIMED and
        RUNNING instances, and what ``cells/list.r1`` answers. The fake starts with none."""
        presence = models.CellPresence(cell_id=cell) if isinstance(cell, str) else cell
        self.state.register_cell(presence)

    def unregister_cell(self, cell_id: str) -> None:
        """Forget a cell, as when its presence expires."""
        self.state.unregister_cell(cell_id)

    def wait_for_callbacks(self, timeout: float | None = None) -> bool:
        """Wait until every task completion callback has been made; False on timeout."""
        return self.state.wait_for_callbacks(timeout)

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
        from fakebbs._server import Server

        server = Server(
            self.wsgi_app, host, port, ssl_context=ssl_context, on_stop=self.events.end_streams
        )
        server.start()
        return server
