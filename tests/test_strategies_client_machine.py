"""The shipped state machine as a user runs it against their client: a planted client bug is
found and shrinks to the client's own steps with every world rule on; rule groups switch the
world's rules; Bundles hold what exists; the event log is what the fake emitted; and the same
machine runs against a BBS URL over mutual TLS."""

from __future__ import annotations

import http.client

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from fakebbs import FakeBBS, errors, models, strategies
from fakebbs.client import BBSClient
from fakebbs.routes import EVENT_TYPES
from fakebbs.strategies import BBSStateMachine
from fakebbs.tls import Certificates

RUN = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
"""A fixed seed: the same runs in CI every time."""

CLIENT_ERRORS = (OSError, http.client.HTTPException, errors.BBSError)


class AppScheduler:
    """A tiny client under test: it starts apps and scales them, with a planted bug (asked to
    scale to 0, it scales to 1)."""

    def __init__(self, bbs: BBSClient) -> None:
        self.bbs = bbs

    def scale(self, process_guid: str, instances: int) -> None:
        sent = 1 if instances == 0 else instances  # the planted bug
        self.bbs.update_desired_lrp(process_guid, models.DesiredLRPUpdate(instances=sent))


class SchedulerMachine(BBSStateMachine):
    """The user's machine: every world rule on (faults included), plus the client's rule and
    its check."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduler = AppScheduler(self.client())

    @rule(process_guid=BBSStateMachine.desired_lrps, instances=st.integers(0, 3))
    def scale_app(self, process_guid: str, instances: int) -> None:
        self.bbs.clear_faults()  # the client's own calls are not the fault rules' business
        try:
            self.scheduler.scale(process_guid, instances)
        except errors.ResourceNotFound:
            return
        assert self.bbs.snapshot().desired_lrps[process_guid].instances == instances


def failure_of(machine: type[BBSStateMachine], run: settings = RUN) -> str:
    """The report Hypothesis gives for the machine's shrunk failing example."""
    with pytest.raises(AssertionError) as failure:
        run_state_machine_as_test(machine, settings=run)
    return "\n".join(getattr(failure.value, "__notes__", []))


def steps(report: str) -> list[str]:
    """The rules a report's example runs, in order (invariant checks and teardown left out)."""
    names = []
    for line in report.splitlines():
        call = line.split("state.", 1)[1].split("(", 1)[0] if "state." in line else ""
        if call and call not in ("teardown", "tasks_are_consistent"):
            names.append(call)
    return names


def test_a_planted_client_bug_shrinks_to_the_clients_own_steps() -> None:
    report = failure_of(SchedulerMachine)
    assert steps(report) == ["desire", "scale_app"], report
    assert "instances=0" in report and "DesiredLRP(" in report


def test_every_world_rule_is_on_by_default() -> None:
    assert set(BBSStateMachine.rules) == strategies.RULE_GROUPS
    assert {"cloud_controller", "reps", "cells", "clock", "faults", "tasks"} == set(
        strategies.RULE_GROUPS
    )


class TasksOnly(BBSStateMachine):
    rules = {"tasks"}

    @invariant()
    def only_task_routes_are_called(self) -> None:
        routes = {route for route, _ in self.outcomes}
        assert routes <= {"UpsertDomain"} | {r for r in routes if "Task" in r}, routes


def test_a_rule_group_left_out_never_runs() -> None:
    run_state_machine_as_test(TasksOnly, settings=settings(RUN, max_examples=20))


def test_an_unknown_rule_group_is_refused_when_the_class_is_made() -> None:
    with pytest.raises(ValueError, match="cloud_controler"):
        type("Misspelt", (BBSStateMachine,), {"rules": {"cloud_controler"}})


class BundlesHoldWhatExists(BBSStateMachine):
    rules = {"cloud_controller", "reps", "tasks", "clock"}

    @rule(process_guid=BBSStateMachine.desired_lrps)
    def desired_lrp_exists(self, process_guid: str) -> None:
        assert process_guid in self.bbs.snapshot().desired_lrps

    @rule(instance=BBSStateMachine.instances)
    def instance_was_claimed_on_its_cell(self, instance: strategies.Instance) -> None:
        assert instance.process_guid in self.PROCESS_GUIDS and instance.cell_id in self.CELLS

    @rule(task_guid=BBSStateMachine.tasks)
    def task_was_desired(self, task_guid: str) -> None:
        desired = [r for route, r in self.outcomes if route == "DesireTask"]
        assert desired and task_guid in self.TASK_GUIDS


