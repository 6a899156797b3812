"""A simulated Diego described as data: ``fakebbs serve --cells N``, a seed file's ``diego``
section and the admin API's ``/fakebbs/v1/diego`` endpoints.

A seed file's section (every key optional)::

    "diego": {
      "cells": [{"cell_id": "cell-1", "zone": "z1", "memory_mb": 16384},
                {"cell_id": "cell-2", "zone": "z2", "placement_tags": ["gpu"]}],
      "auto": true,
      "timings": {"start": 2.0, "stop": 0.5, "task": 10.0},
      "converge_every": 30,
      "seed": 7
    }

A cell takes the keyword arguments of ``Diego.add_cell``; ``auto`` defaults to true (a server
is a Diego in a box).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakebbs._diego.sim import Diego

__all__ = ["CELL_FIELDS", "DiegoConfig", "cell_arguments", "default_cells", "parse_config"]

CELL_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "cell_id": "str",
        "zone": "str",
        "memory_mb": "int",
        "disk_mb": "int",
        "containers": "int",
        "max_pids": "int",
        "placement_tags": "strs",
        "optional_placement_tags": "strs",
        "rootfs_providers": "providers",
        "volume_drivers": "strs",
    }
)
"""``Diego.add_cell``'s arguments and the JSON each takes."""

_KEYS = ("cells", "auto", "timings", "converge_every", "seed")
_TIMINGS = ("start", "stop", "task")


def default_cells(count: int) -> list[dict[str, Any]]:
    """``--cells N``: cell-1 ... cell-N with the default capacity, over zones z1, z2, z3."""
    return [{"cell_id": f"cell-{n}", "zone": f"z{(n - 1) % 3 + 1}"} for n in range(1, count + 1)]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def cell_arguments(value: Any, where: str) -> dict[str, Any]:
    """``add_cell``'s keyword arguments from a JSON object; a ValueError naming ``where``."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a JSON object, got {json.dumps(value)}")
    unknown = sorted(set(value) - set(CELL_FIELDS))
    if unknown:
        known = ", ".join(CELL_FIELDS)
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)} (a cell has {known})")
    if "cell_id" not in value:
        raise ValueError(f"{where}: cell_id is required")
    for name, item in value.items():
        kind = CELL_FIELDS[name]
        ok = (
            isinstance(item, str)
            if kind == "str"
            else isinstance(item, int) and not isinstance(item, bool)
            if kind == "int"
            else isinstance(item, list) and all(isinstance(v, str) for v in item)
            if kind == "strs"
            else isinstance(item, dict)
            and all(
                isinstance(v, list) and all(isinstance(s, str) for s in v) for v in item.values()
            )
        )
        if not ok:
            wanted = {
                "str": "a string",
                "int": "a whole number",
                "strs": "a list of strings",
                "providers": "an object of scheme to a list of stacks",
            }[kind]
            raise ValueError(f"{where}: {name}: expected {wanted}, got {json.dumps(item)}")
    return dict(value)


@dataclass(frozen=True)
class DiegoConfig:
    """What to set up in a fake's ``diego``: its cells and settings."""

    cells: tuple[dict[str, Any], ...] = ()
    auto: bool = True
    timings: Mapping[str, float] = field(default_factory=dict)
    converge_every: float | None = 30.0
    seed: int | None = None

    def __bool__(self) -> bool:
        return bool(self.cells)

    def apply(self, diego: Diego) -> None:
        """Set the fake's simulated Diego up (a fresh or reset one)."""
        diego.seed = self.seed
        diego.converge_every = self.converge_every
        diego.timings(**self.timings)
        for cell in self.cells:
            arguments = dict(cell)
            diego.add_cell(arguments.pop("cell_id"), **arguments)
        diego.auto = self.auto

    def with_cells(self, cells: list[dict[str, Any]]) -> DiegoConfig:
        return DiegoConfig(
            (*self.cells, *cells), self.auto, self.timings, self.converge_every, self.seed
        )


def parse_config(value: Any, source: str) -> DiegoConfig:
    """A seed file's ``diego`` section; a ValueError prefixed by ``source``."""
    where = f"{source}: diego"
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a JSON object with {', '.join(_KEYS)}")
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} ({', '.join(_KEYS)})")
    cells = value.get("cells", [])
    if not isinstance(cells, list):
        raise ValueError(f"{where}: cells: expected a list of cells")
    parsed = [cell_arguments(cell, f"{where}: cells[{n}]") for n, cell in enumerate(cells)]
    ids = [cell["cell_id"] for cell in parsed]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where}: cells: a cell_id is given twice")
    auto = value.get("auto", True)
    if not isinstance(auto, bool):
        raise ValueError(f"{where}: auto: expected true or false")
    timings = value.get("timings", {})
    if not isinstance(timings, dict) or set(timings) - set(_TIMINGS):
        raise ValueError(f"{where}: timings: expected an object with {', '.join(_TIMINGS)}")
    if not all(_is_number(t) and t >= 0 for t in timings.values()):
        raise ValueError(f"{where}: timings: each is a number of seconds >= 0")
    every = value.get("converge_every", 30.0)
    if every is not None and not (_is_number(every) and every > 0):
        raise ValueError(f"{where}: converge_every: expected seconds > 0 or null")
    seed = value.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError(f"{where}: seed: expected a whole number or null")
    return DiegoConfig(tuple(parsed), auto, dict(timings), every, seed)
