"""The state rules, called directly: no HTTP in between."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from builders import desired_lrp
from fakebbs import models
from fakebbs._rules.state import State
from fakebbs._rules.store import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    ORDINARY,
    RUNNING,
    SUSPECT,
    UNCLAIMED,
    ActualKey,
    Change,
    Store,
)
from fakebbs._rules.views import resolve_actual_lrp_groups
from fakebbs.errors import InvalidRequest, ResourceExists, ResourceNotFound
from rules_support import Clock, put_row


def put_actual(
    state: State,
    process_guid: str,
    index: int,
    status: str,
    presence: models.ActualLRP.Presence = ORDINARY,
    cell_id: str = "cell-1",
) -> models.ActualLRP:
    """Place a row as the lifecycle routes would leave it."""
    lrp = models.ActualLRP(
        actual_lrp_key=models.ActualLRPKey(
            process_guid=process_guid, index=index, domain="cf-apps"
        ),
        actual_lrp_instance_key=models.ActualLRPInstanceKey(
            instance_guid=f"ig-{index}-{presence}",
            cell_id=cell_id if status in (CLAIMED, RUNNING) else "",
        ),
        state=status,
        since=1,
        presence=presence,
        routable=False,
    )
    put_row(state, lrp)
    return lrp


def states(state: State, process_guid: str = "my-guid") -> dict[tuple[int, int], str]:
    return {
        (k.index, k.presence): lrp.state
        for k, lrp in state.store.actual_lrps.items()
        if k.process_guid == process_guid
    }


def test_desire_assigns_a_fresh_modification_tag_ignoring_the_clients(state: State) -> None:
    lrp = desired_lrp(instances=0, modification_tag=models.ModificationTag(epoch="mine", index=9))

    state.desire_lrp(lrp)

    assert state.store.desired_lrps["my-guid"].modification_tag == models.ModificationTag(
        epoch="epoch-0", index=0
    )


def test_desire_creates_an_unclaimed_ordinary_instance_per_index(
    state: State, clock: Clock
) -> None:
    created = state.desire_lrp(desired_lrp(instances=3))

    assert [a.actual_lrp_key.index for a in created] == [0, 1, 2]
    first = state.store.actual_lrps[ActualKey("my-guid", 0, ORDINARY)]
    assert first.state == UNCLAIMED
    assert first.since == clock.now
    assert first.HasField("routable") and first.routable is False
    assert first.actual_lrp_key.domain == "cf-apps"
    assert first.modification_tag.index == 0
    assert first.HasField("actual_lrp_net_info") and first.HasField("actual_lrp_instance_key")


def test_desiring_a_process_guid_twice_is_resource_exists_and_changes_nothing(state: State) -> None:
    state.desire_lrp(desired_lrp(instances=1, annotation="first"))

    with pytest.raises(ResourceExists):
        state.desire_lrp(desired_lrp(instances=3, annotation="second"))

    assert state.store.desired_lrps["my-guid"].annotation == "first"
    assert len(state.store.actual_lrps) == 1


def test_desire_drops_the_deprecated_start_timeout_and_duplicate_ports(state: State) -> None:
    state.desire_lrp(desired_lrp(deprecated_start_timeout_s=60, ports=[8080, 8080, 9090, 8080]))

    stored = state.store.desired_lrps["my-guid"]
    assert stored.deprecated_start_timeout_s == 0
    assert list(stored.ports) == [8080, 9090]


def test_route_json_is_stored_compacted_with_gos_html_escaping(state: State) -> None:
    lrp = desired_lrp()
    lrp.routes.routes["cf-router"] = b'[ {"hostnames": ["a<b>&c.example.com"],\n "port": 8080 } ]'

    state.desire_lrp(lrp)

    assert state.store.desired_lrps["my-guid"].routes.routes["cf-router"] == (
        b'[{"hostnames":["a\\u003cb\\u003e\\u0026c.example.com"],"port":8080}]'
    )


@pytest.mark.parametrize("value", [b"{not json", b"", b"NaN", b'{"a":1} x'])
def test_a_route_value_that_is_not_json_is_invalid_and_nothing_is_written(
    state: State, value: bytes
) -> None:
    lrp = desired_lrp()
    lrp.routes.routes["cf-router"] = value

    with pytest.raises(InvalidRequest, match="^the request received is invalid$"):
        state.desire_lrp(lrp)

    assert state.store.desired_lrps == {} and state.store.actual_lrps == {}


def test_updating_an_unknown_guid_with_bad_route_json_is_not_found(state: State) -> None:
    """Upstream finds the row before it encodes the routes (``UpdateDesiredLRP``)."""
    update = models.DesiredLRPUpdate()
    update.routes.routes["cf-router"] = b"[not json"

    with pytest.raises(ResourceNotFound):
        state.update_desired_lrp("unknown-guid", update)


def test_updating_a_known_guid_with_bad_route_json_is_invalid_and_writes_nothing(
    state: State,
) -> None:
    state.desire_lrp(desired_lrp(instances=1))
    stored = state.desired_lrp_by_process_guid("my-guid")
    update = models.DesiredLRPUpdate(instances=3)
    update.routes.routes["cf-router"] = b"[not json"

    with pytest.raises(InvalidRequest):
        state.update_desired_lrp("my-guid", update)

    assert state.desired_lrp_by_process_guid("my-guid") == stored
    assert len(state.store.actual_lrps) == 1


def test_update_changes_only_what_is_present_and_bumps_the_index(state: State) -> None:
    state.desire_lrp(desired_lrp(instances=1, annotation="a"))

    before, after, _, _ = state.update_desired_lrp("my-guid", models.DesiredLRPUpdate())

    assert before.annotation == after.annotation == "a"
    assert after.modification_tag.index == before.modification_tag.index + 1
    assert after.modification_tag.epoch == before.modification_tag.epoch


def test_an_empty_metric_tag_map_cannot_clear_tags(state: State) -> None:
    state.desire_lrp(desired_lrp())

    _, after, _, _ = state.update_desired_lrp("my-guid", models.DesiredLRPUpdate())

    assert "source_id" in after.metric_tags


def test_scaling_up_creates_the_missing_indices(state: State) -> None:
    state.desire_lrp(desired_lrp(instances=1))

    _, _, created, _ = state.update_desired_lrp("my-guid", models.DesiredLRPUpdate(instances=3))

    assert [a.actual_lrp_key.index for a in created] == [1, 2]


def test_scaling_down_deletes_unclaimed_and_crashed_but_leaves_claimed_and_running(
    state: State,
) -> None:
    state.desire_lrp(desired_lrp(instances=1))
    put_actual(state, "my-guid", 1, CLAIMED)
    put_actual(state, "my-guid", 2, RUNNING)
    put_actual(state, "my-guid", 3, CRASHED)
    put_actual(state, "my-guid", 4, UNCLAIMED)
    put_actual(state, "my-guid", 4, RUNNING, presence=EVACUATING)
    state.store.desired_lrps["my-guid"].instances = 5

    _, _, _, removed = state.update_desired_lrp("my-guid", models.DesiredLRPUpdate(instances=1))

    assert sorted(a.actual_lrp_key.index for a in removed) == [3, 4]
    assert states(state) == {
        (0, ORDINARY): UNCLAIMED,
        (1, ORDINARY): CLAIMED,
        (2, ORDINARY): RUNNING,
        (4, EVACUATING): RUNNING,
    }


def test_remove_desired_keeps_claimed_actuals_and_evacuating_rows(state: State) -> None:
    state.desire_lrp(desired_lrp(instances=1))
    put_actual(state, "my-guid", 1, CLAIMED)
    put_actual(state, "my-guid", 1, RUNNING, presence=EVACUATING)

    removed_lrp, removed = state.remove_desired_lrp("my-guid")

    assert removed_lrp.process_guid == "my-guid"
    assert [a.actual_lrp_key.index for a in removed] == [0]
    assert states(state) == {(1, ORDINARY): CLAIMED, (1, EVACUATING): RUNNING}
    with pytest.raises(ResourceNotFound):
        state.remove_desired_lrp("my-guid")


@pytest.mark.parametrize("status", [UNCLAIMED, CRASHED])
def test_retire_deletes_an_unclaimed_or_crashed_instance(state: State, status: str) -> None:
    put_actual(state, "my-guid", 0, status)

    state.retire_actual_lrp(models.ActualLRPKey(process_guid="my-guid", index=0, domain="x"))

    assert states(state) == {}


def test_retire_deletes_a_running_instance_whose_cell_is_not_registered(state: State) -> None:
    put_actual(state, "my-guid", 0, RUNNING, cell_id="gone")

    state.retire_actual_lrp(models.ActualLRPKey(process_guid="my-guid", index=0, domain="cf-apps"))

    assert states(state) == {}


def test_retire_leaves_a_running_instance_on_a_registered_cell_for_its_rep(state: State) -> None:
    put_actual(state, "my-guid", 0, RUNNING, cell_id="cell-1")
    state.register_cell(models.CellPresence(cell_id="cell-1"))

    retired = state.retire_actual_lrp(
        models.ActualLRPKey(process_guid="my-guid", index=0, domain="cf-apps")
    )

    assert [a.state for a in retired] == [RUNNING]
    assert states(state) == {(0, ORDINARY): RUNNING}


def test_retire_without_an_ordinary_row_is_not_found(state: State) -> None:
    put_actual(state, "my-guid", 0, RUNNING, presence=EVACUATING)

    with pytest.raises(ResourceNotFound):
        state.retire_actual_lrp(models.ActualLRPKey(process_guid="my-guid", index=0))


def test_actual_lrps_filter_by_index_zero(state: State) -> None:
    state.desire_lrp(desired_lrp(instances=2))

    assert [a.actual_lrp_key.index for a in state.actual_lrps_matching(index=0)] == [0]
    assert len(state.actual_lrps_matching(index=None)) == 2


def test_actual_lrps_filter_by_cell_and_domain(state: State) -> None:
    put_actual(state, "a", 0, RUNNING, cell_id="cell-1")
    put_actual(state, "b", 0, RUNNING, cell_id="cell-2")

    on_cell_2 = state.actual_lrps_matching(cell_id="cell-2")
    assert [a.actual_lrp_key.process_guid for a in on_cell_2] == ["b"]
    assert state.actual_lrps_matching(domain="other") == []


@pytest.mark.parametrize(
    ("app_guid", "matches"),
    [
        ("app-1", ["app-1-web", "app-1-worker"]),
        ("app_1", ["app-1-web", "app-1-worker", "appx1"]),
        ("app%web", ["app-1-web"]),
        ("nope", []),
    ],
)
def test_app_guids_are_sql_like_prefixes_of_the_process_guid(
    state: State, app_guid: str, matches: list[str]
) -> None:
    for guid in ("app-1-web", "app-1-worker", "appx1"):
        state.desire_lrp(desired_lrp(guid, instances=0))

    found = state.desired_lrps_matching(app_guids=[app_guid])

    assert sorted(lrp.process_guid for lrp in found) == matches


def test_groups_put_evacuating_rows_in_their_own_slot(state: State) -> None:
    put_actual(state, "g", 0, UNCLAIMED)
    put_actual(state, "g", 0, RUNNING, presence=EVACUATING)

    [group] = resolve_actual_lrp_groups(state.actual_lrps_matching())

    assert group.instance.state == UNCLAIMED
    assert group.evacuating.state == RUNNING


@pytest.mark.parametrize(
    ("ordinary", "suspect", "shown"),
    [
        (UNCLAIMED, RUNNING, SUSPECT),
        (CLAIMED, RUNNING, SUSPECT),
        (RUNNING, RUNNING, ORDINARY),
        (UNCLAIMED, CLAIMED, SUSPECT),
        (RUNNING, CLAIMED, ORDINARY),
    ],
)
def test_a_group_shows_the_suspect_row_while_the_ordinary_one_is_not_running(
    state: State, ordinary: str, suspect: str, shown: int
) -> None:
    put_actual(state, "g", 0, suspect, presence=SUSPECT)
    put_actual(state, "g", 0, ordinary)

    [group] = resolve_actual_lrp_groups(state.actual_lrps_matching())

    assert group.instance.presence == shown


def test_domains_expire_on_the_clock_and_ttl_zero_never_does(state: State, clock: Clock) -> None:
    state.upsert_domain("short", 10)
    state.upsert_domain("forever", 0)

    assert sorted(state.fresh_domains()) == ["forever", "short"]
    clock.now += 11 * 10**9
    assert state.fresh_domains() == ["forever"]


def test_two_states_share_nothing() -> None:
    one, two = State(Store()), State(Store())

    one.desire_lrp(desired_lrp())

    assert two.store.desired_lrps == {} and two.store.actual_lrps == {}


def test_reset_forgets_everything(state: State) -> None:
    state.desire_lrp(desired_lrp())
    state.upsert_domain("d", 0)

    state.store.reset()

    assert (
        state.store.desired_lrps == {}
        and state.store.actual_lrps == {}
        and state.fresh_domains() == []
    )


def test_returned_messages_are_copies(state: State) -> None:
    state.desire_lrp(desired_lrp(instances=1))

    state.desired_lrp_by_process_guid("my-guid").instances = 99
    state.actual_lrps_matching()[0].state = CRASHED

    assert state.store.desired_lrps["my-guid"].instances == 1
    assert states(state) == {(0, ORDINARY): UNCLAIMED}


def test_the_instances_desire_and_update_create_are_handed_out_as_copies(state: State) -> None:
    created = state.desire_lrp(desired_lrp(instances=1))
    _, _, grown, _ = state.update_desired_lrp("my-guid", models.DesiredLRPUpdate(instances=2))

    for row in created + grown:
        row.state = CRASHED

    assert states(state) == {(0, ORDINARY): UNCLAIMED, (1, ORDINARY): UNCLAIMED}


def test_concurrent_updates_lose_no_write(state: State) -> None:
    state.desire_lrp(desired_lrp(instances=0))
    threads = [
        threading.Thread(
            target=lambda: [
                state.update_desired_lrp("my-guid", models.DesiredLRPUpdate()) for _ in range(50)
            ]
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert state.store.desired_lrps["my-guid"].modification_tag.index == 400


def test_registered_cells_are_listed_and_can_be_unregistered(state: State) -> None:
    state.register_cell(models.CellPresence(cell_id="cell-1", zone="z1"))
    state.register_cell(models.CellPresence(cell_id="cell-2"))

    state.unregister_cell("cell-2")
    state.unregister_cell("never-known")

    assert [(c.cell_id, c.zone) for c in state.cell_presences()] == [("cell-1", "z1")]


def test_a_cell_presence_needs_an_id(state: State) -> None:
    with pytest.raises(ValueError, match="cell_id"):
        state.register_cell(models.CellPresence(zone="z1"))


# -- the composition ----------------------------------------------------------------------------


def test_the_state_builds_each_family_once_over_its_store_and_hands_convergence_its_own() -> None:
    state = State(Store())
    families: list[Any] = [
        state.desired,
        state.lifecycle,
        state.evacuation,
        state.tasks,
        state.domains,
        state.convergence,
    ]

    assert all(family.store is state.store for family in families)
    assert state.convergence.lifecycle is state.lifecycle
    assert state.convergence.domains is state.domains


def test_every_rule_of_every_family_is_a_rule_of_the_state() -> None:
    state = State(Store())
    families: list[Any] = [
        state.desired,
        state.lifecycle,
        state.evacuation,
        state.tasks,
        state.domains,
        state.convergence,
    ]
    for family in families:
        rules = [name for name in vars(type(family)) if not name.startswith("_")]
        rules = [name for name in rules if callable(getattr(family, name))]
        assert rules and all(callable(getattr(state, name, None)) for name in rules), family


def test_a_family_that_needs_no_other_works_over_a_bare_store() -> None:
    from fakebbs._rules.domains import DomainRules

    rules = DomainRules(Store(clock=lambda: 0))
    rules.upsert_domain("cf-apps", 0)
    rules.register_cell(models.CellPresence(cell_id="cell-1"))

    assert (rules.fresh_domains(), list(rules.store.cells)) == (["cf-apps"], ["cell-1"])


def test_a_desire_records_its_changes_with_the_callers_trace_id(
    state: State, changes: list[Change]
) -> None:
    state.desire_lrp(desired_lrp(instances=1), "fixture")

    assert [(c.kind, c.trace_id) for c in changes] == [
        ("desired_lrp", "fixture"),
        ("actual_lrp", "fixture"),
    ]
