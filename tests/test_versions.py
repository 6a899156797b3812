"""Model version conversions (protocol.md §5.6, §5.1 end, §2.5, §5.7): downgrades of stored
models for older route revisions, and the 2016 request upgrades."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from fakebbs import models
from fakebbs._http.versions import (
    desired_lrp_version_down_to,
    populate_metrics_guid,
    task_version_down_to,
    upgrade_desired_lrp_r0,
    upgrade_task_definition_r0,
    upgrade_volume_mounts_r1,
)
from fakebbs._rules.validation import validation_items
from fakebbs.errors import InvalidRequest

M = models
L = models.ImageLayer


def run(path: str = "/bin/app") -> models.Action:
    return M.Action(run_action=M.RunAction(path=path, user="vcap"))


def timeout(inner: models.Action, ms: int = 0, ns: int = 0) -> models.Action:
    return M.Action(
        timeout_action=M.TimeoutAction(action=inner, timeout_ms=ms, deprecated_timeout_ns=ns)
    )


def serial(*actions: models.Action) -> models.Action:
    return M.Action(serial_action=M.SerialAction(actions=actions))


def parallel(*actions: models.Action) -> models.Action:
    return M.Action(parallel_action=M.ParallelAction(actions=actions))


def download(name: str, url: str, to: str, **fields: str) -> models.Action:
    action = M.DownloadAction(artifact=name, to=to, **fields)
    setattr(action, "from", url)
    return M.Action(download_action=action)


def cached(name: str, url: str, to: str, **fields: str) -> models.CachedDependency:
    dep = M.CachedDependency(name=name, to=to, **fields)
    setattr(dep, "from", url)
    return dep


SHARED = L(
    name="s",
    url="http://s",
    destination_path="/s",
    layer_type=L.SHARED,
    media_type=L.TGZ,
    digest_algorithm=L.SHA256,
    digest_value="aaa",
)
SHARED_NO_DIGEST = L(
    name="s2", url="http://s2", destination_path="/s2", layer_type=L.SHARED, media_type=L.TAR
)
EXCLUSIVE = L(
    name="e",
    url="http://e",
    destination_path="/e",
    layer_type=L.EXCLUSIVE,
    media_type=L.TGZ,
    digest_algorithm=L.SHA512,
    digest_value="bbb",
)

SHARED_DEP = cached(
    "s", "http://s", "/s", cache_key="sha256:aaa", checksum_algorithm="sha256", checksum_value="aaa"
)
SHARED_NO_DIGEST_DEP = cached("s2", "http://s2", "/s2", cache_key="http://s2")
EXCLUSIVE_DOWNLOAD = download(
    "e",
    "http://e",
    "/e",
    cache_key="sha512:bbb",
    user="legacy",
    checksum_algorithm="sha512",
    checksum_value="bbb",
)


def lrp(**fields: Any) -> models.DesiredLRP:
    return M.DesiredLRP(**{"process_guid": "pg", "action": run(), **fields})


# --------------------------------------------------------------------------------------------
# DesiredLRP V3 → V2 (image layers)


def test_v3_is_an_equal_copy() -> None:
    original = lrp(image_layers=[SHARED, EXCLUSIVE], legacy_download_user="legacy")

    result = desired_lrp_version_down_to(original, 3)

    assert result == original
    assert result is not original


@pytest.mark.parametrize("version", [2, 1])
def test_shared_layers_become_cached_dependencies_in_front(version: int) -> None:
    existing = cached("c", "http://c", "/c", cache_key="k")
    original = lrp(image_layers=[SHARED, SHARED_NO_DIGEST], cached_dependencies=[existing])

    result = desired_lrp_version_down_to(original, version)

    assert list(result.cached_dependencies) == [SHARED_DEP, SHARED_NO_DIGEST_DEP, existing]
    assert len(result.image_layers) == 0
    assert result.setup == M.Action() and not result.HasField("setup")


def test_exclusive_layers_become_parallel_downloads_before_setup() -> None:
    original = lrp(image_layers=[EXCLUSIVE], legacy_download_user="legacy", setup=run("/setup"))

    result = desired_lrp_version_down_to(original, 2)

    assert result.setup == serial(parallel(EXCLUSIVE_DOWNLOAD), run("/setup"))
    assert len(result.cached_dependencies) == 0
    assert len(result.image_layers) == 0


def test_exclusive_layers_without_setup_become_the_setup() -> None:
    result = desired_lrp_version_down_to(
        lrp(image_layers=[EXCLUSIVE], legacy_download_user="legacy"), 2
    )

    assert result.setup == parallel(EXCLUSIVE_DOWNLOAD)


def test_the_wrapped_setup_keeps_only_its_first_action_field() -> None:
    setup = M.Action(run_action=M.RunAction(path="/a"), serial_action=M.SerialAction())
    original = lrp(image_layers=[EXCLUSIVE], legacy_download_user="legacy", setup=setup)

    result = desired_lrp_version_down_to(original, 2)

    assert result.setup.serial_action.actions[1] == M.Action(run_action=M.RunAction(path="/a"))


def test_without_exclusive_layers_the_setup_is_kept_whole() -> None:
    setup = M.Action(run_action=M.RunAction(path="/a"), serial_action=M.SerialAction())

    result = desired_lrp_version_down_to(lrp(image_layers=[SHARED], setup=setup), 2)

    assert result.setup == setup


def test_an_unknown_digest_algorithm_number_prints_as_digits() -> None:
    layer = L(
        url="u",
        destination_path="/d",
        layer_type=L.SHARED,
        digest_algorithm=cast(Any, 7),
        digest_value="x",
    )

    result = desired_lrp_version_down_to(lrp(image_layers=[layer]), 2)

    assert result.cached_dependencies[0].cache_key == "7:x"
    assert result.cached_dependencies[0].checksum_algorithm == "7"


def test_v1_equals_v2() -> None:
    original = lrp(
        image_layers=[SHARED, EXCLUSIVE],
        legacy_download_user="legacy",
        setup=timeout(run(), ms=5),
        start_timeout_ms=60000,
    )

    assert desired_lrp_version_down_to(original, 1) == desired_lrp_version_down_to(original, 2)


# --------------------------------------------------------------------------------------------
# DesiredLRP V1 → V0 (HEAD)

V0_TIMEOUT_CASES: list[tuple[str, models.Action, models.Action]] = [
    ("run unchanged", run(), run()),
    ("top-level timeout", timeout(run(), ms=20), timeout(run(), ms=20, ns=20_000_000)),
    (
        "the ns value is overwritten",
        timeout(run(), ms=2, ns=999),
        timeout(run(), ms=2, ns=2_000_000),
    ),
    (
        "timeouts inside serial/parallel/codependent",
        serial(timeout(run(), ms=1), parallel(timeout(run(), ms=2))),
        serial(timeout(run(), ms=1, ns=1_000_000), parallel(timeout(run(), ms=2, ns=2_000_000))),
    ),
    (
        "a timeout inside a timeout is not visited",
        timeout(timeout(run(), ms=1), ms=2),
        timeout(timeout(run(), ms=1), ms=2, ns=2_000_000),
    ),
    (
        "emit progress is unwrapped (upstream bug)",
        M.Action(
            emit_progress_action=M.EmitProgressAction(
                action=timeout(run(), ms=3), start_message="go"
            )
        ),
        timeout(run(), ms=3, ns=3_000_000),
    ),
    (
        "try is unwrapped (upstream bug)",
        serial(M.Action(try_action=M.TryAction(action=run("/x")))),
        serial(run("/x")),
    ),
    (
        "group log source is kept",
        M.Action(codependent_action=M.CodependentAction(actions=[run()], log_source="ls")),
        M.Action(codependent_action=M.CodependentAction(actions=[run()], log_source="ls")),
    ),
    (
        "int64 overflow wraps like Go",
        timeout(run(), ms=2**62),
        timeout(run(), ms=2**62, ns=(2**62 * 10**6 + 2**63) % 2**64 - 2**63),
    ),
]


@pytest.mark.parametrize(
    ("action", "expected"),
    [c[1:] for c in V0_TIMEOUT_CASES],
    ids=[c[0] for c in V0_TIMEOUT_CASES],
)
@pytest.mark.parametrize("field", ["action", "setup", "monitor"])
def test_v0_fills_deprecated_timeouts(
    field: str, action: models.Action, expected: models.Action
) -> None:
    original = lrp()
    getattr(original, field).CopyFrom(action)

    result = desired_lrp_version_down_to(original, 0)

    assert getattr(result, field) == expected


def test_v0_drops_a_setup_that_is_an_empty_try() -> None:
    original = lrp(setup=M.Action(try_action=M.TryAction()))

    assert not desired_lrp_version_down_to(original, 0).HasField("setup")


@pytest.mark.parametrize(
    ("start_timeout_ms", "expected"),
    [(0, 0), (999, 0), (60500, 60), (2**32 + 5000, 5), (-1000, 4294966)],
)
def test_v0_start_timeout_in_seconds_via_uint32(start_timeout_ms: int, expected: int) -> None:
    result = desired_lrp_version_down_to(lrp(start_timeout_ms=start_timeout_ms), 0)

    assert result.deprecated_start_timeout_s == expected
    assert result.start_timeout_ms == start_timeout_ms


def test_v0_turns_cached_dependencies_into_setup_downloads() -> None:
    deps = [
        cached(
            "a",
            "http://a",
            "/a",
            cache_key="ka",
            log_source="la",
            checksum_algorithm="md5",
            checksum_value="x",
        ),
        cached("b", "http://b", "/b"),
    ]
    original = lrp(
        cached_dependencies=deps, legacy_download_user="bob", setup=timeout(run("/s"), ms=1)
    )

    result = desired_lrp_version_down_to(original, 0)

    assert result.setup == serial(
        parallel(
            download("a", "http://a", "/a", cache_key="ka", log_source="la", user="bob"),
            download("b", "http://b", "/b", user="bob"),
        ),
        timeout(run("/s"), ms=1, ns=1_000_000),
    )
    assert len(result.cached_dependencies) == 0


def test_v0_cached_dependencies_without_setup() -> None:
    original = lrp(cached_dependencies=[cached("b", "http://b", "/b")])

    result = desired_lrp_version_down_to(original, 0)

    assert result.setup == serial(parallel(download("b", "http://b", "/b")))


def test_v0_folds_image_layers_first() -> None:
    original = lrp(image_layers=[SHARED, EXCLUSIVE], legacy_download_user="legacy")

    result = desired_lrp_version_down_to(original, 0)

    shared_download = download("s", "http://s", "/s", cache_key="sha256:aaa", user="legacy")
    assert result.setup == serial(parallel(shared_download), parallel(EXCLUSIVE_DOWNLOAD))


@pytest.mark.parametrize("version", [0, 1, 2, 3])
@pytest.mark.parametrize("legacy", [False, True])
def test_the_input_is_never_modified(version: int, legacy: bool) -> None:
    original = lrp(
        image_layers=[SHARED, EXCLUSIVE],
        legacy_download_user="legacy",
        cached_dependencies=[cached("b", "http://b", "/b")],
        setup=M.Action(try_action=M.TryAction(action=timeout(run(), ms=5))),
        monitor=serial(timeout(run(), ms=5)),
        start_timeout_ms=9000,
    )
    before = original.SerializeToString(deterministic=True)

    desired_lrp_version_down_to(original, version, legacy=legacy)
    populate_metrics_guid(original)

    assert original.SerializeToString(deterministic=True) == before


# --------------------------------------------------------------------------------------------
# legacy=True: the removed routes' pre-de14aa89 conversions


def test_legacy_v2_is_the_head_v2() -> None:
    original = lrp(
        image_layers=[SHARED, EXCLUSIVE], legacy_download_user="legacy", setup=timeout(run(), ms=5)
    )

    assert desired_lrp_version_down_to(original, 2, legacy=True) == desired_lrp_version_down_to(
        original, 2
    )


def test_legacy_v1_fills_timeouts_keeping_wrappers_and_cached_dependencies() -> None:
    emit = M.Action(emit_progress_action=M.EmitProgressAction(action=timeout(run(), ms=3)))
    deps = [cached("b", "http://b", "/b")]
    original = lrp(action=emit, cached_dependencies=deps, start_timeout_ms=7000)

    result = desired_lrp_version_down_to(original, 1, legacy=True)

    assert result.action == M.Action(
        emit_progress_action=M.EmitProgressAction(action=timeout(run(), ms=3, ns=3_000_000))
    )
    assert result.deprecated_start_timeout_s == 7
    assert list(result.cached_dependencies) == deps


def test_legacy_v0_also_turns_cached_dependencies_into_setup() -> None:
    original = lrp(
        cached_dependencies=[cached("b", "http://b", "/b")],
        setup=M.Action(try_action=M.TryAction(action=timeout(run(), ms=3))),
    )

    result = desired_lrp_version_down_to(original, 0, legacy=True)

    assert result.setup == serial(
        parallel(download("b", "http://b", "/b")),
        M.Action(try_action=M.TryAction(action=timeout(run(), ms=3, ns=3_000_000))),
    )


# --------------------------------------------------------------------------------------------
# PopulateMetricsGuid (§5.1 end)


def _tagged(metrics_guid: str, **tags: str) -> models.DesiredLRP:
    result = lrp(metrics_guid=metrics_guid)
    for key, value in tags.items():
        result.metric_tags[key].static = value
    return result


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (_tagged("", source_id="src"), _tagged("src", source_id="src")),
        (_tagged("mg"), _tagged("mg", source_id="mg")),
        (_tagged("mg", other="x"), _tagged("mg", other="x", source_id="mg")),
        (_tagged("mg", source_id="src"), _tagged("mg", source_id="src")),
        (_tagged(""), _tagged("")),
    ],
    ids=["guid from tag", "tag from guid", "tag added to others", "both kept", "neither"],
)
def test_populate_metrics_guid(given: models.DesiredLRP, expected: models.DesiredLRP) -> None:
    assert populate_metrics_guid(given) == expected


def test_populate_metrics_guid_from_a_dynamic_source_id_is_empty() -> None:
    given = lrp()
    given.metric_tags["source_id"].dynamic = M.MetricTagValue.INDEX

    assert populate_metrics_guid(given).metrics_guid == ""


# --------------------------------------------------------------------------------------------
# Tasks


def task(**definition: Any) -> models.Task:
    return M.Task(task_guid="t", task_definition=M.TaskDefinition(**definition))


def test_task_v3_is_an_equal_copy() -> None:
    original = task(image_layers=[SHARED, EXCLUSIVE], action=run())

    result = task_version_down_to(original, 3)

    assert result == original and result is not original


@pytest.mark.parametrize("version", [2, 1, 0])
def test_task_below_v3_folds_image_layers_into_the_action(version: int) -> None:
    existing = cached("c", "http://c", "/c")
    original = task(
        image_layers=[SHARED, EXCLUSIVE],
        legacy_download_user="legacy",
        cached_dependencies=[existing],
        action=timeout(run(), ms=5),
    )

    result = task_version_down_to(original, version).task_definition

    assert list(result.cached_dependencies) == [SHARED_DEP, existing]
    assert result.action == serial(parallel(EXCLUSIVE_DOWNLOAD), timeout(run(), ms=5))
    assert len(result.image_layers) == 0


def test_task_without_action_gets_the_downloads_as_action() -> None:
    original = task(image_layers=[EXCLUSIVE], legacy_download_user="legacy")

    assert task_version_down_to(original, 2).task_definition.action == parallel(EXCLUSIVE_DOWNLOAD)


@pytest.mark.parametrize("version", [3, 0])
def test_task_without_definition_gets_an_empty_one_like_go_copy(version: int) -> None:
    result = task_version_down_to(M.Task(task_guid="t"), version)

    assert result.HasField("task_definition")
    assert result.task_definition == M.TaskDefinition()


def test_task_conversion_does_not_modify_its_input() -> None:
    original = task(
        image_layers=[SHARED, EXCLUSIVE],
        legacy_download_user="legacy",
        cached_dependencies=[cached("b", "http://b", "/b")],
        action=timeout(run(), ms=5),
    )
    before = original.SerializeToString(deterministic=True)

    task_version_down_to(original, 0)
    task_version_down_to(original, 0, legacy=True)

    assert original.SerializeToString(deterministic=True) == before


def test_legacy_task_v1_fills_timeouts_and_keeps_cached_dependencies() -> None:
    deps = [cached("b", "http://b", "/b")]
    original = task(action=serial(timeout(run(), ms=4)), cached_dependencies=deps)

    result = task_version_down_to(original, 1, legacy=True).task_definition

    assert result.action == serial(timeout(run(), ms=4, ns=4_000_000))
    assert list(result.cached_dependencies) == deps


def test_legacy_task_v0_puts_cached_dependencies_in_front_of_the_action() -> None:
    original = task(
        action=run(),
        legacy_download_user="bob",
        cached_dependencies=[cached("b", "http://b", "/b", cache_key="k")],
    )

    result = task_version_down_to(original, 0, legacy=True).task_definition

    assert result.action == serial(
        parallel(download("b", "http://b", "/b", cache_key="k", user="bob")), run()
    )
    assert len(result.cached_dependencies) == 0


def test_legacy_task_without_definition_is_left_alone() -> None:
    result = task_version_down_to(M.Task(task_guid="t"), 0, legacy=True)

    assert not result.HasField("task_definition")


# --------------------------------------------------------------------------------------------
# 2016 desire (r0): timeouts upgraded before validation (§2.5)

R0_CASES: list[tuple[str, models.Action, models.Action]] = [
    ("run unchanged", run(), run()),
    ("top-level timeout", timeout(run(), ns=1_500_000), timeout(run(), ms=1, ns=1_500_000)),
    (
        "timeout_ms sent is overwritten",
        timeout(run(), ms=7, ns=0),
        timeout(run(), ms=0, ns=0),
    ),
    (
        "negative ns truncates toward zero",
        timeout(run(), ns=-1_500_000),
        timeout(run(), ms=-1, ns=-1_500_000),
    ),
    (
        "nested timeouts get ns from ms instead",
        serial(timeout(run(), ms=2, ns=5_000_000), parallel(timeout(run(), ns=9))),
        serial(timeout(run(), ms=2, ns=2_000_000), parallel(timeout(run(), ns=0))),
    ),
    (
        "inside emit progress / try, wrappers kept",
        M.Action(
            emit_progress_action=M.EmitProgressAction(
                action=M.Action(try_action=M.TryAction(action=timeout(run(), ms=3)))
            )
        ),
        M.Action(
            emit_progress_action=M.EmitProgressAction(
                action=M.Action(try_action=M.TryAction(action=timeout(run(), ms=3, ns=3_000_000)))
            )
        ),
    ),
    (
        "the inner action of a top-level timeout is not visited",
        timeout(timeout(run(), ns=4_000_000), ns=2_000_000),
        timeout(timeout(run(), ns=4_000_000), ms=2, ns=2_000_000),
    ),
]


@pytest.mark.parametrize(
    ("action", "expected"), [c[1:] for c in R0_CASES], ids=[c[0] for c in R0_CASES]
)
@pytest.mark.parametrize("field", ["action", "setup", "monitor"])
def test_r0_desire_upgrades_timeouts(
    field: str, action: models.Action, expected: models.Action
) -> None:
    desired = lrp()
    getattr(desired, field).CopyFrom(action)

    upgrade_desired_lrp_r0(desired)

    assert getattr(desired, field) == expected


@pytest.mark.parametrize(
    ("seconds", "start_timeout_ms", "expected"),
    [(0, 123, 0), (60, 0, 60000), (5_000_000, 0, 5_000_000_000 % 2**32)],
)
def test_r0_desire_start_timeout_from_seconds_in_uint32(
    seconds: int, start_timeout_ms: int, expected: int
) -> None:
    desired = lrp(deprecated_start_timeout_s=seconds, start_timeout_ms=start_timeout_ms)

    upgrade_desired_lrp_r0(desired)

    assert desired.start_timeout_ms == expected


def test_r0_desire_then_validation_accepts_an_old_timeout() -> None:
    desired = lrp(domain="d", root_fs="preloaded:x", action=timeout(run(), ns=10**9))

    upgrade_desired_lrp_r0(desired)

    assert validation_items(desired, require_metric_tags=False) == []


def test_r0_task_desire_upgrades_the_action() -> None:
    definition = M.TaskDefinition(action=serial(timeout(run(), ms=1)))
    top = M.TaskDefinition(action=timeout(run(), ns=3_000_000))

    upgrade_task_definition_r0(definition)
    upgrade_task_definition_r0(top)
    upgrade_task_definition_r0(M.TaskDefinition())

    assert definition.action == serial(timeout(run(), ms=1, ns=1_000_000))
    assert top.action == timeout(run(), ms=3, ns=3_000_000)


# --------------------------------------------------------------------------------------------
# 2016 desire.r1: old volume mounts (§5.7)

RO = M.LegacyBindMountMode.LEGACY_BIND_MOUNT_MODE_RO
RW = M.LegacyBindMountMode.LEGACY_BIND_MOUNT_MODE_RW


def legacy_mount(mode: int = RO, **fields: Any) -> models.LegacyVolumeMount:
    return M.LegacyVolumeMount(
        driver="drv", container_dir="/data", deprecated_mode=cast(Any, mode), **fields
    )


def lrp_body(*mounts: models.LegacyVolumeMount, current: models.DesiredLRP | None = None) -> bytes:
    """What a 2016 client sent: the old mounts plus the rest of the LRP."""
    old = M.LegacyDesireLRPRequest(desired_lrp=M.LegacyDesiredLRP(volume_mounts=mounts))
    new = M.DesireLRPRequest(desired_lrp=current or lrp(domain="d", root_fs="preloaded:x"))
    return bytes(new.SerializeToString() + old.SerializeToString())


def task_body(*mounts: models.LegacyVolumeMount) -> bytes:
    old = M.LegacyDesireTaskRequest(task_definition=M.LegacyTaskDefinition(volume_mounts=mounts))
    new = M.DesireTaskRequest(
        task_guid="t", domain="d", task_definition=M.TaskDefinition(root_fs="preloaded:x")
    )
    return bytes(new.SerializeToString() + old.SerializeToString())


MOUNT_CASES: list[tuple[str, models.LegacyVolumeMount, models.VolumeMount]] = [
    (
        "read-only",
        legacy_mount(RO, deprecated_volume_id="vol", deprecated_config=b'{"a":1}'),
        M.VolumeMount(
            driver="drv",
            container_dir="/data",
            mode="r",
            shared=M.SharedDevice(volume_id="vol", mount_config='{"a":1}'),
        ),
    ),
    (
        "read-write",
        legacy_mount(RW, deprecated_volume_id="vol"),
        M.VolumeMount(
            driver="drv", container_dir="/data", mode="rw", shared=M.SharedDevice(volume_id="vol")
        ),
    ),
    (
        "unknown mode number is rw",
        legacy_mount(5, deprecated_volume_id="vol"),
        M.VolumeMount(
            driver="drv", container_dir="/data", mode="rw", shared=M.SharedDevice(volume_id="vol")
        ),
    ),
    (
        "bare mount: mode r and an empty shared device",
        M.LegacyVolumeMount(),
        M.VolumeMount(mode="r", shared=M.SharedDevice()),
    ),
]

Target = Callable[[bytes], tuple[object, Callable[[], list[models.VolumeMount]]]]


def _lrp_request(body: bytes) -> tuple[object, Callable[[], list[models.VolumeMount]]]:
    request = M.DesireLRPRequest.FromString(body)
    return request, lambda: list(request.desired_lrp.volume_mounts)


def _lrp(body: bytes) -> tuple[object, Callable[[], list[models.VolumeMount]]]:
    desired = M.DesireLRPRequest.FromString(body).desired_lrp
    return desired, lambda: list(desired.volume_mounts)


def _task_request(body: bytes) -> tuple[object, Callable[[], list[models.VolumeMount]]]:
    request = M.DesireTaskRequest.FromString(body)
    return request, lambda: list(request.task_definition.volume_mounts)


def _task_definition(body: bytes) -> tuple[object, Callable[[], list[models.VolumeMount]]]:
    definition = M.DesireTaskRequest.FromString(body).task_definition
    return definition, lambda: list(definition.volume_mounts)


TARGETS: list[tuple[str, Callable[..., bytes], Target]] = [
    ("DesireLRPRequest", lrp_body, _lrp_request),
    ("DesiredLRP", lrp_body, _lrp),
    ("DesireTaskRequest", task_body, _task_request),
    ("TaskDefinition", task_body, _task_definition),
]


@pytest.mark.parametrize(
    ("old", "expected"), [c[1:] for c in MOUNT_CASES], ids=[c[0] for c in MOUNT_CASES]
)
@pytest.mark.parametrize(
    ("make_body", "target"), [t[1:] for t in TARGETS], ids=[t[0] for t in TARGETS]
)
def test_r1_desire_rewrites_old_volume_mounts(
    make_body: Callable[..., bytes],
    target: Target,
    old: models.LegacyVolumeMount,
    expected: models.VolumeMount,
) -> None:
    body = make_body(old, legacy_mount(RW, deprecated_volume_id="second"))
    message, mounts = target(body)

    upgrade_volume_mounts_r1(message, body)  # type: ignore[arg-type]

    assert mounts() == [
        expected,
        M.VolumeMount(
            driver="drv",
            container_dir="/data",
            mode="rw",
            shared=M.SharedDevice(volume_id="second"),
        ),
    ]


def test_r1_desire_overwrites_new_style_mounts_so_validation_refuses_them() -> None:
    current = lrp(domain="d", root_fs="preloaded:x")
    current.volume_mounts.add(
        driver="drv", container_dir="/c", mode="rw", shared=M.SharedDevice(volume_id="v")
    )
    body = M.DesireLRPRequest(desired_lrp=current).SerializeToString()
    request = M.DesireLRPRequest.FromString(body)

    upgrade_volume_mounts_r1(request, body)

    assert list(request.desired_lrp.volume_mounts) == [
        M.VolumeMount(driver="drv", container_dir="/c", mode="r", shared=M.SharedDevice())
    ]
    assert validation_items(request, require_metric_tags=False) == [
        "invalid volume_mount volume id"
    ]


def test_r1_desire_leaves_a_request_without_lrp_alone() -> None:
    request = M.DesireLRPRequest()

    upgrade_volume_mounts_r1(request, b"")

    assert request == M.DesireLRPRequest()


def test_r1_desire_with_an_undecodable_old_field_is_the_bad_body_error() -> None:
    mount = b"\x12\x02\xff\xfe"  # VolumeMount field 2 (string) holding invalid UTF-8
    lrp_bytes = b"\xca\x01" + bytes([len(mount)]) + mount  # DesiredLRP field 25
    body = b"\x0a" + bytes([len(lrp_bytes)]) + lrp_bytes  # DesireLRPRequest field 1
    request = M.DesireLRPRequest.FromString(body)

    with pytest.raises(InvalidRequest) as raised:
        upgrade_volume_mounts_r1(request, body)

    assert raised.value.message == "the request received is invalid"
