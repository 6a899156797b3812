"""How the simulated reps and auctioneer call the BBS: a route's own handler, in-process.

Each call goes where an HTTP request for that route goes after decoding: the fake's holds,
then its fault rules, then the route's handler over the state (the same rule, the same
recorded change, the same events). It is journaled in the simulation's own journal, so the
fake's ``calls`` stay the test client's. The request is built by the simulation, valid by
construction, so it skips the wire and validation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from google.protobuf.message import Message

from fakebbs._control.controls import Faults, Holds
from fakebbs._control.journal import Journal, call_weight, new_call
from fakebbs._http.encoded import EncodedLists
from fakebbs._http.handlers._base import Context, Handler
from fakebbs.errors import BBSError, from_wire
from fakebbs.faults import Fault
from fakebbs.routes import ROUTES_BY_NAME

if TYPE_CHECKING:
    from fakebbs._rules.state import State

__all__ = ["BBSPort", "Outcome"]


class Outcome(NamedTuple):
    """What a call got: the response, the BBS error in it, or the transport fault that
    answered instead."""

    response: Any
    error: BBSError | None = None
    fault: Fault | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.fault is None


class BBSPort:
    """Calls the BBS's routes for the simulation (see the module docstring)."""

    def __init__(
        self,
        state: State,
        handlers: Mapping[str, Handler],
        faults: Faults,
        holds: Holds,
        journal: Journal,
        namespace: str = "",
        *,
        lists: EncodedLists,
    ) -> None:
        self._state = state
        self._handlers = handlers
        self._faults = faults
        self._holds = holds
        self.journal = journal
        self.namespace = namespace
        self._contexts = {
            name: Context(route, "", b"", lists) for name, route in ROUTES_BY_NAME.items()
        }

    def held(self, name: str, request: Message) -> bool:
        """Whether a hold of the fixture API would hold this call now."""
        return self._holds.holding(ROUTES_BY_NAME[name], request)

    def call(self, name: str, request: Message) -> Outcome:
        """Make the call (waiting at a hold, if one matches) and journal it."""
        route = ROUTES_BY_NAME[name]
        started = time.time()
        self._holds.wait(route, request)
        action = self._faults.take(route, request)
        response: Any = None
        error: BBSError | None = None
        fault: Fault | None = None
        if isinstance(action, BBSError):
            error = action
        elif isinstance(action, Fault) and action.kind not in ("delay", "end_stream"):
            fault = action
        else:
            try:
                response = self._handlers[name].run(self._state, request, self._contexts[name])
            except BBSError as raised:
                error = raised
            else:
                if response.HasField("error"):
                    error = from_wire(response.error)
        call = new_call(
            name,
            route.path,
            route.method,
            request,
            response,
            error,
            fault,
            "",
            started,
            0 if fault is not None else 200,
            self.namespace,
            None,
        )
        self.journal.record(call, call_weight(call, 0 if response is None else response.ByteSize()))
        return Outcome(response, error, fault)
