"""The recording proxy in front of a BBS (here a served fake): it forwards every call unchanged,
records calls, answers and stream events, and its recording replays against another fake."""

from __future__ import annotations

import ssl
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from builders import desired_lrp
from fakebbs import FakeBBS, models
from fakebbs._fidelity.recorder import Recorder
from fakebbs._fidelity.recording import load_recording
from fakebbs._fidelity.replay import Replayer
from fakebbs.client import BBSClient
from fakebbs.tls import Certificates, generate_certificates

TASK = models.TaskDefinition(
    root_fs="preloaded:cflinuxfs4",
    action=models.Action(run_action=models.RunAction(path="/bin/true", user="vcap")),
)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return generate_certificates(tmp_path_factory.mktemp("certs"))


def traffic(bbs: BBSClient) -> None:
    """Some calls a suite makes, with an event stream open for most of them: an LRP desired,
    claimed and started; a task desired, started and rejected once."""
    with bbs.subscribe_to_instance_events():
        bbs.desire_lrp(desired_lrp("web", instances=2))
        key = models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps")
        instance = models.ActualLRPInstanceKey(instance_guid="i-1", cell_id="cell-1")
        bbs.claim_actual_lrp(key, instance)
        bbs.start_actual_lrp(key, instance, models.ActualLRPNetInfo(address="10.0.0.1"))
    bbs.actual_lrps(process_guid="web")
    bbs.desire_task("t-1", "tasks", TASK)
    bbs.start_task("t-1", "cell-1")
    bbs.reject_task("t-1", "no room")
    bbs.tasks()


def record(
    path: Path,
    *,
    upstream_tls: ssl.SSLContext | None = None,
    server_tls: ssl.SSLContext | None = None,
    client_tls: ssl.SSLContext | None = None,
) -> dict[str, Any]:
    """Record ``traffic`` through a proxy in front of a served fake with one cell."""
    bbs = FakeBBS()
    bbs.seed.cell(models.CellPresence(cell_id="cell-1"))
    with bbs.serve(ssl_context=server_tls):
        recorder = Recorder(bbs.url, path, upstream_tls=upstream_tls, server_tls=server_tls)
        proxy = recorder.serve()
        try:
            with BBSClient(proxy.url, ssl_context=client_tls) as client:
                traffic(client)
        finally:
            recorder.stop()
    return load_recording(path)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return record(tmp_path_factory.mktemp("recording") / "bbs.json.gz")


def test_the_recording_holds_each_call_in_order_with_its_normalized_answer(
    recorded: dict[str, Any],
) -> None:
    (sequence,) = recorded["sequences"]
    steps = sequence["steps"]
    assert [s["call"] for s in steps] == [
        "DesireDesiredLRP",
        "ClaimActualLRP",
        "StartActualLRP",
        "ActualLRPs",
        "DesireTask",
        "StartTask",
        "RejectTask",
        "Tasks",
    ]
    assert sequence["tag"] is None
    listed = steps[3]["answer"]["body"]["actual_lrps"]
    assert [(a["state"], a["modification_tag"]) for a in listed] == [
        ("RUNNING", {"epoch": "E1", "index": 2}),
        ("UNCLAIMED", {"epoch": "E2", "index": 0}),
    ]
    assert "since" not in listed[0]
    assert recorded["cell_ids"] == ["cell-1"]


def test_the_events_of_a_stream_are_recorded_with_the_call_that_caused_them(
    recorded: dict[str, Any],
) -> None:
    (name,) = recorded["streams"]
    assert recorded["streams"][name] == {
        "method": "POST",
        "path": "/v1/events/lrp_instances.r1",
        "opened_at": 0,
        "closed_at": 3,
    }
    steps = recorded["sequences"][0]["steps"]
    events = [[(e["event"], e["key"]) for e in s["events"].get(name, [])] for s in steps]
    assert events[:3] == [
        [
            ("desired_lrp_created", "web"),
            ("actual_lrp_instance_created", "web/0"),
            ("actual_lrp_instance_created", "web/1"),
        ],
        [("actual_lrp_instance_changed", "web/0")],
        [("actual_lrp_instance_changed", "web/0")],
    ]
    assert not any(events[3:])


def test_the_recording_replays_against_another_fake_with_no_difference(
    recorded: dict[str, Any],
) -> None:
    with Replayer(recorded, fake=FakeBBS()) as replayer:
        assert replayer.replay(0) == []


def test_a_fake_that_behaves_otherwise_is_reported(recorded: dict[str, Any]) -> None:
    """A fake that fails a task at its first rejection, where the recorded BBS retries."""
    with Replayer(recorded, fake=FakeBBS(max_task_retries=0)) as replayer:
        differences = replayer.replay(0)

    assert [(d.step, d.call, d.what) for d in differences] == [(7, "Tasks", "answer")]
    assert '.body.tasks[0].state: expected "Pending" / got "Completed"' in differences[0].details


def test_calls_are_forwarded_unchanged_even_to_paths_no_route_has(tmp_path: Path) -> None:
    bbs = FakeBBS()
    with bbs.serve():
        recorder = Recorder(bbs.url, tmp_path / "r.json")
        proxy = recorder.serve()
        try:
            request = urllib.request.Request(proxy.url + "/v1/nothing?x=1", data=b"", method="POST")
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(request, timeout=10)
        finally:
            recorder.stop()
    assert answer.value.code == 404
    assert answer.value.read() == b"404 page not found\n"
    [call] = [c for c in bbs.calls if c.route is None]
    assert call.path == "/v1/nothing"
    step = load_recording(tmp_path / "r.json")["sequences"][0]["steps"][0]
    assert (step["call"], step["answer"]["status"]) == ("POST /v1/nothing?x=1", 404)


def test_over_mutual_tls_on_both_sides_it_records_and_replays(
    tmp_path: Path, certs: Certificates
) -> None:
    recording = record(
        tmp_path / "bbs.json.gz",
        upstream_tls=certs.client_context(),
        server_tls=certs.server_context(),
        client_tls=certs.client_context(),
    )

    assert len(recording["sequences"][0]["steps"]) == 8
    with Replayer(recording, fake=FakeBBS()) as replayer:
        assert replayer.replay(0) == []
