"""The public strategies draw what they promise: every message has one, valid objects are
accepted and stored as sent, every invalid variant is refused with its exact text."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakebbs import FakeBBS, models, strategies
from fakebbs._client.events import decode_event
from fakebbs._http.events import sse_event
from fakebbs._rules.validation import first_action_field, validation_items
from fakebbs._rules.views import scheduling_info
from fakebbs.client import BBSClient
from fakebbs.errors import InvalidRequest
from fakebbs.routes import EVENT_TYPES, ROUTES, Route

CHECK = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""A fixed seed and a modest budget: the same examples in CI every time."""

REQUEST_ROUTES = [r for r in ROUTES if r.request is not None and not r.stream]


def without_tag(lrp: models.DesiredLRP) -> models.DesiredLRP:
    copy = models.DesiredLRP()
    copy.CopyFrom(lrp)
    copy.ClearField("modification_tag")
    return copy


def error_of(response: Message) -> tuple[int, str]:
    """A response's ``error`` as (type, message); (0, "") when it has none."""
    error: models.Error = getattr(response, "error")  # noqa: B009
    return int(error.type), error.message


def test_every_message_a_client_sends_or_receives_has_a_strategy() -> None:
    every = {
        name
        for name in dir(models)
        if isinstance(getattr(models, name), type)
        and issubclass(getattr(models, name), Message)
        and not name.startswith("Legacy")
    }
    covered = {cls.DESCRIPTOR.name for cls in strategies.message_types()}
    assert every - covered == set()


@pytest.mark.parametrize("cls", strategies.message_types(), ids=lambda c: c.DESCRIPTOR.name)
@settings(CHECK, max_examples=2)
@given(data=st.data())
def test_every_drawn_message_survives_encoding(cls: type[Message], data: st.DataObject) -> None:
    drawn = data.draw(strategies.from_message_type(cls))
    assert isinstance(drawn, cls)
    assert cls.FromString(drawn.SerializeToString()) == drawn


@settings(CHECK, max_examples=40)
@given(lrp=strategies.desired_lrps())
def test_a_drawn_desired_lrp_is_stored_as_sent(lrp: models.DesiredLRP) -> None:
    fake = FakeBBS()
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        bbs.desire_lrp(lrp)
        stored = bbs.desired_lrp_by_process_guid(lrp.process_guid)
        [listed] = bbs.desired_lrps()
        [info] = bbs.desired_lrp_scheduling_infos()
        actual = bbs.actual_lrps()

    assert without_tag(stored) == lrp
    assert without_tag(listed) == lrp
    assert info == scheduling_info(stored)
    assert len(actual) == lrp.instances


@settings(CHECK, max_examples=40)
@given(lrp=strategies.desired_lrps(minimal=True, instances=st.integers(0, 5)))
def test_a_minimal_desired_lrp_is_stored_as_sent(lrp: models.DesiredLRP) -> None:
    fake = FakeBBS()
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        bbs.desire_lrp(lrp)
        stored = bbs.desired_lrp_by_process_guid(lrp.process_guid)

    assert without_tag(stored) == lrp
    assert lrp.root_fs == "preloaded:cflinuxfs4" and lrp.domain == "cf-apps"
    assert lrp.process_guid.startswith("lrp-") and 0 <= lrp.instances <= 5


def test_a_minimal_desired_lrp_leaves_out_action_kinds() -> None:
    with pytest.raises(ValueError, match="action_kinds"):
        strategies.desired_lrps(minimal=True, action_kinds=["run"])


@pytest.mark.parametrize(
    "strategy",
    [
        strategies.desired_lrps(),
        strategies.desired_lrps(minimal=True, domain="d"),
        strategies.actions(),
        strategies.proto_routes(),
        strategies.cf_router_routes(),
        strategies.tcp_router_routes(),
    ],
    ids=repr,
)
def test_a_strategy_is_shown_by_the_call_that_made_it(strategy: st.SearchStrategy[Any]) -> None:
    assert len(repr(strategy)) < 60 and repr(strategy).endswith(")")


