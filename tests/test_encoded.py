"""List answers joined from kept bytes are byte for byte what encoding the response gives.

The reference for each list route encodes, in one ``SerializeToString(deterministic=True)``,
the response built from the state's own copies with the route's model conversion: what every
list handler answered before answers were joined from kept bytes. Hypothesis drives the state
through desires, updates, removals, lifecycle and evacuation calls, convergence, tasks and
resets, and every list route, unfiltered and with drawn filters, is compared after each step,
so kept bytes that outlive a write show up as a difference.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from builders import desired_lrp
from fakebbs import FakeBBS, models
from fakebbs._control.journal import Journal
from fakebbs._http.app import BBSApp
from fakebbs._http.versions import (
    desired_lrp_version_down_to,
    populate_metrics_guid,
    task_version_down_to,
)
from fakebbs._rules.state import State
from fakebbs._rules.store import Snapshot
from fakebbs._rules.validation import validate
from fakebbs._rules.views import resolve_actual_lrp_groups, routing_info, scheduling_info
from fakebbs.errors import BBSError
from fakebbs.routes import ROUTES

PATHS = {route.name: route.path for route in ROUTES}

GUIDS = ["web", "web-2", "app_1", "app%x", "api"]
DOMAINS = ["cf-apps", "other"]
CELLS = ["cell-1", "cell-2"]


# -- the reference: the response message built from copies, encoded at once ------------------


def _desired(version: int, legacy: bool) -> Callable[[State, Any], Message]:
    def answer(state: State, request: models.DesiredLRPsRequest) -> Message:
        lrps = state.desired_lrps_matching(
            domain=request.domain,
            process_guids=() if legacy else request.process_guids,
            app_guids=() if legacy else request.app_guids,
        )
        return models.DesiredLRPsResponse(
            desired_lrps=[
                populate_metrics_guid(desired_lrp_version_down_to(lrp, version, legacy=legacy))
                for lrp in lrps
            ]
        )

    return answer


def _tasks(version: int, legacy: bool) -> Callable[[State, Any], Message]:
    def answer(state: State, request: models.TasksRequest) -> Message:
        tasks = state.tasks_matching(domain=request.domain, cell_id=request.cell_id)
        return models.TasksResponse(
            tasks=[task_version_down_to(task, version, legacy=legacy) for task in tasks]
        )

    return answer


def _scheduling_infos(state: State, request: models.DesiredLRPsRequest) -> Message:
    lrps = state.desired_lrps_matching(domain=request.domain, process_guids=request.process_guids)
    return models.DesiredLRPSchedulingInfosResponse(
        desired_lrp_scheduling_infos=[scheduling_info(lrp) for lrp in lrps]
    )


def _routing_infos(state: State, request: models.DesiredLRPsRequest) -> Message:
    lrps = state.desired_lrps_matching(process_guids=request.process_guids)
    return models.DesiredLRPsResponse(desired_lrps=[routing_info(lrp) for lrp in lrps])


def _actual_lrps(state: State, request: models.ActualLRPsRequest) -> Message:
    lrps = state.actual_lrps_matching(
        domain=request.domain,
        cell_id=request.cell_id,
        process_guid=request.process_guid,
        index=request.index if request.HasField("index") else None,
    )
    return models.ActualLRPsResponse(actual_lrps=lrps)


def _actual_lrps_by_process_guids(
    state: State, request: models.ActualLRPsByProcessGuidsRequest
) -> Message:
    lrps = state.actual_lrps_by_process_guids(request.process_guids)
    return models.ActualLRPsByProcessGuidsResponse(actual_lrps=lrps)


def _groups(state: State, request: models.ActualLRPGroupsRequest) -> Message:
    lrps = state.actual_lrps_matching(domain=request.domain, cell_id=request.cell_id)
    return models.ActualLRPGroupsResponse(actual_lrp_groups=resolve_actual_lrp_groups(lrps))


def _groups_of(state: State, request: models.ActualLRPGroupsByProcessGuidRequest) -> Message:
    lrps = state.actual_lrps_matching(process_guid=request.process_guid)
    return models.ActualLRPGroupsResponse(actual_lrp_groups=resolve_actual_lrp_groups(lrps))


REFERENCE: dict[str, Callable[[State, Any], Message]] = {
    "DesiredLRPs": _desired(3, False),
    "DesiredLRPs_r2": _desired(2, False),
    "DesiredLRPs_r1": _desired(1, True),
    "DesiredLRPs_r0": _desired(0, True),
    "DesiredLRPSchedulingInfos": _scheduling_infos,
    "DesiredLRPRoutingInfos": _routing_infos,
    "ActualLRPs": _actual_lrps,
    "ActualLRPsByProcessGuids": _actual_lrps_by_process_guids,
    "ActualLRPGroups": _groups,
    "ActualLRPGroupsByProcessGuid": _groups_of,
    "Tasks": _tasks(3, False),
    "Tasks_r2": _tasks(2, False),
    "Tasks_r1": _tasks(1, True),
    "Tasks_r0": _tasks(0, True),
}
"""Every list route: the ones whose answer is joined from kept bytes."""


def _request_type(name: str) -> type[Message]:
    [route] = [route for route in ROUTES if route.name == name]
    assert route.request is not None
    message_type: type[Message] = getattr(models, route.request)
    return message_type


def _repeats_a_message(response_name: str) -> bool:
    """Whether a response has a repeated message field (a list). Read off an instance: field
    descriptors' ``label`` is gone in protobuf 7."""
    response = getattr(models, response_name)()
    return any(
        field.message_type is not None and hasattr(getattr(response, field.name), "extend")
        for field in response.DESCRIPTOR.fields
    )


