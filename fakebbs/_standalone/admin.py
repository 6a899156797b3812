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
import json
import math
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from fakebbs import models
from fakebbs._http.app import DEFAULT_MAX_BODY_BYTES
from fakebbs._standalone.admin_json import (
    MAX_WAIT_SECONDS,
    AdminError,
    call_json,
    checked,
    clock_json,
    find_gate,
    find_snapshot,
    from_json,
    gate_json,
    journal_page,
    json_response,
    made_journal,
    made_json,
    read_bbs_error,
    read_body,
    read_fault,
    read_fields,
    read_selector,
    read_timeout,
    read_where,
    readable_paths,
    rule_json,
    snapshot_counts,
    to_json,
)
from fakebbs._standalone.admin_views import VIEW_ROWS
from fakebbs._standalone.diego_admin import ENDPOINTS as DIEGO_ENDPOINTS
from fakebbs._standalone.namespace import Namespace
from fakebbs._standalone.seedfile import SeedFileError, apply_seed, parse_seed
from fakebbs.errors import BBSError
from fakebbs.faults import Fault
from fakebbs.routes import ROUTES

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from fakebbs._standalone.namespaces import Namespaces

__all__ = ["MAX_BODY_BYTES", "MAX_WAIT_SECONDS", "AdminAPI", "AdminError", "to_json", "from_json"]

MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES
"""The largest admin request body (a seed document, a fault rule...): the BBS routes' own
limit; a larger one is a 413."""


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
        rows += [*VIEW_ROWS, *DIEGO_ENDPOINTS]  # the live page's paged views, the Diego
        self.endpoints = [
            f"{method} {prefix}{shown}"
            for method, path, _ in rows
            for shown in readable_paths(path)
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
            response = result if isinstance(result, Response) else json_response(200, result)
        except AdminError as exc:
            response = json_response(exc.status, {"error": exc.message})
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            response = json_response(
                405, {"error": f"{request.method} is not allowed here ({allowed})"}
            )
            response.headers["Allow"] = allowed
        except NotFound:
            response = json_response(404, {"error": f"no admin endpoint {request.path}"})
        except HTTPException as exc:
            response = json_response(exc.code or 400, {"error": exc.description or str(exc)})
        except Exception as exc:  # noqa: BLE001 - a bug in the fake: a 500, kept for check()
            namespace.fake.handler_errors.append(exc)
            response = json_response(500, {"error": f"fakebbs: internal error: {exc!r}"})
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
            entries = parse_seed(read_body(request, required=True), "seed")
            return {"seeded": apply_seed(ns.fake, entries, "seed")}
        except SeedFileError as exc:
            raise AdminError(str(exc)) from None

    def reset(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        empty = read_fields(request, {"empty"}).get("empty", False)
        if not isinstance(empty, bool):
            raise AdminError(f"empty: expected true or false, got {json.dumps(empty)}")
        return {"reset": ns.name, "to": self.namespaces.reset(ns, empty=empty)}

    def save_state(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        read_fields(request, set())
        if self.namespaces.state_file is None:
            raise AdminError("this server has no state file: serve with --state FILE", 409)
        try:
            count, size = self.namespaces.save_state()
        except OSError as exc:
            raise AdminError(f"cannot write {self.namespaces.state_file}: {exc}", 500) from None
        return {"saved": str(self.namespaces.state_file), "namespaces": count, "bytes": size}

    def list_snapshots(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        with ns.lock:
            return {
                "snapshots": {name: snapshot_counts(s) for name, s in sorted(ns.snapshots.items())}
            }

    def take_snapshot(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        read_fields(request, set())
        snapshot = ns.fake.snapshot()
        with ns.lock:
            ns.snapshots[args["name"]] = snapshot
        return {"snapshot": args["name"], **snapshot_counts(snapshot)}

    def restore_snapshot(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        read_fields(request, set())
        snapshot = find_snapshot(ns, args["name"])
        ns.fake.restore(snapshot)
        return {"restored": args["name"], **snapshot_counts(snapshot)}

    def delete_snapshot(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        find_snapshot(ns, args["name"])
        with ns.lock:
            ns.snapshots.pop(args["name"], None)
        return {"deleted": args["name"]}

    # -- faults -----------------------------------------------------------------------------

    def list_faults(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return {"faults": [rule_json(i, r) for i, r in ns.live_rules().items()]}

    def add_fault(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        # "id", "routes" and "hits" are what a rule's answer adds: accepted (and ignored) so a
        # rule as listed can be posted back.
        body = read_fields(
            request,
            {"route", "error", "fault", "times", "where", "id", "routes", "hits"},
            required={"route"},
        )
        if ("error" in body) == ("fault" in body):
            raise AdminError("a fault rule takes exactly one of 'error' (a BBS error) or 'fault'")
        action: BBSError | Fault = (
            read_bbs_error(body["error"]) if "error" in body else read_fault(body["fault"])
        )
        times = body.get("times")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool)):
            raise AdminError(f"times: expected a positive whole number or null, got {times!r}")
        rule = checked(
            lambda: ns.fake.fail(
                read_selector(body["route"]),
                action,
                times=times,
                where=read_where(body.get("where")),
            )
        )
        with ns.lock:
            rule_id = ns.new_id()
            ns.rules[rule_id] = rule
        return rule_json(rule_id, rule)

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
        return rule_json(rule_id, rule)

    # -- the journal ------------------------------------------------------------------------

    def journal(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        if request.args.get("where") is not None and request.args.get("route") is None:
            raise AdminError("where needs a route")
        return journal_page(ns.fake.calls, request, call_json)

    def clear_journal(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        ns.fake.calls.clear()
        return {"calls": [], "dropped": 0}

    def wait_for_call(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        body = read_fields(request, {"route", "where", "timeout"}, required={"route"})
        timeout = read_timeout(body.get("timeout", 5.0))
        selector, where = read_selector(body["route"]), read_where(body.get("where"))
        try:
            call = checked(lambda: ns.fake.calls.wait_for(selector, timeout=timeout, where=where))
        except AssertionError as exc:
            raise AdminError(str(exc), 408) from None
        return call_json(call)

    # -- the calls the fake made to reps and the auctioneer -----------------------------------

    def made_calls(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return journal_page(made_journal(ns, args), request, made_json)

    def clear_made_calls(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        made_journal(ns, args).clear()
        return {"calls": [], "dropped": 0}

    def wait_for_made_call(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        journal = made_journal(ns, args)
        body = read_fields(request, {"route", "where", "timeout"}, required={"route"})
        timeout = read_timeout(body.get("timeout", 5.0))
        selector, where = read_selector(body["route"]), read_where(body.get("where"))
        try:
            call = checked(lambda: journal.wait_for(selector, timeout=timeout, where=where))
        except AssertionError as exc:
            raise AdminError(str(exc), 408) from None
        return made_json(call)

    # -- holds ------------------------------------------------------------------------------

    def list_holds(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return {"holds": [gate_json(i, g) for i, g in ns.live_gates().items()]}

    def add_hold(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        body = read_fields(request, {"route", "where"}, required={"route"})
        selector, where = read_selector(body["route"]), read_where(body.get("where"))
        gate = checked(lambda: ns.fake.hold(selector, where=where))
        with ns.lock:
            gate_id = ns.new_hold_id()
            ns.gates[gate_id] = gate
        return gate_json(gate_id, gate)

    def wait_arrived(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        body = read_fields(request, {"count", "timeout"})
        gate = find_gate(ns, args["gate_id"])
        count = body.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise AdminError(f"count: expected a whole number >= 1, got {count!r}")
        try:
            gate.wait_arrived(read_timeout(body.get("timeout", 5.0)), count=count)
        except TimeoutError as exc:
            raise AdminError(str(exc), 408) from None
        return gate_json(args["gate_id"], gate)

    def release_hold(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        gate = find_gate(ns, args["gate_id"])
        gate.release()
        return gate_json(args["gate_id"], gate)

    def release_all(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        released = []
        for gate_id, gate in ns.live_gates().items():
            gate.release()
            released.append(gate_json(gate_id, gate))
        return {"released": released}

    # -- the clock --------------------------------------------------------------------------

    def clock(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return clock_json(ns)

    def freeze_clock(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        at = read_fields(request, {"at"}).get("at")
        if at is not None and (not isinstance(at, int) or isinstance(at, bool)):
            raise AdminError(f"at: expected Unix nanoseconds (a whole number), got {at!r}")
        checked(lambda: ns.fake.clock.freeze(at))
        return clock_json(ns)

    def advance_clock(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        seconds = read_fields(request, {"seconds"}, required={"seconds"})["seconds"]
        if (
            not isinstance(seconds, (int, float))
            or isinstance(seconds, bool)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise AdminError(f"seconds: expected a number >= 0, got {seconds!r}")
        checked(lambda: ns.fake.clock.advance(seconds))
        return clock_json(ns)

    def unfreeze_clock(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        read_fields(request, set())
        ns.fake.clock.unfreeze()
        return clock_json(ns)

    # -- convergence and cells --------------------------------------------------------------

    def converge(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        read_fields(request, set())
        lrps, tasks = ns.fake.converge()
        return {"lrps": dataclasses.asdict(lrps), "tasks": dataclasses.asdict(tasks)}

    def list_cells(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        return {"cells": [to_json(c) for c in ns.fake.cell_presences()]}

    def register_cell(self, ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
        presence = from_json(read_body(request, required=True), models.CellPresence, "cell")
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
