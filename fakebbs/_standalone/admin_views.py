"""Paged read-only views of one namespace for the live page (``/fakebbs/ui/``), as admin
endpoints under ``/fakebbs/v1/``.

The page never asks for a whole table: ``GET /summary`` is counts, domains and cells;
``GET /lrps``, ``GET /tasks``, ``GET /journal/page`` and ``GET /rep_calls/page`` (and
``/auctioneer_calls/page``) answer one page (``offset``, ``limit`` up to ``MAX_PAGE``) of what
a ``filter`` selects, with the ``total`` it selects. They read a ``snapshot()`` (a copy of the
tables' dictionaries, no copy per row), so 10,000 desired LRPs cost one pass per request and
the page stays quick. Calls and made calls use the admin API's own JSON, newest first.

Cells: each registered cell presence, and each cell some instance or task names without a
presence, with what runs there (instances by state, tasks) and ``in_use``, the memory, disk and
containers of the instances and tasks placed on it (claimed or running), beside the
presence's ``capacity`` when it has one. A scheduler that places work by capacity adds its own
figures by extending ``_cell_views``; the page shows any ``capacity`` it finds.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from werkzeug.wrappers import Request

from fakebbs import models
from fakebbs._rules.store import CLAIMED, RUNNING, ActualKey
from fakebbs._standalone.admin_json import (
    AdminError,
    call_json,
    clock_json,
    made_journal,
    made_json,
    read_where,
)

if TYPE_CHECKING:
    from fakebbs._standalone.namespace import Namespace

__all__ = ["MAX_PAGE", "VIEW_ROWS"]

MAX_PAGE = 500
"""The most rows one page request answers."""

_DEFAULT_PAGE = 50
_TASK_STATES = ("Pending", "Running", "Completed", "Resolving")
_PRESENCES = {
    models.ActualLRP.ORDINARY: "ORDINARY",
    models.ActualLRP.EVACUATING: "EVACUATING",
    models.ActualLRP.SUSPECT: "SUSPECT",
}

T = TypeVar("T")


def summary(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    """Counts, domains with their expiry, and cells with what runs on them."""
    _params(request, set())
    fake = ns.fake
    snapshot = fake.snapshot()
    now = fake.clock.nanoseconds()
    lrp_states = Counter(a.state for a in snapshot.actual_lrps.values())
    task_states = Counter(_task_state(t) for t in snapshot.tasks.values())
    return {
        "namespace": ns.name,
        "clock": clock_json(ns),
        "counts": {
            "desired_lrps": len(snapshot.desired_lrps),
            "actual_lrps": len(snapshot.actual_lrps),
            "tasks": len(snapshot.tasks),
            "domains": len(snapshot.domains),
            "cells": len(snapshot.cells),
            "journal": len(fake.calls),
            "rep_calls": len(fake.rep_calls),
            "auctioneer_calls": len(fake.auctioneer_calls),
        },
        "actual_lrps_by_state": dict(sorted(lrp_states.items())),
        "tasks_by_state": {s: task_states.get(s, 0) for s in _TASK_STATES},
        "domains": [
            {
                "name": name,
                "expires_at": expires,
                "ttl_seconds": None if expires is None else max(0.0, (expires - now) / 1e9),
            }
            for name, expires in sorted(snapshot.domains.items())
        ],
        "cells": _cell_views(
            snapshot.cells, snapshot.desired_lrps, snapshot.actual_lrps, snapshot.tasks
        ),
    }


def lrps(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    """One page of process guids (desired, or with actual rows only), each with its rows per
    index; ``filter`` is text found in the guid, the domain, or a row's cell or state."""
    params = _params(request, {"offset", "limit", "filter"})
    snapshot = ns.fake.snapshot()
    rows: dict[str, list[tuple[ActualKey, models.ActualLRP]]] = defaultdict(list)
    for key, actual in snapshot.actual_lrps.items():
        rows[key.process_guid].append((key, actual))
    zones = {cell_id: cell.zone for cell_id, cell in snapshot.cells.items()}
    text = params.get("filter", "").strip().lower()

    def selected(guid: str) -> bool:
        if not text or text in guid.lower():
            return True
        desired = snapshot.desired_lrps.get(guid)
        if desired is not None and text in desired.domain.lower():
            return True
        return any(
            text in a.actual_lrp_instance_key.cell_id.lower() or text in a.state.lower()
            for _, a in rows.get(guid, ())
        )

    guids = sorted(g for g in set(snapshot.desired_lrps) | set(rows) if selected(g))
    page, offset, limit = _page(params, guids)
    return {
        "total": len(guids),
        "offset": offset,
        "limit": limit,
        "lrps": [
            _lrp_view(guid, snapshot.desired_lrps.get(guid), rows.get(guid, []), zones)
            for guid in page
        ],
    }


