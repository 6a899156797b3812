"""Invalid variants: one per validation rule of desired LRPs and tasks, each breaking exactly
that rule of an otherwise valid request, with the InvalidRequest text the BBS answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs._control.selectors import _is_repeated
from fakebbs.routes import ROUTES_BY_NAME
from fakebbs.strategies._common import GUID_ALPHABET, names, shown_as_call
from fakebbs.strategies._desired import check_definitions, desired_lrps, image_layers
from fakebbs.strategies._messages import requests
from fakebbs.strategies._tasks import desire_task_requests

__all__ = [
    "DESIRED_LRP_RULES",
    "LRP_REQUEST_RULES",
    "TASK_RULES",
    "InvalidRequestCase",
    "broken_actions",
    "invalid_desired_lrp_requests",
    "invalid_lrp_requests",
    "invalid_task_requests",
    "typed_client_can_send",
]


@dataclass(frozen=True)
class InvalidRequestCase:
    """A request that breaks one validation ``rule``: send ``request`` to the route named
    ``route`` and the BBS answers ``InvalidRequest`` with the message ``error``.

    ``field`` is the broken field (by default the first one ``error`` names).
    ``client_can_send`` is False when ``BBSClient``'s typed methods cannot send the request,
    because the field left out is one they always set (``desired_lrp_missing``:
    ``desire_lrp`` takes a DesiredLRP); send those with ``BBSClient.call(case.route,
    case.request)``.
    """

    rule: str
    route: str
    request: Message
    error: str
    field: str = ""
    client_can_send: bool = True

    def __post_init__(self) -> None:
        if not self.field:
            first = self.error.split(", ", 1)[0]
            if first.startswith("Invalid field: "):
                name = first.removeprefix("Invalid field: ")
            else:  # "process_guids must not be empty"
                name = first.split(" ", 1)[0]
            object.__setattr__(self, "field", name)
        if self.client_can_send and not typed_client_can_send(self.rule):
            object.__setattr__(self, "client_can_send", False)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis shows a case: the rule and the broken field first."""
        fields: dict[str, object] = {"rule": self.rule, "field": self.field, "route": self.route}
        if not self.client_can_send:
            fields["client_can_send"] = False
        fields["error"] = self.error
        fields["request"] = self.request
        printer.repr_call("InvalidRequestCase", [], fields)


def typed_client_can_send(rule: str) -> bool:
    """Whether ``BBSClient``'s typed methods can send a request breaking ``rule``: not when
    the rule leaves out a request's own message field (``desired_lrp_missing``,
    ``task_definition_missing``, ``ClaimActualLRP_instance_key_missing``...), which the
    typed method takes as a required argument and always sets."""
    if rule in ("desired_lrp_missing", "task_definition_missing"):
        return False
    route, _, rest = rule.partition("_")
    return not (route in ROUTES_BY_NAME and rest.endswith("_missing"))


def _field(name: str) -> str:
    return f"Invalid field: {name}"


_RUN = models.RunAction(path="/bin/app", user="vcap")


@shown_as_call
def broken_actions() -> SearchStrategy[tuple[models.Action, str]]:
    """(action, items) pairs: an action that fails validation, perhaps inside valid wrappers,
    and the items its validation gives."""
    leaf = st.sampled_from(
        [
            (models.Action(), _field("inner-action")),
            (models.Action(run_action=models.RunAction(user="vcap")), _field("path")),
            (models.Action(run_action=models.RunAction(path="/bin/app")), _field("user")),
            (
                models.Action(download_action=models.DownloadAction(to="/tmp/x", user="vcap")),
                _field("from"),
            ),
            (
                models.Action(
                    download_action=models.DownloadAction(
                        **{"from": "http://b/x"},
                        to="/tmp/x",
                        user="vcap",
                        checksum_algorithm="crc32",
                        checksum_value="ab",
                    )
                ),
                _field("invalid algorithm"),
            ),
            (
                models.Action(upload_action=models.UploadAction(to="http://b/x", user="vcap")),
                _field("from"),
            ),
            (
                models.Action(
                    timeout_action=models.TimeoutAction(action=models.Action(run_action=_RUN))
                ),
                _field("timeout_ms"),
            ),
            (models.Action(serial_action=models.SerialAction()), _field("actions")),
            (models.Action(try_action=models.TryAction()), _field("action")),
        ]
    )

    def wrap(pair: tuple[models.Action, str], how: str) -> tuple[models.Action, str]:
        action, items = pair
        if how == "try":
            return models.Action(try_action=models.TryAction(action=action)), items
        if how == "parallel":
            ok = models.Action(run_action=_RUN)
            return models.Action(parallel_action=models.ParallelAction(actions=[ok, action])), items
        return action, items

    return st.builds(wrap, leaf, st.sampled_from(["none", "try", "parallel"]))


