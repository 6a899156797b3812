"""The admin API's JSON: request bodies read and checked, models and records written.

Shared by the admin endpoints (``fakebbs._standalone.admin``), the live page's paged views
(``admin_views``) and the simulated Diego's endpoints (``diego_admin``), which build on it and
not on each other. A bad request is an ``AdminError``, answered ``{"error": "what is wrong"}``.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from werkzeug.wrappers import Request, Response

from fakebbs import errors, faults
from fakebbs._control import json_input as json_input
from fakebbs._control.controls import FaultRule, Gate
from fakebbs._control.journal import Call, Journal, OutboundJournal
from fakebbs._control.selectors import UnknownRoute
from fakebbs._outbound.calls import OutboundCall
from fakebbs._standalone.namespace import Namespace
from fakebbs.clock import Clock
from fakebbs.errors import BBSError
from fakebbs.faults import Fault

__all__ = [
    "MAX_WAIT_SECONDS",
    "AdminError",
    "action_json",
    "call_json",
    "checked",
    "clock_json",
    "find_gate",
    "find_snapshot",
    "from_json",
    "gate_json",
    "iso_time",
    "journal_page",
    "json_response",
    "made_journal",
    "made_json",
    "read_bbs_error",
    "read_body",
    "read_fault",
    "read_fields",
    "read_selector",
    "read_timeout",
    "read_where",
    "read_whole",
    "readable_paths",
    "rule_json",
    "snapshot_counts",
    "to_json",
]

MAX_WAIT_SECONDS = 300.0
"""The longest a single wait request may block (journal and hold waits)."""


class AdminError(Exception):
    """A bad admin request: answered ``status`` with ``{"error": message}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# protobuf 5.26 renamed the option that prints fields holding their default value.
_WITH_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"always_print_fields_with_no_presence": True}
    if "always_print_fields_with_no_presence"
    in inspect.signature(json_format.MessageToDict).parameters
    else {"including_default_value_fields": True}
)


