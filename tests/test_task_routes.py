"""The task routes over the client, on a real socket and in-process: each revision's model
version, the 2016 request upgrades, and the lifecycle as a BBS client sees it."""

from __future__ import annotations

import pytest

from fakebbs import FakeBBS, models
from fakebbs._http.versions import task_version_down_to
from fakebbs.client import BBSClient
from fakebbs.errors import (
    InvalidRequest,
    InvalidStateTransition,
    ResourceExists,
    ResourceNotFound,
    RunningOnDifferentCell,
)

L = models.ImageLayer


def definition(**fields: object) -> models.TaskDefinition:
    """A valid TaskDefinition; ``fields`` replace or add to the defaults."""
    defaults: dict[str, object] = {
        "root_fs": "preloaded:cflinuxfs4",
        "action": models.Action(run_action=models.RunAction(path="/bin/task", user="vcap")),
    }
    return models.TaskDefinition(**{**defaults, **fields})  # type: ignore[arg-type]


def layered_definition() -> models.TaskDefinition:
    """A current-format definition every downgrade changes: image layers of both kinds, a
    cached dependency and a timeout inside a serial action."""
    run = models.Action(run_action=models.RunAction(path="/bin/task", user="vcap"))
    return definition(
        action=models.Action(
            serial_action=models.SerialAction(
                actions=[
                    models.Action(timeout_action=models.TimeoutAction(action=run, timeout_ms=5000))
                ]
            )
        ),
        legacy_download_user="legacy",
        cached_dependencies=[
            models.CachedDependency(name="c", to="/c", cache_key="c-key", **{"from": "http://c"})
        ],
        image_layers=[
            L(
                name="s",
                url="http://s",
                destination_path="/s",
                layer_type=L.SHARED,
                media_type=L.TGZ,
                digest_algorithm=L.SHA256,
                digest_value="aaa",
            ),
            L(
                name="e",
                url="http://e",
                destination_path="/e",
                layer_type=L.EXCLUSIVE,
                media_type=L.TGZ,
                digest_algorithm=L.SHA512,
                digest_value="bbb",
            ),
        ],
    )


def ok(response: object) -> None:
    assert not response.HasField("error"), response.error  # type: ignore[attr-defined]


# -- list and get revisions -------------------------------------------------------------------

REVISIONS = [
    # list route, get route, version, legacy (the 2016 conversions of the removed routes)
    ("Tasks", "TaskByGuid", 3, False),
    ("Tasks_r2", "TaskByGuid_r2", 2, False),
    ("Tasks_r1", "TaskByGuid_r1", 1, True),
    ("Tasks_r0", "TaskByGuid_r0", 0, True),
]


@pytest.mark.parametrize("list_route, get_route, version, legacy", REVISIONS)
def test_each_revision_answers_its_model_version(
    bbs: BBSClient, fake: FakeBBS, list_route: str, get_route: str, version: int, legacy: bool
) -> None:
    bbs.desire_task("t", "d", layered_definition())
    stored = fake.snapshot().tasks["t"]
    expected = task_version_down_to(stored, version, legacy=legacy)

    listed = bbs.call(list_route, models.TasksRequest())
    got = bbs.call(get_route, models.TaskByGuidRequest(task_guid="t"))

    ok(listed)
    ok(got)
    assert list(listed.tasks) == [expected]  # type: ignore[attr-defined]
    assert got.task == expected  # type: ignore[attr-defined]


def test_the_current_revision_returns_the_task_as_desired(bbs: BBSClient) -> None:
    bbs.desire_task("t", "d", layered_definition())

    assert bbs.task_by_guid("t").task_definition == layered_definition()


