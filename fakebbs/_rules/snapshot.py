"""The keys and the read-only tables of the state: ``ActualKey``, the primary key of an actual
LRP row, and ``Snapshot``, the whole state at one moment (what ``FakeBBS.snapshot()`` returns
and ``restore()`` takes back). The store (``fakebbs._rules.store``) keeps its tables by these
keys and makes and takes snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from fakebbs import models

__all__ = ["ActualKey", "Snapshot"]


class ActualKey(NamedTuple):
    """The primary key of upstream's ``actual_lrps`` table. A named tuple: the store looks
    keys up several times per rule, and a tuple's hash and equality are native."""

    process_guid: str
    index: int  # type: ignore[assignment]  # the field shadows tuple.index(), unused here
    presence: int

    @classmethod
    def of(cls, lrp: models.ActualLRP) -> ActualKey:
        key = lrp.actual_lrp_key
        return tuple.__new__(cls, (key.process_guid, key.index, lrp.presence))

    @classmethod
    def at(cls, process_guid: str, index: int, presence: int) -> ActualKey:
        """``ActualKey(...)`` without the named tuple's Python-level constructor: the store
        makes several keys per rule."""
        return tuple.__new__(cls, (process_guid, index, presence))


class Snapshot:
    """The whole state at one moment, read-only: what ``FakeBBS.snapshot()`` returns and
    ``restore()`` takes back.

    Each table is a shallow copy of the store's dictionary, made in one pass: the messages are
    shared with the store, which is safe because nothing changes a stored message in place.
    A snapshot is therefore unaffected by later writes, cheap to take, and may be restored
    any number of times, into this fake or another one. Its tables are read-only views.
    """

    __slots__ = ("_desired_lrps", "_actual_lrps", "_tasks", "_domains", "_cells")

    def __init__(
        self,
        desired_lrps: Mapping[str, models.DesiredLRP] | None = None,
        actual_lrps: Mapping[ActualKey, models.ActualLRP] | None = None,
        tasks: Mapping[str, models.Task] | None = None,
        domains: Mapping[str, int | None] | None = None,
        cells: Mapping[str, models.CellPresence] | None = None,
    ) -> None:
        """Copies of the given tables (absent ones are empty)."""
        self._desired_lrps = dict(desired_lrps or {})
        self._actual_lrps = dict(actual_lrps or {})
        self._tasks = dict(tasks or {})
        self._domains = dict(domains or {})
        self._cells = dict(cells or {})

    @classmethod
    def wrapping(
        cls,
        desired_lrps: dict[str, models.DesiredLRP],
        actual_lrps: dict[ActualKey, models.ActualLRP],
        tasks: dict[str, models.Task],
        domains: dict[str, int | None],
        cells: dict[str, models.CellPresence],
    ) -> Snapshot:
        """A snapshot over these dictionaries themselves, not copies: for tables nobody will
        write again (a store's old tables after a restore)."""
        snapshot = cls.__new__(cls)
        snapshot._desired_lrps = desired_lrps
        snapshot._actual_lrps = actual_lrps
        snapshot._tasks = tasks
        snapshot._domains = domains
        snapshot._cells = cells
        return snapshot

    def tables(
        self,
    ) -> tuple[
        dict[str, models.DesiredLRP],
        dict[ActualKey, models.ActualLRP],
        dict[str, models.Task],
        dict[str, int | None],
        dict[str, models.CellPresence],
    ]:
        """Fresh copies of the five tables, for a store to take (a dict copied from a dict
        keeps its keys' hashes: no per-row work)."""
        return (
            self._desired_lrps.copy(),
            self._actual_lrps.copy(),
            self._tasks.copy(),
            self._domains.copy(),
            self._cells.copy(),
        )

    @property
    def desired_lrps(self) -> Mapping[str, models.DesiredLRP]:
        return MappingProxyType(self._desired_lrps)

    @property
    def actual_lrps(self) -> Mapping[ActualKey, models.ActualLRP]:
        return MappingProxyType(self._actual_lrps)

    @property
    def tasks(self) -> Mapping[str, models.Task]:
        return MappingProxyType(self._tasks)

    @property
    def domains(self) -> Mapping[str, int | None]:
        """Domain name to expiry (Unix nanoseconds; None never)."""
        return MappingProxyType(self._domains)

    @property
    def cells(self) -> Mapping[str, models.CellPresence]:
        return MappingProxyType(self._cells)

    def __repr__(self) -> str:
        return (
            f"Snapshot({len(self._desired_lrps)} desired LRPs, {len(self._actual_lrps)} actual "
            f"LRPs, {len(self._tasks)} tasks, {len(self._domains)} domains, "
            f"{len(self._cells)} cells)"
        )
