"""The simulated cells: capacity, what runs on them, and upstream's placement filters.

A ``Cell`` is what a rep reports to the auctioneer (rep ``CellState``): total and available
resources, the LRPs and tasks it holds, how many containers are starting, its zone, root
filesystem providers, volume drivers and placement tags. The matching rules are rep's
(``resources.go``): ``MatchRootFS``, ``MatchVolumeDrivers``, ``MatchPlacementTags``,
``ResourceMatch`` and ``ComputeScore``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from fakebbs import models

__all__ = [
    "DEFAULT_ROOTFS_PROVIDERS",
    "Cell",
    "CellState",
    "Constraint",
    "Container",
    "insufficient_resources",
]

DEFAULT_ROOTFS_PROVIDERS: Mapping[str, Sequence[str]] = MappingProxyType(
    {"preloaded": ("cflinuxfs4",), "docker": ()}
)
"""A cell's root filesystems unless told: the cflinuxfs4 stack and any docker image."""

STARTING_CONTAINER_WEIGHT = 0.25
"""The auctioneer's ``starting_container_weight`` default (diego-release)."""

LOCALITY_OFFSET = 1000
"""auctionrunner ``LocalityOffset``: the score added per instance of the same LRP on a cell."""


class Constraint(NamedTuple):
    """What a start request asks of a cell (rep ``PlacementConstraint``)."""

    root_fs: str
    placement_tags: tuple[str, ...] = ()
    volume_drivers: tuple[str, ...] = ()


@dataclass(slots=True)
class Container:
    """One LRP instance or task a cell holds, from its reservation to its removal.

    ``state`` is ``reserved`` (placed, not yet claimed), ``claimed``, ``running`` or
    ``stopping``; ``evacuating`` says the rep evacuated it and keeps it running meanwhile."""

    process_guid: str  # the task guid for a task
    index: int  # -1 for a task
    domain: str
    instance_guid: str
    memory_mb: int
    disk_mb: int
    state: str = "reserved"
    evacuating: bool = False
    instance_address: str = ""
    ports: tuple[tuple[int, int], ...] = ()

    @property
    def is_task(self) -> bool:
        return self.index < 0


@dataclass(frozen=True)
class CellState:
    """What the auctioneer and the reps know of one simulated cell (``bbs.diego.cells()``).

    ``available_*`` is what is left after every container placed on it; ``lrps`` the
    (process guid, index, state) of each instance it holds, ``tasks`` the task guids;
    ``starting`` counts containers placed but not yet running."""

    cell_id: str
    zone: str
    memory_mb: int
    disk_mb: int
    containers: int
    max_pids: int
    available_memory_mb: int
    available_disk_mb: int
    available_containers: int
    starting: int
    evacuating: bool
    placement_tags: tuple[str, ...]
    optional_placement_tags: tuple[str, ...]
    rootfs_providers: Mapping[str, tuple[str, ...]]
    volume_drivers: tuple[str, ...]
    lrps: tuple[tuple[str, int, str], ...]
    tasks: tuple[str, ...]


