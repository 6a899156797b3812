"""A simulated cell's matching rules (rep ``CellState``)."""

from __future__ import annotations

import pytest

from fakebbs._diego.cells import Cell, insufficient_resources


def cell(**fields: object) -> Cell:
    values: dict[str, object] = {
        "cell_id": "c",
        "zone": "z1",
        "memory_mb": 1024,
        "disk_mb": 2048,
        "containers": 10,
        "max_pids": 1024,
        "placement_tags": frozenset(),
        "optional_placement_tags": frozenset(),
        "rootfs_providers": {"preloaded": frozenset({"cflinuxfs4"}), "docker": frozenset()},
        "volume_drivers": frozenset(),
        "rank": 0,
        "number": 0,
        "address": "10.0.0.2",
    }
    values.update(fields)
    return Cell(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("root_fs", "matches"),
    [
        ("preloaded:cflinuxfs4", True),
        ("preloaded+layer:cflinuxfs4?layer=https://blobs/layer.tgz", True),
        ("preloaded:cflinuxfs3", False),
        ("docker:///cloudfoundry/grace", True),
        ("oci:///x", False),
        ("not a url", False),
    ],
)
def test_a_root_filesystem_matches_a_provider(root_fs: str, matches: bool) -> None:
    assert cell().match_root_fs(root_fs) is matches


@pytest.mark.parametrize(
    ("asked", "matches"),
    [((), False), (("gpu",), True), (("gpu", "ssd"), True), (("gpu", "tpu"), False)],
)
def test_placement_tags_need_every_required_one_and_nothing_unknown(
    asked: tuple[str, ...], matches: bool
) -> None:
    tagged = cell(placement_tags=frozenset({"gpu"}), optional_placement_tags=frozenset({"ssd"}))
    assert tagged.match_placement_tags(asked) is matches


def test_the_score_is_the_mean_fraction_used_plus_the_starting_weight() -> None:
    c = cell(memory_mb=1000, disk_mb=1000, containers=10)
    assert c.score(500, 0) == pytest.approx((0.5 + 0.0 + 0.1) / 3)
    c.starting = 2
    assert c.score(500, 0) == pytest.approx((0.5 + 0.0 + 0.1) / 3 + 0.5)


def test_insufficient_resources_lists_the_problems_sorted() -> None:
    assert insufficient_resources({"memory", "disk"}) == "insufficient resources: disk, memory"
    assert insufficient_resources(set()) == "insufficient resources"
