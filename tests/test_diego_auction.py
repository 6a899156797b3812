"""The simulated auctioneer's scheduler, on cells alone: upstream's filters, scores and errors."""

from __future__ import annotations

import itertools
from collections import Counter

from fakebbs._diego.auction import CELL_COMMUNICATION, Auctioneer, Work
from fakebbs._diego.cells import Cell, Constraint

FS4 = Constraint("preloaded:cflinuxfs4")


def cell(cell_id: str, rank: int, zone: str = "z1", **fields: object) -> Cell:
    values: dict[str, object] = {
        "memory_mb": 4096,
        "disk_mb": 8192,
        "containers": 100,
        "max_pids": 1024,
        "placement_tags": frozenset(),
        "optional_placement_tags": frozenset(),
        "rootfs_providers": {"preloaded": frozenset({"cflinuxfs4"})},
        "volume_drivers": frozenset(),
    }
    values.update(fields)
    return Cell(cell_id=cell_id, zone=zone, rank=rank, number=rank, address="", **values)  # type: ignore[arg-type]


def auctioneer(*cells: Cell) -> Auctioneer:
    guids = (f"guid-{n}" for n in itertools.count())
    auctioneer = Auctioneer(lambda: next(guids))
    for c in cells:
        auctioneer.add(c)
    return auctioneer


def lrp(guid: str, index: int, memory_mb: int = 256, constraint: Constraint = FS4) -> Work:
    return Work(guid, index, "d", constraint, memory_mb, 256)


def task(guid: str, memory_mb: int = 256) -> Work:
    return Work(guid, -1, "d", FS4, memory_mb, 256)


def test_instances_of_one_lrp_spread_over_zones_then_cells() -> None:
    cells = [cell(f"c{n}", n, zone=f"z{n % 3}") for n in range(6)]
    placed = auctioneer(*cells).auction([lrp("web", i) for i in range(6)], [])

    assert Counter(p.cell.zone for p in placed if p.cell) == {"z0": 2, "z1": 2, "z2": 2}
    assert len({p.cell.cell_id for p in placed if p.cell}) == 6


def test_the_least_loaded_cell_wins() -> None:
    busy, idle = cell("busy", 0), cell("idle", 1)
    auction = auctioneer(busy, idle)
    auction.auction([lrp("other", 0, memory_mb=2048)], [])  # lands on busy (the lower rank)

    (placement,) = auction.auction([lrp("web", 0)], [])

    assert placement.cell is idle


def test_starting_containers_weigh_on_a_cells_score() -> None:
    a, b = cell("a", 0), cell("b", 1)
    auction = auctioneer(a, b)
    (first,) = auction.auction([lrp("one", 0, memory_mb=1)], [])
    assert first.cell is a and a.starting == 1

    (second,) = auction.auction([lrp("two", 0, memory_mb=1)], [])
    assert second.cell is b  # a still has a container starting


def test_the_batch_places_index_0_first_and_big_instances_first() -> None:
    only = cell("only", 0, memory_mb=1000)
    placed = auctioneer(only).auction([lrp("a", 1, 600), lrp("b", 1, 700), lrp("c", 0, 100)], [])

    assert [(p.work.guid, p.cell is not None) for p in placed] == [
        ("c", True),
        ("b", True),
        ("a", False),
    ]
    assert placed[2].error == "insufficient resources: memory"


def test_the_error_names_only_what_every_cell_lacks() -> None:
    no_memory = cell("m", 0, memory_mb=100)
    no_disk = cell("d", 1, disk_mb=100)

    (placement,) = auctioneer(no_memory, no_disk).auction([lrp("web", 0)], [])

    assert placement.error == "insufficient resources"


def test_filters_report_the_furthest_one_any_cell_passed() -> None:
    tagged = cell("t", 0, placement_tags=frozenset({"gpu"}))
    auction = auctioneer(tagged)

    errors = [
        auction.auction([lrp("x", 0, constraint=c)], [])[0].error
        for c in (
            Constraint("docker:///busybox"),
            Constraint("preloaded:cflinuxfs4", volume_drivers=("nfs",)),
            Constraint("preloaded:cflinuxfs4"),
            Constraint("preloaded:cflinuxfs4", placement_tags=("tpu",)),
        )
    ]

    assert errors == [
        "found no compatible cell for required rootfs",
        "found no compatible cell with required volume drivers",
        "found no compatible cell with no placement tags",
        'found no compatible cell with placement tag "tpu"',
    ]


def test_tasks_spread_by_the_tasks_a_cell_holds() -> None:
    a, b = cell("a", 0), cell("b", 1)
    placed = auctioneer(a, b).auction([], [task("t1"), task("t2"), task("t3")])

    assert Counter(p.cell.cell_id for p in placed if p.cell) == {"a": 2, "b": 1}


def test_without_cells_every_work_fails_to_reach_one() -> None:
    placed = Auctioneer(lambda: "g").auction([lrp("web", 0)], [task("t")])

    assert [p.error for p in placed] == [CELL_COMMUNICATION] * 2


def test_a_released_container_frees_its_cell() -> None:
    only = cell("only", 0, containers=1)
    auction = auctioneer(only)
    (first,) = auction.auction([lrp("web", 0)], [])
    assert auction.auction([lrp("web", 1)], [])[0].error == "insufficient resources: containers"

    assert first.container is not None and auction.release(only, first.container)

    assert auction.auction([lrp("web", 1)], [])[0].cell is only


def test_an_evacuating_cell_takes_no_new_work() -> None:
    leaving, staying = cell("leaving", 0), cell("staying", 1)
    auction = auctioneer(leaving, staying)

    auction.withdraw(leaving)

    assert {p.cell for p in auction.auction([lrp("web", i) for i in range(3)], [])} == {staying}
