"""fakebbs._standalone.admin_views: the paged views the live page reads, as admin endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import Client

from builders import desired_lrp
from fakebbs import BBSClient, FakeBBS, errors, models
from fakebbs._rules.store import Snapshot
from fakebbs._standalone.admin_views import MAX_PAGE
from fakebbs._standalone.namespaces import Namespaces

ADMIN = "/fakebbs/v1"


@pytest.fixture
def fake(namespaces: Namespaces) -> FakeBBS:
    return namespaces.default.fake


@pytest.fixture
def bbs(namespaces: Namespaces) -> Iterator[BBSClient]:
    with BBSClient.in_process(namespaces) as client:
        yield client


def get(admin: Client, path: str, status: int = 200, **params: Any) -> Any:
    response = admin.get(ADMIN + path, query_string=params)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


# -- summary -----------------------------------------------------------------------------------


def test_the_summary_counts_rows_by_state(admin: Client, fake: FakeBBS) -> None:
    fake.seed.desired_lrp("web", instances=3, running=2, crashed=1)
    fake.seed.task("t-1", state="RUNNING")
    fake.seed.task("t-2", state="COMPLETED")

    summary = get(admin, "/summary")

    assert summary["namespace"] == "default"
    assert summary["counts"]["desired_lrps"] == 1
    assert summary["counts"]["actual_lrps"] == 3
    assert summary["actual_lrps_by_state"] == {"CRASHED": 1, "RUNNING": 2}
    assert summary["tasks_by_state"] == {"Pending": 0, "Running": 1, "Completed": 1, "Resolving": 0}


def test_the_summary_gives_each_domain_its_time_left(admin: Client, fake: FakeBBS) -> None:
    fake.clock.freeze()
    fake.seed.domain("cf-apps", ttl=120)
    fake.seed.domain("cf-tasks")

    domains = get(admin, "/summary")["domains"]

    assert domains[0]["name"] == "cf-apps"
    assert domains[0]["ttl_seconds"] == pytest.approx(120)
    assert domains[1] == {"name": "cf-tasks", "expires_at": None, "ttl_seconds": None}


def test_a_cell_shows_what_runs_on_it_and_the_capacity_it_uses(
    admin: Client, fake: FakeBBS
) -> None:
    fake.seed.cell(
        "cell-1",
        zone="z1",
        capacity=models.CellCapacity(memory_mb=4096, disk_mb=8192, containers=100),
    )
    fake.seed.desired_lrp("web", instances=2, running=2, cell_id="cell-1", memory_mb=512)
    fake.seed.task("t-1", state="RUNNING", cell_id="cell-1")

    [cell] = get(admin, "/summary")["cells"]

    assert cell["cell_id"] == "cell-1"
    assert cell["registered"] is True
    assert cell["zone"] == "z1"
    assert cell["capacity"] == {"memory_mb": 4096, "disk_mb": 8192, "containers": 100}
    assert cell["instances"] == {"RUNNING": 2}
    assert cell["tasks"] == 1
    task_memory = fake.snapshot().tasks["t-1"].task_definition.memory_mb
    assert cell["in_use"]["memory_mb"] == 2 * 512 + task_memory
    assert cell["in_use"]["containers"] == 3


def test_a_cell_named_by_instances_but_without_presence_is_listed_unregistered(
    admin: Client, fake: FakeBBS
) -> None:
    fake.seed.desired_lrp("web", instances=1, running=1, cell_id="ghost")

    [cell] = get(admin, "/summary")["cells"]

    assert (cell["cell_id"], cell["registered"], cell["capacity"]) == ("ghost", False, None)


# -- LRPs --------------------------------------------------------------------------------------


def test_lrps_are_paged_by_process_guid_with_the_total(admin: Client, fake: FakeBBS) -> None:
    fake.seed.desired_lrps(count=120, prefix="bulk", instances=2)

    page = get(admin, "/lrps", offset=50, limit=20)

    assert page["total"] == 120
    assert (page["offset"], page["limit"]) == (50, 20)
    guids = [lrp["process_guid"] for lrp in page["lrps"]]
    everything = sorted(fake.snapshot().desired_lrps)
    assert guids == everything[50:70]
    assert all(len(lrp["rows"]) == 2 for lrp in page["lrps"])


def test_an_lrp_shows_each_row_per_index_with_crashes_and_evacuation(
    admin: Client, fake: FakeBBS
) -> None:
    fake.seed.cell("cell-1", zone="z1")
    fake.seed.desired_lrp("web", instances=2, running=1, crashed=1, cell_id="cell-1")
    fake.seed.actual_lrp("web", 0, state="RUNNING", cell_id="cell-2", evacuating=True)

    [lrp] = get(admin, "/lrps")["lrps"]

    rows = [(r["index"], r["state"], r["presence"], r["cell_id"]) for r in lrp["rows"]]
    assert rows == [
        (0, "RUNNING", "ORDINARY", "cell-1"),
        (0, "RUNNING", "EVACUATING", "cell-2"),
        (1, "CRASHED", "ORDINARY", ""),
    ]
    assert lrp["rows"][0]["zone"] == "z1"
    assert lrp["rows"][2]["crash_count"] >= 1


def test_the_lrp_filter_finds_guids_domains_cells_and_states(admin: Client, fake: FakeBBS) -> None:
    fake.seed.desired_lrp("web", instances=1, running=1, cell_id="cell-7")
    fake.seed.desired_lrp("worker", instances=1, crashed=1)

    def found(text: str) -> list[str]:
        return [lrp["process_guid"] for lrp in get(admin, "/lrps", filter=text)["lrps"]]

    assert found("work") == ["worker"]
    assert found("CELL-7") == ["web"]
    assert found("crashed") == ["worker"]
    assert found("cf-apps") == ["web", "worker"]
    assert found("nothing") == []


def test_actual_rows_without_a_desired_lrp_are_listed_too(admin: Client, fake: FakeBBS) -> None:
    fake.seed.desired_lrp("web", instances=1, running=1)
    fake.restore(Snapshot(actual_lrps=fake.snapshot().actual_lrps))  # the desired row gone

    [lrp] = get(admin, "/lrps")["lrps"]

    assert (lrp["process_guid"], lrp["desired"], lrp["instances"]) == ("web", False, None)
    assert lrp["domain"] == "cf-apps"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": str(MAX_PAGE + 1)}, "limit: expected a whole number up to"),
        ({"offset": "-1"}, "offset: expected a whole number"),
        ({"page": "2"}, "unknown query parameter(s): page"),
    ],
)
def test_bad_paging_is_a_400_that_says_why(
    admin: Client, params: dict[str, str], message: str
) -> None:
    assert message in get(admin, "/lrps", status=400, **params)["error"]


# -- tasks -------------------------------------------------------------------------------------


def test_tasks_are_paged_and_picked_by_state(admin: Client, fake: FakeBBS) -> None:
    for i in range(3):
        fake.seed.task(f"run-{i}", state="RUNNING")
    fake.seed.task("done", state="COMPLETED", failed=True, failure_reason="boom")

    running = get(admin, "/tasks", state="Running", limit=2)
    completed = get(admin, "/tasks", state="Completed")

    assert running["total"] == 3
    assert [t["task_guid"] for t in running["tasks"]] == ["run-0", "run-1"]
    [done] = completed["tasks"]
    assert (done["task_guid"], done["failed"], done["failure_reason"]) == ("done", True, "boom")
    assert "state: expected one of" in get(admin, "/tasks", status=400, state="Gone")["error"]


# -- the journal -------------------------------------------------------------------------------


def test_the_journal_page_is_newest_first_with_decoded_fields(
    admin: Client, bbs: BBSClient
) -> None:
    bbs.upsert_domain("cf-apps", 60)
    bbs.desire_lrp(desired_lrp("first"))
    bbs.desire_lrp(desired_lrp("second"))

    page = get(admin, "/journal/page", limit=2)

    assert (page["total"], page["recorded"]) == (3, 3)
    assert [c["request"]["desired_lrp"]["process_guid"] for c in page["calls"]] == [
        "second",
        "first",
    ]
    assert page["routes"] == ["DesireDesiredLRP", "UpsertDomain"]


def test_the_journal_page_filters_by_route_field_and_text(admin: Client, bbs: BBSClient) -> None:
    bbs.upsert_domain("cf-apps", 60)
    bbs.desire_lrp(desired_lrp("first"))
    bbs.desire_lrp(desired_lrp("second"))

    by_route = get(admin, "/journal/page", route="UpsertDomain")
    by_field = get(
        admin,
        "/journal/page",
        route="DesireDesiredLRP",
        where='{"desired_lrp.process_guid": "first"}',
    )
    by_text = get(admin, "/journal/page", filter="SECOND")

    assert [c["route"] for c in by_route["calls"]] == ["UpsertDomain"]
    assert [c["request"]["desired_lrp"]["process_guid"] for c in by_field["calls"]] == ["first"]
    assert [c["request"]["desired_lrp"]["process_guid"] for c in by_text["calls"]] == ["second"]
    assert get(admin, "/journal/page", status=400, where="{}")["error"] == "where needs a route"


def test_the_journal_page_shows_errors_and_faults(
    admin: Client, fake: FakeBBS, bbs: BBSClient
) -> None:
    fake.fail("DesireDesiredLRP", errors.ResourceConflict("taken"), times=1)
    with pytest.raises(errors.ResourceConflict):
        bbs.desire_lrp(desired_lrp("first"))

    [call] = get(admin, "/journal/page")["calls"]

    assert call["error"] == {"type": "ResourceConflict", "message": "taken"}


def test_the_calls_made_to_reps_are_paged_too(admin: Client, fake: FakeBBS) -> None:
    fake.seed.cell("cell-1")
    fake.seed.desired_lrp("web", instances=2, running=2, cell_id="cell-1")
    with fake.client() as client:
        client.remove_desired_lrp("web")

    page = get(admin, "/rep_calls/page")
    auctions = get(admin, "/auctioneer_calls/page")

    assert page["total"] == 2
    assert {c["route"] for c in page["calls"]} == {"StopLRPInstance"}
    assert auctions["total"] == 0