def test_every_list_route_of_the_table_has_a_reference() -> None:
    lists = {
        route.name
        for route in ROUTES
        if route.response is not None and _repeats_a_message(route.response)
    }
    assert lists - {"Cells", "Cells_r1"} == set(REFERENCE)


def _answer(http: Client, name: str, request: Message) -> bytes:
    response = http.post(PATHS[name], data=request.SerializeToString())
    assert response.status_code == 200
    return response.get_data()


def _assert_same(fake: FakeBBS, http: Client, name: str, request: Message) -> None:
    """The route's answer is the reference's (or, for a request it refuses, an error)."""
    try:
        validate(request)
    except BBSError:
        answer = models.ActualLRPsByProcessGuidsResponse.FromString(_answer(http, name, request))
        assert answer.HasField("error"), (name, request)
        return
    expected = REFERENCE[name](fake._state, request).SerializeToString(deterministic=True)
    assert _answer(http, name, request) == expected, (name, request)


# -- drawn states ----------------------------------------------------------------------------


def _layers(draw: st.DrawFn) -> list[models.ImageLayer]:
    kinds = draw(st.lists(st.sampled_from([models.ImageLayer.SHARED, models.ImageLayer.EXCLUSIVE])))
    return [
        models.ImageLayer(
            name=f"layer-{n}",
            url=f"https://example.com/{n}.tgz",
            destination_path=f"/opt/{n}",
            layer_type=kind,
            media_type=models.ImageLayer.TGZ,
            digest_algorithm=models.ImageLayer.SHA256,
            digest_value=draw(st.sampled_from(["", "abc123"])),
        )
        for n, kind in enumerate(kinds)
    ]


def _action(draw: st.DrawFn) -> models.Action:
    run = models.Action(run_action=models.RunAction(path="/bin/app", user="vcap"))
    timeout = models.Action(
        timeout_action=models.TimeoutAction(action=run, timeout_ms=draw(st.integers(0, 10**7)))
    )
    return draw(
        st.sampled_from(
            [
                run,
                timeout,
                models.Action(emit_progress_action=models.EmitProgressAction(action=timeout)),
                models.Action(serial_action=models.SerialAction(actions=[timeout, run])),
            ]
        )
    )


def _cached_dependencies(draw: st.DrawFn) -> list[models.CachedDependency]:
    deps = []
    for n in range(draw(st.integers(0, 2))):
        dep = models.CachedDependency(name=f"dep-{n}", to=f"/deps/{n}", cache_key=f"key-{n}")
        setattr(dep, "from", f"https://example.com/dep-{n}")
        deps.append(dep)
    return deps


