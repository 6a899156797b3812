"""The event stream routes over a real socket: every event of every route that emits it, the
cell filters, the framing, and the stream's life (headers first, disconnect, server stop, a
slow subscriber, many subscribers). The calculator's rules are tested in test_events."""

from __future__ import annotations

import base64
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import trustme
from google.protobuf.message import Message

from builders import desired_lrp
from fakebbs import FakeBBS, models
from fakebbs._http.events import EVENT_NAMES
from fakebbs._http.server import Server
from fakebbs.client import BBSClient, EventSource

WAIT = 10.0
"""Seconds a test waits for something that should happen at once (a failure guard only)."""

OWN = models.ActualLRPInstanceKey(instance_guid="ig-1", cell_id="cell-1")
OTHER = models.ActualLRPInstanceKey(instance_guid="ig-2", cell_id="cell-2")


def key(index: int = 0, process_guid: str = "web") -> models.ActualLRPKey:
    return models.ActualLRPKey(process_guid=process_guid, index=index, domain="cf-apps")


def net() -> models.ActualLRPNetInfo:
    return models.ActualLRPNetInfo(
        address="10.0.0.1", ports=[models.PortMapping(container_port=8080, host_port=61000)]
    )


def task_definition(**fields: object) -> models.TaskDefinition:
    return models.TaskDefinition(
        root_fs="preloaded:cflinuxfs4",
        action=models.Action(run_action=models.RunAction(path="/bin/task", user="vcap")),
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture
def server(fake: FakeBBS) -> Server:
    assert fake.server is not None
    return fake.server


@pytest.fixture
def no_streams(fake: FakeBBS) -> None:
    """Wait until the streams of earlier tests are gone (the server notices a closed
    connection a moment after the client closed it), for tests that count subscribers."""
    wait_until(lambda: fake.open_event_streams == 0)


@pytest.fixture
def bbs(server: Server) -> Iterator[BBSClient]:
    with BBSClient(server.url) as client:
        yield client


@pytest.fixture
def subscribe(bbs: BBSClient) -> Iterator[Callable[..., EventSource]]:
    """Open streams that are closed when the test ends."""
    opened: list[EventSource] = []

    def open_stream(route_name: str, cell_id: str = "") -> EventSource:
        source = bbs.subscribe(route_name, cell_id)
        opened.append(source)
        return source

    yield open_stream
    for source in opened:
        source.close()


def take(source: EventSource, count: int) -> list[Message]:
    return [source.next(timeout=WAIT) for _ in range(count)]


def names(source: EventSource, count: int) -> list[str]:
    return [EVENT_NAMES[type(event)] for event in take(source, count)]


def nothing_more(source: EventSource, bbs: BBSClient) -> None:
    """Assert the stream has nothing pending: the next event is a fresh desired LRP's."""
    bbs.desire_lrp(desired_lrp("sentinel", instances=0))
    event = source.next(timeout=WAIT)
    assert isinstance(event, models.DesiredLRPCreatedEvent), event
    assert event.desired_lrp.process_guid == "sentinel"


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def raw_request(server: Server, head: bytes, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=WAIT)
    sock.sendall(head + b"\r\n\r\n" + body)
    return sock


def read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    return data


@pytest.fixture
def running_instance(bbs: BBSClient) -> BBSClient:
    """web/0 RUNNING on cell-1 (OWN)."""
    bbs.desire_lrp(desired_lrp("web", instances=1))
    bbs.claim_actual_lrp(key(), OWN)
    bbs.start_actual_lrp(key(), OWN, net())
    return bbs


# -- the HTTP answer --------------------------------------------------------------------------


def test_the_status_line_and_headers_arrive_before_any_event(server: Server) -> None:
    sock = raw_request(
        server, b"POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0"
    )
    with sock:
        head = read_head(sock).decode()
    lines = head.split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert headers["Connection"] == "keep-alive"
    assert headers["Transfer-Encoding"] == "chunked"


def test_each_event_is_one_chunk_of_id_event_and_base64_data(
    server: Server, bbs: BBSClient
) -> None:
    sock = raw_request(server, b"GET /v1/events.r1 HTTP/1.1\r\nHost: bbs")
    with sock:
        read_head(sock)
        bbs.desire_lrp(desired_lrp("web", instances=0), trace_id="t1")
        data = b""
        while not data.endswith(b"\n\n\r\n"):
            data += sock.recv(65536)
    size, _, rest = data.partition(b"\r\n")
    frame = rest[:-2]
    assert int(size, 16) == len(frame)
    id_line, event_line, data_line, blank, end = frame.split(b"\n")
    assert (id_line, event_line, blank, end) == (b"id: 0", b"event: desired_lrp_created", b"", b"")
    event = models.DesiredLRPCreatedEvent.FromString(base64.b64decode(data_line[6:]))
    assert (event.desired_lrp.process_guid, event.trace_id) == ("web", "t1")


def test_event_ids_count_from_zero_on_each_connection(server: Server, bbs: BBSClient) -> None:
    def ids_after(sock: socket.socket, count: int) -> list[bytes]:
        data = b""
        while data.count(b"id: ") < count or not data.endswith(b"\n\n\r\n"):
            data += sock.recv(65536)
        return [line for line in data.split(b"\n") if line.startswith(b"id: ")]

    first = raw_request(server, b"GET /v1/events.r1 HTTP/1.1\r\nHost: bbs")
    read_head(first)
    bbs.desire_lrp(desired_lrp("a", instances=0))
    second = raw_request(server, b"GET /v1/events.r1 HTTP/1.1\r\nHost: bbs")
    read_head(second)
    bbs.desire_lrp(desired_lrp("b", instances=0))
    with first, second:
        assert ids_after(first, 2) == [b"id: 0", b"id: 1"]
        assert ids_after(second, 1) == [b"id: 0"]


def test_a_body_that_is_not_an_events_by_cell_id_is_an_empty_500(server: Server) -> None:
    sock = raw_request(
        server,
        b"POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 3",
        b"\xff\xff\xff",
    )
    with sock:
        head = read_head(sock).decode()
    assert head.startswith("HTTP/1.1 500 ")
    assert "Content-Length: 0\r\n" in head
    assert "Content-Type" not in head


def test_the_task_stream_ignores_its_body(server: Server) -> None:
    sock = raw_request(
        server,
        b"POST /v1/events/tasks.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 3",
        b"\xff\xff\xff",
    )
    with sock:
        assert read_head(sock).startswith(b"HTTP/1.1 200 OK\r\n")


# -- desired LRP events -----------------------------------------------------------------------


def test_desiring_emits_desired_created_then_instance_created_per_index_with_the_trace_id(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    source = subscribe("LRPInstanceEventStream")
    bbs.desire_lrp(desired_lrp("web", instances=2), trace_id="req-1")
    created, first, second = take(source, 3)
    assert isinstance(created, models.DesiredLRPCreatedEvent)
    stored = bbs.desired_lrp_by_process_guid("web")
    stored.metrics_guid = ""  # the get adds it (PopulateMetricsGuid); the event is as stored
    assert created.desired_lrp == stored
    assert created.trace_id == "req-1"
    for index, event in enumerate((first, second)):
        assert isinstance(event, models.ActualLRPInstanceCreatedEvent)
        assert event.actual_lrp.actual_lrp_key.index == index
        assert event.actual_lrp.state == "UNCLAIMED"
        assert event.trace_id == "req-1"


def test_the_group_stream_shows_new_instances_as_actual_lrp_created(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    source = subscribe("EventStream")
    bbs.desire_lrp(desired_lrp("web", instances=2))
    assert names(source, 3) == ["desired_lrp_created", "actual_lrp_created", "actual_lrp_created"]


def test_updating_emits_desired_changed_and_scaling_emits_instance_events(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    source = subscribe("LRPInstanceEventStream")
    bbs.update_desired_lrp("web", models.DesiredLRPUpdate(instances=3), trace_id="up")
    events = take(source, 3)
    changed = events[0]
    assert isinstance(changed, models.DesiredLRPChangedEvent)
    assert (changed.before.instances, changed.after.instances, changed.trace_id) == (1, 3, "up")
    assert [EVENT_NAMES[type(e)] for e in events[1:]] == ["actual_lrp_instance_created"] * 2

    bbs.update_desired_lrp("web", models.DesiredLRPUpdate(instances=1), trace_id="down")
    changed, *removed = take(source, 3)
    assert isinstance(changed, models.DesiredLRPChangedEvent)
    assert [
        (type(e).__name__, e.actual_lrp.actual_lrp_key.index, e.trace_id)  # type: ignore[attr-defined]
        for e in removed
    ] == [
        ("ActualLRPInstanceRemovedEvent", 1, "down"),
        ("ActualLRPInstanceRemovedEvent", 2, "down"),
    ]


def test_removing_emits_desired_removed_and_removes_unstarted_instances(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    source = subscribe("LRPInstanceEventStream")
    bbs.remove_desired_lrp("web", trace_id="rm")
    removed, instance = take(source, 2)
    assert isinstance(removed, models.DesiredLRPRemovedEvent)
    assert (removed.desired_lrp.process_guid, removed.trace_id) == ("web", "rm")
    assert isinstance(instance, models.ActualLRPInstanceRemovedEvent)
    assert instance.trace_id == "rm"


def test_r0_streams_send_desired_lrps_as_v0(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    instances, groups = subscribe("LrpInstanceEventStream_r0"), subscribe("EventStream_r0")
    bbs.desire_lrp(desired_lrp("web", instances=0, start_timeout_ms=90_000))
    for source in (instances, groups):
        event = source.next(timeout=WAIT)
        assert isinstance(event, models.DesiredLRPCreatedEvent)
        assert event.desired_lrp.deprecated_start_timeout_s == 90


def test_r1_streams_send_desired_lrps_as_stored(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    source = subscribe("EventStream")
    bbs.desire_lrp(desired_lrp("web", instances=0, start_timeout_ms=90_000))
    event = source.next(timeout=WAIT)
    assert isinstance(event, models.DesiredLRPCreatedEvent)
    assert event.desired_lrp.deprecated_start_timeout_s == 0


# -- the actual LRP lifecycle -----------------------------------------------------------------


def test_claim_and_start_are_instance_changed_events_without_a_trace_id(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    source = subscribe("LRPInstanceEventStream")
    bbs.claim_actual_lrp(key(), OWN, trace_id="ignored")
    bbs.start_actual_lrp(key(), OWN, net(), trace_id="ignored")
    claimed, started = take(source, 2)
    assert isinstance(claimed, models.ActualLRPInstanceChangedEvent)
    assert (claimed.before.state, claimed.after.state, claimed.trace_id) == (
        "UNCLAIMED",
        "CLAIMED",
        "",
    )
    assert isinstance(started, models.ActualLRPInstanceChangedEvent)
    assert (started.after.state, started.actual_lrp_instance_key) == ("RUNNING", OWN)


def test_a_repeated_claim_emits_nothing(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    bbs.claim_actual_lrp(key(), OWN)
    source = subscribe("LRPInstanceEventStream")
    bbs.claim_actual_lrp(key(), OWN)
    nothing_more(source, bbs)


def test_the_group_stream_shows_claim_and_start_as_actual_lrp_changed(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    source = subscribe("EventStream")
    bbs.claim_actual_lrp(key(), OWN)
    bbs.start_actual_lrp(key(), OWN, net())
    assert names(source, 2) == ["actual_lrp_changed", "actual_lrp_changed"]


def test_a_crash_is_crashed_first_then_the_restarted_instance_replaces_the_old_one(
    subscribe: Callable[..., EventSource], running_instance: BBSClient
) -> None:
    instances, groups = subscribe("LRPInstanceEventStream"), subscribe("EventStream")
    running_instance.crash_actual_lrp(key(), OWN, "exited 1")
    crashed, created, removed = take(instances, 3)
    assert isinstance(crashed, models.ActualLRPCrashedEvent)
    assert (crashed.actual_lrp_instance_key, crashed.crash_count, crashed.crash_reason) == (
        OWN,
        1,
        "exited 1",
    )
    assert isinstance(created, models.ActualLRPInstanceCreatedEvent)
    assert created.actual_lrp.state == "UNCLAIMED"
    assert isinstance(removed, models.ActualLRPInstanceRemovedEvent)
    assert removed.actual_lrp.actual_lrp_instance_key == OWN
    assert names(groups, 2) == ["actual_lrp_crashed", "actual_lrp_changed"]


def test_a_third_crash_is_crashed_then_instance_changed(
    subscribe: Callable[..., EventSource], running_instance: BBSClient
) -> None:
    for _ in range(2):
        running_instance.crash_actual_lrp(key(), OWN, "exited")
        running_instance.claim_actual_lrp(key(), OWN)
        running_instance.start_actual_lrp(key(), OWN, net())
    source = subscribe("LRPInstanceEventStream")
    running_instance.crash_actual_lrp(key(), OWN, "exited")
    crashed, changed = take(source, 2)
    assert isinstance(crashed, models.ActualLRPCrashedEvent) and crashed.crash_count == 3
    assert isinstance(changed, models.ActualLRPInstanceChangedEvent)
    assert changed.after.state == "CRASHED"


def test_a_placement_failure_is_instance_changed(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    source = subscribe("LRPInstanceEventStream")
    bbs.fail_actual_lrp(key(), "no compatible cell")
    [changed] = take(source, 1)
    assert isinstance(changed, models.ActualLRPInstanceChangedEvent)
    assert changed.after.placement_error == "no compatible cell"


def test_remove_and_retire_are_instance_removed_only_retire_carrying_the_trace_id(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=2))
    source = subscribe("LRPInstanceEventStream")
    bbs.remove_actual_lrp(key(0), trace_id="remove")
    bbs.retire_actual_lrp(key(1), trace_id="retire")
    removed, retired = take(source, 2)
    assert isinstance(removed, models.ActualLRPInstanceRemovedEvent)
    assert (removed.actual_lrp.actual_lrp_key.index, removed.trace_id) == (0, "")
    assert isinstance(retired, models.ActualLRPInstanceRemovedEvent)
    assert (retired.actual_lrp.actual_lrp_key.index, retired.trace_id) == (1, "retire")


def test_the_group_stream_shows_a_removed_instance_as_actual_lrp_removed(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    source = subscribe("EventStream")
    bbs.retire_actual_lrp(key())
    [removed] = take(source, 1)
    assert isinstance(removed, models.ActualLRPRemovedEvent)
    assert removed.actual_lrp_group.instance.actual_lrp_key == key()


# -- evacuation -------------------------------------------------------------------------------


def test_evacuating_a_running_instance_moves_it_and_creates_its_replacement(
    subscribe: Callable[..., EventSource], running_instance: BBSClient
) -> None:
    instances, groups = subscribe("LRPInstanceEventStream"), subscribe("EventStream")
    assert running_instance.evacuate_running_actual_lrp(key(), OWN, net()) is True
    moved, replacement = take(instances, 2)
    assert isinstance(moved, models.ActualLRPInstanceChangedEvent)
    assert moved.actual_lrp_instance_key == OWN
    assert (moved.before.presence, moved.after.presence) == (
        models.ActualLRP.ORDINARY,
        models.ActualLRP.EVACUATING,
    )
    assert isinstance(replacement, models.ActualLRPInstanceCreatedEvent)
    assert replacement.actual_lrp.state == "UNCLAIMED"
    assert names(groups, 2) == ["actual_lrp_created", "actual_lrp_changed"]


def test_starting_the_replacement_removes_the_evacuating_instance(
    subscribe: Callable[..., EventSource], running_instance: BBSClient
) -> None:
    running_instance.evacuate_running_actual_lrp(key(), OWN, net())
    running_instance.claim_actual_lrp(key(), OTHER)
    source = subscribe("LRPInstanceEventStream")
    running_instance.start_actual_lrp(key(), OTHER, net())
    started, removed = take(source, 2)
    assert isinstance(started, models.ActualLRPInstanceChangedEvent)
    assert started.after.state == "RUNNING"
    assert isinstance(removed, models.ActualLRPInstanceRemovedEvent)
    assert removed.actual_lrp.presence == models.ActualLRP.EVACUATING


def test_evacuating_a_claimed_instance_replaces_it_with_an_unclaimed_one(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    bbs.claim_actual_lrp(key(), OWN)
    instances, groups = subscribe("LRPInstanceEventStream"), subscribe("EventStream")
    bbs.evacuate_claimed_actual_lrp(key(), OWN)
    assert names(instances, 2) == ["actual_lrp_instance_created", "actual_lrp_instance_removed"]
    assert names(groups, 1) == ["actual_lrp_changed"]


def test_evacuating_a_crashed_instance_has_no_crashed_event(
    subscribe: Callable[..., EventSource], running_instance: BBSClient
) -> None:
    source = subscribe("LRPInstanceEventStream")
    running_instance.evacuate_crashed_actual_lrp(key(), OWN, "oom")
    assert names(source, 2) == ["actual_lrp_instance_created", "actual_lrp_instance_removed"]
    nothing_more(source, running_instance)


def test_evacuate_stopped_and_remove_evacuating_are_instance_removed(
    subscribe: Callable[..., EventSource], running_instance: BBSClient
) -> None:
    running_instance.evacuate_running_actual_lrp(key(), OWN, net())
    source = subscribe("LRPInstanceEventStream")
    running_instance.remove_evacuating_actual_lrp(key(), OWN)
    [removed] = take(source, 1)
    assert isinstance(removed, models.ActualLRPInstanceRemovedEvent)
    assert removed.actual_lrp.presence == models.ActualLRP.EVACUATING

    running_instance.claim_actual_lrp(key(), OTHER)
    running_instance.start_actual_lrp(key(), OTHER, net())
    take(source, 2)
    running_instance.evacuate_stopped_actual_lrp(key(), OTHER)
    [stopped] = take(source, 1)
    assert isinstance(stopped, models.ActualLRPInstanceRemovedEvent)
    assert stopped.actual_lrp.actual_lrp_instance_key == OTHER


# -- tasks ------------------------------------------------------------------------------------


def test_a_tasks_life_is_created_changed_and_removed(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    source = subscribe("TaskEventStream")
    bbs.desire_task("t", "d", task_definition())
    assert bbs.start_task("t", "cell-1")
    bbs.complete_task("t", "cell-1", failed=False, result="ok")
    bbs.resolving_task("t")
    bbs.delete_task("t")
    events = take(source, 5)
    assert [EVENT_NAMES[type(e)] for e in events] == [
        "task_created",
        "task_changed",
        "task_changed",
        "task_changed",
        "task_removed",
    ]
    changed = events[1]
    assert isinstance(changed, models.TaskChangedEvent)
    assert (changed.before.state, changed.after.state) == (models.Task.Pending, models.Task.Running)
    removed = events[4]
    assert isinstance(removed, models.TaskRemovedEvent)
    assert removed.task.state == models.Task.Resolving


def test_cancelling_a_task_is_task_changed(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_task("t", "d", task_definition())
    source = subscribe("TaskEventStream")
    bbs.cancel_task("t")
    [changed] = take(source, 1)
    assert isinstance(changed, models.TaskChangedEvent)
    assert changed.after.failure_reason == "task was cancelled"


def test_rejecting_and_failing_a_task_are_task_changed(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    bbs.desire_task("a", "d", task_definition())
    bbs.desire_task("b", "d", task_definition())
    source = subscribe("TaskEventStream")
    bbs.reject_task("a", "no room")
    bbs.fail_task("b", "gave up")
    rejected, failed = take(source, 2)
    assert isinstance(rejected, models.TaskChangedEvent)
    assert (rejected.after.task_guid, rejected.after.rejection_count) == ("a", 1)
    assert isinstance(failed, models.TaskChangedEvent)
    assert (failed.after.task_guid, failed.after.failure_reason) == ("b", "gave up")


def test_the_r0_task_stream_folds_image_layers(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    r0, r1 = subscribe("TaskEventStream_r0"), subscribe("TaskEventStream")
    layer = models.ImageLayer(
        url="http://layer",
        destination_path="/layer",
        layer_type=models.ImageLayer.SHARED,
        media_type=models.ImageLayer.TGZ,
    )
    bbs.desire_task("t", "d", task_definition(image_layers=[layer]))
    old, new = r0.next(timeout=WAIT), r1.next(timeout=WAIT)
    assert isinstance(old, models.TaskCreatedEvent) and isinstance(new, models.TaskCreatedEvent)
    assert len(old.task.task_definition.image_layers) == 0
    assert len(old.task.task_definition.cached_dependencies) == 1
    assert list(new.task.task_definition.image_layers) == [layer]


# -- other sources of changes -----------------------------------------------------------------


def test_changes_seeded_outside_the_http_api_reach_the_streams(
    subscribe: Callable[..., EventSource], fake: FakeBBS
) -> None:
    source = subscribe("LRPInstanceEventStream")
    fake.seed.desired_lrp("web", instances=1)
    created, instance = take(source, 2)
    assert isinstance(created, models.DesiredLRPCreatedEvent)
    assert created.desired_lrp.process_guid == "web"
    assert isinstance(instance, models.ActualLRPInstanceCreatedEvent)


def test_convergence_creating_a_missing_instance_reaches_the_streams(
    subscribe: Callable[..., EventSource], bbs: BBSClient, fake: FakeBBS
) -> None:
    bbs.desire_lrp(desired_lrp("web", instances=1))
    bbs.remove_actual_lrp(key())
    source = subscribe("LRPInstanceEventStream")
    fake.converge()
    [created] = take(source, 1)
    assert isinstance(created, models.ActualLRPInstanceCreatedEvent)
    assert created.actual_lrp.actual_lrp_key.index == 0


# -- cell filters -----------------------------------------------------------------------------


def test_an_instance_stream_for_a_cell_sees_only_that_cells_instances(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    source = subscribe("LRPInstanceEventStream", "cell-1")
    bbs.desire_lrp(desired_lrp("web", instances=2))  # unclaimed creations are hidden
    bbs.claim_actual_lrp(key(1), OTHER)
    bbs.claim_actual_lrp(key(0), OWN)
    created, claimed = take(source, 2)
    assert isinstance(created, models.DesiredLRPCreatedEvent)
    assert isinstance(claimed, models.ActualLRPInstanceChangedEvent)
    assert claimed.actual_lrp_instance_key == OWN
    nothing_more(source, bbs)


def test_a_group_stream_for_a_cell_sees_an_instance_leave_it(
    subscribe: Callable[..., EventSource], running_instance: BBSClient
) -> None:
    source = subscribe("EventStream", "cell-1")
    running_instance.claim_actual_lrp(key(), OWN)  # RUNNING → CLAIMED: still on cell-1
    running_instance.evacuate_claimed_actual_lrp(key(), OWN)  # leaves cell-1
    assert names(source, 2) == ["actual_lrp_changed", "actual_lrp_changed"]
    other = subscribe("EventStream", "cell-2")
    running_instance.claim_actual_lrp(key(), OWN)
    nothing_more(other, running_instance)


# -- the 2016 experimental routes -------------------------------------------------------------


def test_the_2016_desired_lrp_stream_has_only_desired_events(
    subscribe: Callable[..., EventSource], bbs: BBSClient
) -> None:
    source = subscribe("DesiredLRPEventStreamRoute")
    bbs.desire_lrp(desired_lrp("web", instances=2))
    bbs.remove_desired_lrp("web")
    assert names(source, 2) == ["desired_lrp_created", "desired_lrp_removed"]


def test_the_2016_actual_lrp_stream_has_only_group_events(
    subscribe: Callable[..., EventSource], running_instance: BBSClient
) -> None:
    source = subscribe("ActualLRPEventStreamRoute")
    running_instance.crash_actual_lrp(key(), OWN, "exited")
    running_instance.desire_lrp(desired_lrp("other", instances=1))
    assert names(source, 3) == ["actual_lrp_crashed", "actual_lrp_changed", "actual_lrp_created"]


# -- the stream's life ------------------------------------------------------------------------


def test_a_subscriber_that_disconnects_is_unsubscribed_without_any_event(
    bbs: BBSClient, fake: FakeBBS, no_streams: None
) -> None:
    source = bbs.subscribe_to_instance_events()
    assert fake.open_event_streams == 1
    source.close()
    wait_until(lambda: fake.open_event_streams == 0)


def test_a_raw_connection_closed_mid_stream_is_unsubscribed(
    server: Server, fake: FakeBBS, no_streams: None
) -> None:
    sock = raw_request(server, b"GET /v1/events.r1 HTTP/1.1\r\nHost: bbs")
    read_head(sock)
    assert fake.open_event_streams == 1
    sock.close()
    wait_until(lambda: fake.open_event_streams == 0)


def test_a_tls_subscriber_that_disconnects_is_unsubscribed_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    fake = FakeBBS()
    caplog.set_level(logging.WARNING, logger="fakebbs.server")
    with (
        fake.serve(ssl_context=server_context) as server,
        BBSClient(server.url, ssl_context=client_context) as bbs,
    ):
        source = bbs.subscribe_to_task_events()
        bbs.desire_task("t", "d", task_definition())
        assert isinstance(source.next(timeout=WAIT), models.TaskCreatedEvent)
        source.close()
        wait_until(lambda: fake.open_event_streams == 0)
    assert caplog.records == []


def test_stopping_the_server_ends_every_open_stream_cleanly() -> None:
    fake = FakeBBS()
    server = fake.serve()
    with BBSClient(server.url) as bbs:
        sources = [
            bbs.subscribe_to_instance_events(),
            bbs.subscribe_to_events(),
            bbs.subscribe_to_task_events(),
        ]
        bbs.desire_lrp(desired_lrp("web", instances=0))
        server.stop()
        for source in sources:
            with source:
                events = list(source)  # up to the clean end of the stream
                with pytest.raises(EOFError):
                    source.next(timeout=WAIT)
            assert len(events) == (0 if source is sources[2] else 1)
    assert fake.open_event_streams == 0


def test_a_subscriber_too_slow_to_read_is_dropped_and_its_stream_ends(
    server: Server, fake: FakeBBS, no_streams: None
) -> None:
    """Events big enough to fill the socket buffers, then more than 1024 pending."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(WAIT)
    sock.connect((server.host, server.port))
    with sock:
        sock.sendall(b"GET /v1/desired_lrp_events HTTP/1.1\r\nHost: bbs\r\n\r\n")
        read_head(sock)
        desired = 3000
        for n in range(desired):
            fake.seed.desired_lrp(f"app-{n}", instances=0, annotation="x" * 9000)
        wait_until(lambda: fake.open_event_streams == 0)
        data = bytearray()
        while not data.endswith(b"\r\n0\r\n\r\n"):
            chunk = sock.recv(1 << 20)
            assert chunk, "the stream must end with the terminating chunk"
            data += chunk
        assert sock.recv(1) == b""  # then the server hangs up, as upstream does
    received = data.count(b"event: desired_lrp_created")
    assert 1024 <= received < desired


def test_dozens_of_open_streams_do_not_hold_up_ordinary_requests(
    bbs: BBSClient, fake: FakeBBS
) -> None:
    sources = [bbs.subscribe_to_instance_events() for _ in range(40)]
    try:
        assert bbs.ping()
        bbs.desire_lrp(desired_lrp("web", instances=0))
        for source in sources:
            assert isinstance(source.next(timeout=WAIT), models.DesiredLRPCreatedEvent)
    finally:
        threads = [threading.Thread(target=source.close) for source in sources]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def test_a_stream_may_stay_idle_longer_than_the_clients_request_timeout(
    server: Server, fake: FakeBBS
) -> None:
    with BBSClient(server.url, timeout=0.1) as bbs, bbs.subscribe_to_task_events() as source:
        time.sleep(0.3)
        fake.seed.task("t")
        assert isinstance(source.next(timeout=WAIT), models.TaskCreatedEvent)


def test_an_in_process_client_streams_too(fake: FakeBBS) -> None:
    with BBSClient.in_process(fake.wsgi_app) as bbs, bbs.subscribe_to_task_events() as source:
        bbs.desire_task("t", "d", task_definition())
        assert isinstance(source.next(timeout=WAIT), models.TaskCreatedEvent)