def test_a_failing_example_prints_as_constructor_calls() -> None:
    @settings(CHECK, max_examples=50)
    @given(lrp=strategies.desired_lrps(minimal=True))
    def check(lrp: models.DesiredLRP) -> None:
        assert lrp.instances == 0

    with pytest.raises(AssertionError) as failure:
        check()
    report = "\n".join(getattr(failure.value, "__notes__", []))
    assert "lrp=DesiredLRP(" in report and "action=Action(run_action=RunAction(" in report
    assert "instances=1," in report


@settings(CHECK, max_examples=30)
@given(
    cf=strategies.cf_router_routes(max_routes=3),
    tcp=strategies.tcp_router_routes(max_routes=3),
)
def test_router_tables_have_the_fields_the_routers_read(cf: bytes, tcp: bytes) -> None:
    for route in json.loads(cf):
        assert route["hostnames"] and 1 <= route["port"] <= 65535
        assert set(route) <= {"hostnames", "port", "route_service_url", "router_group_guid"}
    for route in json.loads(tcp):
        assert route["router_group_guid"] and 1024 <= route["external_port"] <= 65535
        assert set(route) >= {"router_group_guid", "external_port", "container_port"}
    assert len(json.loads(cf)) <= 3 and len(json.loads(tcp)) <= 3


@settings(CHECK, max_examples=30)
@given(lrp=strategies.desired_lrps())
def test_drawn_routes_are_stored_byte_for_byte(lrp: models.DesiredLRP) -> None:
    fake = FakeBBS()
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        bbs.desire_lrp(lrp)
        stored = bbs.desired_lrp_by_process_guid(lrp.process_guid)
    assert dict(stored.routes.routes) == dict(lrp.routes.routes)
    assert set(lrp.routes.routes) <= {"cf-router", "tcp-router", "internal-router", "x-router"}


@settings(CHECK, max_examples=40)
@given(request=strategies.desire_task_requests())
def test_a_drawn_task_is_stored_as_sent(request: models.DesireTaskRequest) -> None:
    fake = FakeBBS()
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        bbs.desire_task(request.task_guid, request.domain, request.task_definition)
        task = bbs.task_by_guid(request.task_guid)

    assert task.task_definition == request.task_definition
    assert (task.domain, task.state) == (request.domain, models.Task.Pending)


@settings(CHECK, max_examples=20)
@given(lrp=strategies.desired_lrps(), update=strategies.desired_lrp_updates())
def test_a_drawn_update_is_applied(lrp: models.DesiredLRP, update: models.DesiredLRPUpdate) -> None:
    fake = FakeBBS()
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        bbs.desire_lrp(lrp)
        bbs.update_desired_lrp(lrp.process_guid, update)
        after = bbs.desired_lrp_by_process_guid(lrp.process_guid)

    expected = lrp.instances if not update.HasField("instances") else update.instances
    assert after.instances == expected
    if update.HasField("routes"):
        assert after.routes == update.routes
    if update.metric_tags:
        expected_tags = dict(update.metric_tags)
        if lrp.metrics_guid and "source_id" not in expected_tags:
            # PopulateMetricsGuid on read: the metrics guid comes back as the source_id tag
            expected_tags["source_id"] = models.MetricTagValue(static=lrp.metrics_guid)
        assert dict(after.metric_tags) == expected_tags


@pytest.mark.parametrize("route", REQUEST_ROUTES, ids=lambda r: r.name)
@settings(CHECK, max_examples=5)
@given(data=st.data())
def test_every_drawn_request_passes_its_routes_validation(
    route: Route, data: st.DataObject
) -> None:
    request = data.draw(strategies.requests(route.name))
    fake = FakeBBS()
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        response = bbs.call(route.name, request)
    if response.HasField("error"):
        assert error_of(response)[0] != InvalidRequest.type, error_of(response)


@pytest.mark.parametrize("rule", strategies.DESIRED_LRP_RULES)
@settings(CHECK, max_examples=3)
@given(data=st.data())
def test_every_invalid_desired_lrp_is_refused_with_its_text(rule: str, data: st.DataObject) -> None:
    case = data.draw(strategies.invalid_desired_lrp_requests(rule))
    assert case.rule == rule
    fake = FakeBBS()
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        response = bbs.call(case.route, case.request)
    assert error_of(response) == (InvalidRequest.type, case.error)
    assert fake.snapshot().desired_lrps == {}