@st.composite
def desired_lrps(draw: st.DrawFn, process_guid: str) -> models.DesiredLRP:
    lrp = desired_lrp(
        process_guid,
        domain=draw(st.sampled_from(DOMAINS)),
        instances=draw(st.integers(0, 3)),
        annotation=draw(st.sampled_from(["", "note"])),
        start_timeout_ms=draw(st.integers(0, 10**6)),
    )
    lrp.action.CopyFrom(_action(draw))
    if draw(st.booleans()):
        lrp.setup.CopyFrom(_action(draw))
    if draw(st.booleans()):
        lrp.monitor.CopyFrom(_action(draw))
    lrp.image_layers.extend(_layers(draw))
    lrp.cached_dependencies.extend(_cached_dependencies(draw))
    if draw(st.booleans()):  # metrics guid without a source_id tag: filled on the way out
        del lrp.metric_tags["source_id"]
        lrp.metrics_guid = "metrics-" + process_guid
    if draw(st.booleans()):
        lrp.routes.routes["cf-router"] = b'[ {"hostnames": ["a.example.com"], "port": 8080} ]'
    if draw(st.booleans()):
        lrp.volume_mounts.append(
            models.VolumeMount(
                driver="nfs", container_dir="/data", mode="rw", shared=models.SharedDevice()
            )
        )
        lrp.PlacementTags.append("zone-a")
    return lrp


@st.composite
def task_definitions(draw: st.DrawFn) -> models.TaskDefinition:
    definition = models.TaskDefinition(
        root_fs="preloaded:cflinuxfs4", action=_action(draw), legacy_download_user="vcap"
    )
    definition.image_layers.extend(_layers(draw))
    definition.cached_dependencies.extend(_cached_dependencies(draw))
    return definition


def _instance(cell_id: str) -> models.ActualLRPInstanceKey:
    return models.ActualLRPInstanceKey(instance_guid=f"ig-{cell_id}", cell_id=cell_id)


def _net_info() -> models.ActualLRPNetInfo:
    return models.ActualLRPNetInfo(
        address="10.0.0.1", ports=[models.PortMapping(container_port=8080, host_port=61000)]
    )


def _key(state: State, guid: str, index: int) -> models.ActualLRPKey:
    lrp = state.store.desired_lrps.get(guid)
    domain = DOMAINS[0] if lrp is None else lrp.domain
    return models.ActualLRPKey(process_guid=guid, index=index, domain=domain)


Step = Callable[[FakeBBS, list[Snapshot]], object]
"""A write to a fake; snapshots taken are kept in the list, for a later restore."""


@st.composite
def steps(draw: st.DrawFn) -> Step:
    """One write to the fake, any of the ways state changes."""
    guid = draw(st.sampled_from(GUIDS))
    index = draw(st.integers(0, 2))
    cell = draw(st.sampled_from(CELLS))
    kind = draw(
        st.sampled_from(
            [
                "desire",
                "update",
                "remove",
                "claim",
                "start",
                "crash",
                "evacuate",
                "remove_evacuating",
                "cell",
                "converge",
                "task",
                "task_start",
                "task_complete",
                "task_delete",
                "reset",
                "snapshot",
                "restore",
            ]
        )
    )
    state_step: dict[str, Callable[[State], object]] = {
        "update": lambda s: s.update_desired_lrp(
            guid, models.DesiredLRPUpdate(instances=index + 1, annotation="updated")
        ),
        "remove": lambda s: s.remove_desired_lrp(guid),
        "claim": lambda s: s.claim_actual_lrp(guid, index, _instance(cell)),
        "start": lambda s: s.start_actual_lrp(_key(s, guid, index), _instance(cell), _net_info()),
        "crash": lambda s: s.crash_actual_lrp(_key(s, guid, index), _instance(cell), "boom"),
        "evacuate": lambda s: s.evacuate_running_actual_lrp(
            _key(s, guid, index), _instance(cell), _net_info()
        ),
        "remove_evacuating": lambda s: s.remove_evacuating_actual_lrp(
            _key(s, guid, index), _instance(cell)
        ),
        "cell": lambda s: (
            s.unregister_cell(cell)
            if cell in s.store.cells
            else s.register_cell(models.CellPresence(cell_id=cell))
        ),
        "converge": lambda s: s.converge(),
        "task_start": lambda s: s.start_task("task-" + guid, cell),
        "task_complete": lambda s: s.complete_task("task-" + guid, cell, False, "", "done"),
        "task_delete": lambda s: s.delete_task("task-" + guid),
    }
    if kind == "desire":
        lrp = draw(desired_lrps(guid))
        return lambda fake, saved: fake._state.desire_lrp(lrp)
    if kind == "task":
        definition = draw(task_definitions())
        domain = draw(st.sampled_from(DOMAINS))
        return lambda fake, saved: fake._state.desire_task(definition, "task-" + guid, domain)
    if kind == "reset":
        return lambda fake, saved: fake.reset()
    if kind == "snapshot":
        return lambda fake, saved: saved.append(fake.snapshot())
    if kind == "restore":
        return lambda fake, saved: fake.restore(saved[-1] if saved else Snapshot())
    rule = state_step[kind]
    return lambda fake, saved: rule(fake._state)


