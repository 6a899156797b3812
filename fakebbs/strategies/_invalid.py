"""Invalid variants: one per validation rule of desired LRPs and tasks, each breaking exactly
that rule of an otherwise valid request, with the InvalidRequest text the BBS answers.

The rules themselves are tables in ``_invalid_rules`` (one row per upstream rule), built from
the breakers of ``_breakers``; this module turns them into the public strategies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs.routes import ROUTES_BY_NAME
from fakebbs.strategies._breakers import broken_actions
from fakebbs.strategies._breakers import invalid_field as _field
from fakebbs.strategies._common import shown_as_call
from fakebbs.strategies._desired import desired_lrps
from fakebbs.strategies._invalid_rules import actual_lrp_rules, lrp_rules, task_rules
from fakebbs.strategies._messages import requests
from fakebbs.strategies._tasks import desire_task_requests

__all__ = [
    "DESIRED_LRP_RULES",
    "LRP_REQUEST_RULES",
    "TASK_RULES",
    "InvalidRequestCase",
    "broken_actions",
    "invalid_desired_lrp_requests",
    "invalid_lrp_requests",
    "invalid_task_requests",
    "typed_client_can_send",
]


@dataclass(frozen=True)
class InvalidRequestCase:
    """A request that breaks one validation ``rule``: send ``request`` to the route named
    ``route`` and the BBS answers ``InvalidRequest`` with the message ``error``.

    ``field`` is the broken field (by default the first one ``error`` names).
    ``client_can_send`` is False when ``BBSClient``'s typed methods cannot send the request,
    because the field left out is one they always set (``desired_lrp_missing``:
    ``desire_lrp`` takes a DesiredLRP); send those with ``BBSClient.call(case.route,
    case.request)``.
    """

    rule: str
    route: str
    request: Message
    error: str
    field: str = ""
    client_can_send: bool = True

    def __post_init__(self) -> None:
        if not self.field:
            first = self.error.split(", ", 1)[0]
            if first.startswith("Invalid field: "):
                name = first.removeprefix("Invalid field: ")
            else:  # "process_guids must not be empty"
                name = first.split(" ", 1)[0]
            object.__setattr__(self, "field", name)
        if self.client_can_send and not typed_client_can_send(self.rule):
            object.__setattr__(self, "client_can_send", False)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis shows a case: the rule and the broken field first."""
        fields: dict[str, object] = {"rule": self.rule, "field": self.field, "route": self.route}
        if not self.client_can_send:
            fields["client_can_send"] = False
        fields["error"] = self.error
        fields["request"] = self.request
        printer.repr_call("InvalidRequestCase", [], fields)


def typed_client_can_send(rule: str) -> bool:
    """Whether ``BBSClient``'s typed methods can send a request breaking ``rule``: not when
    the rule leaves out a request's own message field (``desired_lrp_missing``,
    ``task_definition_missing``, ``ClaimActualLRP_instance_key_missing``...), which the
    typed method takes as a required argument and always sets."""
    if rule in ("desired_lrp_missing", "task_definition_missing"):
        return False
    route, _, rest = rule.partition("_")
    return not (route in ROUTES_BY_NAME and rest.endswith("_missing"))


DESIRED_LRP_RULES: tuple[str, ...] = ("desired_lrp_missing", *lrp_rules())
"""The names of the desired LRP rules ``invalid_desired_lrp_requests`` breaks, one each."""


TASK_RULES: tuple[str, ...] = tuple(task_rules())
"""The names of the task rules ``invalid_task_requests`` breaks, one each."""


LRP_REQUEST_RULES: tuple[str, ...] = tuple(actual_lrp_rules())
"""The names of the other LRP request rules ``invalid_lrp_requests`` breaks: the desired LRP
update (§5.3), and the required fields of the LRP queries, lifecycle and evacuation routes."""


def _chosen(rules: Iterable[str] | str | None, known: tuple[str, ...]) -> tuple[str, ...]:
    chosen = known if rules is None else (rules,) if isinstance(rules, str) else tuple(rules)
    unknown = sorted(set(chosen) - set(known))
    if unknown or not chosen:
        raise ValueError(f"unknown rules {unknown}; choose from {known}")
    return chosen


@shown_as_call
def invalid_desired_lrp_requests(
    rules: Iterable[str] | str | None = None, **narrowing: Any
) -> SearchStrategy[InvalidRequestCase]:
    """DesireLRPRequests for ``desire.r2`` that each break one rule of ``DESIRED_LRP_RULES``
    (default: any), with the InvalidRequest text the BBS answers. ``narrowing`` goes to
    ``desired_lrps`` for the valid LRP that is broken."""
    chosen = _chosen(rules, DESIRED_LRP_RULES)
    breakers = lrp_rules()
    lrps = desired_lrps(**narrowing)  # built once for every rule

    def case(rule: str) -> SearchStrategy[InvalidRequestCase]:
        if rule == "desired_lrp_missing":
            return st.just(
                InvalidRequestCase(
                    rule,
                    "DesireDesiredLRP",
                    models.DesireLRPRequest(),
                    _field("desired_lrp"),
                )
            )
        return lrps.flatmap(breakers[rule]).map(
            lambda pair: InvalidRequestCase(
                rule, "DesireDesiredLRP", models.DesireLRPRequest(desired_lrp=pair[0]), pair[1]
            )
        )

    cases = {rule: case(rule) for rule in chosen}  # built once, not on every draw
    return st.sampled_from(chosen).flatmap(cases.__getitem__)


@shown_as_call
def invalid_task_requests(
    rules: Iterable[str] | str | None = None,
) -> SearchStrategy[InvalidRequestCase]:
    """Task requests that each break one rule of ``TASK_RULES`` (default: any), with the
    route to send them to and the InvalidRequest text the BBS answers."""
    chosen = _chosen(rules, TASK_RULES)
    table = task_rules()

    desires = desire_task_requests()

    def case(rule: str) -> SearchStrategy[InvalidRequestCase]:
        route, breaker = table[rule]
        base = desires if route == "DesireTask" else requests(route)
        return base.flatmap(breaker).map(
            lambda pair: InvalidRequestCase(rule, route, pair[0], pair[1])
        )

    cases = {rule: case(rule) for rule in chosen}  # built once, not on every draw
    return st.sampled_from(chosen).flatmap(cases.__getitem__)


@shown_as_call
def invalid_lrp_requests(
    rules: Iterable[str] | str | None = None,
) -> SearchStrategy[InvalidRequestCase]:
    """LRP requests other than desire that each break one rule of ``LRP_REQUEST_RULES``
    (default: any), with the route to send them to and the InvalidRequest text."""
    chosen = _chosen(rules, LRP_REQUEST_RULES)
    table = actual_lrp_rules()

    def case(rule: str) -> SearchStrategy[InvalidRequestCase]:
        route, breaker = table[rule]
        return (
            requests(route)
            .flatmap(breaker)
            .map(lambda pair: InvalidRequestCase(rule, route, pair[0], pair[1]))
        )

    cases = {rule: case(rule) for rule in chosen}  # built once, not on every draw
    return st.sampled_from(chosen).flatmap(cases.__getitem__)
