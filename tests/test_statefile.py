"""fakebbs._control.statefile: a fake's state on disk (``FakeBBS.save``/``load``, ``fakebbs serve
--state``), restored exactly as it was stored; a file that is not one is refused untouched."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from fakebbs import FakeBBS
from fakebbs._control.statefile import FORMAT_VERSION, StateFileError, encode_state
from fakebbs._rules.store import Change, Snapshot
from fakebbs._standalone.served import served_namespaces
from fakebbs.cli import main
from processes import TIMEOUT, http_json, serving, spawn

ADMIN = "/fakebbs/v1"


def everything() -> FakeBBS:
    """A fake holding a row of every kind the state keeps."""
    fake = FakeBBS(namespace="suite")
    fake.clock.freeze(at=1_700_000_000 * 10**9)
    fake.seed.domain("cf-apps", ttl=120)
    fake.seed.domain("forever")
    fake.seed.cell("cell-1", zone="z1")
    fake.seed.desired_lrp("web", instances=4, running=2, claimed=1, crashed=1)
    fake.seed.actual_lrp("web", 0, state="RUNNING", evacuating=True, cell_id="cell-2")
    fake.seed.actual_lrp("web", 1, state="RUNNING", suspect=True)
    for state in ("PENDING", "RUNNING", "COMPLETED", "RESOLVING"):
        fake.seed.task(f"task-{state.lower()}", state=state)
    return fake


def stored(snapshot: Snapshot) -> list[object]:
    """Every table as stored, in the store's order, rows as bytes."""
    return [
        [(k, m.SerializeToString(deterministic=True)) for k, m in table.items()]
        for table in (snapshot.desired_lrps, snapshot.actual_lrps, snapshot.tasks, snapshot.cells)
    ] + [list(snapshot.domains.items())]


def test_a_saved_state_loads_back_exactly_as_it_was_stored(tmp_path: Path) -> None:
    fake = everything()
    fake.save(tmp_path / "state.json")

    restarted = FakeBBS(namespace="suite")
    restarted.load(tmp_path / "state.json")

    assert stored(restarted.snapshot()) == stored(fake.snapshot())
    assert len(restarted.snapshot().actual_lrps) == 6  # evacuating and suspect rows included
    assert restarted.snapshot().domains["cf-apps"] == (1_700_000_000 + 120) * 10**9


def test_a_loaded_state_is_one_recorded_change(tmp_path: Path) -> None:
    everything().save(tmp_path / "state.json")
    fake = FakeBBS()
    batches: list[list[Change]] = []
    fake._state.store.listeners.append(batches.append)
    fake.load(tmp_path / "state.json")  # the file's only namespace, whatever its name
    assert [[change.kind for change in batch] for batch in batches] == [["restore"]]


