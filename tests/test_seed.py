"""FakeBBS.seed: known state in one line, rows as the real lifecycle leaves them.

Rows seeded directly are compared with rows the state rules make step by step (claim,
start, crash, evacuate, complete ...), leaving out only what differs by nature: epochs,
instance guids and timestamps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fakebbs import BBSClient, FakeBBS, Seed, models
from fakebbs._http.events import Event
from fakebbs._rules.state import State
from fakebbs._rules.store import ActualKey, Change
from fakebbs.errors import InvalidRequest, ResourceExists

SECOND = 10**9
NOW = 1_700_000_000 * SECOND
EVACUATING = models.ActualLRP.EVACUATING
SUSPECT = models.ActualLRP.SUSPECT


@pytest.fixture
def bbs() -> FakeBBS:
    fake = FakeBBS()
    fake.clock.freeze(at=NOW)
    return fake


@pytest.fixture
def client(bbs: FakeBBS) -> Iterator[BBSClient]:
    with BBSClient.in_process(bbs.wsgi_app) as client:
        yield client


def rows(bbs: FakeBBS, process_guid: str) -> list[models.ActualLRP]:
    return [
        row
        for _, row in sorted(bbs.snapshot().actual_lrps.items())
        if _.process_guid == process_guid
    ]


def without_identity(row: models.ActualLRP) -> models.ActualLRP:
    """A row without what is random or timed: epoch, instance guid, since."""
    clean = models.ActualLRP()
    clean.CopyFrom(row)
    clean.modification_tag.epoch = ""
    clean.actual_lrp_instance_key.instance_guid = ""
    clean.since = 0
    return clean


def instance(guid: str, cell_id: str = "cell-1") -> models.ActualLRPInstanceKey:
    return models.ActualLRPInstanceKey(instance_guid=guid, cell_id=cell_id)


def lrp_key(process_guid: str, index: int = 0) -> models.ActualLRPKey:
    return models.ActualLRPKey(process_guid=process_guid, index=index, domain="cf-apps")


def net_info(row: models.ActualLRP) -> models.ActualLRPNetInfo:
    return row.actual_lrp_net_info


# -- domains and cells --------------------------------------------------------------------------


def test_a_seeded_domain_is_fresh(bbs: FakeBBS, client: BBSClient) -> None:
    assert bbs.seed.domain("cf-apps") == "cf-apps"
    assert client.domains() == ["cf-apps"]


def test_a_seeded_domain_with_a_ttl_expires_on_the_fakes_clock(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.domain("cf-apps", ttl=30)
    bbs.clock.advance(31)
    assert client.domains() == []


def test_a_domain_needs_a_name(bbs: FakeBBS) -> None:
    with pytest.raises(InvalidRequest, match="Invalid field: domain"):
        bbs.seed.domain("")


def test_a_seeded_cell_is_registered_with_its_zone(bbs: FakeBBS, client: BBSClient) -> None:
    seeded = bbs.seed.cell("cell-1", zone="z1")

    [cell] = client.cells()
    assert cell == seeded
    assert (cell.cell_id, cell.zone, cell.capacity.containers > 0) == ("cell-1", "z1", True)


def test_a_cell_is_validated_as_a_reps_presence(bbs: FakeBBS) -> None:
    with pytest.raises(InvalidRequest, match="Invalid field: memory_mb"):
        bbs.seed.cell("cell-1", capacity={"memory_mb": 0, "containers": 1})
    assert bbs.snapshot().cells == {}


# -- desired LRPs -------------------------------------------------------------------------------


def test_a_seeded_desired_lrp_is_stored_as_the_route_stores_it(bbs: FakeBBS) -> None:
    other = FakeBBS()
    seeded = bbs.seed.desired_lrp("web", instances=2, routes={"cf-router": b'[ {"port": 8080} ]'})
    with BBSClient.in_process(other.wsgi_app) as client:
        client.desire_lrp(seeded)
    desired = other.snapshot().desired_lrps["web"]

    assert seeded.routes.routes["cf-router"] == b'[{"port":8080}]'
    assert seeded.modification_tag.epoch != ""
    seeded.modification_tag.epoch = desired.modification_tag.epoch
    assert seeded == desired


def test_a_seeded_desired_lrp_has_unclaimed_instances_as_a_desire_makes_them(
    bbs: FakeBBS,
) -> None:
    other = FakeBBS()
    other.clock.freeze(at=NOW)
    other.client().desire_lrp(bbs.seed.desired_lrp("web", instances=3))

    seeded = rows(bbs, "web")
    assert [r.state for r in seeded] == ["UNCLAIMED"] * 3
    assert [without_identity(r) for r in seeded] == [
        without_identity(r) for r in rows(other, "web")
    ]
    assert len({r.modification_tag.epoch for r in seeded}) == 3


def test_instances_are_running_then_claimed_then_crashed_then_unclaimed_by_index(
    bbs: FakeBBS,
) -> None:
    bbs.seed.desired_lrp("api", instances=5, running=2, claimed=1, crashed=1, cell_id="cell-7")

    assert [(r.state, r.actual_lrp_instance_key.cell_id) for r in rows(bbs, "api")] == [
        ("RUNNING", "cell-7"),
        ("RUNNING", "cell-7"),
        ("CLAIMED", "cell-7"),
        ("CRASHED", ""),
        ("UNCLAIMED", ""),
    ]


def test_more_instances_in_a_state_than_desired_is_refused(bbs: FakeBBS) -> None:
    with pytest.raises(ValueError, match="at most instances"):
        bbs.seed.desired_lrp("api", instances=2, running=2, crashed=1)


def test_a_seeded_desired_lrp_is_validated_as_the_route_does(bbs: FakeBBS) -> None:
    with pytest.raises(
        InvalidRequest, match=r"seed.desired_lrp\('web'\): Invalid field: instances"
    ):
        bbs.seed.desired_lrp("web", instances=-3)
    assert bbs.snapshot().desired_lrps == {}


def test_a_process_guid_the_route_would_refuse_is_refused(bbs: FakeBBS) -> None:
    with pytest.raises(InvalidRequest, match="Invalid field: process_guid"):
        bbs.seed.desired_lrp("no spaces")


def test_a_desired_lrp_seeded_twice_is_resource_exists(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("web")
    with pytest.raises(ResourceExists):
        bbs.seed.desired_lrp("web", instances=3)
    assert len(rows(bbs, "web")) == 1


def test_any_desired_lrp_field_can_be_given(bbs: FakeBBS) -> None:
    lrp = bbs.seed.desired_lrp(
        "web",
        domain="other",
        annotation="note",
        ports=[8080, 9090],
        metric_tags={"source_id": {"static": "src"}, "index": {"dynamic": "INDEX"}},
        update_strategy="RECREATE",
        setup=models.Action(run_action=models.RunAction(path="/setup", user="vcap")),
    )

    stored = bbs.snapshot().desired_lrps["web"]
    assert stored == lrp
    assert (stored.domain, stored.annotation, list(stored.ports)) == ("other", "note", [8080, 9090])
    assert stored.metric_tags["index"].dynamic == models.MetricTagValue.INDEX
    assert stored.update_strategy == models.DesiredLRP.RECREATE
    assert stored.setup.run_action.path == "/setup"


def test_an_unknown_field_is_a_type_error_naming_close_names(bbs: FakeBBS) -> None:
    with pytest.raises(
        TypeError, match="DesiredLRP has no field 'anotation'; did you mean annotation"
    ):
        bbs.seed.desired_lrp("web", anotation="x")


def test_a_value_of_the_wrong_type_is_a_type_error_naming_the_field(bbs: FakeBBS) -> None:
    with pytest.raises(TypeError, match=r"DesiredLRP\.memory_mb"):
        bbs.seed.desired_lrp("web", memory_mb="lots")


def test_routes_can_be_given_as_a_mapping_of_router_to_json(bbs: FakeBBS) -> None:
    lrp = bbs.seed.desired_lrp("web", routes={"cf-router": [{"hostnames": ["w.example.com"]}]})
    assert lrp.routes.routes["cf-router"] == b'[{"hostnames":["w.example.com"]}]'


def test_the_returned_model_is_a_copy(bbs: FakeBBS) -> None:
    lrp = bbs.seed.desired_lrp("web")
    lrp.instances = 9
    assert bbs.snapshot().desired_lrps["web"].instances == 1


# -- the rows the lifecycle leaves --------------------------------------------------------------


def test_a_claimed_row_is_what_a_claim_makes(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("web", instances=1, claimed=1)
    other = FakeBBS()
    other.clock.freeze(at=NOW)
    other.seed.desired_lrp("web", instances=1)
    other.client().claim_actual_lrp(lrp_key("web"), instance("x"))

    [seeded], [claimed] = rows(bbs, "web"), rows(other, "web")
    assert seeded.actual_lrp_instance_key.instance_guid != ""
    assert without_identity(seeded) == without_identity(claimed)


def test_a_running_row_is_what_a_claim_and_a_start_make(bbs: FakeBBS) -> None:
    bbs.seed.cell("cell-1", zone="z1")
    bbs.seed.desired_lrp("web", instances=1, running=1, ports=[8080, 2222])
    [seeded] = rows(bbs, "web")
    other = FakeBBS()
    other.clock.freeze(at=NOW)
    other.seed.desired_lrp("web", instances=1)
    other.client().claim_actual_lrp(lrp_key("web"), instance("x"))
    other.client().start_actual_lrp(
        lrp_key("web"), instance("x"), net_info(seeded), availability_zone="z1"
    )

    [started] = rows(other, "web")
    assert (seeded.routable, seeded.modification_tag.index, seeded.availability_zone) == (
        True,
        2,
        "z1",
    )
    assert [(p.container_port, p.host_port > 0) for p in seeded.actual_lrp_net_info.ports] == [
        (8080, True),
        (2222, True),
    ]
    assert without_identity(seeded) == without_identity(started)


def test_running_instances_have_their_own_addresses_and_guids(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("web", instances=3, running=3)
    running = rows(bbs, "web")
    assert len({r.actual_lrp_net_info.address for r in running}) == 3
    assert len({r.actual_lrp_instance_key.instance_guid for r in running}) == 3


def test_a_crashed_row_is_what_three_crashes_make(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("web", instances=1, crashed=1)
    [seeded] = rows(bbs, "web")
    other = FakeBBS()
    other.clock.freeze(at=NOW)
    other.seed.desired_lrp("web", instances=1)
    for n in range(3):
        other.client().claim_actual_lrp(lrp_key("web"), instance(f"x{n}"))
        other.client().start_actual_lrp(
            lrp_key("web"), instance(f"x{n}"), models.ActualLRPNetInfo(address="a")
        )
        other.client().crash_actual_lrp(lrp_key("web"), instance(f"x{n}"), seeded.crash_reason)

    [crashed] = rows(other, "web")
    assert (seeded.state, seeded.crash_count) == ("CRASHED", 3)
    assert without_identity(seeded) == without_identity(crashed)


def test_an_instance_with_fewer_than_three_crashes_is_not_crashed(bbs: FakeBBS) -> None:
    with pytest.raises(ValueError, match="2 crashes is UNCLAIMED"):
        bbs.seed.actual_lrp("web", 0, state="CRASHED", crash_count=2)


def test_an_evacuating_row_is_what_an_evacuation_makes_of_a_running_one(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("api", instances=1)
    bbs.seed.actual_lrp("api", 0, state="RUNNING", cell_id="cell-2", evacuating=True)
    seeded = bbs.snapshot().actual_lrps[ActualKey("api", 0, EVACUATING)]
    other = FakeBBS()
    other.clock.freeze(at=NOW)
    other.seed.cell("cell-2")
    other.seed.desired_lrp("api", instances=1)
    other.client().claim_actual_lrp(lrp_key("api"), instance("x", "cell-2"))
    other.client().start_actual_lrp(lrp_key("api"), instance("x", "cell-2"), net_info(seeded))
    other.client().evacuate_running_actual_lrp(
        lrp_key("api"), instance("x", "cell-2"), net_info(seeded)
    )

    evacuated = other.snapshot().actual_lrps[ActualKey("api", 0, EVACUATING)]
    assert (seeded.state, seeded.actual_lrp_instance_key.cell_id) == ("RUNNING", "cell-2")
    assert bbs.snapshot().actual_lrps[ActualKey("api", 0, 0)].state == "UNCLAIMED"  # left as it was
    assert without_identity(seeded) == without_identity(evacuated)


def test_only_a_running_instance_has_an_evacuating_row(bbs: FakeBBS) -> None:
    with pytest.raises(ValueError, match="only a RUNNING instance"):
        bbs.seed.actual_lrp("api", 0, state="CLAIMED", evacuating=True)


def test_a_suspect_row_is_a_running_row_with_presence_suspect(bbs: FakeBBS) -> None:
    row = bbs.seed.actual_lrp("api", 0, state="RUNNING", suspect=True)
    assert (row.presence, row.state, row.routable) == (SUSPECT, "RUNNING", True)
    assert ActualKey("api", 0, SUSPECT) in bbs.snapshot().actual_lrps


def test_a_seeded_actual_lrp_replaces_the_row_in_its_place(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("api", instances=2)
    bbs.seed.actual_lrp("api", 1, state="RUNNING")
    assert [r.state for r in rows(bbs, "api")] == ["UNCLAIMED", "RUNNING"]


def test_a_seeded_actual_lrp_is_the_last_written_row_of_its_index(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("api", instances=1, running=1)
    bbs.seed.actual_lrp("api", 0, state="RUNNING", evacuating=True)
    bbs.seed.actual_lrp("api", 0, state="CLAIMED")

    assert list(bbs.snapshot().actual_lrps) == [
        ActualKey("api", 0, EVACUATING),
        ActualKey("api", 0, 0),
    ]


def test_an_actual_lrp_takes_its_desired_lrps_domain_and_any_field(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("api", domain="other")
    row = bbs.seed.actual_lrp("api", 0, state="RUNNING", availability_zone="z9")
    assert (row.actual_lrp_key.domain, row.availability_zone) == ("other", "z9")


def test_an_unknown_state_is_refused_with_the_known_ones(bbs: FakeBBS) -> None:
    with pytest.raises(ValueError, match="UNCLAIMED, CLAIMED, RUNNING, CRASHED"):
        bbs.seed.actual_lrp("api", 0, state="STARTING")


def test_a_seeded_actual_lrp_is_validated(bbs: FakeBBS) -> None:
    with pytest.raises(InvalidRequest, match="Invalid field: address"):
        bbs.seed.actual_lrp("api", 0, state="RUNNING", actual_lrp_net_info={"address": ""})


def test_a_seeded_running_instance_answers_the_lifecycle_like_a_started_one(
    bbs: FakeBBS, client: BBSClient
) -> None:
    bbs.seed.desired_lrp("web", instances=1, running=1)
    [row] = rows(bbs, "web")

    client.crash_actual_lrp(row.actual_lrp_key, row.actual_lrp_instance_key, "boom")

    [crashed] = rows(bbs, "web")
    assert (crashed.state, crashed.crash_count) == ("UNCLAIMED", 1)


def test_convergence_leaves_a_seeded_healthy_state_alone(
    state: State, changes: list[Change]
) -> None:
    seed = Seed(state.store)
    seed.domain("cf-apps")
    seed.cell("cell-1")
    seed.desired_lrp("web", instances=3, running=3)
    seed.task("t-1", state="RUNNING")
    seeded = len(changes)

    state.converge()

    assert changes[seeded:] == []


# -- tasks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["PENDING", "RUNNING", "COMPLETED", "RESOLVING"])
def test_a_seeded_task_is_what_the_task_rules_make(bbs: FakeBBS, state: str) -> None:
    seeded = bbs.seed.task("t-1", state=state, result="out" if state != "PENDING" else "")
    other = FakeBBS()
    other.clock.freeze(at=NOW)
    other.client().desire_task("t-1", "cf-tasks", seeded.task_definition)
    if state != "PENDING":
        other.client().start_task("t-1", "cell-1")
    if state in ("COMPLETED", "RESOLVING"):
        other.client().complete_task("t-1", "cell-1", failed=False, result="out")
    if state == "RESOLVING":
        other.client().resolving_task("t-1")

    expected = other.snapshot().tasks["t-1"]
    if state == "RUNNING":
        expected.result = "out"  # a running task has no result yet; a seed may say one
    assert seeded == expected


def test_a_task_takes_fields_of_the_task_and_of_its_definition(bbs: FakeBBS) -> None:
    task = bbs.seed.task(
        "t-1",
        state="COMPLETED",
        failed=True,
        failure_reason="oops",
        completion_callback_url="http://127.0.0.1:1/cb",
        memory_mb=1024,
    )
    assert (task.failed, task.failure_reason, task.cell_id) == (True, "oops", "")
    assert task.task_definition.completion_callback_url == "http://127.0.0.1:1/cb"
    assert task.task_definition.memory_mb == 1024
    assert bbs.wait_for_callbacks(0)  # seeding describes state, not history: none are due


def test_an_unknown_task_field_names_both_models(bbs: FakeBBS) -> None:
    with pytest.raises(TypeError, match="did you mean memory_mb"):
        bbs.seed.task("t-1", memory=1)


def test_a_task_seeded_twice_is_resource_exists(bbs: FakeBBS) -> None:
    bbs.seed.task("t-1")
    with pytest.raises(ResourceExists):
        bbs.seed.task("t-1", state="RUNNING")


def test_a_task_is_validated_as_the_route_does(bbs: FakeBBS) -> None:
    with pytest.raises(InvalidRequest, match="Invalid field: rootfs"):
        bbs.seed.task("t-1", root_fs="no-scheme")


# -- events -------------------------------------------------------------------------------------


def subscribe(bbs: FakeBBS, *hubs: str) -> Callable[[], list[str]]:
    """The names of the events the fake's hubs have published since, each time it is called
    (a change publishes its events before the call that made it returns)."""
    subscription = bbs._events.subscribe(hubs)  # type: ignore[arg-type]

    def names() -> list[str]:
        taken = []
        while isinstance(event := subscription.get(0), Event):
            taken.append(event.name)
        return taken

    return names


def test_seeding_emits_the_events_a_real_change_would(bbs: FakeBBS) -> None:
    published = subscribe(bbs, "desired", "actual", "instance", "task")

    bbs.seed.desired_lrp("web", instances=1, running=1)
    bbs.seed.task("t-1")

    assert published() == [
        "desired_lrp_created",
        "actual_lrp_created",
        "actual_lrp_instance_created",
        "task_created",
    ]


def test_seeding_without_events_reaches_no_stream(bbs: FakeBBS) -> None:
    published = subscribe(bbs, "desired", "actual", "instance", "task")

    bbs.seed.desired_lrp("web", instances=1, running=1, events=False)

    assert published() == []
    assert list(bbs.snapshot().desired_lrps) == ["web"]


def test_seeding_without_events_is_still_one_recorded_change_per_row(
    state: State, changes: list[Change]
) -> None:
    batches: list[list[Change]] = []
    state.store.listeners.append(batches.append)

    Seed(state.store).desired_lrp("web", instances=1, running=1, events=False)

    assert [[c.kind for c in batch] for batch in batches] == [["desired_lrp", "actual_lrp"]]
    assert {c.emit for c in changes} == {"none"}


# -- in bulk ------------------------------------------------------------------------------------


def test_desired_lrps_in_bulk_are_named_in_order_with_their_instances(bbs: FakeBBS) -> None:
    lrps = bbs.seed.desired_lrps(12, instances=3, running=3)

    assert [lrp.process_guid for lrp in lrps][:3] == ["app-00", "app-01", "app-02"]
    assert len(bbs.snapshot().desired_lrps) == 12
    assert [r.state for r in bbs.snapshot().actual_lrps.values()] == ["RUNNING"] * 36
    assert len({r.modification_tag.epoch for r in bbs.snapshot().actual_lrps.values()}) == 36


def test_desired_lrps_in_bulk_are_one_recorded_operation(state: State) -> None:
    batches: list[list[Change]] = []
    state.store.listeners.append(batches.append)

    Seed(state.store).desired_lrps(5, instances=2, prefix="svc")

    assert len(batches) == 1
    assert sorted(state.store.desired_lrps) == ["svc-0", "svc-1", "svc-2", "svc-3", "svc-4"]


def test_each_lrp_in_bulk_has_its_own_log_guid_and_source_id(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrps(2)
    lrp = bbs.snapshot().desired_lrps["app-1"]
    assert (lrp.log_guid, lrp.metric_tags["source_id"].static) == ("app-1", "app-1")


def test_a_bulk_seed_over_a_desired_guid_changes_nothing(bbs: FakeBBS) -> None:
    bbs.seed.desired_lrp("app-1")
    with pytest.raises(ResourceExists, match="app-1"):
        bbs.seed.desired_lrps(3)
    assert list(bbs.snapshot().desired_lrps) == ["app-1"]