def test_r2_folds_image_layers_into_cached_dependencies_and_the_action(bbs: BBSClient) -> None:
    bbs.desire_task("t", "d", layered_definition())

    task = bbs.call("TaskByGuid_r2", models.TaskByGuidRequest(task_guid="t")).task  # type: ignore[attr-defined]

    assert len(task.task_definition.image_layers) == 0
    assert [d.name for d in task.task_definition.cached_dependencies] == ["s", "c"]
    assert task.task_definition.action.serial_action.actions[0].HasField("parallel_action")


def test_r1_fills_the_deprecated_timeout_and_r0_also_unfolds_cached_dependencies(
    bbs: BBSClient,
) -> None:
    bbs.desire_task("t", "d", layered_definition())

    r1 = bbs.call("TaskByGuid_r1", models.TaskByGuidRequest(task_guid="t")).task  # type: ignore[attr-defined]
    r0 = bbs.call("TaskByGuid_r0", models.TaskByGuidRequest(task_guid="t")).task  # type: ignore[attr-defined]

    timeouts = r1.task_definition.action.serial_action.actions[1].serial_action.actions
    assert timeouts[0].timeout_action.deprecated_timeout_ns == 5_000_000_000
    assert len(r1.task_definition.cached_dependencies) == 2
    assert len(r0.task_definition.cached_dependencies) == 0


def test_lists_filter_by_domain_and_cell(bbs: BBSClient) -> None:
    bbs.desire_task("a", "d", definition())
    bbs.desire_task("b", "d", definition())
    bbs.desire_task("c", "other", definition())
    bbs.start_task("a", "cell-1")

    assert sorted(t.task_guid for t in bbs.tasks()) == ["a", "b", "c"]
    assert sorted(t.task_guid for t in bbs.tasks_by_domain("d")) == ["a", "b"]
    assert [t.task_guid for t in bbs.tasks_by_cell_id("cell-1")] == ["a"]
    assert bbs.tasks_with_filter(domain="other", cell_id="cell-1") == []


def test_getting_an_unknown_task_is_resource_not_found(bbs: BBSClient) -> None:
    with pytest.raises(ResourceNotFound):
        bbs.task_by_guid("nope")


# -- desire revisions -------------------------------------------------------------------------


def test_desire_refuses_a_duplicate_guid(bbs: BBSClient) -> None:
    bbs.desire_task("t", "d", definition())

    with pytest.raises(ResourceExists):
        bbs.desire_task("t", "d", definition())


def test_desire_validates_the_request(bbs: BBSClient) -> None:
    with pytest.raises(InvalidRequest) as refused:
        bbs.desire_task("bad guid", "", definition())

    assert refused.value.message == "Invalid field: task_guid, Invalid field: domain"


def test_the_2016_desire_r0_reads_the_old_nanosecond_timeout(bbs: BBSClient) -> None:
    run = models.Action(run_action=models.RunAction(path="/bin/task", user="vcap"))
    old = definition(
        action=models.Action(
            timeout_action=models.TimeoutAction(action=run, deprecated_timeout_ns=7_000_000_000)
        )
    )

    ok(
        bbs.call(
            "DesireTask_r0",
            models.DesireTaskRequest(task_guid="t", domain="d", task_definition=old),
        )
    )

    assert bbs.task_by_guid("t").task_definition.action.timeout_action.timeout_ms == 7000


def test_the_2016_desire_r1_upgrades_old_volume_mounts(bbs: BBSClient) -> None:
    request = models.DesireTaskRequest(task_guid="t", domain="d", task_definition=definition())
    old_mounts = models.LegacyDesireTaskRequest(
        task_definition=models.LegacyTaskDefinition(
            volume_mounts=[
                models.LegacyVolumeMount(
                    driver="nfs",
                    deprecated_volume_id="vol-1",
                    container_dir="/data",
                    deprecated_mode=models.LegacyBindMountMode.LEGACY_BIND_MOUNT_MODE_RW,
                    deprecated_config=b'{"k":"v"}',
                )
            ]
        )
    )
    body = request.SerializeToString() + old_mounts.SerializeToString()

    ok(bbs.call("DesireTask_r1", body))

    [mount] = bbs.task_by_guid("t").task_definition.volume_mounts
    assert (mount.driver, mount.container_dir, mount.mode) == ("nfs", "/data", "rw")
    assert (mount.shared.volume_id, mount.shared.mount_config) == ("vol-1", '{"k":"v"}')