def test_saving_replaces_the_file_whole_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    everything().save(path)
    assert os.listdir(tmp_path) == ["state.json"]
    assert json.loads(path.read_text())["fakebbs_state"] == FORMAT_VERSION


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "not a fakebbs state file"),
        (b'{"fakebbs_state": 1, "namespaces": {"": {', "not a fakebbs state file"),
        (b'{"desired_lrps": []}', "no 'fakebbs_state' version"),
        (b'{"fakebbs_state": 99, "namespaces": {}}', "written by a newer fakebbs (state format 99"),
        (
            b'{"fakebbs_state": 1, "namespaces": {"": {"desired_lrps": ["!!"], "actual_lrps": [],'
            b' "tasks": [], "domains": [], "cells": []}}}',
            "damaged: desired_lrps[0] is not a stored row",
        ),
        (
            b'{"fakebbs_state": 1, "namespaces": {"": {"desired_lrps": [], "actual_lrps": [],'
            b' "tasks": [], "domains": [["d", "soon"]], "cells": []}}}',
            "damaged: a domain is not [name, expiry or null]",
        ),
    ],
)
def test_a_file_that_is_not_a_state_file_is_refused_and_changes_nothing(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    fake = FakeBBS()
    fake.seed.domain("kept")
    with pytest.raises(StateFileError, match=f"state file {path}: ") as refused:
        fake.load(path)
    assert says in str(refused.value)
    assert list(fake.snapshot().domains) == ["kept"]
    assert path.read_bytes() == content


def test_loading_a_missing_file_is_an_error_for_a_fake(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FakeBBS().load(tmp_path / "nothing.json")


def test_a_fake_loads_its_own_namespace_from_a_servers_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(encode_state({"a": everything().snapshot(), "b": Snapshot()}))
    fake = FakeBBS(namespace="a")
    fake.load(path)
    assert "web" in fake.snapshot().desired_lrps
    with pytest.raises(StateFileError, match="no namespace 'c' \\(it has 'a', 'b'\\)"):
        FakeBBS(namespace="c").load(path)


def test_namespaces_save_and_load_every_namespace(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    before = served_namespaces(state_file=path)
    before.get("a").fake.seed.desired_lrp("web")
    before.default.fake.seed.domain("cf-apps")
    assert before.save_state()[0] == 2

    after = served_namespaces(state_file=path, max_namespaces=0)
    assert after.load_state() == 2
    assert after.names() == ["default", "a"]
    assert list(after.get("a").fake.snapshot().desired_lrps) == ["web"]
    assert list(after.default.fake.snapshot().domains) == ["cf-apps"]


# -- fakebbs serve --state -----------------------------------------------------------------------


def test_a_server_restarted_with_state_serves_what_it_had(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    seed = {"domains": [{"name": "cf-apps", "ttl": 600}], "desired_lrps": [{"process_guid": "web"}]}
    with serving("--state", str(path)) as url:
        assert http_json("POST", f"{url}/ns/ci{ADMIN}/seed", seed)[0] == 200
        assert http_json("POST", f"{url}{ADMIN}/seed", {"tasks": [{"task_guid": "t"}]})[0] == 200
        before = {
            ns: http_json("GET", f"{url}{prefix}{ADMIN}/state")[1]
            for ns, prefix in (("ci", "/ns/ci"), ("", ""))
        }
    assert path.exists()
    with serving("--state", str(path)) as url:
        after = {
            ns: http_json("GET", f"{url}{prefix}{ADMIN}/state")[1]
            for ns, prefix in (("ci", "/ns/ci"), ("", ""))
        }
        assert http_json("GET", f"{url}{ADMIN}/namespaces")[1] == {"namespaces": ["default", "ci"]}
    assert after == before
    assert [d["process_guid"] for d in after["ci"]["desired_lrps"]] == ["web"]


def test_save_writes_the_state_file_while_serving(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with serving("--state", str(path)) as url:
        http_json("POST", f"{url}/ns/x{ADMIN}/seed", {"domains": ["cf-apps"]})
        status, saved = http_json("POST", f"{url}{ADMIN}/save")
        assert (status, saved["saved"], saved["namespaces"]) == (200, str(path), 2)
        assert saved["bytes"] == path.stat().st_size
        loaded = FakeBBS(namespace="x")
        loaded.load(path)
        assert list(loaded.snapshot().domains) == ["cf-apps"]


def test_save_without_a_state_file_is_a_409() -> None:
    with serving() as url:
        status, answer = http_json("POST", f"{url}{ADMIN}/save")
    assert (status, answer) == (
        409,
        {"error": "this server has no state file: serve with --state FILE"},
    )


def test_the_state_is_saved_on_the_interval_so_a_kill_loses_at_most_that(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with spawn("--state", str(path), "--state-interval", "0.1") as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().split()[-1]
            http_json("POST", f"{url}{ADMIN}/seed", {"domains": ["cf-apps"]})
            fake = FakeBBS()
            for _ in range(int(TIMEOUT / 0.05)):
                if path.exists():
                    fake.load(path)
                    if fake.snapshot().domains:
                        break
                threading.Event().wait(0.05)
            assert list(fake.snapshot().domains) == ["cf-apps"]
        finally:
            proc.kill()
            proc.communicate(timeout=TIMEOUT)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{", "not a fakebbs state file"),
        ('{"fakebbs_state": 2, "namespaces": {}}', "written by a newer fakebbs"),
    ],
)
def test_serve_refuses_a_state_file_it_cannot_load_in_one_line_and_leaves_it(
    tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with spawn("--state", str(path)) as proc:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert (proc.returncode, stdout) == (2, "")
    assert stderr.startswith(f"fakebbs: state file {path}: ") and says in stderr
    assert stderr.count("\n") == 1
    assert path.read_text() == content


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--state-interval", "5"], "--state-interval needs --state FILE"),
        (["--state", "/nowhere/at/all/state.json"], "no such directory '/nowhere/at/all'"),
        (["--state", "s.json", "--state-interval", "-1"], "not a number of seconds"),
    ],
)
def test_a_bad_state_flag_is_one_line_and_exit_2(
    flags: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *flags]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
