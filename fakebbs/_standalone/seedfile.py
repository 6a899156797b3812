"""Seed files: ``fakebbs serve --seed FILE`` and ``POST /fakebbs/v1/seed``, in JSON.

A seed document mirrors ``FakeBBS.seed`` (``fakebbs._control.seed``): one section per seed method,
each entry the keyword arguments of one call, applied in this order::

    {
      "domains":      ["cf-apps", {"name": "cf-tasks", "ttl": 120}],
      "cells":        ["cell-0", {"cell_id": "cell-1", "zone": "z1"}],
      "desired_lrps": [{"process_guid": "web", "instances": 3, "running": 2, "crashed": 1,
                        "cell_id": "cell-1", "memory_mb": 512},
                       {"count": 100, "prefix": "bulk", "instances": 2}],
      "actual_lrps":  [{"process_guid": "web", "index": 0, "state": "RUNNING",
                        "cell_id": "cell-2", "evacuating": true}],
      "tasks":        [{"task_guid": "t-1", "state": "RUNNING", "cell_id": "cell-1"}]
    }

Besides the seed options (``instances``, ``state``, ``cell_id``...), an entry may give any
field of its model in protobuf's JSON mapping (``"routes"``, ``"ports"``, ``"action"``...).
A domain or a cell that needs nothing else may be given as its name or id alone.
Every problem is reported with the file, the entry and the field, in one line, before anything
is served.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fakebbs._control import json_input as json_input
from fakebbs._control.seed import MAX_DOMAIN_TTL, Seed
from fakebbs._fake import FakeBBS
from fakebbs._rules.store import Snapshot, Store
from fakebbs.errors import BBSError

__all__ = ["SECTIONS", "SeedEntry", "SeedFileError", "apply_seed", "load_seed_file", "parse_seed"]

SECTIONS = ("domains", "cells", "desired_lrps", "actual_lrps", "tasks")
"""The sections of a seed document, in the order they are applied."""

# The options each section's seed method takes besides model fields: name -> JSON type(s).
_INT = (int,)
_OPTIONS: Mapping[str, Mapping[str, tuple[type, ...]]] = MappingProxyType(
    {
        "domains": {"name": (str,), "ttl": (int, float, type(None))},
        "cells": {"cell_id": (str,), "zone": (str,)},
        "desired_lrps": {
            "process_guid": (str,),
            "count": _INT,
            "prefix": (str,),
            "instances": _INT,
            "running": _INT,
            "claimed": _INT,
            "crashed": _INT,
            "cell_id": (str,),
        },
        "actual_lrps": {
            "process_guid": (str,),
            "index": _INT,
            "state": (str,),
            "cell_id": (str,),
            "evacuating": (bool,),
            "suspect": (bool,),
            "crash_count": _INT,
            "domain": (str,),
        },
        "tasks": {"task_guid": (str,), "state": (str,), "cell_id": (str,), "domain": (str,)},
    }
)
_REQUIRED: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "domains": ("name",),
        "cells": ("cell_id",),
        "desired_lrps": (),  # process_guid, or count for a bulk entry: checked apart
        "actual_lrps": ("process_guid", "index"),
        "tasks": ("task_guid",),
    }
)
# The sections whose entries may be a plain string: the one option they require.
_SHORTHAND: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"domains": ("name", "a domain name"), "cells": ("cell_id", "a cell id")}
)
_INT32 = 2**31 - 1
MAX_SEED_COUNT = 1_000_000
"""The most desired LRPs one bulk entry (``count``) makes."""
# The numbers each option may hold (inclusive): what the model's field holds, or a bound that
# keeps one entry from filling the memory.
_RANGES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "count": (0, MAX_SEED_COUNT),
        "instances": (0, _INT32),
        "running": (0, _INT32),
        "claimed": (0, _INT32),
        "crashed": (0, _INT32),
        "index": (0, _INT32),
        "crash_count": (0, _INT32),
        "ttl": (0, MAX_DOMAIN_TTL),
    }
)
_TYPE_NAMES: Mapping[type, str] = MappingProxyType(
    {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}
)


class SeedFileError(ValueError):
    """A seed document that cannot be applied; the message names the entry and the field."""


@dataclass(frozen=True)
class SeedEntry:
    """One call of ``FakeBBS.seed``: its section, where it is in the document, and its
    arguments as given (options and model fields alike)."""

    section: str
    position: int
    arguments: Mapping[str, Any]

    @property
    def label(self) -> str:
        """``desired_lrps[2] ("web")``: how an error names the entry."""
        key = {
            "domains": "name",
            "cells": "cell_id",
            "desired_lrps": "process_guid",
            "actual_lrps": "process_guid",
            "tasks": "task_guid",
        }[self.section]
        name = self.arguments.get(key)
        where = f"{self.section}[{self.position}]"
        if self.section == "actual_lrps":
            return f"{where} ({name!r}, index {self.arguments.get('index')})"
        return where if name is None else f"{where} ({name!r})"


def parse_seed(document: Any, source: str) -> list[SeedEntry]:
    """The entries of a decoded seed document, in the order they apply; a SeedFileError
    (prefixed by ``source``) for a document of the wrong shape."""
    if not isinstance(document, dict):
        raise SeedFileError(f"{source}: expected a JSON object with sections {_sections()}")
    unknown = sorted(set(document) - set(SECTIONS) - {"diego"})  # diego: fakebbs._diego
    if unknown:
        raise SeedFileError(
            f"{source}: unknown section(s) {', '.join(map(repr, unknown))} "
            f"(a seed document has {_sections()})"
        )
    entries: list[SeedEntry] = []
    for section in SECTIONS:
        items = document.get(section, [])
        if not isinstance(items, list):
            raise SeedFileError(f"{source}: {section}: expected a list of entries")
        for position, item in enumerate(items):
            shorthand = _SHORTHAND.get(section)
            if shorthand is not None and isinstance(item, str):
                item = {shorthand[0]: item}
            entry_at = f"{source}: {section}[{position}]"
            if not isinstance(item, dict):
                wanted = (
                    "a JSON object" if shorthand is None else f"{shorthand[1]} or a JSON object"
                )
                raise SeedFileError(f"{entry_at}: expected {wanted}, got {json.dumps(item)}")
            entry = SeedEntry(section, position, item)
            _check_options(entry, f"{source}: {entry.label}")
            entries.append(entry)
    return entries


def _sections() -> str:
    return ", ".join(SECTIONS)


def _check_options(entry: SeedEntry, at: str) -> None:
    options = _OPTIONS[entry.section]
    arguments = entry.arguments
    for name in _REQUIRED[entry.section]:
        if name not in arguments:
            raise SeedFileError(f"{at}: {name} is required")
    if entry.section == "desired_lrps" and ("process_guid" in arguments) == ("count" in arguments):
        both = ", not both" if "count" in arguments else ""
        raise SeedFileError(f"{at}: give process_guid (one LRP) or count (many){both}")
    if entry.section == "desired_lrps" and "prefix" in arguments and "count" not in arguments:
        raise SeedFileError(f"{at}: prefix goes with count")
    if entry.section == "domains":
        unknown = sorted(set(arguments) - set(options))
        if unknown:
            raise SeedFileError(f"{at}: unknown field(s) {', '.join(unknown)} (name, ttl)")
    for name, types in options.items():
        if name not in arguments:
            continue
        value = arguments[name]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            wanted = " or ".join(_TYPE_NAMES.get(t, "null") for t in types)
            raise SeedFileError(f"{at}: {name}: expected {wanted}, got {json.dumps(value)}")
        bounds = _RANGES.get(name)
        if bounds is not None and isinstance(value, int | float):
            low, high = bounds
            if not low <= value <= high:  # also refuses nan
                raise SeedFileError(f"{at}: {name}: {value!r} is out of range ({low} to {high})")


def load_seed_file(path: str | Path) -> list[SeedEntry]:
    """Read and check a seed file; a SeedFileError for a missing file, JSON that does not
    parse (with its line and column) or a document of the wrong shape."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedFileError(f"seed file {path}: cannot read it: {exc}") from None
    try:
        document = json_input.loads(text)
    except json_input.JSONInputError as exc:
        raise SeedFileError(f"seed file {path}: {exc}") from None
    return parse_seed(document, f"seed file {path}")


