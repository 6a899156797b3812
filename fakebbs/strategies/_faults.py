"""Fault schedules: which routes fail, with which BBS error or transport fault, how often;
applied to a fake in one call, and shrinking towards fewer and simpler faults."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import errors, faults
from fakebbs._control.controls import RAN_ANYWAY as _RAN_ANYWAY
from fakebbs._control.controls import FaultRule
from fakebbs._control.selectors import Selector, Where, resolve_routes
from fakebbs.errors import BBSError
from fakebbs.routes import ROUTES, ROUTES_BY_NAME
from fakebbs.strategies._answers import route_errors
from fakebbs.strategies._common import named, shown_as_call

__all__ = [
    "RAN_ANYWAY",
    "TRANSIENT_FAULTS",
    "TRANSPORT_FAULTS",
    "FaultSchedule",
    "FaultSpec",
    "Failable",
    "fault_schedules",
    "transport_faults",
]

TRANSPORT_FAULTS: tuple[str, ...] = (
    "not_found",
    "status",
    "router_error",
    "bad_body",
    "close_connection",
    "reset_connection",
    "truncated_body",
    "delay",
)
"""The request/response faults of ``fakebbs.faults`` by name, simplest first (a plain answer
before a broken connection before a slow one)."""

TRANSIENT_FAULTS: tuple[str, ...] = (
    "status",
    "router_error",
    "close_connection",
    "reset_connection",
    "delay",
)
"""Transport faults a retry survives: a 5xx or a router's unknown-route answer (the BBS is
restarting or failing over), a dropped connection, a slow answer."""

RAN_ANYWAY = _RAN_ANYWAY
"""Faults after which the fake has still run the request (a slow answer, an answer cut short,
a stream ended early): the state changed even though the client may not have seen it."""

_CURRENT_ROUTES: tuple[str, ...] = tuple(
    sorted(
        (r.name for r in ROUTES if r.status == "current" and not r.stream),
        key=lambda name: name == "Ping",  # the one route without an error field goes last
    )
)


class Failable(Protocol):
    """What a schedule is applied to: ``FakeBBS`` (its ``fail``)."""

    def fail(
        self,
        selector: Selector,
        action: BBSError | faults.Fault,
        *,
        times: int | None = None,
        where: Where = None,
    ) -> FaultRule: ...


@dataclass(frozen=True, repr=False)
class FaultSpec:
    """One ``fail`` call: ``selector``, ``action`` and ``times`` (None: every matching call)."""

    selector: str
    action: BBSError | faults.Fault
    times: int | None

    def apply(self, bbs: Failable) -> FaultRule:
        return bbs.fail(self.selector, self.action, times=self.times)

    @property
    def ran_anyway(self) -> bool:
        """Whether a request this fault hits is still run by the BBS (``delay``,
        ``truncated_body``, ``end_stream``): its changes happened, whatever the client saw. A
        BBS error or any other transport fault answers instead of running it."""
        return isinstance(self.action, faults.Fault) and self.action.kind in RAN_ANYWAY

    def __str__(self) -> str:
        action = (
            f"{type(self.action).__name__}()"
            if isinstance(self.action, BBSError)
            else str(self.action)
        )
        times = "always" if self.times is None else f"times={self.times}"
        return f"{self.selector}: {action}, {times}"

    __repr__ = __str__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis shows it in a failure report."""
        printer.text(str(self))


