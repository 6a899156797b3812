"""Model version conversions: what each route revision returns and how 2016 requests are read.

Downgrades (``desired_lrp_version_down_to``, ``task_version_down_to``, ``populate_metrics_guid``)
mirror upstream HEAD's ``models/desired_lrp.go`` / ``models/task.go`` / ``models/image_layer.go``
and never touch their input. With ``legacy=True`` the V1/V0 steps are instead those of the tree
just before de14aa89 (2016 to 2018-03), which is what the removed ``.r1`` and plain list/get
routes answered.

Upgrades (``upgrade_desired_lrp_r0``, ``upgrade_task_definition_r0``, ``upgrade_volume_mounts_r1``)
are the 2016-era ``desire`` / ``desire.r1`` handlers' rewrites of a decoded request before it
is validated; like upstream they modify the request in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.message import DecodeError

from fakebbs import models
from fakebbs._rules.store import copy
from fakebbs._rules.validation import ACTION_FIELDS, first_action_field
from fakebbs.errors import InvalidRequest

__all__ = [
    "CURRENT_VERSION",
    "desired_lrp_version_down_to",
    "populate_metrics_guid",
    "present_desired_lrp",
    "task_version_down_to",
    "upgrade_desired_lrp_r0",
    "upgrade_task_definition_r0",
    "upgrade_volume_mounts_r1",
]

CURRENT_VERSION = 3
"""``format.V3``: the version ``DesiredLRP.Version()`` and ``Task.Version()`` report at HEAD."""

_RO = models.LegacyBindMountMode.LEGACY_BIND_MOUNT_MODE_RO
"""2016 ``BindMountMode_RO`` (0): also what an absent ``deprecated_mode`` reads as."""
_NS_PER_MS = 1_000_000
_MS_PER_S = 1000

_WRAPPERS = ("emit_progress_action", "try_action")
_MULTI = ("parallel_action", "serial_action", "codependent_action")
_LEAVES = ("download_action", "upload_action", "run_action")
assert set(ACTION_FIELDS) == {*_WRAPPERS, *_MULTI, *_LEAVES, "timeout_action"}


def _int64(value: int) -> int:
    """Go int64 arithmetic wraps around; protobuf in Python would refuse the big value."""
    return (value + 2**63) % 2**64 - 2**63


def _uint32(value: int) -> int:
    return value % 2**32


def _go_div(a: int, b: int) -> int:
    """Go's integer division truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


# --------------------------------------------------------------------------------------------
# Action helpers (models/actions.go)


def _rewrap(action: models.Action) -> models.Action:
    """``WrapAction(UnwrapAction(action))``: a new Action holding only the first set field
    (empty if none is set; upstream would put a nil element there)."""
    new = models.Action()
    kind = first_action_field(action)
    if kind is not None:
        getattr(new, kind).CopyFrom(getattr(action, kind))
    return new


def _parallel(downloads: Iterable[models.DownloadAction]) -> models.Action:
    """``WrapAction(Parallel(downloads...))``."""
    return models.Action(
        parallel_action=models.ParallelAction(
            actions=[models.Action(download_action=d) for d in downloads]
        )
    )


def _serial_in_front(first: models.Action, existing: models.Action | None) -> models.Action:
    """``WrapAction(Serial(first, UnwrapAction(existing)))``, or ``Serial(first)`` without one."""
    actions = [first] if existing is None else [first, _rewrap(existing)]
    return models.Action(serial_action=models.SerialAction(actions=actions))


def _set_deprecated_timeout_ns(action: models.Action) -> models.Action | None:
    """HEAD's ``Action.SetDeprecatedTimeoutNs()``: a converted copy of the tree.

    Each TimeoutAction gets ``deprecated_timeout_ns = timeout_ms × 10⁶`` (its own inner
    action is not visited). Upstream's bug is kept: an EmitProgress or Try action is replaced
    by its converted inner action (None if it has none), i.e. the wrapper is dropped.
    """
    kind = first_action_field(action)
    if kind is None or kind in _LEAVES:
        return copy(action)
    if kind == "timeout_action":
        timeout = copy(action.timeout_action)
        timeout.deprecated_timeout_ns = _int64(timeout.timeout_ms * _NS_PER_MS)
        return models.Action(timeout_action=timeout)
    if kind in _WRAPPERS:
        wrapper = getattr(action, kind)
        return _set_deprecated_timeout_ns(wrapper.action) if wrapper.HasField("action") else None
    group = copy(getattr(action, kind))
    converted = [_set_deprecated_timeout_ns(sub) for sub in group.actions]
    del group.actions[:]
    group.actions.extend(models.Action() if sub is None else sub for sub in converted)
    new = models.Action()
    getattr(new, kind).CopyFrom(group)
    return new