# -- the lifecycle over the wire --------------------------------------------------------------


def test_a_task_runs_completes_resolves_and_is_deleted(bbs: BBSClient) -> None:
    bbs.desire_task("t", "d", definition())

    assert bbs.start_task("t", "cell-1") is True
    assert bbs.start_task("t", "cell-1") is False
    bbs.complete_task("t", "cell-1", failed=False, result="42")
    done = bbs.task_by_guid("t")
    bbs.resolving_task("t")
    bbs.delete_task("t")

    assert (done.state, done.result, done.cell_id) == (models.Task.Completed, "42", "")
    assert bbs.tasks() == []


def test_complete_from_another_cell_is_refused_over_the_wire(bbs: BBSClient) -> None:
    bbs.desire_task("t", "d", definition())
    bbs.start_task("t", "cell-1")

    with pytest.raises(RunningOnDifferentCell) as refused:
        bbs.complete_task("t", "cell-2", failed=False)

    assert refused.value.message == "Running on cell cell-1 not cell-2"


def test_cancel_and_delete_say_which_transition_they_refuse(bbs: BBSClient) -> None:
    bbs.desire_task("t", "d", definition())
    bbs.cancel_task("t")

    with pytest.raises(InvalidStateTransition) as cancel_again:
        bbs.cancel_task("t")
    with pytest.raises(InvalidStateTransition) as delete_completed:
        bbs.delete_task("t")

    assert cancel_again.value.message == "Cannot transition from Completed to Completed"
    assert delete_completed.value.message == "Cannot transition from Completed to Resolving"
    task = bbs.task_by_guid("t")
    assert (task.failed, task.failure_reason) == (True, "task was cancelled")


def test_the_deprecated_fail_route_fails_a_pending_task(bbs: BBSClient) -> None:
    bbs.desire_task("t", "d", definition())

    bbs.fail_task("t", "no cell fits")

    task = bbs.task_by_guid("t")
    assert (task.state, task.failed, task.failure_reason) == (
        models.Task.Completed,
        True,
        "no cell fits",
    )


def test_reject_fails_the_task_on_the_fourth_rejection_by_default(bbs: BBSClient) -> None:
    bbs.desire_task("t", "d", definition())
    for _ in range(3):
        bbs.start_task("t", "cell-1")
        bbs.reject_task("t", "no room")
        assert bbs.task_by_guid("t").state == models.Task.Pending

    bbs.reject_task("t", "no room at all")

    task = bbs.task_by_guid("t")
    assert (task.state, task.failure_reason, task.rejection_count) == (
        models.Task.Completed,
        "no room at all",
        4,
    )


def test_rejecting_a_completed_task_is_an_invalid_request(bbs: BBSClient) -> None:
    bbs.desire_task("t", "d", definition())
    bbs.cancel_task("t")

    with pytest.raises(InvalidRequest) as refused:
        bbs.reject_task("t", "r")

    assert refused.value.message == "the request received is invalid"


def test_reject_requires_a_reason_and_names_the_wrong_field(bbs: BBSClient) -> None:
    with pytest.raises(InvalidRequest) as refused:
        bbs.reject_task("t", "")

    assert refused.value.message == "Invalid field: failure_reason"


def test_the_r0_get_is_a_get(bbs: BBSClient) -> None:
    bbs.desire_task("t", "d", definition())

    response = bbs.call("TaskByGuid_r0", models.TaskByGuidRequest(task_guid="t"))

    ok(response)
    assert response.task.task_guid == "t"  # type: ignore[attr-defined]