def to_json(message: Message) -> dict[str, Any]:
    """A model in protobuf's JSON mapping, with the ``.proto`` field names, and fields that
    hold their default value printed too (``index: 0`` is an index, not a missing one)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True, **_WITH_DEFAULTS)


def from_json(value: Any, message_type: type[Message], what: str) -> Message:
    """Parse ``value`` (a JSON object) as a ``message_type``; an AdminError naming ``what``."""
    if not isinstance(value, dict):
        raise AdminError(f"{what}: expected a JSON object, got {json.dumps(value)}")
    try:
        return json_format.ParseDict(value, message_type())
    except json_format.ParseError as exc:
        raise AdminError(f"{what}: {exc}") from None


# -- request bodies ----------------------------------------------------------------------------


def read_body(request: Request, *, required: bool = False) -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise AdminError("this endpoint needs a JSON body")
        return {}
    try:
        return json_input.loads(raw)
    except json_input.JSONInputError as exc:
        raise AdminError(f"the body: {exc}") from None


def read_fields(
    request: Request, allowed: set[str], *, required: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The JSON object body, checked: only ``allowed`` keys, every ``required`` one."""
    body = read_body(request, required=bool(required))
    if not isinstance(body, dict):
        raise AdminError(f"the body must be a JSON object, got {json.dumps(body)[:80]}")
    unknown = sorted(set(body) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise AdminError(f"unknown field(s) {', '.join(unknown)} (this endpoint takes: {known})")
    missing = sorted(required - set(body))
    if missing:
        raise AdminError(f"missing field(s): {', '.join(missing)}")
    return body


def read_selector(value: Any) -> str | list[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise AdminError(f"route: expected a route name or a list of them, got {json.dumps(value)}")


def read_where(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AdminError(f"where: expected an object of dotted paths to values, got {value!r}")
    return value


def read_timeout(value: Any) -> float:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not 0 <= value <= MAX_WAIT_SECONDS
    ):
        raise AdminError(f"timeout: expected seconds between 0 and {MAX_WAIT_SECONDS:g}")
    return float(value)


T = TypeVar("T")


def checked(action: Callable[[], T]) -> T:
    """Run a fixture API call; its ValueError/TypeError (a bad selector, where or action) is
    the admin request's fault."""
    try:
        return action()
    except UnknownRoute as exc:
        raise AdminError(exc.saying("GET /fakebbs/v1/routes lists them")) from None
    except (ValueError, TypeError) as exc:
        raise AdminError(str(exc)) from None


def read_bbs_error(value: Any) -> BBSError:
    """``{"type": "ResourceConflict" or 11, "message": "..."}`` as a BBS error."""
    if not isinstance(value, dict):
        raise AdminError(f"error: expected an object with type and message, got {value!r}")
    unknown = sorted(set(value) - {"type", "message"})
    if unknown:
        raise AdminError(f"error: unknown field(s) {', '.join(unknown)} (it takes type, message)")
    kind, message = value.get("type"), value.get("message")
    if message is not None and not isinstance(message, str):
        raise AdminError(f"error.message: expected a string, got {message!r}")
    if isinstance(kind, int) and not isinstance(kind, bool) and kind >= 0:
        return errors.from_type(kind, message)
    if isinstance(kind, str):
        cls = getattr(errors, kind, None)
        if isinstance(cls, type) and issubclass(cls, BBSError) and cls is not BBSError:
            return cls(message)
        names = sorted(n for n in errors.__all__ if n[0].isupper() and n != "BBSError")
        raise AdminError(f"error.type: no BBS error type {kind!r} (one of {', '.join(names)})")
    raise AdminError(f"error.type: expected a BBS error type name or number, got {kind!r}")


_FAULT_PARAMETERS: Mapping[
    str, tuple[Callable[..., Fault], Mapping[str, type | tuple[type, ...]]]
] = MappingProxyType(
    {
        "delay": (faults.delay, {"seconds": (int, float)}),
        "close_connection": (faults.close_connection, {}),
        "reset_connection": (faults.reset_connection, {}),
        "truncated_body": (faults.truncated_body, {}),
        "bad_body": (faults.bad_body, {}),
        "status": (faults.status, {"code": int, "body": str, "headers": dict}),
        "not_found": (faults.not_found, {}),
        "router_error": (faults.router_error, {"message": str}),
        "end_stream": (faults.end_stream, {"after": int}),
    }
)


def read_fault(value: Any) -> Fault:
    """``{"kind": "delay", "seconds": 0.2}`` and the like, as a ``fakebbs.faults`` fault."""
    if not isinstance(value, dict):
        raise AdminError(f"fault: expected an object with a kind, got {value!r}")
    params = dict(value)
    kind = params.pop("kind", None)
    entry = _FAULT_PARAMETERS.get(kind) if isinstance(kind, str) else None
    if entry is None:
        raise AdminError(
            f"fault.kind: expected one of {', '.join(_FAULT_PARAMETERS)}, got {kind!r}"
        )
    make, types = entry
    for name, given in params.items():
        if name not in types:
            takes = ", ".join(types) or "no parameters"
            raise AdminError(f"fault {kind}: unknown parameter {name!r} (it takes {takes})")
        if not isinstance(given, types[name]) or isinstance(given, bool):
            raise AdminError(f"fault {kind}: {name} has the wrong type: {given!r}")
    if kind == "status":
        if "code" not in params:
            raise AdminError("fault status: code is required")
        code = params.pop("code")
        return checked(lambda: faults.status(code, **params))
    return checked(lambda: make(**params))


def find_gate(ns: Namespace, gate_id: str) -> Gate:
    gate = ns.live_gates().get(gate_id)
    if gate is None:
        raise AdminError(f"no held route {gate_id!r} in this namespace (released?)", 404)
    return gate


def find_snapshot(ns: Namespace, name: str) -> Any:
    with ns.lock:
        snapshot = ns.snapshots.get(name)
        names = ", ".join(sorted(ns.snapshots)) or "none"
    if snapshot is None:
        raise AdminError(f"no snapshot named {name!r} in this namespace (there are: {names})", 404)
    return snapshot


# -- answers -----------------------------------------------------------------------------------


def json_response(status: int, value: Any) -> Response:
    return Response(json.dumps(value, indent=1) + "\n", status, content_type="application/json")


def snapshot_counts(snapshot: Any) -> dict[str, int]:
    return {
        "desired_lrps": len(snapshot.desired_lrps),
        "actual_lrps": len(snapshot.actual_lrps),
        "tasks": len(snapshot.tasks),
        "domains": len(snapshot.domains),
        "cells": len(snapshot.cells),
    }


def action_json(action: BBSError | Fault) -> dict[str, Any]:
    """An action as ``POST /faults`` takes it: a fault as its kind and parameters."""
    if isinstance(action, BBSError):
        return {"error": {"type": action.type_name, "message": action.message}}
    fault: dict[str, Any] = {"kind": action.kind}
    if action.kind == "delay":
        fault["seconds"] = action.seconds
    elif action.kind == "end_stream":
        fault["after"] = action.after
    elif action.kind == "status":
        fault["code"] = action.status
        if action.body:
            fault["body"] = action.body
        if action.headers:
            fault["headers"] = dict(action.headers)
    return {"fault": fault}


def rule_json(rule_id: str, rule: FaultRule) -> dict[str, Any]:
    shown = rule.matcher.description
    return {
        "id": rule_id,
        "route": shown.split(", ") if ", " in shown else shown,
        "routes": sorted(rule.matcher.routes),
        "where": rule.matcher.where if isinstance(rule.matcher.where, dict) else None,
        **action_json(rule.action),
        "times": rule.times,
        "hits": rule.hits,
    }


def readable_paths(path: str) -> list[str]:
    """A rule's path as a curl user reads it: ``{name}`` for a value, one path per choice of
    an ``any(...)`` converter."""
    choices = re.search(r"<any\(([^)]*)\):\w+>", path)
    if choices is not None:
        return [
            shown
            for choice in choices.group(1).split(",")
            for shown in readable_paths(path.replace(choices.group(0), choice.strip()))
        ]
    return [re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", path)]


def gate_json(gate_id: str, gate: Gate) -> dict[str, Any]:
    return {
        "id": gate_id,
        "route": gate.matcher.description,
        "where": gate.matcher.where if isinstance(gate.matcher.where, dict) else None,
        "arrived": gate.arrived,
        "released": gate.released,
    }


def call_json(call: Call) -> dict[str, Any]:
    return {
        "route": call.route,
        "method": call.method,
        "path": call.path,
        "namespace": call.namespace,
        "trace_id": call.trace_id,
        "time": call.time,
        "status": call.status,
        "request": None if call.request is None else to_json(call.request),
        "response": None if call.response is None else to_json(call.response),
        "error": None
        if call.error is None
        else {"type": call.error.type_name, "message": call.error.message},
        "fault": None if call.fault is None else action_json(call.fault)["fault"],
    }


def journal_page(
    journal: Journal | OutboundJournal,
    request: Request,
    to_json: Callable[[Any], dict[str, Any]],
) -> Response:
    """``GET`` a journal: the calls kept, oldest first, filtered by ``route`` (names, comma
    separated) and ``where`` (JSON), paged by ``after`` (the calls numbered above it) and
    ``limit`` (the first that many after ``after``; without ``after``, the newest that many).
    Each call carries its ``seq``; ``next`` is the ``after`` that continues where this page
    ends. The answer is written call by call as it is sent, never built whole."""
    unknown = set(request.args) - {"route", "where", "limit", "after"}
    if unknown:
        raise AdminError(f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    route = request.args.get("route")
    where_text = request.args.get("where")
    where = None
    if where_text is not None:
        try:
            where = read_where(json_input.loads(where_text))
        except json_input.JSONInputError as exc:
            raise AdminError(f"where: {exc}") from None
    limit, after = read_whole(request, "limit"), read_whole(request, "after")
    latest = journal.latest
    selector = None if route is None and where is None else (route or "*").split(",")
    numbered: list[tuple[int, Any]] = checked(lambda: journal.numbered(selector, where=where))
    if after is not None:
        numbered = [pair for pair in numbered if pair[0] > after]
    cut = limit is not None and len(numbered) > limit
    if limit is not None:
        numbered = numbered[:limit] if after is not None else numbered[len(numbered) - limit :]
    if cut and after is not None and numbered:
        next_after = numbered[-1][0]
    else:
        next_after = max([latest, *(n for n, _ in numbered[-1:])])
    dropped = journal.dropped

    def chunks() -> Iterator[bytes]:
        yield b'{\n "calls": ['
        for position, (number, call) in enumerate(numbered):
            text = json.dumps({"seq": number, **to_json(call)}, indent=1)
            yield (",\n" if position else "\n").encode() + text.encode()
        yield f'\n ],\n "dropped": {dropped},\n "next": {next_after}\n}}\n'.encode()

    return Response(chunks(), 200, content_type="application/json")


def read_whole(request: Request, name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise AdminError(f"{name}: expected a whole number, got {value!r}")
    return int(value)


def made_journal(ns: Namespace, args: Mapping[str, Any]) -> OutboundJournal:
    return ns.fake.rep_calls if args["made"] == "rep_calls" else ns.fake.auctioneer_calls


def made_json(call: OutboundCall) -> dict[str, Any]:
    return {
        "route": call.route,
        "cell_id": call.cell_id,
        "url": call.url,
        "method": call.method,
        "path": call.path,
        "body": call.body,
        "request": call.request,
        "namespace": call.namespace,
        "trace_id": call.trace_id,
        "time": call.time,
        "sent": call.sent,
        "status": call.status,
        "error": call.error,
        "fault": None if call.fault is None else action_json(call.fault)["fault"],
        "attempt": call.attempt,
        "outcome": call.outcome,
    }


def clock_json(ns: Namespace) -> dict[str, Any]:
    now = ns.fake.clock.nanoseconds()
    return {"frozen": ns.fake.clock.frozen, "nanoseconds": now, "time": iso_time(now)}


def iso_time(nanoseconds: int) -> str:
    return Clock(lambda: nanoseconds).now().isoformat()