def _set_deprecated_timeout_ns_in_place(action: models.Action) -> None:
    """The 2016 ``Action.SetDeprecatedTimeoutNs()`` (until 22ca0c32, 2018-10): in place.

    Every TimeoutAction reachable through EmitProgress/Try/Parallel/Serial/Codependent gets
    ``deprecated_timeout_ns = timeout_ms × 10⁶``; a TimeoutAction's own inner action is not
    visited.
    """
    kind = first_action_field(action)
    if kind == "timeout_action":
        timeout = action.timeout_action
        timeout.deprecated_timeout_ns = _int64(timeout.timeout_ms * _NS_PER_MS)
    elif kind in _WRAPPERS:
        wrapper = getattr(action, kind)
        if wrapper.HasField("action"):
            _set_deprecated_timeout_ns_in_place(wrapper.action)
    elif kind in _MULTI:
        for sub in getattr(action, kind).actions:
            _set_deprecated_timeout_ns_in_place(sub)


def _set_timeout_ms_from_deprecated_timeout_ns(action: models.Action) -> None:
    """The 2016 ``Action.SetTimeoutMsFromDeprecatedTimeoutNs()``, in place.

    Only a TimeoutAction at the top gets ``timeout_ms = deprecated_timeout_ns / 10⁶``
    (overwriting any ``timeout_ms`` sent). For wrappers and groups upstream calls the
    *opposite* conversion on the children, so nested TimeoutActions get
    ``deprecated_timeout_ns = timeout_ms × 10⁶`` instead.
    """
    kind = first_action_field(action)
    if kind == "timeout_action":
        timeout = action.timeout_action
        timeout.timeout_ms = _go_div(timeout.deprecated_timeout_ns, _NS_PER_MS)
    elif kind in _WRAPPERS:
        wrapper = getattr(action, kind)
        if wrapper.HasField("action"):
            _set_deprecated_timeout_ns_in_place(wrapper.action)
    elif kind in _MULTI:
        for sub in getattr(action, kind).actions:
            _set_deprecated_timeout_ns_in_place(sub)


# --------------------------------------------------------------------------------------------
# Image layers (models/image_layer.go)


def _digest_algorithm_name(value: int) -> str:
    """``strings.ToLower(layer.DigestAlgorithm.String())``; unknown numbers print as digits."""
    try:
        return str(models.ImageLayer.DigestAlgorithm.Name(value)).lower()
    except ValueError:
        return str(value)


def _layers_to_cached_dependencies(
    layers: Iterable[models.ImageLayer],
) -> list[models.CachedDependency]:
    """``ImageLayers.ToCachedDependencies()``: one per SHARED layer."""
    deps: list[models.CachedDependency] = []
    for layer in layers:
        if layer.layer_type != models.ImageLayer.SHARED:
            continue
        algorithm = (
            ""
            if layer.digest_algorithm == models.ImageLayer.DigestAlgorithmInvalid
            else _digest_algorithm_name(layer.digest_algorithm)
        )
        dep = models.CachedDependency(
            name=layer.name,
            to=layer.destination_path,
            checksum_algorithm=algorithm,
            checksum_value=layer.digest_value,
            cache_key=(
                layer.url if layer.digest_value == "" else f"{algorithm}:{layer.digest_value}"
            ),
        )
        setattr(dep, "from", layer.url)
        deps.append(dep)
    return deps


