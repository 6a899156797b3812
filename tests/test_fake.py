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
    fake.seed.cell("cell-1")
    bbs = fake.client()
    bbs.desire_lrp(desired_lrp("web", instances=1))
    key = models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps")
    instance = models.ActualLRPInstanceKey(instance_guid="ig", cell_id="cell-1")
    for _ in range(3):
        bbs.claim_actual_lrp(key, instance)
        bbs.crash_actual_lrp(key, instance, "boom")

    assert fake.converge()[0].restarted_crashed == []
    clock.advance(31)
    lrps, _ = fake.converge()

    assert lrps.restarted_crashed == [("web", 0)]
    [row] = bbs.actual_lrps(process_guid="web")
    assert (row.state, row.crash_count) == ("UNCLAIMED", 3)


def test_registered_cells_are_what_cells_list_answers() -> None:
    fake = FakeBBS()
    fake.seed.cell("cell-1")
    fake.seed.cell(models.CellPresence(cell_id="cell-2", zone="z2"))
    fake.unregister_cell("cell-1")

    with BBSClient.in_process(fake.wsgi_app) as bbs:
        cells = bbs.cells()

    assert [(c.cell_id, c.zone) for c in cells] == [("cell-2", "z2")]


def test_reset_forgets_cells_too() -> None:
    fake = FakeBBS()
    fake.seed.cell("cell-1")

    fake.reset()

    assert fake.cell_presences() == []


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
    fake.seed.cell("cell-1")
    fake.fail("Domains", errors.Unrecoverable())
    gate = fake.hold("Ping")
    with fake.client() as bbs, pytest.raises(errors.Unrecoverable):
        bbs.domains()

    fake.reset()

    assert (fake.cell_presences(), fake.faults, len(fake.calls)) == ([], [], 0)
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


def test_errors_still_works_and_warns_that_it_is_handler_errors() -> None:
    fake = FakeBBS()
    fake.handler_errors.append(RuntimeError("a bug in the fake"))

    with pytest.deprecated_call(match=r"FakeBBS\.handler_errors"):
        found = fake.errors

    assert found is fake.handler_errors


def test_events_still_works_and_warns_that_it_is_internal() -> None:
    fake = FakeBBS()

    with pytest.deprecated_call(match=r"FakeBBS\.events is deprecated"):
        hub = fake.events

    assert hub.subscriber_count == fake.open_event_streams == 0


def test_outbound_still_works_and_warns_naming_wait_for_outbound() -> None:
    fake = FakeBBS()

    with pytest.deprecated_call(match=r"FakeBBS\.wait_for_outbound\(\)"):
        outbound = fake.outbound

    assert outbound.wait(0)


def test_register_cell_still_registers_and_warns_naming_seed_cell() -> None:
    fake = FakeBBS()

    with pytest.deprecated_call(match=r"FakeBBS\.seed\.cell"):
        fake.register_cell("cell-1")

    assert fake.cell_presences() == [models.CellPresence(cell_id="cell-1")]


def test_seed_cell_registers_a_whole_presence_as_it_is() -> None:
    fake = FakeBBS()
    presence = models.CellPresence(cell_id="cell-1", rep_address="http://rep:1800")

    assert fake.seed.cell(presence) == presence
    assert fake.cell_presences() == [presence]
    with pytest.raises(errors.InvalidRequest, match="cell_id"):
        fake.seed.cell(models.CellPresence(zone="z1"))
    with pytest.raises(TypeError):
        fake.seed.cell(presence, zone="z1")


def test_cell_presences_are_the_registered_cells_in_the_order_added() -> None:
    fake = FakeBBS()
    fake.seed.cell("cell-2", zone="z2")
    fake.seed.cell("cell-1")
    fake.seed.cell("cell-2", zone="z3")  # replaces, in place
    fake.unregister_cell("unknown")

    assert [(c.cell_id, c.zone) for c in fake.cell_presences()] == [
        ("cell-2", "z3"),
        ("cell-1", ""),
    ]


def test_wait_for_outbound_waits_for_the_background_stops_of_a_removal() -> None:
    fake = FakeBBS()
    fake.seed.cell("cell-1")
    fake.seed.desired_lrp("web", instances=2, running=2, cell_id="cell-1")

    with fake.client() as bbs:
        bbs.remove_desired_lrp("web")
    assert fake.wait_for_outbound(10)

    assert [call.route for call in fake.rep_calls] == ["StopLRPInstance"] * 2


def test_release_waiting_ends_the_open_streams_and_releases_held_requests() -> None:
    fake = FakeBBS()
    gate = fake.hold("Ping")
    with fake.client() as bbs:
        stream = bbs.subscribe_to_task_events()
        assert fake.open_event_streams == 1

        fake.release_waiting()

        assert gate.released
        assert list(stream) == []
        assert fake.open_event_streams == 0
