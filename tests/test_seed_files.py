"""fakebbs._standalone.seedfile: seed documents (``serve --seed FILE``,
``POST /fakebbs/v1/seed``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from fakebbs import BBSClient, FakeBBS, models
from fakebbs._standalone.seedfile import (
    SeedFileError,
    apply_seed,
    load_seed_file,
    parse_seed,
    seed_snapshot,
)
from fakebbs._standalone.served import served_namespaces
from processes import http_json, serving, spawn

GOOD: dict[str, Any] = {
    "domains": ["cf-apps", {"name": "cf-tasks", "ttl": 120}],
    "cells": [{"cell_id": "cell-1", "zone": "z1"}, {"cell_id": "cell-2", "zone": "z2"}],
    "desired_lrps": [
        {
            "process_guid": "web",
            "instances": 3,
            "running": 2,
            "crashed": 1,
            "cell_id": "cell-1",
            "memory_mb": 512,
            "ports": [8080, 9090],
        },
        {"count": 3, "prefix": "bulk", "instances": 2},
    ],
    "actual_lrps": [
        {
            "process_guid": "web",
            "index": 0,
            "state": "RUNNING",
            "cell_id": "cell-2",
            "evacuating": True,
        }
    ],
    "tasks": [{"task_guid": "t-1", "state": "RUNNING", "cell_id": "cell-1"}],
}


def seeded(document: Any) -> FakeBBS:
    fake = FakeBBS()
    apply_seed(fake, parse_seed(document, "test"), "test")
    return fake


def refusal(document: Any) -> str:
    with pytest.raises(SeedFileError) as caught:
        seeded(document)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_seed_document_makes_every_kind_of_row() -> None:
    fake = seeded(GOOD)
    snapshot = fake.snapshot()
    assert sorted(snapshot.domains) == ["cf-apps", "cf-tasks"]
    assert snapshot.domains["cf-apps"] is None
    assert snapshot.cells["cell-2"].zone == "z2"
    assert sorted(snapshot.desired_lrps) == ["bulk-0", "bulk-1", "bulk-2", "web"]
    web = snapshot.desired_lrps["web"]
    assert (web.memory_mb, list(web.ports)) == (512, [8080, 9090])
    states = sorted(
        (a.actual_lrp_key.index, a.state, a.presence)
        for a in snapshot.actual_lrps.values()
        if a.actual_lrp_key.process_guid == "web"
    )
    evacuating = models.ActualLRP.EVACUATING
    ordinary = models.ActualLRP.ORDINARY
    assert states == [
        (0, "RUNNING", ordinary),
        (0, "RUNNING", evacuating),
        (1, "RUNNING", ordinary),
        (2, "CRASHED", ordinary),
    ]
    assert snapshot.tasks["t-1"].state == models.Task.Running
    assert snapshot.tasks["t-1"].cell_id == "cell-1"


def test_applying_says_how_many_rows_each_section_made() -> None:
    fake = FakeBBS()
    made = apply_seed(fake, parse_seed(GOOD, "test"))
    assert made == {
        "domains": 2,
        "cells": 2,
        "desired_lrps": 4,
        "actual_lrps": 1,
        "tasks": 1,
    }


def test_message_fields_take_protobuf_json() -> None:
    fake = seeded(
        {
            "desired_lrps": [
                {
                    "process_guid": "web",
                    "action": {"run_action": {"path": "/bin/web", "user": "vcap"}},
                    "routes": {"cf-router": [{"hostnames": ["web.example.com"], "port": 8080}]},
                }
            ]
        }
    )
    web = fake.snapshot().desired_lrps["web"]
    assert web.action.run_action.path == "/bin/web"
    assert json.loads(web.routes.routes["cf-router"]) == [
        {"hostnames": ["web.example.com"], "port": 8080}
    ]


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ([], "expected a JSON object with sections"),
        ({"desired_lrp": []}, "unknown section(s) 'desired_lrp'"),
        ({"cells": {}}, "cells: expected a list of entries"),
        ({"cells": [["cell-1"]]}, 'cells[0]: expected a cell id or a JSON object, got ["cell-1"]'),
        ({"cells": [{"zone": "z1"}]}, "cells[0]: cell_id is required"),
        ({"domains": [{"name": "d", "tll": 3}]}, "domains[0] ('d'): unknown field(s) tll"),
        ({"domains": [{"name": "d", "ttl": "3"}]}, "ttl: expected a whole number or a number"),
        (
            {"desired_lrps": [{"process_guid": "web", "instances": "3"}]},
            "desired_lrps[0] ('web'): instances: expected a whole number, got \"3\"",
        ),
        (
            {"desired_lrps": [{"process_guid": "web", "instances": True}]},
            "instances: expected a whole number, got true",
        ),
        (
            {"desired_lrps": [{"instances": 3}]},
            "desired_lrps[0]: give process_guid (one LRP) or count (many)",
        ),
        (
            {"desired_lrps": [{"process_guid": "w", "count": 2}]},
            "give process_guid (one LRP) or count (many), not both",
        ),
        ({"desired_lrps": [{"process_guid": "w", "prefix": "p"}]}, "prefix goes with count"),
        ({"actual_lrps": [{"process_guid": "web"}]}, "index is required"),
        (
            {"actual_lrps": [{"process_guid": "web", "index": 0, "evacuating": "yes"}]},
            "actual_lrps[0] ('web', index 0): evacuating: expected true or false",
        ),
        ({"tasks": [{"state": "RUNNING"}]}, "tasks[0]: task_guid is required"),
    ],
)
def test_a_document_of_the_wrong_shape_is_refused_naming_the_entry(
    document: Any, says: str
) -> None:
    assert says in refusal(document)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (
            {"desired_lrps": [{"process_guid": "web"}, {"process_guid": "api", "memry_mb": 1}]},
            "desired_lrps[1] ('api'): DesiredLRP has no field 'memry_mb'; did you mean memory_mb?",
        ),
        (
            {"desired_lrps": [{"process_guid": "web", "instances": 1, "running": 2}]},
            "desired_lrps[0] ('web'): ",
        ),
        (
            {"desired_lrps": [{"process_guid": "web", "memory_mb": "lots"}]},
            "desired_lrps[0] ('web'): DesiredLRP.memory_mb: ",
        ),
        (
            {"desired_lrps": [{"process_guid": "web"}, {"process_guid": "web"}]},
            "desired_lrps[1] ('web'): ResourceExists: ",
        ),
        (
            {"actual_lrps": [{"process_guid": "web", "index": 0, "state": "DANCING"}]},
            "actual_lrps[0] ('web', index 0): ",
        ),
        (
            {"tasks": [{"task_guid": "t", "state": "PENDING", "root_fs": ""}]},
            "tasks[0] ('t'): InvalidRequest: ",
        ),
        ({"cells": [{"cell_id": "c", "capacity": {"memory_mb": "x"}}]}, "cells[0] ('c'): "),
    ],
)
def test_an_entry_its_seed_method_refuses_is_named_with_the_field(document: Any, says: str) -> None:
    assert says in refusal(document)


def test_neither_process_guid_nor_count_does_not_say_not_both() -> None:
    assert refusal({"desired_lrps": [{"instances": 3}]}).endswith(
        "desired_lrps[0]: give process_guid (one LRP) or count (many)"
    )


def test_a_cell_may_be_given_as_its_id_alone() -> None:
    fake = FakeBBS()
    made = apply_seed(fake, parse_seed({"cells": ["cell-1", {"cell_id": "cell-2"}]}, "test"))
    assert made["cells"] == 2
    assert sorted(fake.snapshot().cells) == ["cell-1", "cell-2"]
    assert "cells[0]: expected a cell id or a JSON object, got 3" in refusal({"cells": [3]})


def test_the_docs_seed_document_applies() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "standalone.md"
    (document,) = re.findall(r"```json\n(.*?)```", docs.read_text(encoding="utf-8"), re.DOTALL)
    made = apply_seed(FakeBBS(), parse_seed(json.loads(document), "docs"))
    assert made == {"domains": 2, "cells": 2, "desired_lrps": 101, "actual_lrps": 1, "tasks": 1}


def test_a_failed_seed_leaves_the_state_as_it_was() -> None:
    fake = FakeBBS()
    fake.seed.domain("kept")
    with pytest.raises(SeedFileError):
        apply_seed(
            fake,
            parse_seed(
                {"cells": [{"cell_id": "c"}], "desired_lrps": [{"process_guid": "w", "x": 1}]},
                "test",
            ),
        )
    snapshot = fake.snapshot()
    assert (list(snapshot.domains), dict(snapshot.cells)) == (["kept"], {})


def test_a_seed_file_is_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(GOOD))
    entries = load_seed_file(path)
    assert [e.section for e in entries][:3] == ["domains", "domains", "cells"]


def test_a_file_that_is_not_json_is_refused_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    text = '{\n  "cells": [\n    {"cell_id": "c",}\n  ]\n}\n'
    path.write_text(text)
    # Where the decoder stops in the line varies with the Python version (3.13 moved it).
    with pytest.raises(json.JSONDecodeError) as stop:
        json.loads(text)
    assert stop.value.lineno == 3
    at = f"at line 3 column {stop.value.colno}"
    with pytest.raises(SeedFileError, match=rf"seed\.json: not JSON: .* {at}$"):
        load_seed_file(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SeedFileError, match="cannot read it"):
        load_seed_file(tmp_path / "nope.json")


def test_every_namespace_starts_from_the_seed_and_keeps_it_as_a_snapshot() -> None:
    snapshot = seed_snapshot(parse_seed(GOOD, "test"), FakeBBS, "test")
    namespaces = served_namespaces(seed=snapshot)
    admin = Client(namespaces)
    for prefix in ("", "/ns/a"):
        state = admin.get(prefix + "/fakebbs/v1/state").json
        assert state is not None
        assert len(state["desired_lrps"]) == 4
    admin.post("/ns/a/fakebbs/v1/reset", json={"empty": True})
    assert namespaces.get("a").fake.snapshot().desired_lrps == {}
    assert admin.post("/ns/a/fakebbs/v1/snapshots/seed/restore").status_code == 200
    assert len(namespaces.get("a").fake.snapshot().desired_lrps) == 4
    assert len(namespaces.default.fake.snapshot().desired_lrps) == 4


def test_a_reset_returns_a_seeded_namespace_to_the_seed() -> None:
    namespaces = served_namespaces(seed=seed_snapshot(parse_seed(GOOD, "test"), FakeBBS, "test"))
    admin = Client(namespaces)
    with BBSClient.in_process(namespaces) as bbs:
        bbs.remove_desired_lrp("web")
        bbs.upsert_domain("extra", 0)
    answer = admin.post("/fakebbs/v1/reset").json
    assert answer == {"reset": "default", "to": "seed"}
    state = namespaces.default.fake.snapshot()
    assert sorted(state.desired_lrps) == ["bulk-0", "bulk-1", "bulk-2", "web"]
    assert "extra" not in state.domains
    assert len(namespaces.default.fake.calls) == 0  # the journal is reset all the same


def test_an_empty_reset_gives_a_fresh_bbs_seeded_or_not() -> None:
    for seed in (seed_snapshot(parse_seed(GOOD, "test"), FakeBBS, "test"), None):
        namespaces = served_namespaces(seed=seed)
        namespaces.default.fake.seed.domain("mine")
        answer = Client(namespaces).post("/fakebbs/v1/reset", json={"empty": True}).json
        assert answer == {"reset": "default", "to": "empty"}
        assert namespaces.default.fake.snapshot().domains == {}


def test_a_reset_without_a_seed_empties_the_namespace() -> None:
    namespaces = served_namespaces()
    namespaces.default.fake.seed.domain("mine")
    assert Client(namespaces).post("/fakebbs/v1/reset").json == {"reset": "default", "to": "empty"}
    assert namespaces.default.fake.snapshot().domains == {}


def test_empty_must_be_true_or_false() -> None:
    response = Client(served_namespaces()).post("/fakebbs/v1/reset", json={"empty": "yes"})
    assert response.status_code == 400
    assert response.json == {"error": 'empty: expected true or false, got "yes"'}


# -- the admin endpoint ------------------------------------------------------------------------


def test_the_admin_api_seeds_a_namespace() -> None:
    namespaces = served_namespaces()
    response = Client(namespaces).post("/ns/a/fakebbs/v1/seed", json=GOOD)
    assert response.status_code == 200
    assert response.json == {
        "seeded": {"domains": 2, "cells": 2, "desired_lrps": 4, "actual_lrps": 1, "tasks": 1}
    }
    with BBSClient.in_process(namespaces) as default:
        assert default.desired_lrps() == []
    assert len(namespaces.get("a").fake.snapshot().desired_lrps) == 4


def test_a_bad_admin_seed_is_a_400_naming_the_entry_and_changes_nothing() -> None:
    namespaces = served_namespaces()
    response = Client(namespaces).post(
        "/fakebbs/v1/seed",
        json={"domains": ["d"], "desired_lrps": [{"process_guid": "web", "instances": -1}]},
    )
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"].startswith("seed: desired_lrps[0] ('web'): ")
    assert namespaces.default.fake.snapshot().domains == {}


def test_a_seed_with_a_number_out_of_range_is_refused_whole_naming_the_entry() -> None:
    namespaces = served_namespaces()
    response = Client(namespaces).post(
        "/fakebbs/v1/seed",
        data='{"domains": ["a", {"name": "b", "ttl": 1e400}], "cells": [{"cell_id": "c"}]}',
    )
    assert response.status_code == 400
    assert response.json == {
        "error": "seed: domains[1] ('b'): ttl: inf is out of range (0 to 4294967295)"
    }
    assert namespaces.default.fake.snapshot().domains == {}


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"count": 10**12}, "count: 1000000000000 is out of range (0 to 1000000)"),
        ({"process_guid": "w", "instances": 2**31}, "instances: 2147483648 is out of range"),
        ({"process_guid": "w", "memory_mb": 2**40}, "memory_mb: Value out of range"),
    ],
)
def test_a_desired_lrp_entry_with_a_number_out_of_range_is_named(
    entry: dict[str, Any], says: str
) -> None:
    assert says in refusal({"domains": ["kept"], "desired_lrps": [entry]})


def test_a_refused_seed_stores_nothing_that_a_stream_could_see() -> None:
    fake = FakeBBS()
    batches: list[object] = []
    fake._state.store.listeners.append(batches.append)
    document = {
        "domains": ["d"],
        "desired_lrps": [{"process_guid": "w"}, {"process_guid": "x", "memory_mb": -1}],
    }
    with pytest.raises(SeedFileError, match=r"desired_lrps\[1\] \('x'\)"):
        apply_seed(fake, parse_seed(document, "test"))
    assert batches == []
    assert fake.snapshot().desired_lrps == {}


def test_the_admin_seed_needs_a_body() -> None:
    response = Client(served_namespaces()).post("/fakebbs/v1/seed")
    assert response.status_code == 400
    assert response.json == {"error": "this endpoint needs a JSON body"}


# -- fakebbs serve --seed ----------------------------------------------------------------------


@pytest.fixture
def seed_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(GOOD))
    yield path


def test_serve_resets_to_its_seed_file(seed_file: Path) -> None:
    with serving("--seed", str(seed_file)) as url, BBSClient(url) as client:
        client.remove_desired_lrp("web")
        assert http_json("POST", url + "/fakebbs/v1/reset") == (
            200,
            {"reset": "default", "to": "seed"},
        )
        assert "web" in {d.process_guid for d in client.desired_lrps()}
        assert http_json("POST", url + "/fakebbs/v1/reset", {"empty": True})[0] == 200
        assert client.desired_lrps() == []


def test_serve_starts_seeded(seed_file: Path) -> None:
    with serving("--seed", str(seed_file)) as url:
        for base in (url, url + "/ns/suite-a"):
            with BBSClient(base) as client:
                assert sorted(d.process_guid for d in client.desired_lrps()) == [
                    "bulk-0",
                    "bulk-1",
                    "bulk-2",
                    "web",
                ]
                assert [t.task_guid for t in client.tasks()] == ["t-1"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{", "not JSON: "),
        ('{"cells": [{"cell_id": "c", "zone": 3}]}', "cells[0] ('c'): zone: expected a string"),
        (
            '{"desired_lrps": [{"process_guid": "web", "disk_mb": -1}]}',
            "desired_lrps[0] ('web'): InvalidRequest: ",
        ),
        ('{"domains": [{"name": "d", "ttl": 1e400}]}', "domains[0] ('d'): ttl: inf is out of"),
        ("[" * 5000 + "]" * 5000, "JSON nested deeper than 100 levels"),
    ],
)
def test_serve_refuses_a_bad_seed_file_in_one_line_before_listening(
    tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with spawn("--seed", str(path)) as proc:
        stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"fakebbs: seed file {path}: ")
    assert says in lines[0]


def test_serve_refuses_a_missing_seed_file(tmp_path: Path) -> None:
    with spawn("--seed", str(tmp_path / "nope.json")) as proc:
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "cannot read it" in stderr