def tasks(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    """One page of tasks, by guid; ``state`` picks one state, ``filter`` is text found in the
    guid, the domain or the cell."""
    params = _params(request, {"offset", "limit", "filter", "state"})
    state = params.get("state", "")
    if state and state not in _TASK_STATES:
        raise AdminError(f"state: expected one of {', '.join(_TASK_STATES)}, got {state!r}")
    text = params.get("filter", "").strip().lower()
    snapshot = ns.fake.snapshot()
    chosen = [
        task
        for _, task in sorted(snapshot.tasks.items())
        if (not state or _task_state(task) == state)
        and (
            not text
            or text in task.task_guid.lower()
            or text in task.domain.lower()
            or text in task.cell_id.lower()
        )
    ]
    page, offset, limit = _page(params, chosen)
    return {
        "total": len(chosen),
        "offset": offset,
        "limit": limit,
        "tasks": [_task_view(task) for task in page],
    }


def journal_page(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    """One page of the call journal, newest first: ``route`` (names, comma-separated, as the
    journal's selectors), ``where`` (JSON, with a route), ``filter`` (text found in the call's
    one-line description)."""
    journal = ns.fake.calls
    everything = list(journal)
    calls = _selected(request, everything, lambda names, where: journal.to(names, where=where))
    return _calls_page(request, everything, calls, call_json, journal.dropped)


def made_page(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    """One page of the calls made to reps or the auctioneer, newest first (filters as
    ``journal/page``)."""
    journal = made_journal(ns, args)
    everything = list(journal)
    calls = _selected(request, everything, lambda names, where: journal.to(names, where=where))
    return _calls_page(request, everything, calls, made_json, journal.dropped)


VIEW_ROWS: Sequence[tuple[str, str, Callable[[Namespace, Request, Mapping[str, Any]], Any]]] = (
    ("GET", "/summary", summary),
    ("GET", "/lrps", lrps),
    ("GET", "/tasks", tasks),
    ("GET", "/journal/page", journal_page),
    ("GET", "/<any(rep_calls, auctioneer_calls):made>/page", made_page),
)
"""The views' admin endpoints: (method, path under /fakebbs/v1, handler)."""


# -- views of rows -----------------------------------------------------------------------------


def _lrp_view(
    guid: str,
    desired: models.DesiredLRP | None,
    rows: list[tuple[ActualKey, models.ActualLRP]],
    zones: Mapping[str, str],
) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: (r[0].index, r[1].presence))
    return {
        "process_guid": guid,
        "desired": desired is not None,
        "domain": desired.domain
        if desired is not None
        else rows[0][1].actual_lrp_key.domain
        if rows
        else "",
        "instances": desired.instances if desired is not None else None,
        "memory_mb": desired.memory_mb if desired is not None else None,
        "disk_mb": desired.disk_mb if desired is not None else None,
        "rows": [_actual_view(actual, zones) for _, actual in rows],
    }


def _actual_view(actual: models.ActualLRP, zones: Mapping[str, str]) -> dict[str, Any]:
    instance = actual.actual_lrp_instance_key
    net = actual.actual_lrp_net_info
    return {
        "index": actual.actual_lrp_key.index,
        "state": actual.state,
        "presence": _PRESENCES.get(actual.presence, str(actual.presence)),
        "cell_id": instance.cell_id,
        "instance_guid": instance.instance_guid,
        "zone": actual.availability_zone or zones.get(instance.cell_id, ""),
        "address": net.address,
        "ports": [f"{p.container_port}:{p.host_port}" for p in net.ports],
        "crash_count": actual.crash_count,
        "crash_reason": actual.crash_reason,
        "placement_error": actual.placement_error,
        "since": actual.since,
        "routable": actual.routable,
    }


def _task_state(task: models.Task) -> str:
    return models.Task.State.Name(task.state)


def _task_view(task: models.Task) -> dict[str, Any]:
    return {
        "task_guid": task.task_guid,
        "domain": task.domain,
        "state": _task_state(task),
        "cell_id": task.cell_id,
        "failed": task.failed,
        "failure_reason": task.failure_reason,
        "result": task.result,
        "rejection_count": task.rejection_count,
        "rejection_reason": task.rejection_reason,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "memory_mb": task.task_definition.memory_mb,
        "disk_mb": task.task_definition.disk_mb,
    }


def _cell_views(
    cells: Mapping[str, models.CellPresence],
    desired_lrps: Mapping[str, models.DesiredLRP],
    actual_lrps: Mapping[ActualKey, models.ActualLRP],
    tasks: Mapping[str, models.Task],
) -> list[dict[str, Any]]:
    """Each known cell (registered, or named by an instance or a task) and what runs there."""
    instances: dict[str, Counter[str]] = defaultdict(Counter)
    in_use: dict[str, Counter[str]] = defaultdict(Counter)
    for actual in actual_lrps.values():
        cell_id = actual.actual_lrp_instance_key.cell_id
        if not cell_id:
            continue
        instances[cell_id][actual.state] += 1
        if actual.state in (CLAIMED, RUNNING):
            desired = desired_lrps.get(actual.actual_lrp_key.process_guid)
            memory, disk = (desired.memory_mb, desired.disk_mb) if desired else (0, 0)
            _use(in_use[cell_id], memory, disk)
    task_counts: Counter[str] = Counter()
    for task in tasks.values():
        if task.cell_id:
            task_counts[task.cell_id] += 1
            if task.state == models.Task.Running:
                definition = task.task_definition
                _use(in_use[task.cell_id], definition.memory_mb, definition.disk_mb)
    names = sorted(set(cells) | set(instances) | set(task_counts))
    views = []
    for cell_id in names:
        presence = cells.get(cell_id)
        capacity = (
            presence.capacity if presence is not None and presence.HasField("capacity") else None
        )
        views.append(
            {
                "cell_id": cell_id,
                "registered": presence is not None,
                "zone": presence.zone if presence is not None else "",
                "rep_url": presence.rep_url if presence is not None else "",
                "capacity": None
                if capacity is None
                else {
                    "memory_mb": capacity.memory_mb,
                    "disk_mb": capacity.disk_mb,
                    "containers": capacity.containers,
                },
                "in_use": {
                    "memory_mb": in_use[cell_id]["memory_mb"],
                    "disk_mb": in_use[cell_id]["disk_mb"],
                    "containers": in_use[cell_id]["containers"],
                },
                "instances": dict(sorted(instances[cell_id].items())),
                "tasks": task_counts[cell_id],
            }
        )
    return views


def _use(counter: Counter[str], memory_mb: int, disk_mb: int) -> None:
    counter["memory_mb"] += memory_mb
    counter["disk_mb"] += disk_mb
    counter["containers"] += 1


# -- query parameters --------------------------------------------------------------------------


def _params(request: Request, allowed: set[str]) -> dict[str, str]:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        raise AdminError(f"unknown query parameter(s): {', '.join(unknown)} (it takes: {takes})")
    return {name: request.args[name] for name in request.args}


def _whole(params: Mapping[str, str], name: str, default: int, most: int | None = None) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or (most is not None and int(text) > most):
        upper = "" if most is None else f" up to {most}"
        raise AdminError(f"{name}: expected a whole number{upper}, got {text!r}")
    return int(text)


def _page(params: Mapping[str, str], items: Sequence[T]) -> tuple[Sequence[T], int, int]:
    offset = _whole(params, "offset", 0)
    limit = _whole(params, "limit", _DEFAULT_PAGE, MAX_PAGE)
    return items[offset : offset + limit], offset, limit


E = TypeVar("E")


def _selected(
    request: Request,
    everything: list[E],
    to: Callable[[list[str], dict[str, Any] | None], list[E]],
) -> list[E]:
    """The calls ``route``, ``where`` and ``filter`` select, newest first."""
    params = _params(request, {"offset", "limit", "route", "where", "filter"})
    route, where_text = params.get("route", ""), params.get("where", "")
    where = None
    if where_text:
        if not route:
            raise AdminError("where needs a route")
        try:
            where = read_where(json.loads(where_text))
        except json.JSONDecodeError as exc:
            raise AdminError(f"where: not JSON: {exc}") from None
    calls = list(everything)
    if route:
        try:
            calls = to(route.split(","), where)
        except (ValueError, TypeError) as exc:
            raise AdminError(str(exc)) from None
    text = params.get("filter", "").strip().lower()
    if text:
        calls = [c for c in calls if text in _described(c).lower()]
    calls.reverse()
    return calls


def _described(call: Any) -> str:
    description: str = call.describe()
    trace = getattr(call, "trace_id", "")
    return f"{description} {trace}"


def _calls_page(
    request: Request,
    everything: list[E],
    calls: list[E],
    as_json: Callable[[E], dict[str, Any]],
    dropped: int,
) -> dict[str, Any]:
    """A page of ``calls`` (selected from ``everything``, the journal), with the routes the
    journal holds (for a route filter)."""
    params = {name: request.args[name] for name in request.args}
    page, offset, limit = _page(params, calls)
    routes = sorted({r for r in (getattr(c, "route", None) for c in everything) if r})
    return {
        "total": len(calls),
        "recorded": len(everything),
        "dropped": dropped,
        "offset": offset,
        "limit": limit,
        "routes": routes,
        "calls": [as_json(c) for c in page],
    }