def test_bundles_hold_what_the_world_made() -> None:
    run_state_machine_as_test(BundlesHoldWhatExists, settings=settings(RUN, max_examples=30))


class EventLogIsWhatStreamsSend(BBSStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.listener = BBSClient.in_process(self.bbs.wsgi_app)
        self.lrp_stream = self.listener.subscribe_to_instance_events()
        self.task_stream = self.listener.subscribe_to_task_events()
        self.seen = 0

    def teardown(self) -> None:
        self.lrp_stream.close()
        self.task_stream.close()
        self.listener.close()
        super().teardown()

    @invariant()
    def every_logged_event_reached_a_stream(self) -> None:
        task_events = {cls for name, cls in EVENT_TYPES.items() if name.startswith("task")}
        for event in self.event_log[self.seen :]:
            stream = self.task_stream if type(event) in task_events else self.lrp_stream
            assert stream.next(timeout=5) == event
            self.seen += 1


def test_the_event_log_is_what_the_streams_send() -> None:
    run_state_machine_as_test(EventLogIsWhatStreamsSend, settings=settings(RUN, max_examples=8))


def test_the_fake_starts_with_counting_guids_and_a_fixed_clock() -> None:
    machine = BBSStateMachine()
    try:
        assert machine.bbs.clock.nanoseconds() == BBSStateMachine.CLOCK_START
        outcome = machine.call(
            "DesireTask",
            models.DesireTaskRequest(
                task_guid="t",
                domain=machine.DOMAIN,
                task_definition=models.TaskDefinition(
                    root_fs="preloaded:cflinuxfs4",
                    action=models.Action(run_action=models.RunAction(path="/x", user="vcap")),
                ),
            ),
        )
        assert machine.succeeded(outcome)
        machine.call(
            "DesireDesiredLRP",
            models.DesireLRPRequest(
                desired_lrp=models.DesiredLRP(
                    process_guid="p",
                    domain=machine.DOMAIN,
                    root_fs="preloaded:cflinuxfs4",
                    action=models.Action(run_action=models.RunAction(path="/x", user="vcap")),
                    metric_tags={"source_id": models.MetricTagValue(static="p")},
                )
            ),
        )
        tag = machine.bbs.snapshot().desired_lrps["p"].modification_tag
        assert tag.epoch == "00000000-0000-4000-8000-000000000000"
    finally:
        machine.teardown()


def test_the_same_machine_runs_against_a_bbs_url_over_mutual_tls(
    fakebbs_certificates: Certificates,
) -> None:
    remote = FakeBBS()
    context = fakebbs_certificates.server_context()
    with remote.serve(ssl_context=context):
        against = BundlesHoldWhatExistsOverHTTP.against(
            remote.url, ssl_context=fakebbs_certificates.client_context()
        )
        assert "faults" not in against.rules and "cells" not in against.rules
        run_state_machine_as_test(against, settings=settings(RUN, max_examples=10))
        state = remote.snapshot()
        assert remote.calls.to("DesireDesiredLRP") != []
        assert dict(state.desired_lrps) == {} and dict(state.tasks) == {}
        assert dict(state.actual_lrps) == {}


class BundlesHoldWhatExistsOverHTTP(BBSStateMachine):
    """Checks that read the BBS through the API only, so they hold against any BBS."""

    @rule(process_guid=BBSStateMachine.desired_lrps)
    def desired_lrp_exists(self, process_guid: str) -> None:
        lrp = self.world.desired_lrp_by_process_guid(process_guid)
        assert lrp.process_guid == process_guid


class DesiresFirst(BBSStateMachine):
    rules = {"reps"}
    initial_desire = True

    @invariant()
    def one_lrp_is_desired_from_the_start(self) -> None:
        assert len(self.bbs.snapshot().desired_lrps) == 1


def test_an_initial_desire_is_made_only_when_asked_for() -> None:
    run_state_machine_as_test(DesiresFirst, settings=settings(RUN, max_examples=10))
    assert not hasattr(BBSStateMachine, "desire_initial_lrp")