@dataclass(eq=False)
class Cell:
    """One cell's rep, as the auctioneer and the simulation see it."""

    cell_id: str
    zone: str
    memory_mb: int
    disk_mb: int
    containers: int
    max_pids: int
    placement_tags: frozenset[str]
    optional_placement_tags: frozenset[str]
    rootfs_providers: Mapping[str, frozenset[str]]
    volume_drivers: frozenset[str]
    rank: float
    """Order among cells (ties between equal scores go to the lower rank)."""
    number: int
    """The how-manieth cell this is (its addresses derive from it)."""
    address: str
    available_memory_mb: int = 0
    available_disk_mb: int = 0
    available_containers: int = 0
    starting: int = 0
    evacuating: bool = False
    gone: bool = False
    version: int = 0
    """Bumped whenever the score changes (stale heap entries are skipped)."""
    lrps: dict[str, Container] = field(default_factory=dict)
    tasks: dict[str, Container] = field(default_factory=dict)
    per_process: dict[str, int] = field(default_factory=dict)
    _next_port: int = 61000
    _next_ip: int = 2

    def __post_init__(self) -> None:
        self.available_memory_mb = self.memory_mb
        self.available_disk_mb = self.disk_mb
        self.available_containers = self.containers

    # -- rep CellState matching -------------------------------------------------------------

    def match_root_fs(self, root_fs: str) -> bool:
        """``MatchRootFS``: the URL's scheme names a provider; a provider with stacks takes
        only those (the URL's opaque part), one without takes any (docker's)."""
        parts = urllib.parse.urlsplit(root_fs)
        scheme, rest = parts.scheme, root_fs.partition(":")[2].partition("?")[0]
        if scheme == "preloaded+layer":
            scheme = "preloaded"
        stacks = self.rootfs_providers.get(scheme)
        if stacks is None:
            return False
        return not stacks or rest in stacks

    def match_volume_drivers(self, drivers: Iterable[str]) -> bool:
        return all(driver in self.volume_drivers for driver in drivers)

    def match_placement_tags(self, tags: Iterable[str]) -> bool:
        """Every required tag of the cell is asked for, and every tag asked for is one of
        the cell's (required or optional)."""
        wanted = set(tags)
        return self.placement_tags <= wanted and wanted <= (
            self.placement_tags | self.optional_placement_tags
        )

    def mismatch_level(self, constraint: Constraint) -> int:
        """How far the filters of ``filterCells`` get: 0 root filesystem, 1 volume drivers,
        2 placement tags, 3 compatible."""
        if not self.match_root_fs(constraint.root_fs):
            return 0
        if not self.match_volume_drivers(constraint.volume_drivers):
            return 1
        if not self.match_placement_tags(constraint.placement_tags):
            return 2
        return 3

    def problems(self, memory_mb: int, disk_mb: int) -> set[str]:
        """``ResourceMatch``: what this cell lacks for a container of that size."""
        found = set()
        if self.available_disk_mb < disk_mb:
            found.add("disk")
        if self.available_memory_mb < memory_mb:
            found.add("memory")
        if self.available_containers < 1:
            found.add("containers")
        return found

    def fits(self, memory_mb: int, disk_mb: int) -> bool:
        return (
            self.available_disk_mb >= disk_mb
            and self.available_memory_mb >= memory_mb
            and self.available_containers >= 1
        )

    def score(self, memory_mb: int, disk_mb: int) -> float:
        """``CellState.ComputeScore``: the mean fraction used after the container, plus the
        weight of each container still starting."""
        used_memory = 1.0 - (self.available_memory_mb - memory_mb) / self.memory_mb
        used_disk = 1.0 - (self.available_disk_mb - disk_mb) / self.disk_mb
        used_containers = 1.0 - (self.available_containers - 1) / self.containers
        resource = (used_memory + used_disk + used_containers) / 3.0
        return resource + self.starting * STARTING_CONTAINER_WEIGHT

    # -- holding containers -------------------------------------------------------------------

    def reserve(self, container: Container) -> None:
        """``AddLRP`` / ``AddTask``: the container takes its resources and is starting."""
        self.available_memory_mb -= container.memory_mb
        self.available_disk_mb -= container.disk_mb
        self.available_containers -= 1
        self.starting += 1
        self.version += 1
        if container.is_task:
            self.tasks[container.process_guid] = container
        else:
            self.lrps[container.instance_guid] = container
            guid = container.process_guid
            self.per_process[guid] = self.per_process.get(guid, 0) + 1

    def started(self, container: Container) -> None:
        """A starting container runs: it no longer weighs as starting."""
        if container.state in ("reserved", "claimed"):
            self.starting -= 1
            self.version += 1
        container.state = "running"

    def release(self, container: Container) -> bool:
        """The container is gone: its resources are free again. False if it was not here."""
        held = self.tasks if container.is_task else self.lrps
        key = container.process_guid if container.is_task else container.instance_guid
        if held.get(key) is not container:
            return False
        del held[key]
        self.available_memory_mb += container.memory_mb
        self.available_disk_mb += container.disk_mb
        self.available_containers += 1
        if container.state in ("reserved", "claimed"):
            self.starting -= 1
        self.version += 1
        if not container.is_task:
            guid = container.process_guid
            left = self.per_process[guid] - 1
            if left:
                self.per_process[guid] = left
            else:
                del self.per_process[guid]
        return True

    def new_instance_address(self) -> str:
        n = self._next_ip
        self._next_ip += 1  # a container address per container, as garden's pool hands out
        return f"10.{128 + self.number // 256 % 128}.{self.number % 256}.{n % 254 + 2}"

    def new_host_port(self) -> int:
        self._next_port += 1
        return self._next_port

    # -- views ----------------------------------------------------------------------------------

    def presence(self) -> models.CellPresence:
        """The rep's Locket presence, as ``cells/list.r1`` shows it."""
        host = f"{self.cell_id}.cell.service.cf.internal"
        return models.CellPresence(
            cell_id=self.cell_id,
            rep_address=f"http://{host}:1800",
            rep_url=f"https://{host}:1801",
            zone=self.zone,
            capacity=models.CellCapacity(
                memory_mb=self.memory_mb, disk_mb=self.disk_mb, containers=self.containers
            ),
            rootfs_providers=[
                models.Provider(name=name, properties=sorted(stacks))
                for name, stacks in sorted(self.rootfs_providers.items())
            ],
            placement_tags=sorted(self.placement_tags),
            optional_placement_tags=sorted(self.optional_placement_tags),
        )

    def state(self) -> CellState:
        return CellState(
            cell_id=self.cell_id,
            zone=self.zone,
            memory_mb=self.memory_mb,
            disk_mb=self.disk_mb,
            containers=self.containers,
            max_pids=self.max_pids,
            available_memory_mb=self.available_memory_mb,
            available_disk_mb=self.available_disk_mb,
            available_containers=self.available_containers,
            starting=self.starting,
            evacuating=self.evacuating,
            placement_tags=tuple(sorted(self.placement_tags)),
            optional_placement_tags=tuple(sorted(self.optional_placement_tags)),
            rootfs_providers={
                name: tuple(sorted(stacks)) for name, stacks in self.rootfs_providers.items()
            },
            volume_drivers=tuple(sorted(self.volume_drivers)),
            lrps=tuple(sorted((c.process_guid, c.index, c.state) for c in self.lrps.values())),
            tasks=tuple(sorted(self.tasks)),
        )


def insufficient_resources(problems: Iterable[str]) -> str:
    """rep ``InsufficientResourcesError.Error()``."""
    names = sorted(problems)
    return "insufficient resources: " + ", ".join(names) if names else "insufficient resources"


def mismatch_error(level: int, constraint: Constraint) -> str:
    """The auctiontypes error of the furthest filter any cell passed (``filterCells``)."""
    if level <= 0:
        return "found no compatible cell for required rootfs"
    if level == 1:
        return "found no compatible cell with required volume drivers"
    tags = constraint.placement_tags
    if not tags:
        return "found no compatible cell with no placement tags"
    if len(tags) == 1:
        return f'found no compatible cell with placement tag "{tags[0]}"'
    head = ", ".join(f'"{tag}"' for tag in tags[:-1])
    return f'found no compatible cell with placement tags {head} and "{tags[-1]}"'