def _layers_to_download_actions(
    layers: Iterable[models.ImageLayer], user: str, existing: models.Action | None
) -> models.Action | None:
    """``ImageLayers.ToDownloadActions()``: EXCLUSIVE layers as parallel downloads run before
    ``existing`` (``Serial(parallel, existing)``), or ``existing`` itself if there are none."""
    downloads: list[models.DownloadAction] = []
    for layer in layers:
        if layer.layer_type != models.ImageLayer.EXCLUSIVE:
            continue
        algorithm = _digest_algorithm_name(layer.digest_algorithm)
        download = models.DownloadAction(
            artifact=layer.name,
            to=layer.destination_path,
            cache_key=f"{algorithm}:{layer.digest_value}",
            user=user,
            checksum_algorithm=algorithm,
            checksum_value=layer.digest_value,
        )
        setattr(download, "from", layer.url)
        downloads.append(download)
    if not downloads:
        return existing
    parallel = _parallel(downloads)
    return parallel if existing is None else _serial_in_front(parallel, existing)


def _downloads_from_cached_dependencies(
    deps: Iterable[models.CachedDependency], user: str
) -> list[models.DownloadAction]:
    """``actionsFromCachedDependencies``: no checksum fields are carried over."""
    downloads: list[models.DownloadAction] = []
    for dep in deps:
        download = models.DownloadAction(
            artifact=dep.name,
            to=dep.to,
            cache_key=dep.cache_key,
            log_source=dep.log_source,
            user=user,
        )
        setattr(download, "from", getattr(dep, "from"))
        downloads.append(download)
    return downloads


def _optional(message: Any, field: str) -> models.Action | None:
    return getattr(message, field) if message.HasField(field) else None


def _store(message: Any, field: str, action: models.Action | None) -> None:
    if action is None:
        message.ClearField(field)
    else:
        getattr(message, field).CopyFrom(copy(action))


# --------------------------------------------------------------------------------------------
# Desired LRPs (models/desired_lrp.go)


def _downgrade_lrp_v3_to_v2(lrp: models.DesiredLRP) -> None:
    """``downgradeDesiredLRPV3ToV2``: SHARED layers become cached dependencies (in front),
    EXCLUSIVE layers downloads in front of ``setup``; ``image_layers`` cleared."""
    layers = list(lrp.image_layers)
    deps = _layers_to_cached_dependencies(layers) + list(lrp.cached_dependencies)
    del lrp.cached_dependencies[:]
    lrp.cached_dependencies.extend(deps)
    setup = _optional(lrp, "setup")
    _store(lrp, "setup", _layers_to_download_actions(layers, lrp.legacy_download_user, setup))
    lrp.ClearField("image_layers")


def _cached_dependencies_as_setup(lrp: models.DesiredLRP) -> None:
    """``newDesiredLRPWithCachedDependenciesAsSetupActions``."""
    if len(lrp.cached_dependencies) == 0:
        return
    parallel = _parallel(
        _downloads_from_cached_dependencies(lrp.cached_dependencies, lrp.legacy_download_user)
    )
    _store(lrp, "setup", _serial_in_front(parallel, _optional(lrp, "setup")))
    lrp.ClearField("cached_dependencies")


def _downgrade_lrp_v1_to_v0(lrp: models.DesiredLRP) -> None:
    """``downgradeDesiredLRPV1ToV0`` (HEAD)."""
    for field in ("action", "setup", "monitor"):
        if lrp.HasField(field):
            _store(lrp, field, _set_deprecated_timeout_ns(getattr(lrp, field)))
    lrp.deprecated_start_timeout_s = _uint32(lrp.start_timeout_ms) // _MS_PER_S
    _cached_dependencies_as_setup(lrp)


def _legacy_lrp_timeouts(lrp: models.DesiredLRP) -> None:
    """The V1 (and first half of V0) step of the pre-de14aa89 ``VersionDownTo``."""
    for field in ("action", "setup", "monitor"):
        if lrp.HasField(field):
            _set_deprecated_timeout_ns_in_place(getattr(lrp, field))
    lrp.deprecated_start_timeout_s = _uint32(lrp.start_timeout_ms) // _MS_PER_S


def desired_lrp_version_down_to(
    lrp: models.DesiredLRP, version: int, *, legacy: bool = False
) -> models.DesiredLRP:
    """``DesiredLRP.VersionDownTo(version)``: a converted copy, one step at a time.

    V3→V2 folds image layers into cached dependencies / setup; V2→V1 changes nothing; V1→V0
    fills ``deprecated_timeout_ns`` (dropping EmitProgress/Try wrappers, upstream's bug) and
    ``deprecated_start_timeout_s``, and turns cached dependencies into setup downloads.

    ``legacy=True`` gives the pre-de14aa89 answer of the removed ``.r1``/plain routes: after the
    V3→V2 fold, V1 fills the deprecated timeouts (in place, keeping wrappers) and V0
    additionally turns cached dependencies into setup downloads.
    """
    result = copy(lrp)
    _desired_lrp_down_to(result, version, legacy)
    return result


