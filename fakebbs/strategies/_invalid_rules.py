"""The validation rules invalid requests break, as tables: one row per upstream rule, its name
and the breaker that breaks exactly that rule of a valid request (with the route it goes to).
Declarative: the rows are what to read; the breakers are in ``_breakers``."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs.strategies._breakers import (
    RUN_ACTION,
    Breaker,
    broken_actions,
    broken_cached_dependencies,
    broken_image_layers,
    clearing,
    copy_message,
    credentials_alone,
    guid_breaking,
    in_definition,
    negatives,
    not_urls,
    setting,
    setting_path,
    with_field,
    with_update_tag,
)
from fakebbs.strategies._breakers import (
    invalid_field as _field,
)
from fakebbs.strategies._desired import check_definitions, image_layers

__all__ = ["actual_lrp_rules", "lrp_rules", "task_definition_rules", "task_rules", "update_rules"]


def lrp_rules() -> dict[str, Breaker]:
    """``DesiredLRP.Validate()``'s rules (protocol §5.1), each as a breaker of a valid LRP."""

    def action_in(slot: str) -> Breaker:
        def breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
            def apply(pair: tuple[models.Action, str]) -> tuple[Any, str]:
                broken = copy_message(lrp)
                getattr(broken, slot).CopyFrom(pair[0])
                return broken, f"{_field(slot)}, {pair[1]}"

            return broken_actions().map(apply)

        return breaker

    def metric_tags_breaker(kind: str) -> Breaker:
        def breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
            broken = copy_message(lrp)
            if kind == "empty":
                broken.ClearField("metric_tags")
                broken.metrics_guid = ""
                return st.just((broken, _field("metric_tags")))
            if kind == "value":
                bad = models.MetricTagValue(static="x", dynamic=models.MetricTagValue.INDEX)
                broken.metric_tags["broken"].CopyFrom(bad)
                text = f"{_field('metric_tags')}, {_field('static')}, {_field('dynamic')}"
                return st.just((broken, text))
            broken.metrics_guid = "metrics-" + (broken.metrics_guid or "guid")
            text = f"{_field('metric_tags')}, {_field('source_id should match metrics_guid')}"
            return st.just((broken, text))

        return breaker

    too_big_file = st.just(models.File(path="/etc/big", content="x" * (1024 * 1024 + 1)))
    too_long_route = st.just(
        models.ProtoRoutes(routes={"cf-router": b'"' + b"r" * (128 * 1024) + b'"'})
    )
    bad_check = st.sampled_from(
        [
            (
                models.Check(
                    tcp_check=models.TCPCheck(port=8080), http_check=models.HTTPCheck(port=8080)
                ),
                _field("check"),
            ),
            (models.Check(), _field("port")),
            (models.Check(http_check=models.HTTPCheck(port=0)), _field("port")),
            (models.Check(tcp_check=models.TCPCheck(port=70000)), _field("port")),
        ]
    )

    def check_breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(
            definition: models.CheckDefinition, pair: tuple[models.Check, str], ready: bool
        ) -> tuple[Any, str]:
            broken = copy_message(lrp)
            broken.check_definition.CopyFrom(definition)
            (
                broken.check_definition.readiness_checks
                if ready
                else broken.check_definition.checks
            ).append(pair[0])
            return broken, f"{_field('check_definition')}, {pair[1]}"

        return st.builds(apply, check_definitions(), bad_check, st.booleans())

    def exclusive_without_user(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(layer: models.ImageLayer) -> tuple[Any, str]:
            broken = copy_message(lrp)
            broken.image_layers.append(layer)
            broken.legacy_download_user = ""
            return broken, _field("legacy_download_user")

        return image_layers([models.ImageLayer.EXCLUSIVE]).map(apply)

    def credentials(missing: str) -> Breaker:
        def breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
            broken = copy_message(lrp)
            broken.image_username, broken.image_password = (
                ("", "secret") if missing == "username" else ("user", "")
            )
            return st.just((broken, _field(f"image_{missing}")))

        return breaker

    def sidecar_breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[models.Sidecar, str]) -> tuple[Any, str]:
            broken = copy_message(lrp)
            broken.sidecars.append(pair[0])
            return broken, f"{_field('sidecars')}, {pair[1]}"

        ok = models.Action(run_action=RUN_ACTION)
        return st.sampled_from(
            [
                (models.Sidecar(), "invalid action type"),
                (models.Sidecar(action=ok, memory_mb=-1), _field("memory_mb")),
                (models.Sidecar(action=ok, disk_mb=-1), _field("disk_mb")),
            ]
        ).map(apply)

    def volume_mount(mount: models.VolumeMount, error: str) -> Breaker:
        return with_field("volume_mounts", st.just(mount), error)

    egress = st.sampled_from(
        [
            (
                models.SecurityGroupRule(protocol="tcp", destinations=["10.0.0.1"]),
                "Missing required field: ports or port_range",
            ),
            (
                models.SecurityGroupRule(protocol="gre", destinations=["10.0.0.1"]),
                _field("protocol"),
            ),
            (
                models.SecurityGroupRule(protocol="all"),
                _field("destinations [ Must have at least 1 destination ]"),
            ),
        ]
    )

    def egress_breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[models.SecurityGroupRule, str]) -> tuple[Any, str]:
            broken = copy_message(lrp)
            broken.egress_rules.append(pair[0])
            return broken, f"{_field('egress_rules')}, {pair[1]}"

        return egress.map(apply)

    def cached_breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[models.CachedDependency, str]) -> tuple[Any, str]:
            broken = copy_message(lrp)
            broken.cached_dependencies.append(pair[0])
            return broken, f"{_field('cached_dependency')}, {pair[1]}"

        return broken_cached_dependencies().map(apply)

    def layer_breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[models.ImageLayer, str]) -> tuple[Any, str]:
            broken = copy_message(lrp)
            broken.image_layers.append(pair[0])
            return broken, f"{_field('image_layer')}, {pair[1]}"

        return broken_image_layers().map(apply)

    def twice(name: str) -> str:
        return f"{_field(name)}, {_field(name)}"

    return {
        "volume_mounted_files_too_large": with_field(
            "volume_mounted_files", too_big_file, twice("volumeMountedFiles")
        ),
        "domain_empty": setting(twice("domain"), domain=""),
        "root_fs_empty": setting(twice("rootfs"), root_fs=""),
        "root_fs_not_a_url": with_field("root_fs", not_urls(), _field("rootfs")),
        "instances_negative": with_field("instances", negatives(), _field("instances")),
        "memory_mb_negative": with_field("memory_mb", negatives(), _field("memory_mb")),
        "disk_mb_negative": with_field("disk_mb", negatives(), _field("disk_mb")),
        "log_rate_limit_below_minus_one": with_field(
            "log_rate_limit",
            st.integers(-(2**63), -2).map(lambda b: models.LogRateLimit(bytes_per_second=b)),
            f"{_field('log_rate_limit_bytes_per_second')}, {_field('log_rate_limit')}",
        ),
        "annotation_too_long": with_field("annotation", st.just("a" * 10241), _field("annotation")),
        "max_pids_negative": with_field("max_pids", negatives(), _field("max_pids")),
        "routes_too_long": with_field("routes", too_long_route, _field("routes")),
        "metric_tags_missing": metric_tags_breaker("empty"),
        "metric_tag_value_invalid": metric_tags_breaker("value"),
        "metric_tags_source_id_mismatch": metric_tags_breaker("source_id"),
        "process_guid_pattern": with_field("process_guid", guid_breaking(), _field("process_guid")),
        "setup_invalid": action_in("setup"),
        "action_missing": clearing("action", "invalid action type"),
        "action_invalid": action_in("action"),
        "monitor_invalid": action_in("monitor"),
        "environment_variable_name_blank": with_field(
            "environment_variables",
            st.just(models.EnvironmentVariable(value="x")),
            "invalid field: name cannot be blank",
        ),
        "egress_rule_invalid": egress_breaker,
        "cached_dependency_invalid": cached_breaker,
        "image_layer_invalid": layer_breaker,
        "exclusive_layer_without_legacy_download_user": exclusive_without_user,
        "sidecar_invalid": sidecar_breaker,
        "volume_mount_driver": volume_mount(
            models.VolumeMount(mode="r"), "invalid volume_mount driver"
        ),
        "volume_mount_mode": volume_mount(
            models.VolumeMount(driver="d", mode="rx"), "invalid volume_mount mode"
        ),
        "volume_mount_volume_id": volume_mount(
            models.VolumeMount(driver="d", mode="r", shared=models.SharedDevice()),
            "invalid volume_mount volume id",
        ),
        "volume_mount_mounter_id": volume_mount(
            models.VolumeMount(driver="d", mode="r", dedicated=models.DedicatedDevice()),
            "invalid volume_mount mounter id",
        ),
        "image_password_without_username": credentials("username"),
        "image_username_without_password": credentials("password"),
        "check_definition_invalid": check_breaker,
    }