@pytest.mark.parametrize("rule", strategies.LRP_REQUEST_RULES)
@settings(CHECK, max_examples=3)
@given(data=st.data())
def test_every_invalid_lrp_request_is_refused_with_its_text(rule: str, data: st.DataObject) -> None:
    case = data.draw(strategies.invalid_lrp_requests(rule))
    fake = FakeBBS()
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        response = bbs.call(case.route, case.request)
    assert error_of(response) == (InvalidRequest.type, case.error)


@pytest.mark.parametrize("rule", strategies.TASK_RULES)
@settings(CHECK, max_examples=3)
@given(data=st.data())
def test_every_invalid_task_request_is_refused_with_its_text(
    rule: str, data: st.DataObject
) -> None:
    case = data.draw(strategies.invalid_task_requests(rule))
    fake = FakeBBS()
    with BBSClient.in_process(fake.wsgi_app) as bbs:
        response = bbs.call(case.route, case.request)
    assert error_of(response) == (InvalidRequest.type, case.error)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
@settings(CHECK, max_examples=3)
@given(data=st.data())
def test_every_drawn_event_decodes_as_its_stream_sends_it(name: str, data: st.DataObject) -> None:
    event = data.draw(strategies.events(name))
    assert isinstance(event, EVENT_TYPES[name])
    frame = sse_event(7, name, event.SerializeToString())
    [payload] = [line[6:] for line in frame.splitlines() if line.startswith(b"data: ")]
    assert decode_event(name, payload) == event


@settings(CHECK, max_examples=30)
@given(lrp=strategies.actual_lrps())
def test_actual_lrps_are_consistent_with_their_state(lrp: models.ActualLRP) -> None:
    has_instance = lrp.HasField("actual_lrp_instance_key")
    has_net_info = lrp.HasField("actual_lrp_net_info")
    assert lrp.HasField("routable") and lrp.since != 0
    assert has_instance == (lrp.state in ("CLAIMED", "RUNNING"))
    assert has_net_info == (lrp.state == "RUNNING")
    if lrp.state == "UNCLAIMED":
        assert lrp.presence == models.ActualLRP.ORDINARY
    if lrp.presence == models.ActualLRP.EVACUATING:
        assert lrp.state == "RUNNING"


@settings(CHECK, max_examples=30)
@given(task=strategies.tasks())
def test_tasks_are_consistent_with_their_state(task: models.Task) -> None:
    assert (task.cell_id != "") == (task.state == models.Task.Running)
    completed = task.state in (models.Task.Completed, models.Task.Resolving)
    assert (task.first_completed_at != 0) == completed
    assert task.updated_at >= task.created_at
    if task.failed:
        assert task.failure_reason != "" and task.result == ""


@settings(CHECK, max_examples=20)
@given(
    lrp=strategies.desired_lrps(
        domain="my-domain",
        process_guid_prefix="app-",
        instances=st.just(2),
        action_kinds=["run", "timeout"],
    )
)
def test_narrowing_parameters_narrow(lrp: models.DesiredLRP) -> None:
    assert (lrp.domain, lrp.instances) == ("my-domain", 2)
    assert lrp.process_guid.startswith("app-")
    assert action_kinds(lrp.action) <= {"run_action", "timeout_action"}


def action_kinds(action: models.Action) -> set[str]:
    kind = first_action_field(action)
    assert kind is not None
    inner = getattr(action, kind)
    nested = list(inner.actions) if hasattr(inner, "actions") else []
    if kind in ("timeout_action", "try_action", "emit_progress_action"):
        nested = [inner.action]
    return {kind}.union(*(action_kinds(a) for a in nested))


@settings(CHECK, max_examples=5)
@given(lrp=st.from_type(models.DesiredLRP), event=st.from_type(models.ActualLRPCrashedEvent))
def test_from_type_draws_the_models_through_the_plugin(
    lrp: models.DesiredLRP, event: models.ActualLRPCrashedEvent
) -> None:
    assert validation_items(models.DesireLRPRequest(desired_lrp=lrp)) == []
    assert event.crash_count >= 1