def _desired_lrp_down_to(lrp: models.DesiredLRP, version: int, legacy: bool) -> None:
    """``desired_lrp_version_down_to`` in place."""
    if version < 3:
        _downgrade_lrp_v3_to_v2(lrp)
    if version < 2 and legacy:
        _legacy_lrp_timeouts(lrp)
        if version < 1:
            _cached_dependencies_as_setup(lrp)
    elif version < 1:
        _downgrade_lrp_v1_to_v0(lrp)


def populate_metrics_guid(lrp: models.DesiredLRP) -> models.DesiredLRP:
    """``DesiredLRP.PopulateMetricsGuid()`` on a copy: fill metrics_guid from the
    ``source_id`` tag, or the ``source_id`` tag from metrics_guid, whichever is missing."""
    result = copy(lrp)
    _populate_metrics_guid(result)
    return result


def _populate_metrics_guid(lrp: models.DesiredLRP) -> None:
    """``populate_metrics_guid`` in place."""
    has_source_id = "source_id" in lrp.metric_tags
    if has_source_id and lrp.metrics_guid == "":
        lrp.metrics_guid = lrp.metric_tags["source_id"].static
    elif not has_source_id and lrp.metrics_guid != "":
        lrp.metric_tags["source_id"].CopyFrom(models.MetricTagValue(static=lrp.metrics_guid))


def present_desired_lrp(
    lrp: models.DesiredLRP,
    version: int,
    *,
    legacy: bool = False,
    into: models.DesiredLRP | None = None,
) -> models.DesiredLRP:
    """``populate_metrics_guid(desired_lrp_version_down_to(lrp, version, legacy=legacy))``, what
    a get or list route returns, made with one copy instead of two, into ``into`` (a response's
    field, so that the response need not copy it again) or a new message."""
    result = models.DesiredLRP() if into is None else into
    result.CopyFrom(lrp)
    _desired_lrp_down_to(result, version, legacy)
    _populate_metrics_guid(result)
    return result


def upgrade_desired_lrp_r0(lrp: models.DesiredLRP) -> None:
    """``parseRequestForDesireDesiredLRP_r0`` (2016 ``desire``), in place, before validation.

    A top-level TimeoutAction of action/setup/monitor gets ``timeout_ms`` from
    ``deprecated_timeout_ns``; nested TimeoutActions get the reverse (see
    ``_set_timeout_ms_from_deprecated_timeout_ns``); ``start_timeout_ms`` becomes
    ``deprecated_start_timeout_s × 1000`` (computed in uint32, as upstream).
    """
    for field in ("action", "setup", "monitor"):
        if lrp.HasField(field):
            _set_timeout_ms_from_deprecated_timeout_ns(getattr(lrp, field))
    lrp.start_timeout_ms = _uint32(lrp.deprecated_start_timeout_s * _MS_PER_S)


# --------------------------------------------------------------------------------------------
# Tasks (models/task.go)


def _cached_dependencies_as_action(definition: models.TaskDefinition) -> None:
    """The pre-de14aa89 ``newTaskDefWithCachedDependenciesAsActions``."""
    if len(definition.cached_dependencies) == 0:
        return
    parallel = _parallel(
        _downloads_from_cached_dependencies(
            definition.cached_dependencies, definition.legacy_download_user
        )
    )
    _store(definition, "action", _serial_in_front(parallel, _optional(definition, "action")))
    definition.ClearField("cached_dependencies")


