"""The call journals: every request the fake received, decoded, with what it answered; and
every call the fake made (or would have made) to reps and the auctioneer.

``FakeBBS.calls`` is a ``Journal``. Each request is recorded exactly once, when its answer is
decided (an event stream when it opens), including requests answered by a fault, refused as
undecodable, or sent to a path no route has. ``FakeBBS.rep_calls`` and
``FakeBBS.auctioneer_calls`` are ``OutboundJournal``s of ``OutboundCall``s, with the same
queries, assertions and waiting; their selectors are the client methods the BBS calls
(``StopLRPInstance``, ``RequestLRPAuctions``...) and ``where`` looks into the decoded JSON body.
A journal keeps the newest ``size`` calls (``DEFAULT_JOURNAL_SIZE``) and drops the oldest;
``reset`` clears it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, Protocol, TypeVar, overload

from google.protobuf import text_format
from google.protobuf.message import Message

from fakebbs._encoded import Encoded
from fakebbs._outbound import AUCTIONEER_CALLS, OUTBOUND_FIELDS, REP_CALLS, OutboundCall
from fakebbs._selectors import (
    Matcher,
    Selector,
    Where,
    differences,
    resolve_json_where,
    resolve_names,
    resolve_routes,
    resolve_where,
)
from fakebbs.errors import BBSError
from fakebbs.faults import Fault

__all__ = ["Call", "Journal", "OutboundJournal", "DEFAULT_JOURNAL_SIZE"]

DEFAULT_JOURNAL_SIZE = 10_000
"""Calls a journal keeps; older ones are dropped (``Journal.dropped`` counts them)."""

_SHOWN = 300  # characters of a message shown in a report


@dataclass(frozen=True)
class Call:
    """One request and its answer.

    ``route`` is the route name (None for a path no route has); ``request`` the decoded request
    message (None for a route without a body, or a body that did not decode); ``response`` the
    response message sent (None for a fault, a stream or a plain-text answer), made from
    ``sent`` (a list answer is sent as joined bytes and decoded only when read); ``error`` the
    BBS error inside it, if any; ``fault`` the transport fault applied, if any; ``status`` the
    HTTP status answered (0: no answer, the connection was closed or reset); ``time`` when it
    arrived (``time.time()``); ``namespace`` the namespace it was made in ("" by default).
    """

    route: str | None
    path: str
    method: str
    request: Message | None
    sent: Message | Encoded[Any] | None = field(repr=False)
    error: BBSError | None
    fault: Fault | None
    trace_id: str
    time: float
    status: int
    namespace: str = ""

    def describe(self) -> str:
        """One line: the route, the request in protobuf text format, and the outcome."""
        name = self.route or f"(no route) {self.method} {self.path}"
        request = "" if self.request is None else f" {{{_text(self.request)}}}"
        if self.fault is not None:
            outcome = f"fault {self.fault}"
        elif self.error is not None:
            outcome = f"error {self.error.type_name}: {self.error.message}"
        else:
            outcome = f"status {self.status}"
        return f"{name}{request} -> {outcome}"

    @cached_property
    def response(self) -> Message | None:
        return self.sent.message() if isinstance(self.sent, Encoded) else self.sent


def _text(message: Message) -> str:
    text = text_format.MessageToString(message, as_one_line=True)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


class Entry(Protocol):
    """What a journal records: a named call with a decoded request, that can describe
    itself."""

    @property
    def route(self) -> str | None: ...

    @property
    def request(self) -> Any: ...

    def describe(self) -> str: ...


E = TypeVar("E", bound=Entry)


class _Journal(Generic[E]):
    """Recorded calls, oldest first, with queries, assertions and waiting.

    Thread-safe: the fake records from its server threads while a test reads. ``wait_for``
    blocks on a condition the recorder notifies; it never polls.
    """

    def __init__(self, size: int = DEFAULT_JOURNAL_SIZE) -> None:
        if size < 1:
            raise ValueError(f"a journal keeps at least one call, got size={size}")
        self.size = size
        self._calls: deque[E] = deque(maxlen=size)
        self._changed = threading.Condition()
        self.dropped = 0
        """Calls dropped because the journal was full (since the last ``clear``)."""
        self.listeners: list[Callable[[], None]] = []
        """Called after each call is recorded and after a ``clear`` (the live page listens);
        they must be quick and never block."""

    def _matcher(self, selector: Selector, where: Where) -> Matcher:
        """The selector and ``where`` resolved against this journal's names."""
        routes = resolve_routes(selector)
        return _matcher(selector, routes, resolve_where(routes, where))

    def record(self, call: E) -> None:
        with self._changed:
            if len(self._calls) == self.size:
                self.dropped += 1
            self._calls.append(call)
            self._changed.notify_all()
        self._notify()

    def clear(self) -> None:
        with self._changed:
            self._calls.clear()
            self.dropped = 0
        self._notify()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener()

    # -- reading ---------------------------------------------------------------------------

    def _snapshot(self) -> list[E]:
        with self._changed:
            return list(self._calls)

    def __len__(self) -> int:
        with self._changed:
            return len(self._calls)

    def __iter__(self) -> Iterator[E]:
        return iter(self._snapshot())

    @overload
    def __getitem__(self, index: int) -> E: ...
    @overload
    def __getitem__(self, index: slice) -> list[E]: ...
    def __getitem__(self, index: int | slice) -> E | list[E]:
        return self._snapshot()[index]

    @property
    def last(self) -> E:
        """The newest call; IndexError when there is none."""
        with self._changed:
            if not self._calls:
                raise IndexError("no call has been recorded")
            return self._calls[-1]

    def to(self, selector: Selector, *, where: Where = None) -> list[E]:
        """The calls to the selected routes (matching ``where``), oldest first."""
        matcher = self._matcher(selector, where)
        return [c for c in self._snapshot() if _matches(matcher, c)]

    # -- assertions ------------------------------------------------------------------------

    def assert_called(
        self, selector: Selector, *, times: int | None = None, where: Where = None
    ) -> list[E]:
        """Fail unless the selected routes were called (exactly ``times`` times, if given);
        returns the matching calls. The failure lists the near misses."""
        matcher = self._matcher(selector, where)
        calls = self._snapshot()
        matching = [c for c in calls if _matches(matcher, c)]
        if (times is None and matching) or (times is not None and len(matching) == times):
            return matching
        wanted = "at least once" if times is None else f"{times} time{'s' * (times != 1)}"
        raise AssertionError(
            _report(f"expected {matcher.description} to be called {wanted}", matcher, calls)
        )

    def assert_not_called(self, selector: Selector, *, where: Where = None) -> None:
        """Fail if any selected route was called (matching ``where``)."""
        matcher = self._matcher(selector, where)
        calls = self._snapshot()
        matching = [c for c in calls if _matches(matcher, c)]
        if matching:
            lines = "\n".join(f"  {c.describe()}" for c in matching)
            raise AssertionError(
                f"expected {matcher.description} not to be called; "
                f"{len(matching)} matching call(s):\n{lines}"
            )

    def wait_for(self, selector: Selector, *, timeout: float = 5.0, where: Where = None) -> E:
        """The first matching call, waiting up to ``timeout`` seconds for it to arrive; an
        AssertionError with the near misses after the timeout."""
        matcher = self._matcher(selector, where)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                calls = list(self._calls)
                for call in calls:
                    if _matches(matcher, call):
                        return call
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
        raise AssertionError(
            _report(
                f"timed out after {timeout:g} s waiting for {matcher.description}", matcher, calls
            )
        )


