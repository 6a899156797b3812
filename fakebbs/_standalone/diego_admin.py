"""The admin API's ``/fakebbs/v1/diego`` endpoints: ``bbs.diego`` as JSON over HTTP.

* ``GET /diego``: the settings and every cell; ``POST /diego`` sets any of ``auto``,
  ``converge_every``, ``timings`` (``start``, ``stop``, ``task``) and ``seed``.
* ``GET /diego/cells``; ``POST /diego/cells`` adds one (``add_cell``'s arguments);
  ``DELETE /diego/cells/<cell_id>`` removes it; ``POST /diego/cells/<cell_id>/evacuate``.
* ``POST /diego/crash`` (``process_guid``, ``index``, ``reason``); ``POST /diego/run``
  (``run_until_idle``); ``POST /diego/task_outcomes`` (``pattern``, ``failed``, ``result``,
  ``failure_reason``).
* ``GET /diego/calls`` (the simulation's calls to the BBS, as ``/journal`` lists the
  client's), ``DELETE /diego/calls``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from fakebbs._diego.cells import CellState
from fakebbs._diego.config import CELL_FIELDS, cell_arguments
from fakebbs._diego.sim import Diego
from fakebbs._standalone.admin_json import AdminError, call_json, read_fields

if TYPE_CHECKING:
    from fakebbs._standalone.namespace import Namespace

__all__ = ["ENDPOINTS"]

_Handler = Callable[["Namespace", Request, Mapping[str, Any]], Any]


def _cell_json(cell: CellState) -> dict[str, Any]:
    shown = dataclasses.asdict(cell)
    shown["lrps"] = [
        {"process_guid": guid, "index": index, "state": state} for guid, index, state in cell.lrps
    ]
    shown["tasks"] = list(cell.tasks)
    shown["rootfs_providers"] = {k: list(v) for k, v in cell.rootfs_providers.items()}
    for name in ("placement_tags", "optional_placement_tags", "volume_drivers"):
        shown[name] = list(shown[name])
    return shown


def _status(diego: Diego) -> dict[str, Any]:
    return {
        "auto": diego.auto,
        "converge_every": diego.converge_every,
        "timings": dataclasses.asdict(diego.timings()),
        "seed": diego.seed,
        "cells": [_cell_json(cell) for cell in diego.cells()],
    }


def _seconds(value: Any, name: str, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise AdminError(f"{name}: expected a number of seconds >= 0, got {value!r}")
    return float(value)


def status(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    return _status(ns.fake.diego)


def configure(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    body = read_fields(request, {"auto", "converge_every", "timings", "seed"})
    diego = ns.fake.diego
    timings = body.get("timings", {})
    if not isinstance(timings, dict) or set(timings) - {"start", "stop", "task"}:
        raise AdminError("timings: expected an object with start, stop and/or task")
    given = {k: _seconds(v, f"timings.{k}") for k, v in timings.items()}
    if "converge_every" in body:
        every = _seconds(body["converge_every"], "converge_every", allow_none=True)
        if every == 0:
            raise AdminError("converge_every: expected seconds > 0, or null for none")
        diego.converge_every = every
    if "seed" in body:
        seed = body["seed"]
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise AdminError(f"seed: expected a whole number or null, got {seed!r}")
        diego.seed = seed
    diego.timings(**given)
    if "auto" in body:
        if not isinstance(body["auto"], bool):
            raise AdminError("auto: expected true or false")
        diego.auto = body["auto"]
    return _status(diego)


def list_cells(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    return {"cells": [_cell_json(cell) for cell in ns.fake.diego.cells()]}


def add_cell(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    body = read_fields(request, set(CELL_FIELDS), required={"cell_id"})
    try:
        arguments = cell_arguments(body, "cell")
        cell_id = arguments.pop("cell_id")
        return _cell_json(ns.fake.diego.add_cell(cell_id, **arguments))
    except ValueError as exc:
        raise AdminError(str(exc)) from None


def _known_cell(ns: Namespace, cell_id: str) -> None:
    if all(cell.cell_id != cell_id for cell in ns.fake.diego.cells()):
        raise AdminError(f"no simulated cell {cell_id!r} in this namespace", 404)


def remove_cell(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    _known_cell(ns, args["cell_id"])
    ns.fake.diego.remove_cell(args["cell_id"])
    return {"removed": args["cell_id"]}


def evacuate_cell(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    read_fields(request, set())
    _known_cell(ns, args["cell_id"])
    ns.fake.diego.evacuate_cell(args["cell_id"])
    return {"evacuated": args["cell_id"]}


def crash(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    body = read_fields(request, {"process_guid", "index", "reason"}, required={"process_guid"})
    guid, index, reason = body["process_guid"], body.get("index", 0), body.get("reason", "")
    if not isinstance(guid, str) or not isinstance(reason, str):
        raise AdminError("process_guid and reason are strings")
    if isinstance(index, bool) or not isinstance(index, int):
        raise AdminError(f"index: expected a whole number, got {index!r}")
    try:
        ns.fake.diego.crash(guid, index, reason=reason)
    except LookupError as exc:
        raise AdminError(str(exc), 404) from None
    return {"crashed": {"process_guid": guid, "index": index}}


def run(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    read_fields(request, set())
    ns.fake.diego.run_until_idle()
    return _status(ns.fake.diego)


def task_outcome(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    body = read_fields(
        request, {"pattern", "failed", "result", "failure_reason"}, required={"pattern"}
    )
    pattern = body["pattern"]
    failed = body.get("failed", False)
    texts = (pattern, body.get("result", ""), body.get("failure_reason", ""))
    if not all(isinstance(t, str) for t in texts) or not isinstance(failed, bool):
        raise AdminError("pattern, result and failure_reason are strings; failed is true/false")
    ns.fake.diego.task_outcome(pattern, failed=failed, result=texts[1], failure_reason=texts[2])
    return {"pattern": pattern, "failed": failed, "result": texts[1], "failure_reason": texts[2]}


def calls(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    route = request.args.get("route")
    shown = ns.fake.diego.calls.to(route) if route else list(ns.fake.diego.calls)
    return {"calls": [call_json(call) for call in shown]}


def clear_calls(ns: Namespace, request: Request, args: Mapping[str, Any]) -> Any:
    ns.fake.diego.calls.clear()
    return {"cleared": "diego calls"}


ENDPOINTS: tuple[tuple[str, str, _Handler], ...] = (
    ("GET", "/diego", status),
    ("POST", "/diego", configure),
    ("GET", "/diego/cells", list_cells),
    ("POST", "/diego/cells", add_cell),
    ("DELETE", "/diego/cells/<cell_id>", remove_cell),
    ("POST", "/diego/cells/<cell_id>/evacuate", evacuate_cell),
    ("POST", "/diego/crash", crash),
    ("POST", "/diego/run", run),
    ("POST", "/diego/task_outcomes", task_outcome),
    ("GET", "/diego/calls", calls),
    ("DELETE", "/diego/calls", clear_calls),
)
"""The rows the admin API's route table takes from here."""
