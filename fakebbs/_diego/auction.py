"""The simulated auctioneer: places batches of LRP and task starts on cells, as upstream's
``auctionrunner.Scheduler`` does.

Per batch (``Scheduler.Schedule``): LRP starts sorted by index then memory (largest first),
index 0 before the tasks and the others after them; tasks largest first. An LRP instance goes
to the zones holding fewest instances of its process first (``sortZonesByInstances``; zones
with equal counts are weighed together), among the cells that pass the filters (root
filesystem, volume drivers, placement tags: ``filterCells``) and have the resources
(``ResourceMatch``), to the lowest score: the cell's used fraction after placing it, plus 0.25
per container still starting, plus 1000 per instance of the same process already there
(``ScoreForLRP``). A task goes to the lowest resource score plus 1000 per task on the cell
(``ScoreForTask``). What fits nowhere fails with upstream's error text.

Upstream scores every cell for every instance. Here cells with the same zone, capacity and
filters share a heap ordered by score, so a placement looks at the best few cells, not all of
them (the locality term dominates the score, so a cell already holding the process is only
chosen when no other fits). Equal scores go to the cell added first (or to a seeded order).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from fakebbs._diego.cells import (
    LOCALITY_OFFSET,
    Cell,
    Constraint,
    Container,
    insufficient_resources,
    mismatch_error,
)

__all__ = ["Auctioneer", "Placement", "Work"]

CELL_COMMUNICATION = "unable to communicate to compatible cells"
"""auctiontypes ``ErrorCellCommunication``: there are no cells to place on."""


class Work(NamedTuple):
    """One LRP instance (``index`` >= 0) or task (``index`` -1) to place."""

    guid: str  # process guid or task guid
    index: int  # type: ignore[assignment]  # shadows tuple.index(), unused here
    domain: str
    constraint: Constraint
    memory_mb: int
    disk_mb: int


class Placement(NamedTuple):
    """Where a work went: its cell and reserved container, or the error that kept it out."""

    work: Work
    cell: Cell | None
    container: Container | None
    error: str = ""


@dataclass(eq=False)
class _Pool:
    """Cells of one zone that share capacity and filters: one heap by score."""

    zone: str
    sample: Cell
    cells: set[Cell] = field(default_factory=set)
    heap: list[tuple[float, float, int, Cell]] = field(default_factory=list)


_PoolKey = tuple[object, ...]


def _pool_key(cell: Cell) -> _PoolKey:
    return (
        cell.zone,
        cell.memory_mb,
        cell.disk_mb,
        cell.containers,
        cell.placement_tags,
        cell.optional_placement_tags,
        tuple(sorted(cell.rootfs_providers.items())),
        cell.volume_drivers,
    )


class Auctioneer:
    """The auctioneer's view of the cells, kept up to date as containers come and go."""

    def __init__(self, new_instance_guid: Callable[[], str]) -> None:
        self._new_instance_guid = new_instance_guid
        self._pools: dict[_PoolKey, _Pool] = {}
        self._pool_of: dict[Cell, _Pool] = {}
        self._compatible: dict[Constraint, tuple[dict[str, list[_Pool]], int]] = {}
        self._process_cells: dict[str, dict[Cell, None]] = {}
        self._zone_counts: dict[str, dict[str, int]] = {}

    # -- cells coming and going ---------------------------------------------------------------

    def add(self, cell: Cell) -> None:
        """Take part in auctions (a new cell, or one no longer evacuating)."""
        key = _pool_key(cell)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(cell.zone, cell)
            self._compatible.clear()
        pool.cells.add(cell)
        self._pool_of[cell] = pool
        self.touched(cell)

    def withdraw(self, cell: Cell) -> None:
        """Take no more part in auctions (evacuating or gone); what it holds still counts
        until released."""
        pool = self._pool_of.pop(cell, None)
        if pool is None:
            return
        pool.cells.discard(cell)
        cell.version += 1
        if not pool.cells:
            del self._pools[_pool_key(cell)]
            self._compatible.clear()

    def touched(self, cell: Cell) -> None:
        """The cell's score changed: file it again in its pool's heap."""
        pool = self._pool_of.get(cell)
        if pool is None:
            return
        cell.version += 1
        heapq.heappush(pool.heap, (cell.score(0, 0), cell.rank, cell.version, cell))
        if len(pool.heap) > 4 * len(pool.cells) + 64:
            pool.heap = [(c.score(0, 0), c.rank, c.version, c) for c in pool.cells]
            heapq.heapify(pool.heap)

    def holders(self, process_guid: str) -> list[Cell]:
        """The cells holding instances of the process (evacuating ones too)."""
        return list(self._process_cells.get(process_guid, ()))

    # -- containers ---------------------------------------------------------------------------

    def reserve(self, cell: Cell, container: Container) -> None:
        cell.reserve(container)
        if not container.is_task:
            guid = container.process_guid
            self._process_cells.setdefault(guid, {})[cell] = None
            zones = self._zone_counts.setdefault(guid, {})
            zones[cell.zone] = zones.get(cell.zone, 0) + 1
        self.touched(cell)

    def started(self, cell: Cell, container: Container) -> None:
        cell.started(container)
        self.touched(cell)

    def release(self, cell: Cell, container: Container) -> bool:
        if not cell.release(container):
            return False
        if not container.is_task:
            guid = container.process_guid
            if guid not in cell.per_process:
                holders = self._process_cells.get(guid)
                if holders is not None:
                    holders.pop(cell, None)
                    if not holders:
                        del self._process_cells[guid]
            zones = self._zone_counts[guid]
            zones[cell.zone] -= 1
            if not zones[cell.zone]:
                del zones[cell.zone]
                if not zones:
                    del self._zone_counts[guid]
        self.touched(cell)
        return True

    # -- auctions -----------------------------------------------------------------------------

    def auction(self, lrps: Iterable[Work], tasks: Iterable[Work]) -> list[Placement]:
        """Place one batch (``Scheduler.Schedule``); every work gets a placement, with a cell
        and its reserved container or with the error that kept it from one."""
        lrp_list = sorted(lrps, key=lambda w: (w.index, -w.memory_mb))
        task_list = sorted(tasks, key=lambda w: -w.memory_mb)
        first = [w for w in lrp_list if w.index == 0]
        rest = [w for w in lrp_list if w.index != 0]
        if not self._pool_of:
            return [Placement(w, None, None, CELL_COMMUNICATION) for w in lrp_list + task_list]
        placed = [self._place_lrp(w) for w in first]
        placed += [self._place_task(w) for w in task_list]
        placed += [self._place_lrp(w) for w in rest]
        return placed

    def _zones(self, constraint: Constraint) -> tuple[dict[str, list[_Pool]], int]:
        found = self._compatible.get(constraint)
        if found is None:
            zones: dict[str, list[_Pool]] = {}
            level = 0
            for pool in self._pools.values():
                reached = pool.sample.mismatch_level(constraint)
                level = max(level, reached)
                if reached == 3:
                    zones.setdefault(pool.zone, []).append(pool)
            found = self._compatible[constraint] = (zones, level)
        return found

    def _reserve(self, work: Work, cell: Cell) -> Placement:
        container = Container(
            work.guid,
            work.index,
            work.domain,
            self._new_instance_guid() if work.index >= 0 else "",
            work.memory_mb,
            work.disk_mb,
        )
        self.reserve(cell, container)
        return Placement(work, cell, container)

    def _place_lrp(self, work: Work) -> Placement:
        zones, level = self._zones(work.constraint)
        if not zones:
            return Placement(work, None, None, mismatch_error(level, work.constraint))
        # Zones by how many instances of the process they hold, fewest first; zones with
        # equal counts are weighed together (the order within a group cannot matter: ranks
        # break every tie).
        counts = self._zone_counts.get(work.guid)
        groups: dict[int, list[_Pool]] = {}
        for zone, pools in zones.items():
            count = counts.get(zone, 0) if counts else 0
            group = groups.get(count)
            groups[count] = pools if group is None else group + pools  # never changed in place
        for count in sorted(groups) if len(groups) > 1 else groups:
            pools = groups[count]
            winner = self._best_fresh(pools, work) or self._best_local(pools, work)
            if winner is not None:
                return self._reserve(work, winner)
        problems = {"disk", "memory", "containers"}
        for pools in zones.values():
            for pool in pools:
                for cell in pool.cells:
                    problems &= cell.problems(work.memory_mb, work.disk_mb)
        return Placement(work, None, None, insufficient_resources(problems))

    def _best_fresh(self, pools: list[_Pool], work: Work) -> Cell | None:
        """The best-scoring cell of ``pools`` that fits and holds no instance of the process."""
        best: tuple[float, float, Cell] | None = None
        for pool in pools:
            heap = pool.heap
            skipped = []
            while heap:
                _, rank, version, cell = heap[0]
                if cell.version != version or self._pool_of.get(cell) is not pool:
                    heapq.heappop(heap)
                    continue
                if work.guid in cell.per_process or not cell.fits(work.memory_mb, work.disk_mb):
                    skipped.append(heapq.heappop(heap))
                    continue
                candidate = (cell.score(work.memory_mb, work.disk_mb), rank, cell)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
                break
            for entry in skipped:
                heapq.heappush(heap, entry)
        return None if best is None else best[2]

    def _best_local(self, pools: list[_Pool], work: Work) -> Cell | None:
        """Among cells already holding the process: fewest of its instances, then score."""
        best: tuple[float, float, Cell] | None = None
        members = set(pools)
        for cell in self._process_cells.get(work.guid, {}):
            if self._pool_of.get(cell) not in members:
                continue
            if not cell.fits(work.memory_mb, work.disk_mb):
                continue
            score = cell.score(work.memory_mb, work.disk_mb)
            candidate = (score + LOCALITY_OFFSET * cell.per_process[work.guid], cell.rank, cell)
            if best is None or candidate[:2] < best[:2]:
                best = candidate
        return None if best is None else best[2]

    def _place_task(self, work: Work) -> Placement:
        zones, level = self._zones(work.constraint)
        if not zones:
            return Placement(work, None, None, mismatch_error(level, work.constraint))
        best: tuple[float, float, Cell] | None = None
        problems = {"disk", "memory", "containers"}
        for pools in zones.values():
            for pool in pools:
                for cell in pool.cells:
                    if not cell.fits(work.memory_mb, work.disk_mb):
                        problems &= cell.problems(work.memory_mb, work.disk_mb)
                        continue
                    score = cell.score(work.memory_mb, work.disk_mb)
                    candidate = (score + LOCALITY_OFFSET * len(cell.tasks), cell.rank, cell)
                    if best is None or candidate[:2] < best[:2]:
                        best = candidate
        if best is None:
            return Placement(work, None, None, insufficient_resources(problems))
        return self._reserve(work, best[2])