def task_definition_rules() -> dict[str, Breaker]:
    """``TaskDefinition.Validate()``'s rules (protocol §6.2)."""

    def action_invalid(definition: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[models.Action, str]) -> tuple[Any, str]:
            broken = copy_message(definition)
            broken.action.CopyFrom(pair[0])
            return broken, f"{_field('action')}, {pair[1]}"

        return broken_actions().map(apply)

    def exclusive_without_user(definition: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(layer: models.ImageLayer) -> tuple[Any, str]:
            broken = copy_message(definition)
            broken.image_layers.append(layer)
            broken.legacy_download_user = ""
            return broken, _field("legacy_download_user")

        return image_layers([models.ImageLayer.EXCLUSIVE]).map(apply)

    def prefixed(name: str, pairs: SearchStrategy[tuple[Any, str]], prefix: str | None) -> Breaker:
        def breaker(definition: Any) -> SearchStrategy[tuple[Any, str]]:
            def apply(pair: tuple[Any, str]) -> tuple[Any, str]:
                broken = copy_message(definition)
                getattr(broken, name).append(pair[0])
                return broken, pair[1] if prefix is None else f"{_field(prefix)}, {pair[1]}"

            return pairs.map(apply)

        return breaker

    egress = st.sampled_from(
        [
            (
                models.SecurityGroupRule(protocol="tcp", destinations=["10.0.0.1"]),
                _field("egress_rules"),
            ),
            (models.SecurityGroupRule(protocol="all"), _field("egress_rules")),
        ]
    )
    return {
        "root_fs_empty": setting(_field("rootfs"), root_fs=""),
        "root_fs_not_a_url": with_field("root_fs", not_urls(), _field("rootfs")),
        "action_missing": clearing("action", "invalid action type"),
        "action_invalid": action_invalid,
        "memory_mb_negative": with_field("memory_mb", negatives(), _field("memory_mb")),
        "disk_mb_negative": with_field("disk_mb", negatives(), _field("disk_mb")),
        "log_rate_limit_below_minus_one": with_field(
            "log_rate_limit",
            st.integers(-(2**63), -2).map(lambda b: models.LogRateLimit(bytes_per_second=b)),
            _field("log_rate_limit"),
        ),
        "max_pids_negative": with_field("max_pids", negatives(), _field("max_pids")),
        "annotation_too_long": with_field("annotation", st.just("a" * 10241), _field("annotation")),
        "egress_rule_invalid": prefixed("egress_rules", egress, None),
        "image_password_without_username": setting(
            _field("image_username"), image_username="", image_password="secret"
        ),
        "image_username_without_password": setting(
            _field("image_password"), image_username="user", image_password=""
        ),
        "cached_dependency_invalid": prefixed(
            "cached_dependencies", broken_cached_dependencies(), "cached_dependency"
        ),
        "image_layer_invalid": prefixed("image_layers", broken_image_layers(), "image_layer"),
        "exclusive_layer_without_legacy_download_user": exclusive_without_user,
    }


_TASK_GUID_ROUTES = ("StartTask", "CompleteTask", "FailTask", "RejectTask")


def task_rules() -> dict[str, tuple[str, Breaker]]:
    """(route, breaker) per task rule: DesireTaskRequest's and the other task requests'."""
    rules: dict[str, tuple[str, Breaker]] = {
        "task_guid_pattern": (
            "DesireTask",
            with_field("task_guid", guid_breaking(), _field("task_guid")),
        ),
        "domain_empty": ("DesireTask", setting(_field("domain"), domain="")),
        "task_definition_missing": (
            "DesireTask",
            clearing("task_definition", _field("task_definition")),
        ),
    }
    for name, breaker in task_definition_rules().items():
        rules[f"task_definition_{name}"] = ("DesireTask", in_definition(breaker))
    for route in _TASK_GUID_ROUTES:
        rules[f"{route}_task_guid_pattern"] = (
            route,
            with_field("task_guid", guid_breaking(), _field("task_guid")),
        )
    rules["StartTask_cell_id_empty"] = ("StartTask", setting(_field("cell_id"), cell_id=""))
    rules["CompleteTask_cell_id_empty"] = (
        "CompleteTask",
        setting(_field("cell_id"), cell_id=""),
    )
    rules["FailTask_failure_reason_empty"] = (
        "FailTask",
        setting(_field("failure_reason"), failure_reason=""),
    )
    # upstream reports an empty rejection reason under the name failure_reason
    rules["RejectTask_rejection_reason_empty"] = (
        "RejectTask",
        setting(_field("failure_reason"), rejection_reason=""),
    )
    for route in ("CancelTask", "ResolvingTask", "DeleteTask", "TaskByGuid"):
        rules[f"{route}_task_guid_empty"] = (
            route,
            setting(_field("task_guid"), task_guid=""),
        )
    return rules


def update_rules() -> dict[str, tuple[str, Breaker]]:
    """``UpdateDesiredLRPRequest.Validate()`` and ``DesiredLRPUpdate.Validate()`` (§5.3)."""
    route = "UpdateDesireLRP"
    bad_tag = models.MetricTagValue(static="x", dynamic=models.MetricTagValue.INDEX)
    return {
        "update_process_guid_empty": (
            route,
            setting(_field("process_guid"), process_guid=""),
        ),
        "update_instances_negative": (
            route,
            setting_path(_field("instances"), "update.instances", -1),
        ),
        "update_annotation_too_long": (
            route,
            setting_path(_field("annotation"), "update.annotation", "a" * 10241),
        ),
        "update_routes_too_long": (
            route,
            setting_path(
                _field("routes"),
                "update.routes",
                models.ProtoRoutes(routes={"cf-router": b'"' + b"r" * (128 * 1024) + b'"'}),
            ),
        ),
        "update_metric_tag_value_invalid": (
            route,
            with_update_tag(
                bad_tag,
                f"{_field('metric_tags')}, {_field('static')}, {_field('dynamic')}",
            ),
        ),
        "update_image_username_without_password": (route, credentials_alone("image_username")),
        "update_image_password_without_username": (route, credentials_alone("image_password")),
    }


def actual_lrp_rules() -> dict[str, tuple[str, Breaker]]:
    """The key, instance key and net info checks of the actual LRP lifecycle and evacuation
    requests, and the other LRP queries' required fields (protocol §2.1 to §2.5)."""
    key_missing = clearing("actual_lrp_key", _field("actual_lrp_key"))
    instance_missing = clearing("actual_lrp_instance_key", _field("actual_lrp_instance_key"))
    rules: dict[str, tuple[str, Breaker]] = {
        "UpsertDomain_domain_empty": ("UpsertDomain", setting(_field("domain"), domain="")),
        "ActualLRPsByProcessGuids_empty": (
            "ActualLRPsByProcessGuids",
            clearing("process_guids", "process_guids must not be empty"),
        ),
        "ActualLRPGroupsByProcessGuid_process_guid_empty": (
            "ActualLRPGroupsByProcessGuid",
            setting(_field("process_guid"), process_guid=""),
        ),
        "ActualLRPGroupsByProcessGuidAndIndex_index_negative": (
            "ActualLRPGroupsByProcessGuidAndIndex",
            setting(_field("index"), index=-1),
        ),
        "DesiredLRPByProcessGuid_process_guid_empty": (
            "DesiredLRPByProcessGuid",
            setting(_field("process_guid"), process_guid=""),
        ),
        "RemoveDesiredLRP_process_guid_empty": (
            "RemoveDesiredLRP",
            setting(_field("process_guid"), process_guid=""),
        ),
        "ClaimActualLRP_process_guid_empty": (
            "ClaimActualLRP",
            setting(_field("process_guid"), process_guid=""),
        ),
        "ClaimActualLRP_instance_key_missing": ("ClaimActualLRP", instance_missing),
        "ClaimActualLRP_cell_id_empty": (
            "ClaimActualLRP",
            setting_path(_field("cell_id"), "actual_lrp_instance_key.cell_id", ""),
        ),
        "ClaimActualLRP_instance_guid_empty": (
            "ClaimActualLRP",
            setting_path(_field("instance_guid"), "actual_lrp_instance_key.instance_guid", ""),
        ),
        "StartActualLRP_key_missing": ("StartActualLRP", key_missing),
        "StartActualLRP_index_negative": (
            "StartActualLRP",
            setting_path(_field("index"), "actual_lrp_key.index", -1),
        ),
        "StartActualLRP_domain_empty": (
            "StartActualLRP",
            setting_path(_field("domain"), "actual_lrp_key.domain", ""),
        ),
        "StartActualLRP_net_info_missing": (
            "StartActualLRP",
            clearing("actual_lrp_net_info", _field("actual_lrp_net_info")),
        ),
        "StartActualLRP_address_empty": (
            "StartActualLRP",
            setting_path(_field("address"), "actual_lrp_net_info.address", ""),
        ),
        "CrashActualLRP_instance_key_missing": ("CrashActualLRP", instance_missing),
        "FailActualLRP_error_message_empty": (
            "FailActualLRP",
            setting(_field("error_message"), error_message=""),
        ),
        "RemoveActualLRP_index_negative": (
            "RemoveActualLRP",
            setting(_field("index"), index=-1),
        ),
        "RetireActualLRP_key_missing": ("RetireActualLRP", key_missing),
        "EvacuateClaimedActualLRP_key_missing": ("EvacuateClaimedActualLRP", key_missing),
        "EvacuateRunningActualLRP_net_info_missing": (
            "EvacuateRunningActualLRP",
            clearing("actual_lrp_net_info", _field("actual_lrp_net_info")),
        ),
        "EvacuateStoppedActualLRP_instance_key_missing": (
            "EvacuateStoppedActualLRP",
            instance_missing,
        ),
        "EvacuateCrashedActualLRP_error_message_empty": (
            "EvacuateCrashedActualLRP",
            setting(_field("error_message"), error_message=""),
        ),
        "RemoveEvacuatingActualLRP_instance_key_missing": (
            "RemoveEvacuatingActualLRP",
            instance_missing,
        ),
    }
    return {**update_rules(), **rules}