def apply_seed(fake: FakeBBS, entries: list[SeedEntry], source: str = "seed") -> dict[str, int]:
    """Seed ``fake`` with every entry, in order; returns how many rows each section made.

    All or nothing: every entry is first tried on a scratch copy of the state (under the
    state's lock, so nothing writes in between); when one fails (a field a model lacks, a
    value its validation refuses, a number out of range, a guid that exists), nothing at all
    is stored and a SeedFileError names the entry and the field. Only then are the entries
    written, each as the ``FakeBBS.seed`` call it stands for."""
    store = fake._state.store
    with store.lock:
        scratch = Store(clock=store.clock, new_guid=store.new_guid)  # no listeners: no callbacks
        scratch.restore(fake.snapshot())
        _apply_all(Seed(scratch), entries, source)
        before = fake.snapshot()
        try:
            return _apply_all(fake.seed, entries, source)
        except SeedFileError:  # cannot happen after the trial; never leave half a seed
            fake.restore(before)
            raise


def _apply_all(seed: Seed, entries: list[SeedEntry], source: str) -> dict[str, int]:
    made = dict.fromkeys(SECTIONS, 0)
    for entry in entries:
        try:
            made[entry.section] += _apply(seed, entry)
        except (TypeError, ValueError, OverflowError, BBSError) as exc:
            reason = f"{exc.type_name}: {exc.message}" if isinstance(exc, BBSError) else str(exc)
            raise SeedFileError(f"{source}: {entry.label}: {reason}") from None
    return made


def _apply(seed: Seed, entry: SeedEntry) -> int:
    """One seed call; the number of rows it made."""
    arguments = dict(entry.arguments)
    if entry.section == "domains":
        seed.domain(arguments.pop("name"), **arguments)
        return 1
    if entry.section == "cells":
        seed.cell(arguments.pop("cell_id"), **arguments)
        return 1
    if entry.section == "desired_lrps":
        if "count" in arguments:
            return len(seed.desired_lrps(arguments.pop("count"), **arguments))
        seed.desired_lrp(arguments.pop("process_guid"), **arguments)
        return 1
    if entry.section == "actual_lrps":
        seed.actual_lrp(arguments.pop("process_guid"), arguments.pop("index"), **arguments)
        return 1
    seed.task(arguments.pop("task_guid"), **arguments)
    return 1


def seed_snapshot(
    entries: list[SeedEntry], make_fake: Callable[[], FakeBBS], source: str
) -> Snapshot:
    """The state ``entries`` make in a fresh fake: what every namespace of ``fakebbs serve
    --seed`` starts from. Building it is what checks the file before anything is served."""
    fake = make_fake()
    apply_seed(fake, entries, source)
    return fake.snapshot()