def test_the_fake_never_imports_hypothesis() -> None:
    script = (
        "import sys, fakebbs, fakebbs.cli, fakebbs.client, fakebbs._http.server, fakebbs.faults\n"
        "fakebbs.FakeBBS().serve().stop()\n"
        "assert 'hypothesis' not in sys.modules, sorted(m for m in sys.modules if 'hypo' in m)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


@settings(CHECK, max_examples=20)
@given(
    lrp=strategies.desired_lrps(instances=st.just(1)),
    start=strategies.requests("StartActualLRP"),
)
def test_a_drawn_start_request_is_what_the_instance_reads_back(
    lrp: models.DesiredLRP, start: Message
) -> None:
    assert isinstance(start, models.StartActualLRPRequest)
    start.actual_lrp_key.CopyFrom(
        models.ActualLRPKey(process_guid=lrp.process_guid, index=0, domain=lrp.domain)
    )
    fake = FakeBBS()
    with fake.client() as bbs:
        bbs.desire_lrp(lrp)
        response = bbs.call("StartActualLRP", start)
        [actual] = bbs.actual_lrps(process_guid=lrp.process_guid)

    assert error_of(response) == (0, "")
    assert actual.state == "RUNNING"
    assert actual.actual_lrp_instance_key == start.actual_lrp_instance_key
    assert actual.actual_lrp_net_info == start.actual_lrp_net_info
    assert list(actual.actual_lrp_internal_routes) == list(start.actual_lrp_internal_routes)
    assert dict(actual.metric_tags) == dict(start.metric_tags)
    assert actual.availability_zone == start.availability_zone
    assert actual.routable == (start.Routable if start.HasField("Routable") else True)


@settings(CHECK, max_examples=20)
@given(cells=st.lists(strategies.cell_presences(), max_size=3, unique_by=lambda c: c.cell_id))
def test_drawn_cell_presences_are_listed_as_registered(cells: list[models.CellPresence]) -> None:
    fake = FakeBBS()
    for cell in cells:
        fake.seed.cell(cell)
    with fake.client() as bbs:
        listed = bbs.cells()
    key = lambda c: c.cell_id  # noqa: E731
    assert sorted(listed, key=key) == sorted(cells, key=key)


@pytest.mark.parametrize(
    ("rule", "can_send"),
    [
        ("desired_lrp_missing", False),
        ("task_definition_missing", False),
        ("ClaimActualLRP_instance_key_missing", False),
        ("StartActualLRP_net_info_missing", False),
        ("task_definition_action_missing", True),
        ("domain_empty", True),
        ("StartActualLRP_index_negative", True),
    ],
)
def test_a_case_says_whether_the_typed_client_can_send_it(rule: str, can_send: bool) -> None:
    assert strategies.typed_client_can_send(rule) is can_send


def test_a_failing_case_prints_its_rule_and_broken_field_first() -> None:
    @settings(CHECK, max_examples=5)
    @given(case=strategies.invalid_desired_lrp_requests("desired_lrp_missing"))
    def check(case: strategies.InvalidRequestCase) -> None:
        assert case.client_can_send

    with pytest.raises(AssertionError) as failure:
        check()
    report = "\n".join(getattr(failure.value, "__notes__", []))
    assert "case=InvalidRequestCase(" in report and "lambda" not in report
    assert report.index("rule='desired_lrp_missing'") < report.index("field='desired_lrp'")
    assert "client_can_send=False" in report and "request=DesireLRPRequest()" in report


@settings(CHECK, max_examples=20)
@given(case=strategies.invalid_lrp_requests())
def test_a_case_names_the_first_field_its_error_names(
    case: strategies.InvalidRequestCase,
) -> None:
    assert case.field and case.field in case.error.split(", ", 1)[0]
    assert " " not in case.field or case.error.startswith("Invalid field: ")


@settings(  # every health check on but too_slow (timing is never asserted here)
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(lrps=st.lists(strategies.desired_lrps(), min_size=20, max_size=20))
def test_twenty_desired_lrps_fit_in_one_example(lrps: list[models.DesiredLRP]) -> None:
    assert len(lrps) == 20  # data_too_large would have failed the health check
