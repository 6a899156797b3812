"""The call journal: every request to the fake, decoded, with assertions and waiting."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from werkzeug.test import Client

from builders import desired_lrp
from fakebbs import FakeBBS, errors, faults, models
from fakebbs._control.journal import Call, Journal, call_weight, new_call
from fakebbs.client import BBSClient


def test_a_call_is_recorded_with_its_decoded_request_and_response(
    fake: FakeBBS, bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=3), trace_id="trace-1")

    call = fake.calls.last
    assert (call.route, call.method, call.path) == (
        "DesireDesiredLRP",
        "POST",
        "/v1/desired_lrp/desire.r2",
    )
    assert call.request.desired_lrp.instances == 3  # type: ignore[union-attr]
    assert call.response is not None and not call.response.HasField("error")
    assert (call.error, call.fault, call.trace_id, call.status) == (None, None, "trace-1", 200)


def test_the_journal_keeps_what_was_sent_although_the_route_rewrites_its_request(
    fakebbs_in_process: FakeBBS,
) -> None:
    # desire.r2 fills in defaults before storing; the journal shows the client's message.
    lrp = desired_lrp("web")
    lrp.ClearField("memory_mb")
    with fakebbs_in_process.client() as bbs:
        bbs.desire_lrp(lrp)

    assert fakebbs_in_process.calls.last.request.desired_lrp == lrp  # type: ignore[union-attr]


def test_a_bbs_error_answer_is_recorded_as_the_error(fake: FakeBBS, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    with pytest.raises(errors.ResourceExists):
        bbs.desire_lrp(desired_lrp("web"))

    assert isinstance(fake.calls.last.error, errors.ResourceExists)


def test_an_unknown_path_and_an_undecodable_body_are_recorded_too(fake: FakeBBS) -> None:
    http = Client(fake.wsgi_app)
    http.post("/v1/no/such/route")
    http.post("/v1/desired_lrp/desire.r2", data=b"\xff\xff")

    unknown, undecodable = fake.calls[-2:]
    assert (unknown.route, unknown.path, unknown.status) == (None, "/v1/no/such/route", 404)
    assert undecodable.route == "DesireDesiredLRP"
    assert isinstance(undecodable.error, errors.InvalidRequest)


def test_calls_answered_by_a_fault_are_recorded_with_the_fault(fake: FakeBBS) -> None:
    fault = faults.close_connection()
    fake.fail("Domains", fault)
    with fake.client() as bbs, pytest.raises(ConnectionError):
        bbs.domains()

    assert fake.calls.last.fault is fault


def test_to_filters_by_route_and_where(fake: FakeBBS, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    bbs.desire_lrp(desired_lrp("api", instances=2))
    bbs.ping()

    assert [c.request.desired_lrp.process_guid for c in fake.calls.to("DesireDesiredLRP*")] == [  # type: ignore[union-attr]
        "web",
        "api",
    ]
    assert len(fake.calls.to("DesireDesiredLRP", where={"desired_lrp.instances": 2})) == 1
    [api] = fake.calls.to(
        "*", where=lambda r: getattr(r, "desired_lrp", None) == desired_lrp("api", instances=2)
    )
    assert api.request.desired_lrp.process_guid == "api"  # type: ignore[union-attr]


def test_assert_called_passes_and_returns_the_matching_calls(fake: FakeBBS, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=3))

    [call] = fake.calls.assert_called(
        "DesireDesiredLRP", times=1, where={"desired_lrp.instances": 3}
    )
    assert call.request.desired_lrp.process_guid == "web"  # type: ignore[union-attr]


def test_assert_called_fails_with_the_near_misses_and_the_fields_that_differed(
    fake: FakeBBS, bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=2))

    with pytest.raises(AssertionError) as failure:
        fake.calls.assert_called("DesireDesiredLRP", where={"desired_lrp.instances": 3})

    report = str(failure.value)
    assert "expected DesireDesiredLRP where {desired_lrp.instances=3} to be called" in report
    assert "near misses" in report
    assert "desired_lrp.instances: expected 3, got 2" in report
    assert 'process_guid: "web"' in report


def test_assert_called_with_times_counts_exactly(fake: FakeBBS, bbs: BBSClient) -> None:
    bbs.ping()
    bbs.ping()

    fake.calls.assert_called("Ping", times=2)
    with pytest.raises(AssertionError, match="to be called 1 time\n"):
        fake.calls.assert_called("Ping", times=1)


def test_assert_called_with_nothing_recorded_says_so(fake: FakeBBS) -> None:
    with pytest.raises(AssertionError, match="no calls were recorded"):
        fake.calls.assert_called("Ping")


def test_assert_not_called_lists_the_offending_calls(fake: FakeBBS, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web"))
    fake.calls.assert_not_called("RemoveDesiredLRP")

    with pytest.raises(AssertionError, match="not to be called; 1 matching call"):
        fake.calls.assert_not_called("DesireDesiredLRP*")


def test_wait_for_returns_a_call_made_from_another_thread(fake: FakeBBS) -> None:
    def later() -> None:
        with fake.client() as bbs:
            bbs.desire_lrp(desired_lrp("web"))

    thread = threading.Thread(target=later)
    thread.start()
    call = fake.calls.wait_for(
        "DesireDesiredLRP", timeout=10, where={"desired_lrp.process_guid": "web"}
    )
    thread.join()

    assert call.route == "DesireDesiredLRP"


def test_wait_for_times_out_with_the_near_miss_report(fake: FakeBBS, bbs: BBSClient) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))

    with pytest.raises(AssertionError, match=r"(?s)timed out after 0.05 s.*near misses"):
        fake.calls.wait_for("DesireDesiredLRP", timeout=0.05, where={"desired_lrp.instances": 9})


def test_the_journal_is_bounded_and_counts_what_it_dropped() -> None:
    fake = FakeBBS(journal_size=3)
    with fake.client() as bbs:
        for _ in range(5):
            bbs.ping()

    assert (len(fake.calls), fake.calls.dropped) == (3, 2)


def test_reset_clears_the_journal(fake: FakeBBS, bbs: BBSClient) -> None:
    bbs.ping()
    fake.reset()

    assert (len(fake.calls), list(fake.calls)) == (0, [])
    with pytest.raises(IndexError):
        _ = fake.calls.last


def test_a_journal_size_is_zero_or_more() -> None:
    with pytest.raises(ValueError, match="0 calls"):
        Journal(-1)
    with pytest.raises(ValueError, match="0 bytes"):
        Journal(10, max_bytes=-1)


def test_the_journal_is_bounded_in_bytes_and_keeps_the_newest_call_whatever_its_size() -> None:
    fake = FakeBBS(journal_bytes=200_000)
    with fake.client() as bbs:
        for n in range(5):
            big = desired_lrp(f"big-{n}")
            big.annotation = "x" * 99_000  # refused (too long), but journaled with its body
            with pytest.raises(errors.InvalidRequest):
                bbs.desire_lrp(big)
    kept = [_desired_guid(c.request) for c in fake.calls]
    assert kept == ["big-3", "big-4"]
    assert fake.calls.dropped == 3
    assert 198_000 < fake.calls.bytes <= 200_000

    lonely = FakeBBS(journal_bytes=1)
    lonely.client().ping()
    assert (len(lonely.calls), lonely.calls.dropped) == (1, 0)


def _desired_guid(request: object) -> str:
    assert isinstance(request, models.DesireLRPRequest)
    return request.desired_lrp.process_guid


@pytest.mark.parametrize(("size", "max_bytes"), [(0, 1000), (1000, 0)])
def test_a_journal_of_size_zero_is_off(size: int, max_bytes: int) -> None:
    fake = FakeBBS(journal_size=size, journal_bytes=max_bytes)
    with fake.client() as bbs:
        bbs.ping()
        bbs.ping()
    assert (len(fake.calls), fake.calls.dropped, fake.calls.enabled) == (0, 2, False)
    assert not fake.rep_calls.enabled and not fake.auctioneer_calls.enabled


def test_calls_are_numbered_for_good_even_across_drops_and_clears() -> None:
    fake = FakeBBS(journal_size=2)
    with fake.client() as bbs:
        for _ in range(3):
            bbs.ping()
        assert [n for n, _ in fake.calls.numbered()] == [2, 3]
        fake.calls.clear()
        bbs.ping()
        bbs.desire_lrp(desired_lrp("web"))
    assert [n for n, _ in fake.calls.numbered()] == [4, 5]
    assert [n for n, _ in fake.calls.numbered("DesireDesiredLRP*")] == [5]


def test_a_bad_where_path_is_an_immediate_error(fake: FakeBBS) -> None:
    with pytest.raises(ValueError, match="desired_lrp.instancez"):
        fake.calls.to("DesireDesiredLRP", where={"desired_lrp.instancez": 1})


def test_a_call_says_which_fault_rule_answered_it_and_whether_it_ran_anyway(
    fakebbs_in_process: FakeBBS,
) -> None:
    refused = fakebbs_in_process.fail("DesireDesiredLRP", errors.ResourceExists(), times=1)
    slowed = fakebbs_in_process.fail("DesireDesiredLRP", faults.delay(0), times=1)
    with fakebbs_in_process.client() as bbs:
        with pytest.raises(errors.ResourceExists):
            bbs.desire_lrp(desired_lrp("web"))
        bbs.desire_lrp(desired_lrp("web"))
        bbs.desired_lrp_by_process_guid("web")

    first, second, read = fakebbs_in_process.calls
    assert (first.fault_rule, first.ran_anyway) == (refused, False)
    assert (second.fault_rule, second.ran_anyway) == (slowed, True)
    assert (read.fault_rule, read.ran_anyway) == (None, True)
    assert not refused.ran_anyway and slowed.ran_anyway


def test_listeners_hear_of_each_recorded_call_and_of_a_clear(
    fakebbs_in_process: FakeBBS,
) -> None:
    heard: list[int] = []
    journal = fakebbs_in_process.calls
    journal.listeners.append(lambda: heard.append(len(journal)))
    with fakebbs_in_process.client() as bbs:
        bbs.ping()
        bbs.ping()

    journal.clear()

    assert heard == [1, 2, 0]


def test_new_call_makes_the_same_call_as_the_dataclass() -> None:
    fields = {
        "route": "Ping",
        "path": "/v1/ping",
        "method": "POST",
        "request": models.PingResponse(available=True),
        "sent": models.PingResponse(available=True),
        "error": errors.ResourceNotFound(),
        "fault": faults.delay(1),
        "trace_id": "trace",
        "time": 1.5,
        "status": 200,
        "namespace": "ns",
        "fault_rule": None,
    }
    made = new_call(**fields)  # type: ignore[arg-type]
    assert made == Call(**fields)  # type: ignore[arg-type]
    assert {f.name for f in dataclasses.fields(Call)} == set(fields)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.status = 500  # type: ignore[misc]


def test_a_call_served_weighs_what_its_messages_weigh_serialized(fake: FakeBBS) -> None:
    with fake.client() as bbs:
        bbs.desire_lrp(desired_lrp("web"))
        bbs.desired_lrp_by_process_guid("web")
        bbs.desired_lrps()
    sizes = [c.response.ByteSize() for c in fake.calls if c.response is not None]
    assert len(sizes) == 3
    assert fake.calls.bytes == sum(map(call_weight, fake.calls, sizes))
