"""FakeBBS, the facade: what a test drives the fake with besides the HTTP API."""

from __future__ import annotations

import dataclasses

import pytest
from google.protobuf.message import Message

from builders import desired_lrp
from fakebbs import BBSClient, FakeBBS, errors, models


def test_converge_restarts_a_crashed_instance_once_the_clock_passes_its_backoff() -> None:
    fake = FakeBBS()
    clock = fake.clock
    clock.freeze()
    fake.register_cell("cell-1")
    fake._state.desire_lrp(desired_lrp("web", instances=1))
    key = models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps")
    instance = models.ActualLRPInstanceKey(instance_guid="ig", cell_id="cell-1")
    for _ in range(3):
        fake._state.claim_actual_lrp("web", 0, instance)
        fake._state.crash_actual_lrp(key, instance, "boom")

    assert fake.converge()[0].restarted_crashed == []
    clock.advance(31)
    lrps, _ = fake.converge()

    assert lrps.restarted_crashed == [("web", 0)]
    [row] = fake._state.actual_lrps_matching(process_guid="web")
    assert (row.state, row.crash_count) == ("UNCLAIMED", 3)


def test_registered_cells_are_what_cells_list_answers() -> None:
    fake = FakeBBS()
    fake.register_cell("cell-1")
    fake.register_cell(models.CellPresence(cell_id="cell-2", zone="z2"))
    fake.unregister_cell("cell-1")

    with BBSClient.in_process(fake.wsgi_app) as bbs:
        cells = bbs.cells()

    assert [(c.cell_id, c.zone) for c in cells] == [("cell-2", "z2")]


def test_reset_forgets_cells_too() -> None:
    fake = FakeBBS()
    fake.register_cell("cell-1")

    fake.reset()

    assert fake._state.cell_presences() == []


def test_check_reraises_an_error_raised_inside_the_fake_once() -> None:
    fake = FakeBBS()

    def broken(*args: object) -> Message:
        raise RuntimeError("a bug in the fake")

    handlers = fake.wsgi_app.handlers
    handlers["Domains"] = dataclasses.replace(handlers["Domains"], run=broken)
    with fake.client() as bbs, pytest.raises(errors.InvalidResponse, match="500"):
        bbs.domains()

    with pytest.raises(RuntimeError, match="a bug in the fake"):
        fake.check()
    fake.check()  # reported once


def test_check_passes_when_nothing_went_wrong_and_bbs_errors_are_not_bugs() -> None:
    fake = FakeBBS()
    with fake.client() as bbs, pytest.raises(errors.ResourceNotFound):
        bbs.desired_lrp_by_process_guid("missing")

    fake.check()


def test_client_calls_in_process_until_served_then_over_the_socket() -> None:
    fake = FakeBBS()

    assert fake.client().url == "http://in-process"
    with fake.serve() as server:
        assert fake.client().url == server.url == fake.url
    assert fake.server is None
    with pytest.raises(RuntimeError, match="not served"):
        _ = fake.url


def test_reset_clears_state_faults_holds_and_journal() -> None:
    fake = FakeBBS()
    fake.register_cell("cell-1")
    fake.fail("Domains", errors.Unrecoverable())
    gate = fake.hold("Ping")
    with fake.client() as bbs, pytest.raises(errors.Unrecoverable):
        bbs.domains()

    fake.reset()

    assert (fake._state.cell_presences(), fake.faults, len(fake.calls)) == ([], [], 0)
    assert gate.released
    with fake.client() as bbs:
        assert bbs.domains() == []
        assert bbs.ping()


def test_state_still_works_and_warns_naming_its_replacements() -> None:
    fake = FakeBBS()

    with pytest.deprecated_call(match=r"FakeBBS\.seed.*snapshot\(\).*client\(\)"):
        state = fake.state
    state.upsert_domain("cf-apps", 0)

    assert fake.client().domains() == ["cf-apps"]
