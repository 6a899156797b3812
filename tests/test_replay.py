"""A real BBS's recording, replayed against the fake: every sequence, every answer, event,
rep call and auctioneer call (tests/data/fidelity/README.md says what it holds)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fakebbs import FakeBBS
from fakebbs._fidelity.recording import load_recording
from fakebbs._fidelity.replay import Replayer, diff_paths, match_late, sequence_ids

CORPUS = Path(__file__).parent / "data" / "fidelity" / "corpus.json.gz"
RECORDING = load_recording(CORPUS)


@pytest.fixture(scope="module")
def replayer() -> Iterator[Replayer]:
    with Replayer(RECORDING, fake=FakeBBS()) as replayer:
        yield replayer


@pytest.mark.parametrize(
    "number", range(len(RECORDING["sequences"])), ids=list(sequence_ids(RECORDING))
)
def test_the_fake_answers_every_recorded_sequence_as_the_real_bbs_did(
    replayer: Replayer, number: int
) -> None:
    differences = replayer.replay(number)
    assert not differences, "\n\n" + "\n\n".join(d.report() for d in differences)


def test_the_recording_covers_both_parts_with_auctioneer_calls_and_the_row_order_reproducers() -> (
    None
):
    sequences = RECORDING["sequences"]
    assert {s["part"] for s in sequences} == {"2026-12-01", "2026-12-05"}
    assert sum(len(s["steps"]) for s in sequences) > 13_000
    known = {s["name"].split()[0] for s in sequences if s.get("known_difference")}
    assert {"known-4", "known-7", "known-11", "known-12"} <= known
    assert any("auction_calls" in step for s in sequences for step in s["steps"])


# -- the replayer finds differences --------------------------------------------------------------


def planted(number: int) -> dict[str, Any]:
    """The recording with only sequence ``number``, to plant a difference in."""
    return dict(RECORDING, sequences=[copy.deepcopy(RECORDING["sequences"][number])])


def known(name: str) -> int:
    (number,) = [i for i, s in enumerate(RECORDING["sequences"]) if s["name"].split()[0] == name]
    return number


def test_a_different_answer_is_reported_field_by_field_with_the_step_and_the_request() -> None:
    recording = planted(known("known-11"))
    steps = recording["sequences"][0]["steps"]
    last = len(steps) - 1
    steps[last]["answer"]["body"]["actual_lrps"][-1]["state"] = "RUNNING"

    with Replayer(recording, fake=FakeBBS()) as replayer:
        (difference,) = replayer.replay(0)

    assert (difference.step, difference.what) == (last, "answer")
    report = difference.report()
    assert "sequence 0 [known-11 " in report
    assert 'POST /v1/actual_lrps/list  ActualLRPsRequest: process_guid: "<T>-p1"' in report
    assert '.body.actual_lrps[2].state: expected "RUNNING" / got "UNCLAIMED"' in report


def test_a_missing_event_and_a_missing_auctioneer_call_are_reported() -> None:
    recording = planted(known("known-11"))
    steps = recording["sequences"][0]["steps"]
    evacuated = next(n for n, s in enumerate(steps) if s.get("auction_calls") and n > 0)
    steps[evacuated]["events"]["lrp_instances"].append(
        dict(steps[evacuated]["events"]["lrp_instances"][0], key="<T>-p9/0")
    )
    steps[evacuated]["auction_calls"].append(
        dict(steps[evacuated]["auction_calls"][0], path="/v1/tasks")
    )

    with Replayer(recording, fake=FakeBBS()) as replayer:
        differences = replayer.replay(0)

    assert [(d.step, d.what) for d in differences] == [
        (evacuated, "events lrp_instances"),
        (evacuated, "auctioneer calls"),
    ]
    assert any(line.startswith("missing ") for line in differences[0].details)
    assert differences[1].details[0].startswith("missing: /v1/tasks ")


def test_an_event_the_real_bbs_did_not_emit_is_reported() -> None:
    recording = planted(known("known-11"))
    first = recording["sequences"][0]["steps"][0]
    first["events"]["lrp_instances"].pop()

    with Replayer(recording, fake=FakeBBS()) as replayer:
        (difference,) = replayer.replay(0)

    assert (difference.step, difference.what) == (0, "events lrp_instances")
    assert difference.kind == "+actual_lrp_instance_created"


def test_diff_paths_names_each_differing_leaf() -> None:
    want = {"a": {"b": [1, 2]}, "c": "x"}
    got = {"a": {"b": [1, 3]}, "d": "y"}
    assert diff_paths(want, got) == [
        ".a.b[1]: expected 2 / got 3",
        '.c: expected "x" / got "<absent>"',
        '.d: expected "<absent>" / got "y"',
    ]


def test_a_recorded_call_may_land_one_step_late_but_never_early() -> None:
    assert match_late([[], ["x"]], [["x"], []]) == []
    assert match_late([["x"], []], [[], ["x"]]) == [(0, ["x"], []), (1, [], ["x"])]
    assert match_late([[], [], ["x"]], [["x"], [], []]) == [(0, [], ["x"]), (2, ["x"], [])]
