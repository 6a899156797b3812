"""The admin HTTP API: the fixture API of one namespace's ``FakeBBS``, as JSON over HTTP.

Served by ``Namespaces`` under ``/fakebbs/v1/`` (a prefix no BBS route uses) for programs in
other languages that start ``fakebbs serve`` beside their suite. Every endpoint calls the same
``FakeBBS`` method a Python test would (``fail``, ``hold``, ``calls``, ``rep_calls``,
``auctioneer_calls``, ``reset``, ``snapshot``, ``clock``, ``converge``, ``seed``...): this
module only translates JSON. Models are written and read in protobuf's JSON mapping with the
``.proto`` field names (``process_guid``); input also accepts the lowerCamelCase names. The
calls made to reps and the auctioneer are listed under ``rep_calls`` and ``auctioneer_calls``
with their decoded JSON bodies. A bad request is a 4xx with ``{"error": "what is wrong"}``.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import metadata
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from fakebbs import errors, faults, models
from fakebbs._control import json_input as json_input
from fakebbs._control.controls import FaultRule, Gate
from fakebbs._control.journal import Call, Journal, OutboundJournal
from fakebbs._control.selectors import UnknownRoute
from fakebbs._http.app import DEFAULT_MAX_BODY_BYTES
from fakebbs._outbound.calls import OutboundCall
from fakebbs._standalone.seedfile import SeedFileError, apply_seed, parse_seed
from fakebbs.errors import BBSError
from fakebbs.faults import Fault
from fakebbs.routes import ROUTES

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from fakebbs._standalone.namespaces import Namespace, Namespaces

__all__ = ["AdminAPI", "AdminError", "to_json", "from_json"]

MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES
"""The largest admin request body (a seed document, a fault rule...): the BBS routes' own
limit; a larger one is a 413."""

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


_Handler = Callable[["Namespace", Request, Mapping[str, Any]], Any]


class AdminAPI:
    """The admin endpoints over a ``Namespaces``; called with the request's namespace."""

    def __init__(self, namespaces: Namespaces) -> None:
        self.namespaces = namespaces
        prefix = "/fakebbs/v1"
        rows: list[tuple[str, str, _Handler]] = [
            ("GET", "/", self.index),
            ("GET", "/version", self.version),
            ("GET", "/routes", self.routes),
            ("GET", "/namespaces", self.list_namespaces),
            ("DELETE", "/namespace", self.drop_namespace),
            ("GET", "/state", self.state),
            ("POST", "/seed", self.seed),
            ("POST", "/reset", self.reset),
            ("POST", "/save", self.save_state),
            ("GET", "/snapshots", self.list_snapshots),
            ("PUT", "/snapshots/<name>", self.take_snapshot),
            ("POST", "/snapshots/<name>/restore", self.restore_snapshot),
            ("DELETE", "/snapshots/<name>", self.delete_snapshot),
            ("GET", "/faults", self.list_faults),
            ("POST", "/faults", self.add_fault),
            ("DELETE", "/faults", self.clear_faults),
            ("DELETE", "/faults/<rule_id>", self.remove_fault),
            ("GET", "/journal", self.journal),
            ("DELETE", "/journal", self.clear_journal),
            ("POST", "/journal/wait", self.wait_for_call),
            ("GET", "/<any(rep_calls, auctioneer_calls):made>", self.made_calls),
            ("DELETE", "/<any(rep_calls, auctioneer_calls):made>", self.clear_made_calls),
            ("POST", "/<any(rep_calls, auctioneer_calls):made>/wait", self.wait_for_made_call),
            ("GET", "/holds", self.list_holds),
            ("POST", "/holds", self.add_hold),
            ("POST", "/holds/<gate_id>/wait", self.wait_arrived),
            ("DELETE", "/holds/<gate_id>", self.release_hold),
            ("DELETE", "/holds", self.release_all),
            ("GET", "/clock", self.clock),
            ("POST", "/clock/freeze", self.freeze_clock),
            ("POST", "/clock/advance", self.advance_clock),
            ("POST", "/clock/unfreeze", self.unfreeze_clock),
            ("POST", "/converge", self.converge),
            ("GET", "/cells", self.list_cells),
            ("POST", "/cells", self.register_cell),
            ("DELETE", "/cells/<cell_id>", self.unregister_cell),
            ("GET", "/errors", self.errors),
        ]
        from fakebbs._standalone.admin_views import VIEW_ROWS  # the live page's paged views
        from fakebbs._standalone.diego_admin import (
            ENDPOINTS as DIEGO_ENDPOINTS,  # imports this module
        )

        rows += [*VIEW_ROWS, *DIEGO_ENDPOINTS]
        self.endpoints = [
            f"{method} {prefix}{shown}" for method, path, _ in rows for shown in _readable(path)
        ]
        """Every endpoint, as "METHOD PATH" (the index the API answers at its root), with
        ``{name}`` where a path takes a value."""
        self._handlers: dict[str, _Handler] = {}
        rules = []
        for method, path, handler in rows:
            endpoint = f"{method} {path}"
            self._handlers[endpoint] = handler
            rules.append(Rule(prefix + path, methods=[method], endpoint=endpoint))
        self._map = Map(rules, strict_slashes=False)

    def __call__(
        self, namespace: Namespace, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_BODY_BYTES
        try:
            endpoint, arguments = self._map.bind_to_environ(environ).match()
            result = self._handlers[endpoint](namespace, request, arguments)
            response = result if isinstance(result, Response) else _json(200, result)
        except AdminError as exc:
            response = _json(exc.status, {"error": exc.message})
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            response = _json(405, {"error": f"{request.method} is not allowed here ({allowed})"})
            response.headers["Allow"] = allowed
        except NotFound:
            response = _json(404, {"error": f"no admin endpoint {request.path}"})
        except HTTPException as exc:
            response = _json(exc.code or 400, {"error": exc.description or str(exc)})
        except Exception as exc:  # noqa: BLE001 - a bug in the fake: a 500, kept for check()
            namespace.fake.handler_errors.append(exc)
            response = _json(500, {"error": f"fakebbs: internal error: {exc!r}"})
        return response(environ, start_response)

    # -- about the server -------------------------------------------------------------------

    def index(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return {"endpoints": self.endpoints}

    def version(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        try:
            version = metadata.version("fakebbs")
        except metadata.PackageNotFoundError:
            version = "unknown"
        return {"fakebbs": version, "api": "v1", "namespace": ns.name}

    def routes(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        """The BBS route table: the selector (route name) fault rules, holds and journal
        queries take for each route."""
        return {
            "routes": [
                {
                    "selector": r.name,
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                    "go_name": r.upstream_name,
                }
                for r in ROUTES
            ]
        }

    def list_namespaces(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return {"namespaces": self.namespaces.names()}

    def drop_namespace(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        self.namespaces.drop(ns.name)
        return {"dropped": ns.name}

    def errors(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return {"errors": [repr(exc) for exc in ns.fake.handler_errors]}

    # -- state ------------------------------------------------------------------------------

    def state(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        snapshot = ns.fake.snapshot()
        return {
            "domains": [
                {"name": name, "expires_at": expires}
                for name, expires in sorted(snapshot.domains.items())
            ],
            "cells": [to_json(c) for _, c in sorted(snapshot.cells.items())],
            "desired_lrps": [to_json(d) for _, d in sorted(snapshot.desired_lrps.items())],
            "actual_lrps": [to_json(a) for _, a in sorted(snapshot.actual_lrps.items())],
            "tasks": [to_json(t) for _, t in sorted(snapshot.tasks.items())],
        }

    def seed(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        try:
            entries = parse_seed(_body(request, required=True), "seed")
            return {"seeded": apply_seed(ns.fake, entries, "seed")}
        except SeedFileError as exc:
            raise AdminError(str(exc)) from None

    def reset(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        empty = _fields(request, {"empty"}).get("empty", False)
        if not isinstance(empty, bool):
            raise AdminError(f"empty: expected true or false, got {json.dumps(empty)}")
        return {"reset": ns.name, "to": self.namespaces.reset(ns, empty=empty)}

    def save_state(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        _fields(request, set())
        if self.namespaces.state_file is None:
            raise AdminError("this server has no state file: serve with --state FILE", 409)
        try:
            count, size = self.namespaces.save_state()
        except OSError as exc:
            raise AdminError(f"cannot write {self.namespaces.state_file}: {exc}", 500) from None
        return {"saved": str(self.namespaces.state_file), "namespaces": count, "bytes": size}

    def list_snapshots(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        with ns.lock:
            return {"snapshots": {name: _counts(s) for name, s in sorted(ns.snapshots.items())}}

    def take_snapshot(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        _fields(request, set())
        snapshot = ns.fake.snapshot()
        with ns.lock:
            ns.snapshots[args["name"]] = snapshot
        return {"snapshot": args["name"], **_counts(snapshot)}

    def restore_snapshot(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        _fields(request, set())
        snapshot = _snapshot(ns, args["name"])
        ns.fake.restore(snapshot)
        return {"restored": args["name"], **_counts(snapshot)}

    def delete_snapshot(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        _snapshot(ns, args["name"])
        with ns.lock:
            ns.snapshots.pop(args["name"], None)
        return {"deleted": args["name"]}

    # -- faults -----------------------------------------------------------------------------

    def list_faults(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return {"faults": [_rule_json(i, r) for i, r in ns.live_rules().items()]}

    def add_fault(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        # "id", "routes" and "hits" are what a rule's answer adds: accepted (and ignored) so a
        # rule as listed can be posted back.
        body = _fields(
            request,
            {"route", "error", "fault", "times", "where", "id", "routes", "hits"},
            required={"route"},
        )
        if ("error" in body) == ("fault" in body):
            raise AdminError("a fault rule takes exactly one of 'error' (a BBS error) or 'fault'")
        action: BBSError | Fault = (
            _bbs_error(body["error"]) if "error" in body else _fault(body["fault"])
        )
        times = body.get("times")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool)):
            raise AdminError(f"times: expected a positive whole number or null, got {times!r}")
        rule = _checked(
            lambda: ns.fake.fail(
                _selector(body["route"]), action, times=times, where=_where(body.get("where"))
            )
        )
        with ns.lock:
            rule_id = ns.new_id()
            ns.rules[rule_id] = rule
        return _rule_json(rule_id, rule)

    def clear_faults(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        ns.fake.clear_faults()
        with ns.lock:
            ns.rules.clear()
        return {"faults": []}

    def remove_fault(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        rule_id = args["rule_id"]
        rule = ns.live_rules().get(rule_id)
        if rule is None:
            raise AdminError(f"no fault rule {rule_id!r} in this namespace", 404)
        rule.remove()
        return _rule_json(rule_id, rule)

    # -- the journal ------------------------------------------------------------------------

    def journal(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        if request.args.get("where") is not None and request.args.get("route") is None:
            raise AdminError("where needs a route")
        return _journal_page(ns.fake.calls, request, _call_json)

    def clear_journal(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        ns.fake.calls.clear()
        return {"calls": [], "dropped": 0}

    def wait_for_call(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        body = _fields(request, {"route", "where", "timeout"}, required={"route"})
        timeout = _timeout(body.get("timeout", 5.0))
        selector, where = _selector(body["route"]), _where(body.get("where"))
        try:
            call = _checked(lambda: ns.fake.calls.wait_for(selector, timeout=timeout, where=where))
        except AssertionError as exc:
            raise AdminError(str(exc), 408) from None
        return _call_json(call)

    # -- the calls the fake made to reps and the auctioneer -----------------------------------

    def made_calls(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return _journal_page(_made(ns, args), request, _made_json)

    def clear_made_calls(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        _made(ns, args).clear()
        return {"calls": [], "dropped": 0}

    def wait_for_made_call(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        journal = _made(ns, args)
        body = _fields(request, {"route", "where", "timeout"}, required={"route"})
        timeout = _timeout(body.get("timeout", 5.0))
        selector, where = _selector(body["route"]), _where(body.get("where"))
        try:
            call = _checked(lambda: journal.wait_for(selector, timeout=timeout, where=where))
        except AssertionError as exc:
            raise AdminError(str(exc), 408) from None
        return _made_json(call)

    # -- holds ------------------------------------------------------------------------------

    def list_holds(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return {"holds": [_gate_json(i, g) for i, g in ns.live_gates().items()]}

    def add_hold(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        body = _fields(request, {"route", "where"}, required={"route"})
        selector, where = _selector(body["route"]), _where(body.get("where"))
        gate = _checked(lambda: ns.fake.hold(selector, where=where))
        with ns.lock:
            gate_id = ns.new_hold_id()
            ns.gates[gate_id] = gate
        return _gate_json(gate_id, gate)

    def wait_arrived(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        body = _fields(request, {"count", "timeout"})
        gate = _gate(ns, args["gate_id"])
        count = body.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise AdminError(f"count: expected a whole number >= 1, got {count!r}")
        try:
            gate.wait_arrived(_timeout(body.get("timeout", 5.0)), count=count)
        except TimeoutError as exc:
            raise AdminError(str(exc), 408) from None
        return _gate_json(args["gate_id"], gate)

    def release_hold(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        gate = _gate(ns, args["gate_id"])
        gate.release()
        return _gate_json(args["gate_id"], gate)

    def release_all(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        released = []
        for gate_id, gate in ns.live_gates().items():
            gate.release()
            released.append(_gate_json(gate_id, gate))
        return {"released": released}

    # -- the clock --------------------------------------------------------------------------

    def clock(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return _clock_json(ns)

    def freeze_clock(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        at = _fields(request, {"at"}).get("at")
        if at is not None and (not isinstance(at, int) or isinstance(at, bool)):
            raise AdminError(f"at: expected Unix nanoseconds (a whole number), got {at!r}")
        _checked(lambda: ns.fake.clock.freeze(at))
        return _clock_json(ns)

    def advance_clock(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        seconds = _fields(request, {"seconds"}, required={"seconds"})["seconds"]
        if (
            not isinstance(seconds, (int, float))
            or isinstance(seconds, bool)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise AdminError(f"seconds: expected a number >= 0, got {seconds!r}")
        _checked(lambda: ns.fake.clock.advance(seconds))
        return _clock_json(ns)

    def unfreeze_clock(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        _fields(request, set())
        ns.fake.clock.unfreeze()
        return _clock_json(ns)

    # -- convergence and cells --------------------------------------------------------------

    def converge(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        _fields(request, set())
        lrps, tasks = ns.fake.converge()
        return {"lrps": dataclasses.asdict(lrps), "tasks": dataclasses.asdict(tasks)}

    def list_cells(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return {"cells": [to_json(c) for c in ns.fake.cell_presences()]}

    def register_cell(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        presence = from_json(_body(request, required=True), models.CellPresence, "cell")
        assert isinstance(presence, models.CellPresence)
        if not presence.cell_id:
            raise AdminError("cell: cell_id is required")
        ns.fake.seed.cell(presence)
        return to_json(presence)

    def unregister_cell(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        cell_id = args["cell_id"]
        if all(c.cell_id != cell_id for c in ns.fake.cell_presences()):
            raise AdminError(f"no cell {cell_id!r} is registered in this namespace", 404)
        ns.fake.unregister_cell(cell_id)
        return {"unregistered": cell_id}


# -- request bodies ----------------------------------------------------------------------------


def _body(request: Request, *, required: bool = False) -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise AdminError("this endpoint needs a JSON body")
        return {}
    try:
        return json_input.loads(raw)
    except json_input.JSONInputError as exc:
        raise AdminError(f"the body: {exc}") from None


def _fields(
    request: Request, allowed: set[str], *, required: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The JSON object body, checked: only ``allowed`` keys, every ``required`` one."""
    body = _body(request, required=bool(required))
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


def _selector(value: Any) -> str | list[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise AdminError(f"route: expected a route name or a list of them, got {json.dumps(value)}")


def _where(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AdminError(f"where: expected an object of dotted paths to values, got {value!r}")
    return value


def _timeout(value: Any) -> float:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not 0 <= value <= MAX_WAIT_SECONDS
    ):
        raise AdminError(f"timeout: expected seconds between 0 and {MAX_WAIT_SECONDS:g}")
    return float(value)


T = TypeVar("T")


def _checked(action: Callable[[], T]) -> T:
    """Run a fixture API call; its ValueError/TypeError (a bad selector, where or action) is
    the admin request's fault."""
    try:
        return action()
    except UnknownRoute as exc:
        raise AdminError(exc.saying("GET /fakebbs/v1/routes lists them")) from None
    except (ValueError, TypeError) as exc:
        raise AdminError(str(exc)) from None


def _bbs_error(value: Any) -> BBSError:
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


def _fault(value: Any) -> Fault:
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
        return _checked(lambda: faults.status(code, **params))
    return _checked(lambda: make(**params))


def _gate(ns: Namespace, gate_id: str) -> Gate:
    gate = ns.live_gates().get(gate_id)
    if gate is None:
        raise AdminError(f"no held route {gate_id!r} in this namespace (released?)", 404)
    return gate


def _snapshot(ns: Namespace, name: str) -> Any:
    with ns.lock:
        snapshot = ns.snapshots.get(name)
        names = ", ".join(sorted(ns.snapshots)) or "none"
    if snapshot is None:
        raise AdminError(f"no snapshot named {name!r} in this namespace (there are: {names})", 404)
    return snapshot


# -- answers -----------------------------------------------------------------------------------


def _json(status: int, value: Any) -> Response:
    return Response(json.dumps(value, indent=1) + "\n", status, content_type="application/json")


def _counts(snapshot: Any) -> dict[str, int]:
    return {
        "desired_lrps": len(snapshot.desired_lrps),
        "actual_lrps": len(snapshot.actual_lrps),
        "tasks": len(snapshot.tasks),
        "domains": len(snapshot.domains),
        "cells": len(snapshot.cells),
    }


def _action_json(action: BBSError | Fault) -> dict[str, Any]:
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


def _rule_json(rule_id: str, rule: FaultRule) -> dict[str, Any]:
    shown = rule.matcher.description
    return {
        "id": rule_id,
        "route": shown.split(", ") if ", " in shown else shown,
        "routes": sorted(rule.matcher.routes),
        "where": rule.matcher.where if isinstance(rule.matcher.where, dict) else None,
        **_action_json(rule.action),
        "times": rule.times,
        "hits": rule.hits,
    }


def _readable(path: str) -> list[str]:
    """A rule's path as a curl user reads it: ``{name}`` for a value, one path per choice of
    an ``any(...)`` converter."""
    choices = re.search(r"<any\(([^)]*)\):\w+>", path)
    if choices is not None:
        return [
            shown
            for choice in choices.group(1).split(",")
            for shown in _readable(path.replace(choices.group(0), choice.strip()))
        ]
    return [re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", path)]


def _gate_json(gate_id: str, gate: Gate) -> dict[str, Any]:
    return {
        "id": gate_id,
        "route": gate.matcher.description,
        "where": gate.matcher.where if isinstance(gate.matcher.where, dict) else None,
        "arrived": gate.arrived,
        "released": gate.released,
    }


def _call_json(call: Call) -> dict[str, Any]:
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
        "fault": None if call.fault is None else _action_json(call.fault)["fault"],
    }


def _journal_page(
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
            where = _where(json_input.loads(where_text))
        except json_input.JSONInputError as exc:
            raise AdminError(f"where: {exc}") from None
    limit, after = _whole(request, "limit"), _whole(request, "after")
    latest = journal.latest
    selector = None if route is None and where is None else (route or "*").split(",")
    numbered: list[tuple[int, Any]] = _checked(lambda: journal.numbered(selector, where=where))
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


def _whole(request: Request, name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise AdminError(f"{name}: expected a whole number, got {value!r}")
    return int(value)


def _made(ns: Namespace, args: Mapping[str, Any]) -> OutboundJournal:
    return ns.fake.rep_calls if args["made"] == "rep_calls" else ns.fake.auctioneer_calls


def _made_json(call: OutboundCall) -> dict[str, Any]:
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
        "fault": None if call.fault is None else _action_json(call.fault)["fault"],
        "attempt": call.attempt,
        "outcome": call.outcome,
    }


def _clock_json(ns: Namespace) -> dict[str, Any]:
    now = ns.fake.clock.nanoseconds()
    return {"frozen": ns.fake.clock.frozen, "nanoseconds": now, "time": _iso(now)}


def _iso(nanoseconds: int) -> str:
    from fakebbs.clock import Clock

    return Clock(lambda: nanoseconds).now().isoformat()
