"""The per-fake controls the request pipeline consults after decoding: faults and holds.

``FakeBBS.fail`` adds a ``FaultRule``; ``FakeBBS.hold`` opens a ``Gate``. Both match calls
with a route selector and ``where`` (``_selectors``), and both live on one fake: two fakes in
one process never see each other's rules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._control.selectors import (
    Matcher,
    Selector,
    Where,
    resolve_json_where,
    resolve_names,
    resolve_routes,
    resolve_where,
)
from fakebbs._outbound.calls import AUCTIONEER_CALLS, OUTBOUND_FIELDS, REP_CALLS
from fakebbs.errors import BBSError
from fakebbs.faults import Fault
from fakebbs.routes import ROUTES_BY_NAME, Route

__all__ = ["FaultRule", "Faults", "Gate", "Holds", "OutboundFaults"]

Action = BBSError | Fault

RAN_ANYWAY: frozenset[str] = frozenset({"delay", "truncated_body", "end_stream"})
"""Transport faults after which the fake has still run the request."""


class FaultRule:
    """One ``fail`` rule: ``action`` (a BBS error or a transport fault) for the next ``times``
    matching requests (None: every one). ``hits`` counts the requests it answered. A context
    manager: leaving the block removes it."""

    def __init__(self, faults: Faults, matcher: Matcher, action: Action, times: int | None) -> None:
        self._faults = faults
        self.matcher = matcher
        self.action = action
        self.times = times
        self.hits = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    @property
    def ran_anyway(self) -> bool:
        """Whether a request this rule answers is still run (a delay, a truncated body, a
        stream ended early): its changes happen, whatever the client sees."""
        return isinstance(self.action, Fault) and self.action.kind in RAN_ANYWAY

    def remove(self) -> None:
        """Stop applying this rule (it keeps its ``hits``)."""
        self._faults.remove(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        times = "always" if self.times is None else f"{self.hits}/{self.times} used"
        return f"<FaultRule {self.matcher.description}: {_action_text(self.action)}, {times}>"


def _action_text(action: Action) -> str:
    if isinstance(action, BBSError):
        return f"{action.type_name}({action.message!r})"
    return str(action)


def _can_take(route: Route, action: Action) -> bool:
    if isinstance(action, BBSError):
        # inside the route's own response message, which must have an error field (Ping's has
        # none: the BBS answers it with no error ever)
        return route.response is not None and (
            "error" in getattr(models, route.response).DESCRIPTOR.fields_by_name
        )
    if action.kind == "delay":
        return True
    return action.for_streams == route.stream


class Faults:
    """The fault rules of one fake, in the order they were added; the first rule that matches
    a request and is not used up answers it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(
        self, selector: Selector, action: Action, *, times: int | None, where: Where
    ) -> FaultRule:
        if not isinstance(action, (BBSError, Fault)):
            raise TypeError(
                "fail() takes a fakebbs.errors error (e.g. errors.ResourceNotFound()) or a "
                f"fakebbs.faults fault (e.g. faults.reset_connection()), not {action!r}"
            )
        if times is not None and (isinstance(times, bool) or times < 1):
            raise ValueError(f"times must be a positive number of requests or None, got {times!r}")
        routes = resolve_routes(selector)
        named = {selector} if isinstance(selector, str) else set(selector)
        refused = sorted(
            name
            for name in named
            if name in ROUTES_BY_NAME and not _can_take(ROUTES_BY_NAME[name], action)
        )
        taking = frozenset(r for r in routes if _can_take(ROUTES_BY_NAME[r], action))
        if refused or not taking:
            what = "an event stream" if isinstance(action, BBSError) else "this route"
            kind = _action_text(action)
            names = ", ".join(refused or sorted(routes))
            reason = (
                "BBS errors are answered in the error field of a response message, which event "
                "streams and Ping do not have"
                if isinstance(action, BBSError)
                else "end_stream applies to event streams only"
                if isinstance(action, Fault) and action.for_streams
                else "this fault applies to request/response routes, not event streams"
            )
            raise ValueError(f"{names} cannot take {kind} ({what}): {reason}")
        where = resolve_where(taking, where)
        shown = selector if isinstance(selector, str) else ", ".join(selector)
        matcher = Matcher(taking, where, shown)
        rule = FaultRule(self, matcher, action, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        """The rules in force (used-up ones included until removed), oldest first."""
        with self._lock:
            return list(self._rules)

    def take(self, route: Route, request: Message | None) -> Action | None:
        """The action for this request, counting it as a hit; None when no rule applies."""
        rule = self.take_rule(route, request)
        return None if rule is None else rule.action

    def take_rule(self, route: Route, request: Message | None) -> FaultRule | None:
        """The rule that answers this request, counting it as a hit; None when none applies."""
        if not self._rules:  # the common case, without the lock
            return None
        with self._lock:
            for rule in self._rules:
                if not rule.exhausted and rule.matcher.matches(route, request):
                    rule.hits += 1
                    return rule
        return None


class OutboundFaults(Faults):
    """The fault rules for the calls the fake makes to reps and the auctioneer: a rule
    answers a call in place of the rep or auctioneer (see ``fakebbs._outbound.calls``)."""

    def add(
        self, selector: Selector, action: Action, *, times: int | None, where: Where
    ) -> FaultRule:
        if not isinstance(action, Fault) or action.for_streams:
            raise TypeError(
                "the calls the BBS makes fail with a fakebbs.faults fault (status, "
                f"reset_connection, close_connection, delay), not {action!r}: a rep or an "
                "auctioneer answers HTTP statuses, not BBS errors"
            )
        if action.kind not in ("status", "reset_connection", "close_connection", "delay"):
            raise ValueError(f"{action} does not apply to the calls the BBS makes")
        if times is not None and (isinstance(times, bool) or times < 1):
            raise ValueError(f"times must be a positive number of calls or None, got {times!r}")
        names = resolve_names(selector, REP_CALLS + AUCTIONEER_CALLS, "call")
        where = resolve_json_where(names, OUTBOUND_FIELDS, where)
        shown = selector if isinstance(selector, str) else ", ".join(selector)
        rule = FaultRule(self, Matcher(names, where, shown), action, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def take_call(self, name: str, request: object) -> Fault | None:
        """The fault for this call, counting it as a hit; None when no rule applies."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if (
                    not rule.exhausted
                    and name in rule.matcher.routes
                    and rule.matcher.where_matches(request)
                ):
                    rule.hits += 1
                    assert isinstance(rule.action, Fault)
                    return rule.action
        return None


class Gate:
    """A held route: matching requests wait, undecided, until ``release()``. A context manager
    that releases on exit. ``arrived`` counts the requests that reached it."""

    def __init__(self, holds: Holds, matcher: Matcher) -> None:
        self._holds = holds
        self.matcher = matcher
        self.arrived = 0
        self._released = False
        self._cond = threading.Condition()

    @property
    def released(self) -> bool:
        return self._released

    def wait_arrived(self, timeout: float = 5.0, *, count: int = 1) -> None:
        """Block until ``count`` requests have reached the gate; TimeoutError after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.arrived < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{self.arrived} of {count} request(s) to {self.matcher.description} "
                        f"arrived within {timeout:g} s"
                    )
                self._cond.wait(left)

    def release(self) -> None:
        """Let every held request go on, and stop holding new ones."""
        with self._cond:
            self._released = True
            self._cond.notify_all()
        self._holds.remove(self)

    def _pass(self) -> None:
        with self._cond:
            self.arrived += 1
            self._cond.notify_all()
        self._holds.changed()
        with self._cond:
            while not self._released:
                self._cond.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._released else "holding"
        return f"<Gate {self.matcher.description}: {state}, {self.arrived} arrived>"


class Holds:
    """The open gates of one fake."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: list[Gate] = []
        self.listeners: list[Callable[[], None]] = []
        """Called when a request arrives at a gate and when a gate is released (the live
        page listens); quick, never blocking."""

    def changed(self) -> None:
        for listener in list(self.listeners):
            listener()

    def add(self, selector: Selector, where: Where) -> Gate:
        routes = resolve_routes(selector)
        where = resolve_where(routes, where)
        shown = selector if isinstance(selector, str) else ", ".join(selector)
        gate = Gate(self, Matcher(routes, where, shown))
        with self._lock:
            self._gates.append(gate)
        return gate

    def remove(self, gate: Gate) -> None:
        with self._lock:
            if gate in self._gates:
                self._gates.remove(gate)
        self.changed()

    def release_all(self) -> None:
        for gate in self.gates:
            gate.release()

    @property
    def gates(self) -> list[Gate]:
        with self._lock:
            return list(self._gates)

    def holding(self, route: Route, request: Message | None) -> bool:
        """Whether a request would be held now (it is not held by asking)."""
        if not self._gates:
            return False
        with self._lock:
            return any(g.matcher.matches(route, request) for g in self._gates)

    def wait(self, route: Route, request: Message | None) -> None:
        """Hold a matching request at its gate until the gate is released."""
        if not self._gates:
            return
        with self._lock:
            gate = next((g for g in self._gates if g.matcher.matches(route, request)), None)
        if gate is not None:
            gate._pass()