Breaker = Callable[[Any], SearchStrategy[tuple[Any, str]]]
"""Takes a valid message, returns a strategy of (broken copy, expected text)."""


def _copy(message: Any) -> Any:
    result = type(message)()
    result.CopyFrom(message)
    return result


def _set(error: str, **fields: Any) -> Breaker:
    """A breaker that sets plain fields and expects ``error``."""

    def breaker(message: Any) -> SearchStrategy[tuple[Any, str]]:
        broken = _copy(message)
        for name, value in fields.items():
            setattr(broken, name, value)
        return st.just((broken, error))

    return breaker


def _with_field(name: str, value: SearchStrategy[Any], error: str) -> Breaker:
    """A breaker that sets ``name`` to a drawn value (a message field is replaced, a repeated
    field gets the value appended) and expects ``error``."""

    def breaker(message: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(v: Any) -> tuple[Any, str]:
            broken = _copy(message)
            field = broken.DESCRIPTOR.fields_by_name[name]
            if _is_repeated(field):  # protobuf 7 has no FieldDescriptor.label
                getattr(broken, name).append(v)
            elif isinstance(v, Message):
                getattr(broken, name).CopyFrom(v)
            else:
                setattr(broken, name, v)
            return broken, error

        return value.map(apply)

    return breaker


def _clear(name: str, error: str) -> Breaker:
    def breaker(message: Any) -> SearchStrategy[tuple[Any, str]]:
        broken = _copy(message)
        broken.ClearField(name)
        return st.just((broken, error))

    return breaker


def _negative() -> SearchStrategy[int]:
    return st.integers(-(2**31), -1)


def _not_urls() -> SearchStrategy[str]:
    """Non-empty root filesystems Go's ``url.Parse`` gives no scheme (or refuses)."""
    return st.one_of(
        st.text("abcdefghij0123456789/", min_size=1, max_size=12).map(
            lambda s: s.lstrip("/") or "x"
        ),
        st.sampled_from(["cflinuxfs4", "/var/rootfs", "1docker:///x", "docker://%zz/x", ":x"]),
    )


def _guid_breaking() -> SearchStrategy[str]:
    """Strings that do not match ``^[a-zA-Z0-9_-]+$``."""
    bad = st.text(min_size=1, max_size=3).filter(lambda s: any(c not in GUID_ALPHABET for c in s))
    return st.one_of(st.just(""), st.tuples(names(), bad).map("".join))


def _lrp_rules() -> dict[str, Breaker]:
    """``DesiredLRP.Validate()``'s rules (protocol §5.1), each as a breaker of a valid LRP."""

    def action_in(slot: str) -> Breaker:
        def breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
            def apply(pair: tuple[models.Action, str]) -> tuple[Any, str]:
                broken = _copy(lrp)
                getattr(broken, slot).CopyFrom(pair[0])
                return broken, f"{_field(slot)}, {pair[1]}"

            return broken_actions().map(apply)

        return breaker

    def metric_tags_breaker(kind: str) -> Breaker:
        def breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
            broken = _copy(lrp)
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
            broken = _copy(lrp)
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
            broken = _copy(lrp)
            broken.image_layers.append(layer)
            broken.legacy_download_user = ""
            return broken, _field("legacy_download_user")

        return image_layers([models.ImageLayer.EXCLUSIVE]).map(apply)

    def credentials(missing: str) -> Breaker:
        def breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
            broken = _copy(lrp)
            broken.image_username, broken.image_password = (
                ("", "secret") if missing == "username" else ("user", "")
            )
            return st.just((broken, _field(f"image_{missing}")))

        return breaker

    def sidecar_breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[models.Sidecar, str]) -> tuple[Any, str]:
            broken = _copy(lrp)
            broken.sidecars.append(pair[0])
            return broken, f"{_field('sidecars')}, {pair[1]}"

        ok = models.Action(run_action=_RUN)
        return st.sampled_from(
            [
                (models.Sidecar(), "invalid action type"),
                (models.Sidecar(action=ok, memory_mb=-1), _field("memory_mb")),
                (models.Sidecar(action=ok, disk_mb=-1), _field("disk_mb")),
            ]
        ).map(apply)

    def volume_mount(mount: models.VolumeMount, error: str) -> Breaker:
        return _with_field("volume_mounts", st.just(mount), error)

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
            broken = _copy(lrp)
            broken.egress_rules.append(pair[0])
            return broken, f"{_field('egress_rules')}, {pair[1]}"

        return egress.map(apply)

    def cached_breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[models.CachedDependency, str]) -> tuple[Any, str]:
            broken = _copy(lrp)
            broken.cached_dependencies.append(pair[0])
            return broken, f"{_field('cached_dependency')}, {pair[1]}"

        return _broken_cached_dependencies().map(apply)

    def layer_breaker(lrp: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[models.ImageLayer, str]) -> tuple[Any, str]:
            broken = _copy(lrp)
            broken.image_layers.append(pair[0])
            return broken, f"{_field('image_layer')}, {pair[1]}"

        return _broken_image_layers().map(apply)

    def twice(name: str) -> str:
        return f"{_field(name)}, {_field(name)}"

    return {
        "volume_mounted_files_too_large": _with_field(
            "volume_mounted_files", too_big_file, twice("volumeMountedFiles")
        ),
        "domain_empty": _set(twice("domain"), domain=""),
        "root_fs_empty": _set(twice("rootfs"), root_fs=""),
        "root_fs_not_a_url": _with_field("root_fs", _not_urls(), _field("rootfs")),
        "instances_negative": _with_field("instances", _negative(), _field("instances")),
        "memory_mb_negative": _with_field("memory_mb", _negative(), _field("memory_mb")),
        "disk_mb_negative": _with_field("disk_mb", _negative(), _field("disk_mb")),
        "log_rate_limit_below_minus_one": _with_field(
            "log_rate_limit",
            st.integers(-(2**63), -2).map(lambda b: models.LogRateLimit(bytes_per_second=b)),
            f"{_field('log_rate_limit_bytes_per_second')}, {_field('log_rate_limit')}",
        ),
        "annotation_too_long": _with_field(
            "annotation", st.just("a" * 10241), _field("annotation")
        ),
        "max_pids_negative": _with_field("max_pids", _negative(), _field("max_pids")),
        "routes_too_long": _with_field("routes", too_long_route, _field("routes")),
        "metric_tags_missing": metric_tags_breaker("empty"),
        "metric_tag_value_invalid": metric_tags_breaker("value"),
        "metric_tags_source_id_mismatch": metric_tags_breaker("source_id"),
        "process_guid_pattern": _with_field(
            "process_guid", _guid_breaking(), _field("process_guid")
        ),
        "setup_invalid": action_in("setup"),
        "action_missing": _clear("action", "invalid action type"),
        "action_invalid": action_in("action"),
        "monitor_invalid": action_in("monitor"),
        "environment_variable_name_blank": _with_field(
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


def _broken_cached_dependencies() -> SearchStrategy[tuple[models.CachedDependency, str]]:
    return st.sampled_from(
        [
            (models.CachedDependency(to="/deps/x"), _field("from")),
            (models.CachedDependency(**{"from": "http://b/x"}), _field("to")),
            (
                models.CachedDependency(
                    **{"from": "http://b/x"}, to="/deps/x", checksum_value="ab"
                ),
                _field("checksum algorithm"),
            ),
            (
                models.CachedDependency(
                    **{"from": "http://b/x"}, to="/deps/x", checksum_algorithm="md5"
                ),
                _field("checksum value"),
            ),
        ]
    )


def _broken_image_layers() -> SearchStrategy[tuple[models.ImageLayer, str]]:
    shared: dict[str, Any] = {
        "layer_type": models.ImageLayer.SHARED,
        "media_type": models.ImageLayer.TGZ,
    }
    return st.sampled_from(
        [
            (models.ImageLayer(destination_path="/l", **shared), _field("url")),
            (models.ImageLayer(url="https://l/x", **shared), _field("destination_path")),
            (
                models.ImageLayer(
                    url="https://l/x", destination_path="/l", media_type=models.ImageLayer.TGZ
                ),
                _field("layer_type"),
            ),
            (
                models.ImageLayer(
                    url="https://l/x", destination_path="/l", layer_type=models.ImageLayer.SHARED
                ),
                _field("media_type"),
            ),
            (
                models.ImageLayer(
                    url="https://l/x", destination_path="/l", digest_value="ab", **shared
                ),
                f"{_field('digest_algorithm')}, {_field('digest_algorithm')}",
            ),
        ]
    )


def _task_definition_rules() -> dict[str, Breaker]:
    """``TaskDefinition.Validate()``'s rules (protocol §6.2)."""

    def action_invalid(definition: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[models.Action, str]) -> tuple[Any, str]:
            broken = _copy(definition)
            broken.action.CopyFrom(pair[0])
            return broken, f"{_field('action')}, {pair[1]}"

        return broken_actions().map(apply)

    def exclusive_without_user(definition: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(layer: models.ImageLayer) -> tuple[Any, str]:
            broken = _copy(definition)
            broken.image_layers.append(layer)
            broken.legacy_download_user = ""
            return broken, _field("legacy_download_user")

        return image_layers([models.ImageLayer.EXCLUSIVE]).map(apply)

    def prefixed(name: str, pairs: SearchStrategy[tuple[Any, str]], prefix: str | None) -> Breaker:
        def breaker(definition: Any) -> SearchStrategy[tuple[Any, str]]:
            def apply(pair: tuple[Any, str]) -> tuple[Any, str]:
                broken = _copy(definition)
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
        "root_fs_empty": _set(_field("rootfs"), root_fs=""),
        "root_fs_not_a_url": _with_field("root_fs", _not_urls(), _field("rootfs")),
        "action_missing": _clear("action", "invalid action type"),
        "action_invalid": action_invalid,
        "memory_mb_negative": _with_field("memory_mb", _negative(), _field("memory_mb")),
        "disk_mb_negative": _with_field("disk_mb", _negative(), _field("disk_mb")),
        "log_rate_limit_below_minus_one": _with_field(
            "log_rate_limit",
            st.integers(-(2**63), -2).map(lambda b: models.LogRateLimit(bytes_per_second=b)),
            _field("log_rate_limit"),
        ),
        "max_pids_negative": _with_field("max_pids", _negative(), _field("max_pids")),
        "annotation_too_long": _with_field(
            "annotation", st.just("a" * 10241), _field("annotation")
        ),
        "egress_rule_invalid": prefixed("egress_rules", egress, None),
        "image_password_without_username": _set(
            _field("image_username"), image_username="", image_password="secret"
        ),
        "image_username_without_password": _set(
            _field("image_password"), image_username="user", image_password=""
        ),
        "cached_dependency_invalid": prefixed(
            "cached_dependencies", _broken_cached_dependencies(), "cached_dependency"
        ),
        "image_layer_invalid": prefixed("image_layers", _broken_image_layers(), "image_layer"),
        "exclusive_layer_without_legacy_download_user": exclusive_without_user,
    }


def _in_definition(breaker: Breaker) -> Breaker:
    """A task-definition breaker applied to a DesireTaskRequest."""

    def on_request(request: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[Any, str]) -> tuple[Any, str]:
            broken = _copy(request)
            broken.task_definition.CopyFrom(pair[0])
            return broken, pair[1]

        return breaker(request.task_definition).map(apply)

    return on_request


_TASK_GUID_ROUTES = ("StartTask", "CompleteTask", "FailTask", "RejectTask")


def _task_rules() -> dict[str, tuple[str, Breaker]]:
    """(route, breaker) per task rule: DesireTaskRequest's and the other task requests'."""
    rules: dict[str, tuple[str, Breaker]] = {
        "task_guid_pattern": (
            "DesireTask",
            _with_field("task_guid", _guid_breaking(), _field("task_guid")),
        ),
        "domain_empty": ("DesireTask", _set(_field("domain"), domain="")),
        "task_definition_missing": (
            "DesireTask",
            _clear("task_definition", _field("task_definition")),
        ),
    }
    for name, breaker in _task_definition_rules().items():
        rules[f"task_definition_{name}"] = ("DesireTask", _in_definition(breaker))
    for route in _TASK_GUID_ROUTES:
        rules[f"{route}_task_guid_pattern"] = (
            route,
            _with_field("task_guid", _guid_breaking(), _field("task_guid")),
        )
    rules["StartTask_cell_id_empty"] = ("StartTask", _set(_field("cell_id"), cell_id=""))
    rules["CompleteTask_cell_id_empty"] = ("CompleteTask", _set(_field("cell_id"), cell_id=""))
    rules["FailTask_failure_reason_empty"] = (
        "FailTask",
        _set(_field("failure_reason"), failure_reason=""),
    )
    # upstream reports an empty rejection reason under the name failure_reason
    rules["RejectTask_rejection_reason_empty"] = (
        "RejectTask",
        _set(_field("failure_reason"), rejection_reason=""),
    )
    for route in ("CancelTask", "ResolvingTask", "DeleteTask", "TaskByGuid"):
        rules[f"{route}_task_guid_empty"] = (route, _set(_field("task_guid"), task_guid=""))
    return rules


DESIRED_LRP_RULES: tuple[str, ...] = ("desired_lrp_missing", *_lrp_rules())
"""The names of the desired LRP rules ``invalid_desired_lrp_requests`` breaks, one each."""
TASK_RULES: tuple[str, ...] = tuple(_task_rules())
"""The names of the task rules ``invalid_task_requests`` breaks, one each."""


def _chosen(rules: Iterable[str] | str | None, known: tuple[str, ...]) -> tuple[str, ...]:
    chosen = known if rules is None else (rules,) if isinstance(rules, str) else tuple(rules)
    unknown = sorted(set(chosen) - set(known))
    if unknown or not chosen:
        raise ValueError(f"unknown rules {unknown}; choose from {known}")
    return chosen


@shown_as_call
def invalid_desired_lrp_requests(
    rules: Iterable[str] | str | None = None, **narrowing: Any
) -> SearchStrategy[InvalidRequestCase]:
    """DesireLRPRequests for ``desire.r2`` that each break one rule of ``DESIRED_LRP_RULES``
    (default: any), with the InvalidRequest text the BBS answers. ``narrowing`` goes to
    ``desired_lrps`` for the valid LRP that is broken."""
    chosen = _chosen(rules, DESIRED_LRP_RULES)
    breakers = _lrp_rules()
    lrps = desired_lrps(**narrowing)  # built once for every rule

    def case(rule: str) -> SearchStrategy[InvalidRequestCase]:
        if rule == "desired_lrp_missing":
            return st.just(
                InvalidRequestCase(
                    rule, "DesireDesiredLRP", models.DesireLRPRequest(), _field("desired_lrp")
                )
            )
        return lrps.flatmap(breakers[rule]).map(
            lambda pair: InvalidRequestCase(
                rule, "DesireDesiredLRP", models.DesireLRPRequest(desired_lrp=pair[0]), pair[1]
            )
        )

    cases = {rule: case(rule) for rule in chosen}  # built once, not on every draw
    return st.sampled_from(chosen).flatmap(cases.__getitem__)


@shown_as_call
def invalid_task_requests(
    rules: Iterable[str] | str | None = None,
) -> SearchStrategy[InvalidRequestCase]:
    """Task requests that each break one rule of ``TASK_RULES`` (default: any), with the
    route to send them to and the InvalidRequest text the BBS answers."""
    chosen = _chosen(rules, TASK_RULES)
    table = _task_rules()

    desires = desire_task_requests()

    def case(rule: str) -> SearchStrategy[InvalidRequestCase]:
        route, breaker = table[rule]
        base = desires if route == "DesireTask" else requests(route)
        return base.flatmap(breaker).map(
            lambda pair: InvalidRequestCase(rule, route, pair[0], pair[1])
        )

    cases = {rule: case(rule) for rule in chosen}  # built once, not on every draw
    return st.sampled_from(chosen).flatmap(cases.__getitem__)


def _set_path(error: str, path: str, value: Any) -> Breaker:
    """A breaker that sets the dotted ``path`` (``actual_lrp_key.index``) to ``value``."""

    def breaker(message: Any) -> SearchStrategy[tuple[Any, str]]:
        broken = _copy(message)
        *parents, name = path.split(".")
        target = broken
        for parent in parents:
            target = getattr(target, parent)
        if isinstance(value, Message):
            getattr(target, name).CopyFrom(value)
        else:
            setattr(target, name, value)
        return st.just((broken, error))

    return breaker


def _update_rules() -> dict[str, tuple[str, Breaker]]:
    """``UpdateDesiredLRPRequest.Validate()`` and ``DesiredLRPUpdate.Validate()`` (§5.3)."""
    route = "UpdateDesireLRP"
    bad_tag = models.MetricTagValue(static="x", dynamic=models.MetricTagValue.INDEX)
    return {
        "update_process_guid_empty": (route, _set(_field("process_guid"), process_guid="")),
        "update_instances_negative": (
            route,
            _set_path(_field("instances"), "update.instances", -1),
        ),
        "update_annotation_too_long": (
            route,
            _set_path(_field("annotation"), "update.annotation", "a" * 10241),
        ),
        "update_routes_too_long": (
            route,
            _set_path(
                _field("routes"),
                "update.routes",
                models.ProtoRoutes(routes={"cf-router": b'"' + b"r" * (128 * 1024) + b'"'}),
            ),
        ),
        "update_metric_tag_value_invalid": (
            route,
            _with_update_tag(
                bad_tag, f"{_field('metric_tags')}, {_field('static')}, {_field('dynamic')}"
            ),
        ),
        "update_image_username_without_password": (route, _credentials_alone("image_username")),
        "update_image_password_without_username": (route, _credentials_alone("image_password")),
    }


def _with_update_tag(value: models.MetricTagValue, error: str) -> Breaker:
    def breaker(request: Any) -> SearchStrategy[tuple[Any, str]]:
        broken = _copy(request)
        broken.update.metric_tags["broken"].CopyFrom(value)
        return st.just((broken, error))

    return breaker


def _credentials_alone(sent: str) -> Breaker:
    """An update with one image credential and not the other: the missing one is reported."""
    missing = "image_password" if sent == "image_username" else "image_username"

    def breaker(request: Any) -> SearchStrategy[tuple[Any, str]]:
        broken = _copy(request)
        broken.update.ClearField(missing)
        setattr(broken.update, sent, "x")
        return st.just((broken, _field(missing)))

    return breaker


def _actual_lrp_rules() -> dict[str, tuple[str, Breaker]]:
    """The key, instance key and net info checks of the actual LRP lifecycle and evacuation
    requests, and the other LRP queries' required fields (protocol §2.1 to §2.5)."""
    key_missing = _clear("actual_lrp_key", _field("actual_lrp_key"))
    instance_missing = _clear("actual_lrp_instance_key", _field("actual_lrp_instance_key"))
    rules: dict[str, tuple[str, Breaker]] = {
        "UpsertDomain_domain_empty": ("UpsertDomain", _set(_field("domain"), domain="")),
        "ActualLRPsByProcessGuids_empty": (
            "ActualLRPsByProcessGuids",
            _clear("process_guids", "process_guids must not be empty"),
        ),
        "ActualLRPGroupsByProcessGuid_process_guid_empty": (
            "ActualLRPGroupsByProcessGuid",
            _set(_field("process_guid"), process_guid=""),
        ),
        "ActualLRPGroupsByProcessGuidAndIndex_index_negative": (
            "ActualLRPGroupsByProcessGuidAndIndex",
            _set(_field("index"), index=-1),
        ),
        "DesiredLRPByProcessGuid_process_guid_empty": (
            "DesiredLRPByProcessGuid",
            _set(_field("process_guid"), process_guid=""),
        ),
        "RemoveDesiredLRP_process_guid_empty": (
            "RemoveDesiredLRP",
            _set(_field("process_guid"), process_guid=""),
        ),
        "ClaimActualLRP_process_guid_empty": (
            "ClaimActualLRP",
            _set(_field("process_guid"), process_guid=""),
        ),
        "ClaimActualLRP_instance_key_missing": ("ClaimActualLRP", instance_missing),
        "ClaimActualLRP_cell_id_empty": (
            "ClaimActualLRP",
            _set_path(_field("cell_id"), "actual_lrp_instance_key.cell_id", ""),
        ),
        "ClaimActualLRP_instance_guid_empty": (
            "ClaimActualLRP",
            _set_path(_field("instance_guid"), "actual_lrp_instance_key.instance_guid", ""),
        ),
        "StartActualLRP_key_missing": ("StartActualLRP", key_missing),
        "StartActualLRP_index_negative": (
            "StartActualLRP",
            _set_path(_field("index"), "actual_lrp_key.index", -1),
        ),
        "StartActualLRP_domain_empty": (
            "StartActualLRP",
            _set_path(_field("domain"), "actual_lrp_key.domain", ""),
        ),
        "StartActualLRP_net_info_missing": (
            "StartActualLRP",
            _clear("actual_lrp_net_info", _field("actual_lrp_net_info")),
        ),
        "StartActualLRP_address_empty": (
            "StartActualLRP",
            _set_path(_field("address"), "actual_lrp_net_info.address", ""),
        ),
        "CrashActualLRP_instance_key_missing": ("CrashActualLRP", instance_missing),
        "FailActualLRP_error_message_empty": (
            "FailActualLRP",
            _set(_field("error_message"), error_message=""),
        ),
        "RemoveActualLRP_index_negative": ("RemoveActualLRP", _set(_field("index"), index=-1)),
        "RetireActualLRP_key_missing": ("RetireActualLRP", key_missing),
        "EvacuateClaimedActualLRP_key_missing": ("EvacuateClaimedActualLRP", key_missing),
        "EvacuateRunningActualLRP_net_info_missing": (
            "EvacuateRunningActualLRP",
            _clear("actual_lrp_net_info", _field("actual_lrp_net_info")),
        ),
        "EvacuateStoppedActualLRP_instance_key_missing": (
            "EvacuateStoppedActualLRP",
            instance_missing,
        ),
        "EvacuateCrashedActualLRP_error_message_empty": (
            "EvacuateCrashedActualLRP",
            _set(_field("error_message"), error_message=""),
        ),
        "RemoveEvacuatingActualLRP_instance_key_missing": (
            "RemoveEvacuatingActualLRP",
            instance_missing,
        ),
    }
    return {**_update_rules(), **rules}


LRP_REQUEST_RULES: tuple[str, ...] = tuple(_actual_lrp_rules())
"""The names of the other LRP request rules ``invalid_lrp_requests`` breaks: the desired LRP
update (§5.3), and the required fields of the LRP queries, lifecycle and evacuation routes."""


@shown_as_call
def invalid_lrp_requests(
    rules: Iterable[str] | str | None = None,
) -> SearchStrategy[InvalidRequestCase]:
    """LRP requests other than desire that each break one rule of ``LRP_REQUEST_RULES``
    (default: any), with the route to send them to and the InvalidRequest text."""
    chosen = _chosen(rules, LRP_REQUEST_RULES)
    table = _actual_lrp_rules()

    def case(rule: str) -> SearchStrategy[InvalidRequestCase]:
        route, breaker = table[rule]
        return (
            requests(route)
            .flatmap(breaker)
            .map(lambda pair: InvalidRequestCase(rule, route, pair[0], pair[1]))
        )

    cases = {rule: case(rule) for rule in chosen}  # built once, not on every draw
    return st.sampled_from(chosen).flatmap(cases.__getitem__)