class Journal(_Journal[Call]):
    """The requests the fake received (``FakeBBS.calls``); selectors are BBS route names."""


class OutboundJournal(_Journal[OutboundCall]):
    """The calls the fake made, or would have made, to reps or to the auctioneer
    (``FakeBBS.rep_calls``, ``FakeBBS.auctioneer_calls``); selectors are the client methods
    the BBS calls, ``where`` paths look into the decoded body (see ``OUTBOUND_FIELDS``)."""

    def __init__(self, names: tuple[str, ...], size: int = DEFAULT_JOURNAL_SIZE) -> None:
        super().__init__(size)
        self.names = names

    @classmethod
    def for_reps(cls, size: int = DEFAULT_JOURNAL_SIZE) -> OutboundJournal:
        return cls(REP_CALLS, size)

    @classmethod
    def for_auctioneer(cls, size: int = DEFAULT_JOURNAL_SIZE) -> OutboundJournal:
        return cls(AUCTIONEER_CALLS, size)

    def _matcher(self, selector: Selector, where: Where) -> Matcher:
        names = resolve_names(selector, self.names, "call")
        return _matcher(selector, names, resolve_json_where(names, OUTBOUND_FIELDS, where))


def _matcher(selector: Selector, routes: frozenset[str], where: Where) -> Matcher:
    shown = selector if isinstance(selector, str) else ", ".join(selector)
    description = shown if where is None else f"{shown} where {_where_text(where)}"
    return Matcher(routes, where, description)


def _where_text(where: Any) -> str:
    if callable(where):
        return getattr(where, "__name__", repr(where))
    return "{" + ", ".join(f"{path}={value!r}" for path, value in where.items()) + "}"


def _matches(matcher: Matcher, call: Entry) -> bool:
    if call.route is None or call.route not in matcher.routes:
        return False
    return matcher.where_matches(call.request)


def _report(headline: str, matcher: Matcher, calls: Sequence[Entry]) -> str:
    """The failure text: what was expected, what matched, the near misses (same route, other
    fields), and otherwise every call made."""
    matching = [c for c in calls if _matches(matcher, c)]
    lines = [headline, f"matching calls: {len(matching)}"]
    lines += [f"  {c.describe()}" for c in matching]
    near = [c for c in calls if c.route in matcher.routes and not _matches(matcher, c)]
    if near:
        lines.append("near misses (same route, other fields):")
        for call in near:
            lines.append(f"  {call.describe()}")
            where = matcher.where
            if isinstance(where, dict) and call.request is not None:
                for path, expected, got in differences(where, call.request):
                    lines.append(f"      {path}: expected {expected!r}, got {got!r}")
    elif not matching:
        lines.append(f"calls recorded ({len(calls)}):" if calls else "no calls were recorded")
        lines += [f"  {c.describe()}" for c in calls[-20:]]
        if len(calls) > 20:
            lines.insert(-20, f"  ... {len(calls) - 20} earlier call(s) not shown")
    return "\n".join(lines)