@dataclass(frozen=True, repr=False)
class FaultSchedule:
    """Fault rules to add to a fake together, in order (the first matching rule answers)."""

    specs: tuple[FaultSpec, ...]

    @classmethod
    def of(cls, specs: Sequence[FaultSpec]) -> FaultSchedule:
        return cls(tuple(specs))

    def apply(self, bbs: Failable) -> list[FaultRule]:
        """Add every rule to ``bbs`` (``FakeBBS.fail``) and return them."""
        return [spec.apply(bbs) for spec in self.specs]

    def __len__(self) -> int:
        return len(self.specs)

    def __str__(self) -> str:
        return "FaultSchedule(" + "; ".join(str(s) for s in self.specs) + ")"

    __repr__ = __str__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis shows it in a failure report."""
        printer.text(str(self))


@shown_as_call
def transport_faults(
    kinds: Iterable[str] = TRANSPORT_FAULTS, *, max_delay: float = 0.01
) -> SearchStrategy[faults.Fault]:
    """Transport faults of the given kinds (see ``TRANSPORT_FAULTS``), simplest first."""
    chosen = tuple(kinds)
    unknown = sorted(set(chosen) - set(TRANSPORT_FAULTS))
    if unknown:
        raise ValueError(f"unknown fault kinds {unknown}; choose from {TRANSPORT_FAULTS}")
    by_kind: dict[str, SearchStrategy[faults.Fault]] = {
        "not_found": st.just(faults.not_found()),
        "status": st.sampled_from([500, 502, 503, 504]).map(faults.status),
        "router_error": st.just(faults.router_error()),
        "bad_body": st.just(faults.bad_body()),
        "close_connection": st.just(faults.close_connection()),
        "reset_connection": st.just(faults.reset_connection()),
        "truncated_body": st.just(faults.truncated_body()),
        "delay": st.floats(0, max_delay).map(faults.delay),
    }
    return st.one_of([by_kind[k] for k in TRANSPORT_FAULTS if k in chosen])


@st.composite
def _specs(
    draw: st.DrawFn,
    selectors: SearchStrategy[str],
    actions: dict[str, SearchStrategy[BBSError | faults.Fault]],
    times: SearchStrategy[int | None],
) -> FaultSpec:
    selector = draw(selectors)
    return FaultSpec(selector, draw(actions[selector]), draw(times))


def _route_errors(selector: str) -> tuple[type[BBSError], ...]:
    """The errors every route of ``selector`` can answer, the most telling first
    (ResourceNotFound, then by type number)."""
    answers = [set(route_errors(name)) for name in sorted(resolve_routes(selector))]
    common = set.intersection(*answers) if answers else set()
    return tuple(sorted(common, key=lambda cls: (cls is not errors.ResourceNotFound, cls.type)))


def _actions(
    selector: str,
    errors_strategy: SearchStrategy[BBSError] | None,
    transport: SearchStrategy[faults.Fault],
) -> SearchStrategy[BBSError | faults.Fault]:
    if all(ROUTES_BY_NAME[name].stream for name in resolve_routes(selector)):
        return st.integers(0, 3).map(faults.end_stream)
    if errors_strategy is None:
        answers = _route_errors(selector)
        if not answers:
            return transport
        errors_strategy = st.sampled_from(answers).map(_instance)
    elif not _answers_with_errors(selector):
        return transport
    return st.one_of(errors_strategy, transport)


def _instance(cls: type[BBSError]) -> BBSError:
    return cls()


def _answers_with_errors(selector: str) -> bool:
    """Whether every route of ``selector`` answers a message with an ``error`` field."""
    from fakebbs import models

    routes = [ROUTES_BY_NAME[name] for name in resolve_routes(selector)]
    return all(
        r.response is not None and "error" in getattr(models, r.response).DESCRIPTOR.fields_by_name
        for r in routes
    )


_ONCE_TO_ALWAYS: SearchStrategy[int | None] = st.integers(1, 4).map(lambda n: None if n == 4 else n)
"""1..3 requests, or every one (None); shrinks towards 1."""

KINDS = ("any", "transient")


@shown_as_call
def fault_schedules(
    routes: Sequence[str] = _CURRENT_ROUTES,
    *,
    kinds: str = "any",
    errors: SearchStrategy[BBSError] | None = None,
    transport: SearchStrategy[faults.Fault] | None = None,
    times: SearchStrategy[int | None] | None = None,
    min_rules: int = 0,
    max_rules: int = 3,
) -> SearchStrategy[FaultSchedule]:
    """Schedules of ``min_rules`` to ``max_rules`` fault rules over ``routes`` (route names or
    selectors of ``FakeBBS.fail``; default: every current request/response route).

    Each rule answers with a BBS error the route can really answer (read from the fake's
    rules: ``DesireDesiredLRP`` ResourceExists, ``StartTask`` InvalidStateTransition or
    ResourceNotFound, never ActualLRPCannotBeStarted) or a transport fault (``transport``,
    default ``transport_faults()``) — an event stream selector gets ``end_stream`` instead —
    for ``times`` requests (default 1..3, or every request). ``errors`` replaces the route's
    own errors with a strategy of yours. Schedules shrink towards fewer rules, BBS errors
    before transport faults, and one hit.

    ``kinds="transient"`` draws only faults a retry survives (``TRANSIENT_FAULTS``, each for
    1..3 requests, never every one): no BBS error, nothing that ran anyway but ``delay``.
    Pass ``errors=st.nothing()`` or ``transport=st.nothing()`` to leave one family out. Each
    drawn ``FaultSpec`` says whether a request it hits still ran (``ran_anyway``).
    """
    if not routes:
        raise ValueError("fault_schedules needs at least one route")
    if kinds not in KINDS:
        raise ValueError(f"kinds must be one of {KINDS}, not {kinds!r}")
    for selector in routes:
        resolve_routes(selector)  # an unknown name fails here, with suggestions
    if kinds == "transient":
        transport_strategy = transport_faults(TRANSIENT_FAULTS) if transport is None else transport
        times_strategy = times if times is not None else st.integers(1, 3)
        actions: dict[str, SearchStrategy[BBSError | faults.Fault]] = {
            selector: (
                st.nothing()
                if all(ROUTES_BY_NAME[name].stream for name in resolve_routes(selector))
                else transport_strategy
            )
            for selector in routes
        }
        usable = tuple(selector for selector in routes if not actions[selector].is_empty)
        if not usable:
            raise ValueError("no transient fault fits an event stream: choose other routes")
        routes = usable
    else:
        transport_strategy = transport_faults() if transport is None else transport
        times_strategy = times if times is not None else _ONCE_TO_ALWAYS
        actions = {selector: _actions(selector, errors, transport_strategy) for selector in routes}
    spec = _specs(st.sampled_from(tuple(routes)), actions, times_strategy)
    schedules = st.lists(spec, min_size=min_rules, max_size=max_rules).map(FaultSchedule.of)
    shown = ", ".join(
        part
        for part in (
            "" if tuple(routes) == _CURRENT_ROUTES else f"{len(routes)} routes",
            "" if kinds == "any" else f"kinds={kinds!r}",
        )
        if part
    )
    return named(schedules, f"fault_schedules({shown})")
