"""Fault schedules: which routes fail, with which BBS error or transport fault, how often;
applied to a fake in one call, and shrinking towards fewer and simpler faults."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import faults
from fakebbs._controls import FaultRule
from fakebbs._selectors import Selector, Where, resolve_routes
from fakebbs.errors import BBSError
from fakebbs.routes import ROUTES, ROUTES_BY_NAME
from fakebbs.strategies._messages import bbs_errors

__all__ = [
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


def _answers_with_errors(selector: str) -> bool:
    """Whether every route of ``selector`` answers a message with an ``error`` field."""
    from fakebbs import models

    routes = [ROUTES_BY_NAME[name] for name in resolve_routes(selector)]
    return all(
        r.response is not None and "error" in getattr(models, r.response).DESCRIPTOR.fields_by_name
        for r in routes
    )


@st.composite
def _specs(
    draw: st.DrawFn,
    routes: tuple[str, ...],
    errors: SearchStrategy[BBSError],
    transport: SearchStrategy[faults.Fault],
    times: SearchStrategy[int | None],
) -> FaultSpec:
    selector = draw(st.sampled_from(routes))
    streams = [ROUTES_BY_NAME[name].stream for name in resolve_routes(selector)]
    action: BBSError | faults.Fault
    if all(streams):
        action = faults.end_stream(draw(st.integers(0, 3)))
    elif (
        _answers_with_errors(selector) and draw(st.sampled_from(["error", "transport"])) == "error"
    ):
        action = draw(errors)
    else:
        action = draw(transport)
    return FaultSpec(selector, action, draw(times))


_ONCE_TO_ALWAYS: SearchStrategy[int | None] = st.integers(1, 4).map(lambda n: None if n == 4 else n)
"""1..3 requests, or every one (None); shrinks towards 1."""


def fault_schedules(
    routes: Sequence[str] = _CURRENT_ROUTES,
    *,
    errors: SearchStrategy[BBSError] | None = None,
    transport: SearchStrategy[faults.Fault] | None = None,
    times: SearchStrategy[int | None] | None = None,
    min_rules: int = 0,
    max_rules: int = 3,
) -> SearchStrategy[FaultSchedule]:
    """Schedules of ``min_rules`` to ``max_rules`` fault rules over ``routes`` (route names or
    selectors of ``FakeBBS.fail``; default: every current request/response route).

    Each rule answers with a BBS error (``errors``, default ``bbs_errors()``) or a transport
    fault (``transport``, default ``transport_faults()``) — an event stream selector gets
    ``end_stream`` instead — for ``times`` requests (default 1..3, or every request).
    Schedules shrink towards fewer rules, BBS errors before transport faults, and one hit.
    Pass ``errors=st.nothing()`` or ``transport=st.nothing()`` to leave one family out.
    """
    if not routes:
        raise ValueError("fault_schedules needs at least one route")
    for selector in routes:
        resolve_routes(selector)  # an unknown name fails here, with suggestions
    error_strategy = bbs_errors() if errors is None else errors
    transport_strategy = transport_faults() if transport is None else transport
    times_strategy = times if times is not None else _ONCE_TO_ALWAYS
    spec = _specs(tuple(routes), error_strategy, transport_strategy, times_strategy)
    return st.lists(spec, min_size=min_rules, max_size=max_rules).map(
        lambda specs: FaultSchedule(tuple(specs))
    )