@st.composite
def list_requests(draw: st.DrawFn, name: str) -> Message:
    """A request for the list route ``name`` with any of the filters it reads."""
    request = _request_type(name)()
    fields = request.DESCRIPTOR.fields_by_name
    if "domain" in fields:
        request.domain = draw(st.sampled_from(["", *DOMAINS]))  # type: ignore[attr-defined]
    if "cell_id" in fields:
        request.cell_id = draw(st.sampled_from(["", *CELLS]))  # type: ignore[attr-defined]
    if "process_guid" in fields:
        request.process_guid = draw(st.sampled_from(["", *GUIDS]))  # type: ignore[attr-defined]
    if "process_guids" in fields:
        request.process_guids.extend(  # type: ignore[attr-defined]
            draw(st.lists(st.sampled_from(GUIDS), max_size=2))
        )
    if "app_guids" in fields:
        request.app_guids.extend(  # type: ignore[attr-defined]
            draw(st.lists(st.sampled_from(["app", "app_", "web", "ap%"]), max_size=2))
        )
    if "index" in fields and draw(st.booleans()):
        request.index = draw(st.integers(0, 2))  # type: ignore[attr-defined]
    return request


# -- the comparisons ---------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), writes=st.lists(steps(), min_size=1, max_size=12))
def test_every_list_answer_is_the_encoders_after_every_write(
    data: st.DataObject, writes: list[Step]
) -> None:
    fake = FakeBBS()
    http = Client(fake.wsgi_app)
    saved: list[Snapshot] = []
    for write in writes:
        try:
            write(fake, saved)
        except BBSError:
            pass  # refused: nothing changed, still compared
        for name in REFERENCE:
            _assert_same(fake, http, name, _request_type(name)())
            _assert_same(fake, http, name, data.draw(list_requests(name), label=name))


FILTERS: list[tuple[str, Message]] = [
    ("DesiredLRPs", models.DesiredLRPsRequest(domain="other")),
    ("DesiredLRPs", models.DesiredLRPsRequest(process_guids=["web", "api"])),
    ("DesiredLRPs", models.DesiredLRPsRequest(app_guids=["app_"])),
    ("DesiredLRPs_r2", models.DesiredLRPsRequest(domain="cf-apps", app_guids=["we"])),
    ("DesiredLRPs_r1", models.DesiredLRPsRequest(domain="other", process_guids=["web"])),
    ("DesiredLRPs_r0", models.DesiredLRPsRequest(domain="cf-apps", app_guids=["none"])),
    ("DesiredLRPSchedulingInfos", models.DesiredLRPsRequest(domain="other")),
    ("DesiredLRPSchedulingInfos", models.DesiredLRPsRequest(process_guids=["api"])),
    ("DesiredLRPRoutingInfos", models.DesiredLRPsRequest(domain="other", process_guids=["web"])),
    ("ActualLRPs", models.ActualLRPsRequest(cell_id="cell-1")),
    ("ActualLRPs", models.ActualLRPsRequest(domain="other")),
    ("ActualLRPs", models.ActualLRPsRequest(process_guid="web", index=0)),
    ("ActualLRPs", models.ActualLRPsRequest(index=1)),
    ("ActualLRPsByProcessGuids", models.ActualLRPsByProcessGuidsRequest(process_guids=["api"])),
    ("ActualLRPGroups", models.ActualLRPGroupsRequest(cell_id="cell-1")),
    ("ActualLRPGroups", models.ActualLRPGroupsRequest(domain="cf-apps")),
    (
        "ActualLRPGroupsByProcessGuid",
        models.ActualLRPGroupsByProcessGuidRequest(process_guid="web"),
    ),
    ("Tasks", models.TasksRequest(domain="other")),
    ("Tasks_r2", models.TasksRequest(cell_id="cell-1")),
    ("Tasks_r1", models.TasksRequest(domain="cf-apps", cell_id="cell-2")),
    ("Tasks_r0", models.TasksRequest(domain="cf-apps")),
]