def task_version_down_to(task: models.Task, version: int, *, legacy: bool = False) -> models.Task:
    """``Task.VersionDownTo(version)``: a converted copy.

    Any version below V3 folds the image layers (SHARED → cached dependencies in front,
    EXCLUSIVE → downloads in front of ``action``). Like upstream's ``Task.Copy`` the result
    always has a ``task_definition``, possibly empty.

    ``legacy=True`` adds the pre-de14aa89 V1/V0 steps of the removed ``.r1``/plain task routes:
    V1 fills ``deprecated_timeout_ns`` (in place, keeping wrappers), V0 additionally turns
    cached dependencies into downloads in front of ``action``. (Those routes skipped tasks
    without a definition; such a task is returned unchanged in legacy mode.)
    """
    result = copy(task)
    if legacy and not result.HasField("task_definition"):
        return result
    definition = result.task_definition
    definition.SetInParent()
    if version < 3:
        layers = list(definition.image_layers)
        deps = _layers_to_cached_dependencies(layers) + list(definition.cached_dependencies)
        del definition.cached_dependencies[:]
        definition.cached_dependencies.extend(deps)
        action = _optional(definition, "action")
        user = definition.legacy_download_user
        _store(definition, "action", _layers_to_download_actions(layers, user, action))
        definition.ClearField("image_layers")
    if legacy and version < 2:
        if definition.HasField("action"):
            _set_deprecated_timeout_ns_in_place(definition.action)
        if version < 1:
            _cached_dependencies_as_action(definition)
    return result


def upgrade_task_definition_r0(definition: models.TaskDefinition) -> None:
    """``parseRequestForDesireTask_r0`` (2016 tasks ``desire``), in place: the action's
    timeouts as for ``upgrade_desired_lrp_r0`` (tasks have no start timeout)."""
    if definition.HasField("action"):
        _set_timeout_ms_from_deprecated_timeout_ns(definition.action)


# --------------------------------------------------------------------------------------------
# 2016 volume mounts (VolumeMount.VersionUpToV1, removed in de14aa89)


def _upgraded_mount(old: models.LegacyVolumeMount) -> models.VolumeMount:
    """``VolumeMount.VersionUpToV1()``: mode "r" for RO (0, also when absent) else "rw";
    the old volume id and config become a SharedDevice (always present)."""
    return models.VolumeMount(
        driver=old.driver,
        container_dir=old.container_dir,
        mode="r" if old.deprecated_mode == _RO else "rw",
        shared=models.SharedDevice(
            volume_id=old.deprecated_volume_id,
            # Go's string(bytes) keeps any bytes; a proto3 string here must be UTF-8.
            mount_config=old.deprecated_config.decode("utf-8", "replace"),
        ),
    )


def _legacy_mounts(kind: str, body: bytes) -> list[models.LegacyVolumeMount]:
    try:
        if kind == "lrp":
            return list(models.LegacyDesireLRPRequest.FromString(body).desired_lrp.volume_mounts)
        return list(models.LegacyDesireTaskRequest.FromString(body).task_definition.volume_mounts)
    except DecodeError as err:  # e.g. a non-UTF-8 deprecated_volume_id
        raise InvalidRequest() from err


def upgrade_volume_mounts_r1(
    target: models.DesiredLRP
    | models.TaskDefinition
    | models.DesireLRPRequest
    | models.DesireTaskRequest,
    request_body: bytes,
) -> None:
    """The 2016 ``desire.r1`` volume-mount rewrite (LRPs and tasks), in place.

    ``target`` is the decoded request (or its ``desired_lrp`` / ``task_definition``);
    ``request_body`` the raw body it was decoded from, which is decoded again with the
    private ``Legacy*`` messages to read the 2016 fields 2, 4 and 5 that the current
    VolumeMount reserves. Every mount is replaced, whatever it carried (new-style
    mode/shared/dedicated are lost), as upstream did. Raises ``InvalidRequest`` ("the request
    received is invalid") if the body's old fields cannot be decoded. A request without its
    LRP / task definition is left alone (validation reports it).
    """
    holder: models.DesiredLRP | models.TaskDefinition
    if isinstance(target, models.DesireLRPRequest):
        if not target.HasField("desired_lrp"):
            return
        holder, kind = target.desired_lrp, "lrp"
    elif isinstance(target, models.DesireTaskRequest):
        if not target.HasField("task_definition"):
            return
        holder, kind = target.task_definition, "task"
    else:
        holder, kind = target, "lrp" if isinstance(target, models.DesiredLRP) else "task"
    mounts = [_upgraded_mount(old) for old in _legacy_mounts(kind, request_body)]
    del holder.volume_mounts[:]
    holder.volume_mounts.extend(mounts)
