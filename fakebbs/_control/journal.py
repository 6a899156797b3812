"""The call journals: every request the fake received, decoded, with what it answered; and
every call the fake made (or would have made) to reps and the auctioneer.

``FakeBBS.calls`` is a ``Journal``. Each request is recorded exactly once, when its answer is
decided (an event stream when it opens), including requests answered by a fault, refused as
undecodable, or sent to a path no route has. ``FakeBBS.rep_calls`` and
``FakeBBS.auctioneer_calls`` are ``OutboundJournal``s of ``OutboundCall``s, with the same
queries, assertions and waiting; their selectors are the client methods the BBS calls
(``StopLRPInstance``, ``RequestLRPAuctions``...) and ``where`` looks into the decoded JSON body.
A journal keeps the newest ``size`` calls (``DEFAULT_JOURNAL_SIZE``) holding at most
``max_bytes`` of messages and bodies between them (``DEFAULT_JOURNAL_BYTES``), and drops the
oldest; ``size=0`` or ``max_bytes=0`` turns it off (nothing is kept, every call counts as
dropped). Each call kept has a sequence number (``numbered``) that never repeats, not even
after ``clear``: a reader pages through a journal with them. ``reset`` clears it.
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

from fakebbs._control.controls import FaultRule
from fakebbs._control.selectors import (
    Matcher,
    Selector,
    Where,
    differences,
    resolve_json_where,
    resolve_names,
    resolve_routes,
    resolve_where,
)
from fakebbs._outbound.calls import AUCTIONEER_CALLS, OUTBOUND_FIELDS, REP_CALLS, OutboundCall
from fakebbs._rules.wire import Encoded
from fakebbs.errors import BBSError
from fakebbs.faults import Fault

__all__ = [
    "Call",
    "Journal",
    "new_call",
    "call_weight",
    "OutboundJournal",
    "DEFAULT_JOURNAL_BYTES",
    "DEFAULT_JOURNAL_SIZE",
]

DEFAULT_JOURNAL_SIZE = 10_000
"""Calls a journal keeps; older ones are dropped (``Journal.dropped`` counts them)."""

DEFAULT_JOURNAL_BYTES = 64 * 1024 * 1024
"""Bytes of requests, responses and bodies a journal keeps (as protobuf or as sent); older
calls are dropped. The newest call is kept whatever its size (a body is at most 64 MiB)."""

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
    arrived (``time.time()``); ``namespace`` the namespace it was made in ("" by default);
    ``fault_rule`` the ``fail`` rule that answered it (with its BBS error or transport fault),
    None when the fake's own rules did.
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
    fault_rule: FaultRule | None = field(default=None, compare=False)

    @property
    def ran_anyway(self) -> bool:
        """Whether the fake ran the request: answered by its own rules, or by a fault rule
        whose fault lets it run (``FaultRule.ran_anyway``)."""
        return self.fault_rule is None or self.fault_rule.ran_anyway

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


def new_call(
    route: str | None,
    path: str,
    method: str,
    request: Message | None,
    sent: Message | Encoded[Any] | None,
    error: BBSError | None,
    fault: Fault | None,
    trace_id: str,
    time: float,
    status: int,
    namespace: str,
    fault_rule: FaultRule | None,
) -> Call:
    """``Call(...)`` with every field given, made without the frozen dataclass's one
    ``object.__setattr__`` per field (that was a tenth of a ping's time in the app): the
    same frozen ``Call``, its fields set at once."""
    call: Call = object.__new__(Call)
    call.__dict__.update(
        route=route,
        path=path,
        method=method,
        request=request,
        sent=sent,
        error=error,
        fault=fault,
        trace_id=trace_id,
        time=time,
        status=status,
        namespace=namespace,
        fault_rule=fault_rule,
    )
    return call


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

    def __init__(
        self, size: int = DEFAULT_JOURNAL_SIZE, max_bytes: int = DEFAULT_JOURNAL_BYTES
    ) -> None:
        if size < 0:
            raise ValueError(f"a journal keeps 0 calls (off) or more, got size={size}")
        if max_bytes < 0:
            raise ValueError(f"a journal keeps 0 bytes (off) or more, got max_bytes={max_bytes}")
        self.size = size
        self.max_bytes = max_bytes
        self._calls: deque[E] = deque()
        self._weights: deque[int] = deque()
        self._bytes = 0
        self._first = 1  # the sequence number of _calls[0]: the first call is number 1
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified only while someone waits
        self._waiting = 0
        self.dropped = 0
        """Calls dropped because the journal was full or off (since the last ``clear``)."""
        self.listeners: list[Callable[[], None]] = []
        """Called after each call is recorded and after a ``clear`` (the live page listens);
        they must be quick and never block."""

    @property
    def enabled(self) -> bool:
        """Whether the journal keeps calls at all (``size`` and ``max_bytes`` above 0)."""
        return self.size > 0 and self.max_bytes > 0

    def _matcher(self, selector: Selector, where: Where) -> Matcher:
        """The selector and ``where`` resolved against this journal's names."""
        routes = resolve_routes(selector)
        return _matcher(selector, routes, resolve_where(routes, where))

    def record(self, call: E, weight: int | None = None) -> None:
        """Keep ``call`` (``weight``: its ``_weight``, when the caller knows it already)."""
        size, max_bytes = self.size, self.max_bytes
        if size <= 0 or max_bytes <= 0:  # off (``enabled``)
            with self._lock:
                self.dropped += 1
                self._first += 1
            return
        if weight is None:
            weight = _weight(call)
        calls, weights = self._calls, self._weights
        with self._lock:  # the condition's own lock, taken without its Python-level wrapper
            calls.append(call)
            weights.append(weight)
            held = self._bytes + weight
            if len(calls) > size or held > max_bytes:
                dropped = 0
                while len(calls) > 1 and (len(calls) > size or held > max_bytes):
                    calls.popleft()
                    held -= weights.popleft()
                    dropped += 1
                self._first += dropped
                self.dropped += dropped
            self._bytes = held
            if self._waiting:
                self._changed.notify_all()
        if self.listeners:
            self._notify()

    def clear(self) -> None:
        with self._changed:
            self._first += len(self._calls)
            self._calls.clear()
            self._weights.clear()
            self._bytes = 0
            self.dropped = 0
        self._notify()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener()

    @property
    def latest(self) -> int:
        """The number of the newest call recorded (0 before the first), kept or not."""
        with self._changed:
            return self._first + len(self._calls) - 1

    @property
    def bytes(self) -> int:
        """What the calls kept weigh, as counted against ``max_bytes``."""
        with self._changed:
            return self._bytes

    # -- reading ---------------------------------------------------------------------------

    def _snapshot(self) -> list[E]:
        with self._changed:
            return list(self._calls)

    def numbered(
        self, selector: Selector | None = None, *, where: Where = None
    ) -> list[tuple[int, E]]:
        """The calls kept (to the selected routes, matching ``where``), oldest first, each with
        its sequence number: numbers grow by one per call recorded and never come back, so
        ``after`` a number a reader has seen are exactly the calls it has not."""
        matcher = None if selector is None else self._matcher(selector, where)
        with self._changed:
            first, calls = self._first, list(self._calls)
        numbered = zip(range(first, first + len(calls)), calls, strict=True)
        if matcher is None:
            return list(numbered)
        return [(n, call) for n, call in numbered if _matches(matcher, call)]

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
                self._waiting += 1
                try:
                    self._changed.wait(left)
                finally:
                    self._waiting -= 1
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

    def __init__(
        self,
        names: tuple[str, ...],
        size: int = DEFAULT_JOURNAL_SIZE,
        max_bytes: int = DEFAULT_JOURNAL_BYTES,
    ) -> None:
        super().__init__(size, max_bytes)
        self.names = names

    @classmethod
    def for_reps(
        cls, size: int = DEFAULT_JOURNAL_SIZE, max_bytes: int = DEFAULT_JOURNAL_BYTES
    ) -> OutboundJournal:
        return cls(REP_CALLS, size, max_bytes)

    @classmethod
    def for_auctioneer(
        cls, size: int = DEFAULT_JOURNAL_SIZE, max_bytes: int = DEFAULT_JOURNAL_BYTES
    ) -> OutboundJournal:
        return cls(AUCTIONEER_CALLS, size, max_bytes)

    def _matcher(self, selector: Selector, where: Where) -> Matcher:
        names = resolve_names(selector, self.names, "call")
        return _matcher(selector, names, resolve_json_where(names, OUTBOUND_FIELDS, where))


_OVERHEAD = 512  # what a call costs besides its messages and bodies: the record, its strings


def _weight(call: Entry) -> int:
    """About what keeping ``call`` costs: its request, its response and bodies as serialized
    (the decoded messages take a small multiple of that), plus a fixed overhead."""
    if isinstance(call, Call):
        sent = call.sent
        if isinstance(sent, Encoded):
            size = len(sent.data)
        else:
            size = 0 if sent is None else sent.ByteSize()
        return call_weight(call, size)
    if isinstance(call, OutboundCall):
        return _OVERHEAD + 2 * len(call.body) + len(call.url)
    return _OVERHEAD


def call_weight(call: Call, sent_size: int) -> int:
    """``_weight(call)`` for a call whose response was serialized to ``sent_size`` bytes (what
    its ``ByteSize()`` is, which serializes it again)."""
    request = call.request
    return _OVERHEAD + (0 if request is None else request.ByteSize()) + sent_size + len(call.path)


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