def _varied_fake() -> FakeBBS:
    """LRPs in two domains with every row shape (running, claimed, crashed, evacuating,
    suspect) on two cells, and tasks in two domains, some started."""
    fake = FakeBBS()
    state = fake._state
    for cell in CELLS:
        state.register_cell(models.CellPresence(cell_id=cell))
    for guid, domain in (("web", "cf-apps"), ("api", "other"), ("app_1", "cf-apps")):
        lrp = desired_lrp(guid, domain=domain, instances=3)
        lrp.image_layers.append(
            models.ImageLayer(
                name="base",
                url="https://example.com/base.tgz",
                destination_path="/base",
                layer_type=models.ImageLayer.EXCLUSIVE,
                digest_algorithm=models.ImageLayer.SHA256,
                digest_value="abc",
            )
        )
        state.desire_lrp(lrp)
        state.start_actual_lrp(_key(state, guid, 0), _instance("cell-1"), _net_info())
        state.claim_actual_lrp(guid, 1, _instance("cell-2"))
        for _ in range(3):
            state.start_actual_lrp(_key(state, guid, 2), _instance("cell-2"), _net_info())
            state.crash_actual_lrp(_key(state, guid, 2), _instance("cell-2"), "boom")
    state.start_actual_lrp(_key(state, "web", 1), _instance("cell-2"), _net_info())
    state.evacuate_running_actual_lrp(_key(state, "web", 1), _instance("cell-2"), _net_info())
    state.start_actual_lrp(_key(state, "api", 0), _instance("cell-1"), _net_info())
    state.unregister_cell("cell-1")
    state.converge()  # api/0 on a missing cell: a suspect row and a new ordinary one
    for guid, domain in (("t-1", "cf-apps"), ("t-2", "other"), ("t-3", "cf-apps")):
        definition = models.TaskDefinition(
            root_fs="preloaded:cflinuxfs4",
            action=models.Action(run_action=models.RunAction(path="/bin/true", user="vcap")),
        )
        state.desire_task(definition, guid, domain)
    state.start_task("t-2", "cell-1")
    state.start_task("t-3", "cell-2")
    return fake


def test_the_varied_state_has_every_row_shape() -> None:
    presences = {row.presence for row in _varied_fake().snapshot().actual_lrps.values()}
    states = {row.state for row in _varied_fake().snapshot().actual_lrps.values()}
    assert presences == {
        models.ActualLRP.ORDINARY,
        models.ActualLRP.EVACUATING,
        models.ActualLRP.SUSPECT,
    }
    assert states >= {"RUNNING", "CLAIMED", "CRASHED", "UNCLAIMED"}


@pytest.mark.parametrize(("name", "request_message"), FILTERS)
def test_a_filtered_list_is_the_encoders_answer(name: str, request_message: Message) -> None:
    fake = _varied_fake()
    http = Client(fake.wsgi_app)
    expected = REFERENCE[name](fake._state, request_message).SerializeToString(deterministic=True)

    cold = _answer(http, name, request_message)
    warm = _answer(http, name, request_message)

    assert cold == warm == expected
    assert expected  # the filter leaves something to compare


# -- kept bytes: per fake, bounded, forgotten on change, safe under concurrency ---------------


def test_two_fakes_keep_their_own_bytes() -> None:
    one, two = FakeBBS(), FakeBBS()
    one.client().desire_lrp(desired_lrp("web", annotation="one"))
    two.client().desire_lrp(desired_lrp("web", annotation="two"))

    answers = [
        models.DesiredLRPsResponse.FromString(_answer(Client(f.wsgi_app), "DesiredLRPs", m))
        for f, m in ((one, models.DesiredLRPsRequest()), (two, models.DesiredLRPsRequest()))
    ]

    assert [a.desired_lrps[0].annotation for a in answers] == ["one", "two"]
    assert one.wsgi_app.lists is not two.wsgi_app.lists


