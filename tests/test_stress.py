"""The stress command: a short run is clean, and each problem it reports is really noticed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest

from fakebbs import FakeBBS, models, stress
from fakebbs._http.server import Server
from fakebbs.routes import route

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Short runs: the figures the README quotes come from the 30 s default.
SHORT = 0.6


def test_a_run_against_a_started_server_is_clean_and_covers_every_kind_of_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = stress.main(["--duration", "1.5", "--json", "--seed", "7"])

    report = json.loads(capsys.readouterr().out)
    assert status == 0, report["problems"]
    assert report["ok"] and report["started_server"]
    kinds = report["requests_by_kind"]
    for kind in ("desire", "update", "remove", "get", "claim", "start", "crash", "task desire"):
        assert kinds.get(kind, 0) > 0, kind
    assert report["requests"] == sum(kinds.values())
    assert report["acknowledged_writes"] > 0
    assert (report["server_errors"], report["bad_answers"], report["dropped"]) == (0, 0, 0)
    assert (report["lost_writes"], report["missed_events"]) == (0, 0)
    assert report["events"] > 0
    # three subscriber streams (plus listener and main) hold threads in the server process
    assert report["threads_peak"] >= report["threads_before"] > 3
    assert report["server_exit"] == 0


@pytest.fixture
def served() -> Iterator[FakeBBS]:
    yield FakeBBS()


def serve_with(fake: FakeBBS, app: WSGIApplication) -> Server:
    return Server(app, on_stop=fake.release_waiting).start()


def answering_instead(
    fake: FakeBBS, route_name: str, status: str, content_type: str
) -> WSGIApplication:
    """The fake's app, except that ``route_name`` gets an empty answer that leaves the state
    alone (an empty protobuf body is a response without an error)."""
    path = route(route_name).path

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == path:
            environ["wsgi.input"].read()
            start_response(status, [("Content-Type", content_type), ("Content-Length", "0")])
            return [b""]
        return fake.wsgi_app(environ, start_response)

    return app


def test_an_acknowledged_removal_the_server_forgot_is_a_lost_write(served: FakeBBS) -> None:
    forgetful = answering_instead(served, "RemoveDesiredLRP", "200 OK", "application/x-protobuf")
    with serve_with(served, forgetful) as server:
        report = stress.run(server.url, duration=SHORT, lifecycle=0, subscribers=0, seed=1)

    assert report.requests_by_kind["remove"] > 0
    assert report.lost_writes > 0
    assert any("removal acknowledged, still there" in p for p in report.problems)
    assert not report.ok


def test_a_5xx_answer_is_counted_and_fails_the_run(served: FakeBBS) -> None:
    failing = answering_instead(
        served, "UpdateDesireLRP", "500 Internal Server Error", "text/plain"
    )
    with serve_with(served, failing) as server:
        report = stress.run(server.url, duration=SHORT, lifecycle=0, subscribers=0, seed=2)

    assert report.server_errors == report.requests_by_kind["update"] > 0
    assert report.lost_writes == 0  # a failed update promises nothing
    assert not report.ok


def test_a_target_url_gets_no_thread_count_and_no_exit_status(served: FakeBBS) -> None:
    with served.serve() as server:
        report = stress.run(server.url, duration=SHORT, writers=1, lifecycle=1, subscribers=1)

    assert report.ok, report.problems
    assert not report.started_server
    assert (report.threads_before, report.threads_peak, report.threads_after) == (None,) * 3
    assert report.server_exit is None
    assert "n/a before, n/a peak, n/a after" in report.text()


def test_a_url_that_is_not_loopback_is_refused_before_any_traffic(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = stress.main(["--url", "http://192.0.2.1:8889", "--duration", "1"])

    assert status == 2
    assert "not a loopback address" in capsys.readouterr().err


def test_lost_writes_are_acknowledged_states_the_final_state_does_not_show() -> None:
    ledger = stress.Ledger(
        desired={"kept": (2, "a"), "changed": (3, "b"), "gone": (1, ""), "unsure": (1, "")},
        removed={"removed", "also-removed"},
        actuals={("kept", 0): ("RUNNING", "i-0"), ("kept", 1): None},
        tasks={"t-done": "Completed", "t-deleted": None},
        uncertain={"unsure"},
    )
    desired = [
        models.DesiredLRP(process_guid="kept", instances=2, annotation="a"),
        models.DesiredLRP(process_guid="changed", instances=3, annotation="old"),
        models.DesiredLRP(process_guid="also-removed", instances=1),
    ]
    actuals = [
        models.ActualLRP(
            actual_lrp_key=models.ActualLRPKey(process_guid="kept", index=0),
            actual_lrp_instance_key=models.ActualLRPInstanceKey(instance_guid="i-0"),
            state="RUNNING",
        ),
        models.ActualLRP(
            actual_lrp_key=models.ActualLRPKey(process_guid="kept", index=1), state="UNCLAIMED"
        ),
    ]
    tasks = [
        models.Task(task_guid="t-done", state=models.Task.State.Running),
        models.Task(task_guid="t-deleted", state=models.Task.State.Resolving),
    ]

    lost = stress.find_lost_writes(ledger, desired, actuals, tasks)

    assert lost == [
        "desired LRP changed: acknowledged instances=3 annotation='b', "
        "found instances=3 annotation='old'",
        "desired LRP gone: acknowledged, missing",
        "desired LRP also-removed: removal acknowledged, still there",
        "actual LRP kept/1: removal acknowledged, found [('UNCLAIMED', '')]",
        "task t-deleted: acknowledged missing, found Resolving",
        "task t-done: acknowledged Completed, found Running",
    ]
