"""The simulated Diego standalone: the admin API's /fakebbs/v1/diego endpoints, a seed file's
diego section and ``fakebbs serve --cells N``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_support import ADMIN, call
from werkzeug.test import Client

from builders import desired_lrp
from fakebbs import BBSClient
from fakebbs._diego.config import DiegoConfig, parse_config
from fakebbs._standalone.diego_config import load_config
from fakebbs._standalone.namespaces import Namespaces
from fakebbs._standalone.served import served_namespaces
from processes import http_json, serving, spawn


@pytest.fixture
def bbs(namespaces: Namespaces) -> Iterator[BBSClient]:
    with BBSClient.in_process(namespaces) as client:
        yield client


def placed(bbs: BBSClient, guid: str = "web") -> list[tuple[int, str, str]]:
    rows = bbs.actual_lrps(process_guid=guid)
    return sorted(
        (r.actual_lrp_key.index, r.state, r.actual_lrp_instance_key.cell_id) for r in rows
    )


def test_the_same_scenario_runs_through_the_admin_api(admin: Client, bbs: BBSClient) -> None:
    call(admin, "POST", "/clock/freeze")
    call(admin, "POST", "/diego/cells", {"cell_id": "cell-1", "zone": "z1"})
    call(admin, "POST", "/diego/cells", {"cell_id": "cell-2", "zone": "z2"})
    status = call(admin, "POST", "/diego", {"auto": True})
    assert (status["auto"], [c["cell_id"] for c in status["cells"]]) == (True, ["cell-1", "cell-2"])

    bbs.desire_lrp(desired_lrp("web", instances=3))
    assert {state for _, state, _ in placed(bbs)} == {"RUNNING"}

    call(admin, "POST", "/diego/crash", {"process_guid": "web", "index": 0, "reason": "oom"})
    (crashed,) = [r for r in bbs.actual_lrps(process_guid="web") if r.actual_lrp_key.index == 0]
    assert crashed.crash_count == 1
    call(admin, "POST", "/diego/cells/cell-1/evacuate")
    assert {cell for _, _, cell in placed(bbs)} == {"cell-2"}
    routes = {c["route"] for c in call(admin, "GET", "/diego/calls")["calls"]}
    assert {"ClaimActualLRP", "StartActualLRP", "CrashActualLRP"} <= routes
    assert "EvacuateRunningActualLRP" in routes


def test_cells_show_capacity_and_instances(admin: Client, bbs: BBSClient) -> None:
    call(admin, "POST", "/diego/cells", {"cell_id": "c", "memory_mb": 1024, "containers": 4})
    call(admin, "POST", "/diego", {"auto": True})
    bbs.desire_lrp(desired_lrp("web", instances=1, memory_mb=256))

    (cell,) = call(admin, "GET", "/diego/cells")["cells"]
    assert (cell["available_memory_mb"], cell["available_containers"]) == (768, 3)
    assert cell["lrps"] == [{"process_guid": "web", "index": 0, "state": "running"}]


def test_timings_and_run_until_idle_over_the_admin_api(admin: Client, bbs: BBSClient) -> None:
    call(admin, "POST", "/clock/freeze")
    call(admin, "POST", "/diego/cells", {"cell_id": "c"})
    status = call(admin, "POST", "/diego", {"timings": {"start": 5}, "converge_every": None})
    assert status["timings"] == {"start": 5.0, "stop": 0.0, "task": 0.0}
    bbs.desire_lrp(desired_lrp("web", instances=1))
    call(admin, "POST", "/diego/run")
    assert placed(bbs)[0][1] == "CLAIMED"  # auto off: claimed by run, started 5 s later

    call(admin, "POST", "/clock/advance", {"seconds": 5})
    call(admin, "POST", "/diego/run")
    assert placed(bbs)[0][1] == "RUNNING"


def test_task_outcomes_over_the_admin_api(admin: Client, bbs: BBSClient) -> None:
    from test_diego import task_definition

    call(admin, "POST", "/diego/cells", {"cell_id": "c"})
    call(admin, "POST", "/diego", {"auto": True})
    call(admin, "POST", "/diego/task_outcomes", {"pattern": "t-*", "failed": True})

    bbs.desire_task("t-1", "cf-tasks", task_definition())

    task = bbs.task_by_guid("t-1")
    assert (task.failed, task.failure_reason) == (True, "exit status 1")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("POST", "/diego/cells", {"cell_id": "c", "ram": 1}, 400, "unknown field"),
        ("POST", "/diego/cells", {"cell_id": "c", "memory_mb": "lots"}, 400, "memory_mb"),
        ("POST", "/diego/cells", {"zone": "z1"}, 400, "cell_id"),
        ("DELETE", "/diego/cells/nope", None, 404, "nope"),
        ("POST", "/diego/cells/nope/evacuate", None, 404, "nope"),
        ("POST", "/diego/crash", {"process_guid": "web"}, 404, "web"),
        ("POST", "/diego", {"timings": {"start": -1}}, 400, "timings.start"),
        ("POST", "/diego", {"auto": "yes"}, 400, "auto"),
    ],
)
def test_bad_admin_requests_say_what_is_wrong(
    admin: Client, method: str, path: str, body: Any, status: int, says: str
) -> None:
    answer = call(admin, method, path, body, status)
    assert says in answer["error"]


def test_a_namespace_setup_comes_back_after_a_reset(admin: Client) -> None:
    config = DiegoConfig(({"cell_id": "cell-1"},))
    spaces = served_namespaces(setup=lambda fake: config.apply(fake.diego))
    client = Client(spaces)

    client.post(ADMIN + "/reset")

    cells = client.get(ADMIN + "/diego/cells").json
    assert cells is not None and [c["cell_id"] for c in cells["cells"]] == ["cell-1"]
    assert spaces.default.fake.diego.auto


def test_a_seed_files_diego_section_sets_up_cells(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "domains": ["cf-apps"],
                "diego": {
                    "cells": [{"cell_id": "gpu-1", "zone": "z2", "placement_tags": ["gpu"]}],
                    "timings": {"task": 3},
                    "seed": 4,
                },
            }
        )
    )

    config = load_config(2, str(seed))

    assert [c["cell_id"] for c in config.cells] == ["gpu-1", "cell-1", "cell-2"]
    assert (config.timings, config.seed, config.auto) == ({"task": 3}, 4, True)


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ([], "expected a JSON object"),
        ({"cels": []}, "unknown key"),
        ({"cells": [{"cell_id": "a", "zone": 3}]}, "zone"),
        ({"cells": [{"cell_id": "a"}, {"cell_id": "a"}]}, "twice"),
        ({"timings": {"boot": 1}}, "timings"),
        ({"converge_every": 0}, "converge_every"),
    ],
)
def test_a_bad_diego_section_is_refused(section: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_config(section, "seed.json")


def test_serve_with_cells_is_a_diego_in_a_box() -> None:
    with serving("--cells", "2") as url:
        status, cells = http_json("GET", url + ADMIN + "/diego/cells")
        assert status == 200
        assert [(c["cell_id"], c["zone"]) for c in cells["cells"]] == [
            ("cell-1", "z1"),
            ("cell-2", "z2"),
        ]
        with BBSClient(url) as client:
            assert [c.cell_id for c in client.cells()] == ["cell-1", "cell-2"]
            client.desire_lrp(desired_lrp("web", instances=3))
            assert {state for _, state, _ in placed(client)} == {"RUNNING"}


def test_serve_refuses_cells_it_cannot_set_up(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"diego": {"cells": [{"cell_id": "a", "memory_mb": 0}]}}))

    with spawn("--seed", str(seed)) as proc:
        _, stderr = proc.communicate(timeout=30)

    assert proc.returncode == 2
    assert "memory_mb must be positive" in stderr