def test_kept_bytes_are_dropped_with_the_items_they_were_made_from() -> None:
    fake = FakeBBS()
    http = Client(fake.wsgi_app)
    for n in range(20):
        fake.client().desire_lrp(desired_lrp(f"web-{n}", instances=1))
    _answer(http, "DesiredLRPs", models.DesiredLRPsRequest())
    _answer(http, "ActualLRPs", models.ActualLRPsRequest())
    kept = fake.wsgi_app.lists
    assert kept.size() == 40

    for n in range(20):
        fake.client().remove_desired_lrp(f"web-{n}")

    assert kept.size() == 0


def test_after_a_reset_the_kept_bytes_stay_bounded_by_the_store() -> None:
    fake = FakeBBS()
    http = Client(fake.wsgi_app)
    for n in range(200):
        fake.client().desire_lrp(desired_lrp(f"web-{n}", instances=0))
    _answer(http, "DesiredLRPs", models.DesiredLRPsRequest())

    fake.reset()
    fake.client().desire_lrp(desired_lrp("web-0", instances=0, annotation="again"))
    answer = _answer(http, "DesiredLRPs", models.DesiredLRPsRequest())

    assert [
        lrp.annotation for lrp in models.DesiredLRPsResponse.FromString(answer).desired_lrps
    ] == ["again"]
    assert fake.wsgi_app.lists.size() <= 2 * len(fake.snapshot().desired_lrps) + 64


def test_lists_read_while_others_write_are_whole_and_end_as_the_encoders() -> None:
    fake = FakeBBS()
    http = Client(fake.wsgi_app)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(60):
                guid = f"w{worker}-{n % 7}"
                if guid in fake.snapshot().desired_lrps:
                    fake.client().update_desired_lrp(
                        guid, models.DesiredLRPUpdate(annotation=str(n), instances=n % 3)
                    )
                else:
                    fake.client().desire_lrp(desired_lrp(guid, instances=1))
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            errors.append(error)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    for thread in writers:
        thread.start()
    answers: list[tuple[type[Message], bytes]] = []
    while any(thread.is_alive() for thread in writers):
        answers.append(
            (
                models.DesiredLRPsResponse,
                _answer(http, "DesiredLRPs", models.DesiredLRPsRequest()),
            )
        )
        answers.append(
            (
                models.ActualLRPGroupsResponse,
                _answer(http, "ActualLRPGroups", models.ActualLRPGroupsRequest()),
            )
        )
    for thread in writers:
        thread.join()

    assert errors == []
    for response_type, data in answers:  # every answer parses and is one whole encoding
        message = response_type.FromString(data)
        assert message.SerializeToString(deterministic=True) == data
    for name in ("DesiredLRPs", "ActualLRPGroups", "ActualLRPs"):
        _assert_same(fake, http, name, _request_type(name)())


def test_the_journal_shows_a_joined_list_answer_as_its_message() -> None:
    fake = FakeBBS()
    fake.client().desire_lrp(desired_lrp("web"))
    journal = Journal()
    app = fake.wsgi_app
    http = Client(BBSApp(fake._state, events=app.events, lists=app.lists, journal=journal))

    data = _answer(http, "DesiredLRPs", models.DesiredLRPsRequest())

    [call] = list(journal)
    assert call.response == models.DesiredLRPsResponse.FromString(data)
    assert [lrp.process_guid for lrp in call.response.desired_lrps] == ["web"]  # type: ignore[attr-defined]


def test_a_restore_brings_back_the_lists_of_the_snapshot() -> None:
    fake = FakeBBS()
    http = Client(fake.wsgi_app)
    fake.client().desire_lrp(desired_lrp("web", instances=1))
    snapshot = fake.snapshot()
    fake.client().update_desired_lrp("web", models.DesiredLRPUpdate(annotation="changed"))
    for name in REFERENCE:  # kept whole, with the same count of items as the snapshot
        _assert_same(fake, http, name, _request_type(name)())

    fake.restore(snapshot)

    for name in REFERENCE:
        _assert_same(fake, http, name, _request_type(name)())
