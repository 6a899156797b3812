"""The fault schedules and the state machine, and the fake checked with them: a model-based
machine over the HTTP API with the BBS invariants, and a differential machine comparing
in-process calls with calls over a socket."""

from __future__ import annotations

import http.client
import itertools
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from fakebbs import FakeBBS, errors, faults, models, strategies
from fakebbs._rules.store import CLAIMED, RUNNING, UNCLAIMED, ActualKey
from fakebbs.client import BBSClient, EventSource
from fakebbs.strategies import BBSStateMachine, CallOutcome, FaultSchedule
from fakebbs.strategies._answers import route_errors

MACHINE = settings(
    max_examples=12,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""A fixed seed and a modest budget: the same runs in CI every time."""

T = TypeVar("T")
TASK_EVENTS = (models.TaskCreatedEvent, models.TaskChangedEvent, models.TaskRemovedEvent)
ORDINARY = models.ActualLRP.ORDINARY


def without_tag(lrp: models.DesiredLRP) -> models.DesiredLRP:
    copy = models.DesiredLRP()
    copy.CopyFrom(lrp)
    copy.ClearField("modification_tag")
    return copy


# -- fault schedules ---------------------------------------------------------------------------


def shrunk(strategy: st.SearchStrategy[T], fails: Callable[[T], bool]) -> T:
    """The example Hypothesis reports when a test fails for every value where ``fails``."""
    examples: list[T] = []

    @settings(MACHINE, max_examples=100)
    @given(strategy)
    def test(value: T) -> None:
        examples.append(value)
        assert not fails(value)

    with pytest.raises(AssertionError):
        test()
    return examples[-1]


def test_a_fault_schedule_shrinks_to_one_error_the_route_can_answer() -> None:
    routes = ["DesireDesiredLRP", "StartTask"]
    smallest = shrunk(strategies.fault_schedules(routes), lambda schedule: len(schedule) > 0)
    [spec] = smallest.specs
    assert (spec.selector, spec.action, spec.times) == (
        "DesireDesiredLRP",
        errors.ResourceExists(),
        1,
    )


def test_the_errors_a_route_can_answer_are_read_from_its_rules() -> None:
    assert route_errors("DesireDesiredLRP") == (errors.ResourceExists,)
    assert errors.InvalidStateTransition in route_errors("StartTask")
    assert errors.RunningOnDifferentCell in route_errors("CompleteTask")
    assert errors.ActualLRPCannotBeClaimed in route_errors("ClaimActualLRP")
    assert route_errors("ActualLRPs") == () and route_errors("Ping") == ()


@settings(MACHINE, max_examples=60)
@given(schedule=strategies.fault_schedules(max_rules=5))
def test_a_drawn_bbs_error_is_one_its_route_can_answer(schedule: FaultSchedule) -> None:
    for spec in schedule.specs:
        if isinstance(spec.action, errors.BBSError):
            assert type(spec.action) in route_errors(spec.selector), spec


@settings(MACHINE, max_examples=60)
@given(schedule=strategies.fault_schedules(kinds="transient", max_rules=5))
def test_transient_faults_are_ones_a_retry_survives(schedule: FaultSchedule) -> None:
    for spec in schedule.specs:
        assert isinstance(spec.action, faults.Fault), spec
        assert spec.action.kind in strategies.TRANSIENT_FAULTS and spec.times is not None


@settings(MACHINE, max_examples=40)
@given(schedule=strategies.fault_schedules(["DesireDesiredLRP"], min_rules=1, max_rules=1))
def test_a_fault_says_whether_the_request_ran_anyway(schedule: FaultSchedule) -> None:
    fake = FakeBBS()
    [spec] = schedule.specs
    schedule.apply(fake)
    lrp = models.DesiredLRP()
    lrp.CopyFrom(MINIMAL)
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        try:
            bbs.call("DesireDesiredLRP", models.DesireLRPRequest(desired_lrp=lrp))
        except (OSError, http.client.HTTPException, errors.BBSError):
            pass
    assert ("lrp-0" in fake.snapshot().desired_lrps) == spec.ran_anyway


MINIMAL = models.DesiredLRP(
    process_guid="lrp-0",
    domain="cf-apps",
    root_fs="preloaded:cflinuxfs4",
    action=models.Action(run_action=models.RunAction(path="/bin/true", user="vcap")),
    metric_tags={"source_id": models.MetricTagValue(static="lrp-0")},
)


@settings(MACHINE, max_examples=30)
@given(schedule=strategies.fault_schedules(["DesireDesiredLRP", "ActualLRPs", "Tasks*"]))
def test_a_fault_schedule_is_applied_in_one_call(schedule: FaultSchedule) -> None:
    fake = FakeBBS()
    rules = schedule.apply(fake)
    assert fake.faults == rules
    assert [(r.action, r.times) for r in rules] == [(s.action, s.times) for s in schedule.specs]


def test_an_event_stream_selector_gets_end_stream_faults() -> None:
    schedule = shrunk(strategies.fault_schedules(["LRPInstanceEventStream"]), lambda s: len(s) > 0)
    assert schedule.specs[0].action == faults.end_stream(0)
    schedule.apply(FakeBBS())


def test_an_unknown_route_is_refused_when_the_strategy_is_built() -> None:
    with pytest.raises(ValueError, match="DesireDesiredLRP"):
        strategies.fault_schedules(["DesireDesiredLRPs"])


# -- the model-based machine -------------------------------------------------------------------


class CheckedBBS(BBSStateMachine):
    """The BBS invariants, checked over the HTTP API while faults are injected."""

    PROCESS_GUIDS = ("lrp-a", "lrp-b")  # two, so that rules often meet the same LRP

    def __init__(self) -> None:
        self.expected: dict[str, models.DesiredLRP] = {}
        self.seen_tags: dict[Any, tuple[str, int]] = {}
        super().__init__()
        self.listener = BBSClient.in_process(self.bbs.wsgi_app)
        self.stream: EventSource = self.listener.subscribe_to_instance_events()
        self.received = 0

    def teardown(self) -> None:
        self.stream.close()
        self.listener.close()
        super().teardown()

    def call(self, route: str, request: Message | None) -> CallOutcome:
        before = self.bbs.snapshot()
        outcome = super().call(route, request)
        answered = self.bbs.calls.last  # which rule answered, and whether the request ran
        hit, ran = answered.fault_rule, answered.ran_anyway
        if not ran:
            # nothing half-applied: a refused call leaves every table as it was
            after = self.bbs.snapshot()
            assert dict(after.desired_lrps) == dict(before.desired_lrps)
            assert dict(after.actual_lrps) == dict(before.actual_lrps)
            return outcome
        if hit is None and isinstance(outcome, BaseException):
            raise outcome
        self._expect(route, request, outcome)
        return outcome

    def _expect(self, route: str, request: Any, outcome: CallOutcome) -> None:
        """The model of desired LRPs: what a call that ran must have done."""
        answered = isinstance(outcome, Message)
        if route == "DesireDesiredLRP":
            guid = request.desired_lrp.process_guid
            if answered:
                exists = errors.ResourceExists().to_wire()
                assert (getattr(outcome, "error") == exists) == (guid in self.expected)  # noqa: B009
            self.expected.setdefault(guid, without_tag(request.desired_lrp))
        elif route == "UpdateDesireLRP" and request.process_guid in self.expected:
            lrp, update = self.expected[request.process_guid], request.update
            if update.HasField("instances"):
                lrp.instances = update.instances
            if update.HasField("annotation"):
                lrp.annotation = update.annotation
            if update.HasField("routes"):
                lrp.routes.CopyFrom(update.routes)
            if len(update.metric_tags) > 0:
                lrp.ClearField("metric_tags")
                for name, value in update.metric_tags.items():
                    lrp.metric_tags[name].CopyFrom(value)
            for field in ("image_username", "image_password"):
                if update.HasField(field):
                    setattr(lrp, field, getattr(update, field))
        elif route == "RemoveDesiredLRP":
            self.expected.pop(request.process_guid, None)

    @rule()
    def converge(self) -> None:
        super().converge()
        state = self.bbs.snapshot()
        rows = state.actual_lrps.values()
        ordinary = {
            (r.actual_lrp_key.process_guid, r.actual_lrp_key.index): r
            for r in rows
            if r.presence == ORDINARY
        }
        for guid, lrp in state.desired_lrps.items():
            for index in range(lrp.instances):
                assert (guid, index) in ordinary, f"index {index} of {guid} missing"
        for (guid, index), row in ordinary.items():
            desired = state.desired_lrps.get(guid)
            if row.state in (CLAIMED, RUNNING):
                assert row.actual_lrp_instance_key.cell_id in state.cells, row
            else:
                assert desired is not None and index < desired.instances, row

    @invariant()
    def desired_lrps_are_what_the_calls_made_them(self) -> None:
        stored = {g: without_tag(lrp) for g, lrp in self.bbs.snapshot().desired_lrps.items()}
        assert stored == self.expected

    @invariant()
    def one_row_per_index_and_presence(self) -> None:
        for key, row in self.bbs.snapshot().actual_lrps.items():
            assert ActualKey.of(row) == key
            if row.state == UNCLAIMED:
                assert row.presence == ORDINARY

    @invariant()
    def modification_tag_indexes_only_grow(self) -> None:
        state = self.bbs.snapshot()
        rows: list[tuple[Any, models.ModificationTag]] = [
            (("desired", guid), lrp.modification_tag) for guid, lrp in state.desired_lrps.items()
        ]
        rows += [(key, row.modification_tag) for key, row in state.actual_lrps.items()]
        for key, tag in rows:
            epoch, index = self.seen_tags.get(key, (tag.epoch, tag.index))
            if epoch == tag.epoch:
                assert tag.index >= index, (key, index, tag)
            self.seen_tags[key] = (tag.epoch, tag.index)

    @invariant()
    def the_stream_carries_every_logged_lrp_event(self) -> None:
        logged = [e for e in self.event_log if type(e) not in TASK_EVENTS]
        while self.received < len(logged):
            assert self.stream.next(timeout=5) == logged[self.received]
            self.received += 1


TestCheckedBBS = CheckedBBS.TestCase
TestCheckedBBS.settings = MACHINE


# -- the differential machine ------------------------------------------------------------------


START = 1_700_000_000 * 10**9
"""Both fakes' frozen clocks start here."""


def counting_guids() -> Callable[[], str]:
    counter = itertools.count()
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


class InProcessAgainstSocket(BBSStateMachine):
    """Every call the world makes goes to two identical fakes, one in-process and one over a
    socket: the answers, the events and the final states must be the same."""

    FAULT_ROUTES = ("DesireDesiredLRP", "ActualLRPs", "ClaimActualLRP", "StartActualLRP")

    def make_fake(self) -> FakeBBS:
        fake = FakeBBS(new_guid=counting_guids())
        fake.clock.freeze(START)
        return fake

    def __init__(self) -> None:
        self.twin = self.make_fake()
        self.twin_server = self.twin.serve()
        self.twin_client = self.twin.client()
        super().__init__()
        self.streams = [
            BBSClient.in_process(self.bbs.wsgi_app).subscribe_to_instance_events(),
            self.twin.client().subscribe_to_instance_events(),
        ]

    def teardown(self) -> None:
        for stream in self.streams:
            stream.close()
        self.twin_client.close()
        self.twin_server.stop()
        super().teardown()

    def call(self, route: str, request: Message | None) -> CallOutcome:
        mine = super().call(route, request)
        try:
            theirs: CallOutcome = self.twin_client.call(route, request)
        except Exception as err:  # noqa: BLE001 - compared below, whatever it is
            theirs = err
        assert describe(mine) == describe(theirs), route
        return mine

    @rule(cell_id=st.sampled_from(BBSStateMachine.CELLS))
    def register_cell(self, cell_id: str) -> None:
        super().register_cell(cell_id)
        self.twin.seed.cell(models.CellPresence(cell_id=cell_id))

    @rule(cell_id=st.sampled_from(BBSStateMachine.CELLS))
    def unregister_cell(self, cell_id: str) -> None:
        super().unregister_cell(cell_id)
        self.twin.unregister_cell(cell_id)

    @rule(data=st.data())
    def inject_faults(self, data: st.DataObject) -> None:
        schedule = data.draw(strategies.fault_schedules(self.FAULT_ROUTES), label="faults")
        self.fault_rules.extend(schedule.apply(self.bbs))
        schedule.apply(self.twin)

    @rule()
    def clear_faults(self) -> None:
        super().clear_faults()
        self.twin.clear_faults()

    @rule(seconds=st.sampled_from([1, 30, 300]))
    def advance_clock(self, seconds: int) -> None:
        super().advance_clock(seconds)
        self.twin.clock.advance(seconds)

    @rule()
    def converge(self) -> None:
        super().converge()
        self.twin.converge()

    @invariant()
    def same_state(self) -> None:
        mine, theirs = self.bbs.snapshot(), self.twin.snapshot()
        assert dict(mine.desired_lrps) == dict(theirs.desired_lrps)
        assert dict(mine.actual_lrps) == dict(theirs.actual_lrps)

    @invariant()
    def same_events(self) -> None:
        mine, theirs = self.streams
        while True:
            try:
                event = mine.next(timeout=0)
            except TimeoutError:
                break
            assert theirs.next(timeout=5) == event


def describe(outcome: CallOutcome) -> str:
    """An answer as something comparable: the response bytes, or the exception's type (a
    broken connection reads differently in-process and over a socket, so only its kind)."""
    if isinstance(outcome, Message):
        return outcome.SerializeToString().hex()
    if isinstance(outcome, errors.BBSError):
        return f"{type(outcome).__name__}: {outcome.message}"
    return "transport error"


TestInProcessAgainstSocket = InProcessAgainstSocket.TestCase
TestInProcessAgainstSocket.settings = MACHINE


def test_an_unknown_kind_of_fault_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="transient"):
        strategies.fault_schedules(kinds="flaky")
