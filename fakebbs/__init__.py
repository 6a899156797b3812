"""fakebbs: an in-memory fake of Cloud Foundry Diego's BBS, for tests.

``FakeBBS`` holds the state, the WSGI app and the fixture API (seeding, ``fail``, the call
journal ``calls``, ``hold``, and ``rep_calls`` / ``auctioneer_calls``, the calls it makes to
reps and the auctioneer, sent when ``call_reps`` / ``auctioneer_url`` say so, over mutual TLS
with a ``ClientTLS``); ``FakeBBS.serve()`` runs it on a local socket and returns a
``Server``; ``BBSClient`` talks to any BBS (this fake or a real one); ``fakebbs.models`` has
every BBS protobuf message, ``fakebbs.errors`` every BBS error type and ``fakebbs.faults`` the
transport faults a test can inject. ``Clock`` is every fake's clock (``bbs.clock.freeze()``,
``advance()``); ``ManualClock``, a time source moved by hand, is deprecated in its favour.
``FakeBBS.diego`` is a ``Diego``: simulated cells (``CellState``), reps and an auctioneer
that run what the BBS asks of them, on the fake's clock (``Timings``).
"""

from __future__ import annotations

from fakebbs import errors, faults, models
from fakebbs._control.controls import FaultRule, Gate
from fakebbs._control.journal import Call, Journal, OutboundJournal
from fakebbs._control.seed import Seed
from fakebbs._diego import CellState, Diego, Timings
from fakebbs._fake import FakeBBS
from fakebbs._http.server import Server
from fakebbs._outbound.calls import ClientTLS, OutboundCall
from fakebbs._rules.convergence import LRPConvergence, TaskConvergence
from fakebbs._rules.snapshot import Snapshot
from fakebbs.client import BBSClient
from fakebbs.clock import Clock, ManualClock

__all__ = [
    "BBSClient",
    "Call",
    "CellState",
    "ClientTLS",
    "Clock",
    "Diego",
    "FakeBBS",
    "FaultRule",
    "Gate",
    "Journal",
    "LRPConvergence",
    "ManualClock",
    "OutboundCall",
    "OutboundJournal",
    "Seed",
    "Server",
    "Snapshot",
    "TaskConvergence",
    "Timings",
    "errors",
    "faults",
    "models",
]
