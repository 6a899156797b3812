"""Request validation: upstream's ``Validate()`` texts, in upstream's order (protocol.md §2, §5.1,
§5.3, §6.2). Each case starts from a valid message and breaks one thing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from google.protobuf.message import Message

from fakebbs import models
from fakebbs._rules.validation import (
    go_url_has_scheme,
    validate,
    validate_action,
    validate_desired_lrp,
    validate_security_group_rule,
    validate_task_definition,
    validation_items,
)
from fakebbs.errors import InvalidRequest

M = models
F = "Invalid field: "


def run(path: str = "/bin/app", user: str = "vcap") -> models.Action:
    return M.Action(run_action=M.RunAction(path=path, user=user))


def valid_lrp() -> models.DesiredLRP:
    lrp = M.DesiredLRP(
        process_guid="pg-1",
        domain="cf-apps",
        root_fs="preloaded:cflinuxfs4",
        instances=1,
        action=run(),
    )
    lrp.metric_tags["source_id"].static = "app"
    return lrp


def valid_task_definition() -> models.TaskDefinition:
    return M.TaskDefinition(root_fs="preloaded:cflinuxfs4", action=run())


def download(**fields: str) -> models.DownloadAction:
    action = M.DownloadAction(to="/tmp", user="vcap")
    setattr(action, "from", "http://x/a.tgz")
    for name, value in fields.items():
        setattr(action, name, value)
    return action


def cached_dependency(**fields: str) -> models.CachedDependency:
    dep = M.CachedDependency(to="/tmp")
    setattr(dep, "from", "http://x/a.tgz")
    for name, value in fields.items():
        setattr(dep, name, value)
    return dep


def text(message: Message, *, require_metric_tags: bool = True) -> str:
    return ", ".join(validation_items(message, require_metric_tags=require_metric_tags))


# --------------------------------------------------------------------------------------------
# validate(): the error it raises


def test_validate_raises_invalid_request_with_the_joined_items() -> None:
    with pytest.raises(InvalidRequest) as raised:
        validate(M.StartTaskRequest())

    assert raised.value.type == 4
    assert raised.value.message == "Invalid field: task_guid, Invalid field: cell_id"


def test_validate_accepts_a_valid_request() -> None:
    validate(M.DesireLRPRequest(desired_lrp=valid_lrp()))


@pytest.mark.parametrize(
    "request_",
    [
        M.DesiredLRPsRequest(),
        M.ActualLRPsRequest(),
        M.ActualLRPGroupsRequest(),
        M.TasksRequest(),
        M.EventsByCellId(),
        M.PingResponse(),
    ],
    ids=lambda r: r.DESCRIPTOR.name,
)
def test_requests_without_a_failing_upstream_validate_always_pass(request_: Message) -> None:
    validate(request_)


# --------------------------------------------------------------------------------------------
# DesiredLRP.Validate (§5.1)


def test_the_protocol_example_of_an_empty_lrp_with_a_metric_tag() -> None:
    lrp = M.DesiredLRP()
    lrp.metric_tags["source_id"].static = "x"

    assert text(M.DesireLRPRequest(desired_lrp=lrp)) == (
        "Invalid field: domain, Invalid field: rootfs, Invalid field: rootfs, "
        "Invalid field: domain, Invalid field: process_guid, invalid action type"
    )


def test_desire_request_without_an_lrp() -> None:
    assert text(M.DesireLRPRequest()) == "Invalid field: desired_lrp"


def test_the_valid_lrp_is_valid() -> None:
    assert validate_desired_lrp(valid_lrp()) == []


def _set(name: str, value: object) -> Callable[[models.DesiredLRP], None]:
    def apply(lrp: models.DesiredLRP) -> None:
        setattr(lrp, name, value)

    return apply


def _files(total: int) -> Callable[[models.DesiredLRP], None]:
    def apply(lrp: models.DesiredLRP) -> None:
        lrp.volume_mounted_files.add(path="/a", content="x" * (total - 10))
        lrp.volume_mounted_files.add(path="/b", content="y" * 10)

    return apply


def _log_rate_limit(value: int) -> Callable[[models.DesiredLRP], None]:
    def apply(lrp: models.DesiredLRP) -> None:
        lrp.log_rate_limit.bytes_per_second = value

    return apply


def _routes(total: int) -> Callable[[models.DesiredLRP], None]:
    def apply(lrp: models.DesiredLRP) -> None:
        lrp.routes.routes["cf-router"] = b"[" + b" " * (total - 12) + b"]"
        lrp.routes.routes["tcp-router"] = b"[" + b" " * 8 + b"]"

    return apply


def _tags(**tags: models.MetricTagValue) -> Callable[[models.DesiredLRP], None]:
    def apply(lrp: models.DesiredLRP) -> None:
        lrp.ClearField("metric_tags")
        for key, value in tags.items():
            lrp.metric_tags[key].CopyFrom(value)

    return apply


def _then(*steps: Callable[[models.DesiredLRP], None]) -> Callable[[models.DesiredLRP], None]:
    def apply(lrp: models.DesiredLRP) -> None:
        for step in steps:
            step(lrp)

    return apply


def _message(name: str, value: Message) -> Callable[[models.DesiredLRP], None]:
    def apply(lrp: models.DesiredLRP) -> None:
        getattr(lrp, name).CopyFrom(value)

    return apply


def _append(name: str, *values: Message) -> Callable[[models.DesiredLRP], None]:
    def apply(lrp: models.DesiredLRP) -> None:
        getattr(lrp, name).extend(values)

    return apply


def _clear(name: str) -> Callable[[models.DesiredLRP], None]:
    def apply(lrp: models.DesiredLRP) -> None:
        lrp.ClearField(name)

    return apply


STATIC = M.MetricTagValue(static="app")
INDEX = M.MetricTagValue(dynamic=M.MetricTagValue.INDEX)
MIB = 1024 * 1024

LRP_CASES: list[tuple[str, Callable[[models.DesiredLRP], None], str]] = [
    # 1 (and again in the run info)
    ("files over 1 MiB", _files(MIB + 1), F + "volumeMountedFiles, " + F + "volumeMountedFiles"),
    ("files of exactly 1 MiB", _files(MIB), ""),
    # 2, 3, 4
    ("no domain", _set("domain", ""), F + "domain, " + F + "domain"),
    ("no rootfs", _set("root_fs", ""), F + "rootfs, " + F + "rootfs"),
    ("rootfs without scheme", _set("root_fs", "cflinuxfs4"), F + "rootfs"),
    ("rootfs docker url", _set("root_fs", "docker:///cloudfoundry/grace"), ""),
    ("rootfs unparsable url", _set("root_fs", "docker://host:port/x"), F + "rootfs"),
    # 5, 6, 7
    ("negative instances", _set("instances", -1), F + "instances"),
    ("negative memory", _set("memory_mb", -1), F + "memory_mb"),
    ("negative disk", _set("disk_mb", -1), F + "disk_mb"),
    # 8 (and again at the end of the run info)
    (
        "log rate limit below -1",
        _log_rate_limit(-2),
        F + "log_rate_limit_bytes_per_second, " + F + "log_rate_limit",
    ),
    ("log rate limit of -1", _log_rate_limit(-1), ""),
    # 9: bytes, not characters
    ("annotation over 10 KiB", _set("annotation", "a" * 10241), F + "annotation"),
    ("annotation of exactly 10 KiB", _set("annotation", "a" * 10240), ""),
    ("annotation over 10 KiB in bytes", _set("annotation", "é" * 5121), F + "annotation"),
    # 10
    ("negative max pids", _set("max_pids", -1), F + "max_pids"),
    # 11
    ("routes over 128 KiB", _routes(131073), F + "routes"),
    ("routes of exactly 128 KiB", _routes(131072), ""),
    # 12
    ("no metric tags", _tags(), F + "metric_tags"),
    ("dynamic metric tag", _tags(index=INDEX), ""),
    (
        "tag with static and dynamic",
        _tags(x=M.MetricTagValue(static="a", dynamic=M.MetricTagValue.INDEX)),
        F + "metric_tags, " + F + "static, " + F + "dynamic",
    ),
    (
        "tag with neither",
        _tags(x=M.MetricTagValue()),
        F + "metric_tags, " + F + "static, " + F + "dynamic",
    ),
    (
        "two bad tags",
        _tags(x=M.MetricTagValue(), y=M.MetricTagValue(dynamic=cast(Any, 7))),
        F + "metric_tags, " + F + "static, " + F + "dynamic, " + F + "static, " + F + "dynamic",
    ),
    (
        "metrics guid without source_id",
        _then(_tags(other=STATIC), _set("metrics_guid", "app")),
        F + "metric_tags, " + F + "source_id should match metrics_guid",
    ),
    (
        "metrics guid not matching source_id",
        _then(_tags(source_id=STATIC), _set("metrics_guid", "other")),
        F + "metric_tags, " + F + "source_id should match metrics_guid",
    ),
    ("metrics guid matching source_id", _set("metrics_guid", "app"), ""),
    # 13: run info
    ("process guid with a space", _set("process_guid", "a b"), F + "process_guid"),
    ("process guid with a trailing newline", _set("process_guid", "ab\n"), F + "process_guid"),
    ("setup invalid", _message("setup", run(path="")), F + "setup, " + F + "path"),
    ("setup empty", _message("setup", M.Action()), F + "setup, " + F + "inner-action"),
    ("no action", _clear("action"), "invalid action type"),
    ("action invalid", _message("action", run("", "")), F + "action, " + F + "path, " + F + "user"),
    ("action empty", _message("action", M.Action()), F + "action, " + F + "inner-action"),
    ("monitor invalid", _message("monitor", run(user="")), F + "monitor, " + F + "user"),
    (
        "env var without name",
        _append("environment_variables", M.EnvironmentVariable(value="v")),
        "invalid field: name cannot be blank",
    ),
    (
        "egress rule invalid",
        _append("egress_rules", M.SecurityGroupRule(protocol="bogus")),
        F
        + "egress_rules, "
        + F
        + "protocol, "
        + F
        + "destinations [ Must have at least 1 destination ]",
    ),
    (
        "cached dependency invalid",
        _append("cached_dependencies", M.CachedDependency(checksum_value="abc")),
        F + "cached_dependency, " + F + "from, " + F + "to, " + F + "checksum algorithm",
    ),
    (
        "image layer invalid",
        _append("image_layers", M.ImageLayer()),
        F
        + "image_layer, "
        + F
        + "url, "
        + F
        + "destination_path, "
        + F
        + "layer_type, "
        + F
        + "media_type",
    ),
    (
        "exclusive layer without legacy download user",
        _append(
            "image_layers",
            M.ImageLayer(
                url="u",
                destination_path="/d",
                layer_type=M.ImageLayer.EXCLUSIVE,
                media_type=M.ImageLayer.TGZ,
                digest_algorithm=M.ImageLayer.SHA256,
                digest_value="abc",
            ),
        ),
        F + "legacy_download_user",
    ),
    (
        "sidecars invalid",
        _append("sidecars", M.Sidecar(memory_mb=-1), M.Sidecar(action=run(user=""), disk_mb=-1)),
        F
        + "sidecars, invalid action type, "
        + F
        + "memory_mb, "
        + F
        + "action, "
        + F
        + "user, "
        + F
        + "disk_mb",
    ),
    (
        "volume mount invalid",
        _append(
            "volume_mounts",
            M.VolumeMount(mode="ro", shared=M.SharedDevice(), dedicated=M.DedicatedDevice()),
        ),
        (
            "invalid volume_mount driver, invalid volume_mount mode, "
            "invalid volume_mount volume id, invalid volume_mount mounter id"
        ),
    ),
    (
        "volume mount valid",
        _append("volume_mounts", M.VolumeMount(driver="d", mode="rw")),
        "",
    ),
    ("password without username", _set("image_password", "p"), F + "image_username"),
    ("username without password", _set("image_username", "u"), F + "image_password"),
    (
        "check with both probes",
        _message(
            "check_definition",
            M.CheckDefinition(
                checks=[M.Check(tcp_check=M.TCPCheck(port=1), http_check=M.HTTPCheck(port=1))]
            ),
        ),
        F + "check_definition, " + F + "check",
    ),
    (
        "check with neither probe",
        _message("check_definition", M.CheckDefinition(checks=[M.Check()])),
        F + "check_definition, " + F + "port",
    ),
    (
        "checks with bad ports, readiness last",
        _message(
            "check_definition",
            M.CheckDefinition(
                readiness_checks=[M.Check(tcp_check=M.TCPCheck(port=65536))],
                checks=[
                    M.Check(http_check=M.HTTPCheck(port=0)),
                    M.Check(http_check=M.HTTPCheck(port=65535)),
                ],
            ),
        ),
        F + "check_definition, " + F + "port, " + F + "port",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [c[1:] for c in LRP_CASES], ids=[c[0] for c in LRP_CASES]
)
def test_desired_lrp_rule(mutate: Callable[[models.DesiredLRP], None], expected: str) -> None:
    lrp = valid_lrp()
    mutate(lrp)

    assert text(M.DesireLRPRequest(desired_lrp=lrp)) == expected


def test_the_items_follow_upstreams_order() -> None:
    lrp = M.DesiredLRP(
        process_guid="bad guid",
        root_fs="nope",
        instances=-1,
        memory_mb=-1,
        disk_mb=-1,
        annotation="a" * 10241,
        max_pids=-1,
        image_password="p",
        setup=M.Action(),
        monitor=run(path=""),
    )
    lrp.volume_mounted_files.add(content="x" * (MIB + 1))
    lrp.log_rate_limit.bytes_per_second = -5
    lrp.routes.routes["r"] = b"x" * 131073
    lrp.environment_variables.add()
    lrp.egress_rules.add(protocol="all", destinations=["1.2.3.4"], ports=[1])
    lrp.cached_dependencies.add()
    lrp.image_layers.add()
    lrp.sidecars.add()
    lrp.volume_mounts.add(driver="d")
    lrp.check_definition.checks.add()

    assert validate_desired_lrp(lrp) == [
        F + "volumeMountedFiles",
        F + "domain",
        F + "rootfs",
        F + "instances",
        F + "memory_mb",
        F + "disk_mb",
        F + "log_rate_limit_bytes_per_second",
        F + "annotation",
        F + "max_pids",
        F + "routes",
        F + "metric_tags",
        F + "domain",
        F + "process_guid",
        F + "volumeMountedFiles",
        F + "setup",
        F + "inner-action",
        "invalid action type",
        F + "monitor",
        F + "path",
        "invalid field: name cannot be blank",
        F + "egress_rules",
        F + "ports",
        F + "cached_dependency",
        F + "from",
        F + "to",
        F + "image_layer",
        F + "url",
        F + "destination_path",
        F + "layer_type",
        F + "media_type",
        F + "sidecars",
        "invalid action type",
        "invalid volume_mount mode",
        F + "image_username",
        F + "check_definition",
        F + "port",
        F + "log_rate_limit",
    ]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({}, ""),
        ({"x": M.MetricTagValue()}, F + "metric_tags, " + F + "static, " + F + "dynamic"),
    ],
    ids=["no tags", "bad tag"],
)
def test_without_required_metric_tags_only_the_presence_rule_is_relaxed(
    tags: dict[str, models.MetricTagValue], expected: str
) -> None:
    lrp = valid_lrp()
    _tags(**tags)(lrp)

    request = M.DesireLRPRequest(desired_lrp=lrp)

    assert text(request, require_metric_tags=False) == expected
    assert ", ".join(validate_desired_lrp(lrp, require_metric_tags=False)) == expected


# --------------------------------------------------------------------------------------------
# Actions


ACTION_CASES: list[tuple[str, models.Action, str]] = [
    ("empty action", M.Action(), F + "inner-action"),
    ("download ok", M.Action(download_action=download()), ""),
    (
        "download empty",
        M.Action(download_action=M.DownloadAction()),
        F + "from, " + F + "to, " + F + "user",
    ),
    (
        "download checksum value only",
        M.Action(download_action=download(checksum_value="abc")),
        F + "checksum algorithm",
    ),
    (
        "download checksum algorithm only",
        M.Action(download_action=download(checksum_algorithm="md5")),
        F + "checksum value",
    ),
    (
        "download unknown algorithm",
        M.Action(download_action=download(checksum_algorithm="crc32", checksum_value="abc")),
        F + "invalid algorithm",
    ),
    (
        "download algorithm in upper case",
        M.Action(download_action=download(checksum_algorithm="SHA256", checksum_value="abc")),
        "",
    ),
    (
        "upload empty",
        M.Action(upload_action=M.UploadAction()),
        F + "to, " + F + "from, " + F + "user",
    ),
    ("run empty", M.Action(run_action=M.RunAction()), F + "path, " + F + "user"),
    (
        "timeout empty",
        M.Action(timeout_action=M.TimeoutAction()),
        F + "action, " + F + "timeout_ms",
    ),
    (
        "timeout around a bad run",
        M.Action(timeout_action=M.TimeoutAction(action=run(user=""), timeout_ms=1)),
        F + "user",
    ),
    (
        "timeout with a negative timeout",
        M.Action(timeout_action=M.TimeoutAction(action=run(), timeout_ms=-1)),
        F + "timeout_ms",
    ),
    (
        "timeout with only the deprecated ns",
        M.Action(timeout_action=M.TimeoutAction(action=run(), deprecated_timeout_ns=10**9)),
        F + "timeout_ms",
    ),
    ("try empty", M.Action(try_action=M.TryAction()), F + "action"),
    ("emit progress empty", M.Action(emit_progress_action=M.EmitProgressAction()), F + "action"),
    ("try around a bad run", M.Action(try_action=M.TryAction(action=run(path=""))), F + "path"),
    ("parallel empty", M.Action(parallel_action=M.ParallelAction()), F + "actions"),
    ("serial empty", M.Action(serial_action=M.SerialAction()), F + "actions"),
    ("codependent empty", M.Action(codependent_action=M.CodependentAction()), F + "actions"),
    (
        "serial of bad children, flattened",
        M.Action(serial_action=M.SerialAction(actions=[run(path=""), run(), run(user="")])),
        F + "path, " + F + "user",
    ),
    (
        "parallel holding an empty action (upstream panics)",
        M.Action(parallel_action=M.ParallelAction(actions=[M.Action()])),
        F + "inner-action",
    ),
    (
        "timeout around an empty action (upstream panics)",
        M.Action(timeout_action=M.TimeoutAction(action=M.Action(), timeout_ms=1)),
        F + "inner-action",
    ),
    (
        "several fields: the first in field order is used",
        M.Action(run_action=M.RunAction(), serial_action=M.SerialAction()),
        F + "path, " + F + "user",
    ),
    (
        "several fields: a valid first one hides the others",
        M.Action(download_action=download(), run_action=M.RunAction()),
        "",
    ),
]


@pytest.mark.parametrize(
    ("action", "expected"), [c[1:] for c in ACTION_CASES], ids=[c[0] for c in ACTION_CASES]
)
def test_action_rule(action: models.Action, expected: str) -> None:
    assert ", ".join(validate_action(action)) == expected


def test_a_nested_empty_action_answers_invalid_request_instead_of_panicking() -> None:
    lrp = valid_lrp()
    lrp.action.CopyFrom(M.Action(try_action=M.TryAction(action=M.Action())))

    with pytest.raises(InvalidRequest) as raised:
        validate(M.DesireLRPRequest(desired_lrp=lrp))

    assert raised.value.message == "Invalid field: action, Invalid field: inner-action"


# --------------------------------------------------------------------------------------------
# Security group rules (models/security_groups.go)


def rule(
    protocol: str = "tcp", destinations: tuple[str, ...] = ("10.0.0.1",), **fields: Any
) -> models.SecurityGroupRule:
    return M.SecurityGroupRule(protocol=protocol, destinations=destinations, **fields)


RANGE = M.PortRange(start=80, end=90)
ICMP = M.ICMPInfo(type=8)

RULE_CASES: list[tuple[str, models.SecurityGroupRule, str]] = [
    ("tcp with ports", rule(ports=[80, 443]), ""),
    ("udp with a range", rule("udp", port_range=RANGE), ""),
    ("tcp without ports", rule(), "Missing required field: ports or port_range"),
    (
        "tcp with ports and a range",
        rule(ports=[80], port_range=RANGE, icmp_info=ICMP),
        "Invalid: ports and port_range provided, " + F + "icmp_info",
    ),
    ("tcp with a zero port", rule(ports=[0, 80, 0]), F + "ports, " + F + "ports"),
    (
        "tcp with an empty range",
        rule(port_range=M.PortRange()),
        F + "port_range, " + F + "port_range",
    ),
    ("tcp with a reversed range", rule(port_range=M.PortRange(start=9, end=1)), F + "port_range"),
    ("tcp with icmp info", rule(ports=[80], icmp_info=ICMP), F + "icmp_info"),
    ("icmp ok", rule("icmp", icmp_info=ICMP), ""),
    ("icmp with an all-zero icmp info", rule("icmp", icmp_info=M.ICMPInfo()), ""),
    ("icmp bare", rule("icmp"), F + "icmp_info"),
    (
        "icmp with ports and a range",
        rule("icmp", ports=[1], port_range=RANGE, icmp_info=ICMP),
        F + "port_range, " + F + "ports",
    ),
    ("icmpv6 bare", rule("icmpv6"), F + "icmpv6_info"),
    ("all ok", rule("all"), ""),
    (
        "all with everything",
        rule("all", ports=[1], port_range=RANGE, icmp_info=ICMP),
        F + "port_range, " + F + "ports, " + F + "icmp_info",
    ),
    ("protocol is case sensitive", rule("TCP", ports=[80]), F + "protocol"),
    (
        "no destinations",
        rule("all", destinations=()),
        F + "destinations [ Must have at least 1 destination ]",
    ),
]

DESTINATION_CASES: list[tuple[str, str]] = [
    ("10.0.0.1", ""),
    ("::1", ""),
    ("10.0.0.0/8", ""),
    ("0.0.0.0/0", ""),
    ("10.0.0.0/08", ""),
    ("2001:db8::/32", ""),
    ("::ffff:10.0.0.0/120", ""),
    ("10.0.0.1-10.0.0.255", ""),
    ("10.0.0.1-10.0.0.1", ""),
    ("10.0.0.1,10.0.0.2", ""),
    ("10.0.0.5-10.0.0.1", "Invalid IP"),
    ("10.0.5.9-10.0.3.1", "Invalid IP, Invalid IP"),
    ("10.0.5.0-10.0.3.1", "Invalid IP"),
    ("10.0.0.1,nope", "Invalid IP"),
    ("", "Invalid IP"),
    ("10.0.0.1,", "Invalid IP"),
    ("010.0.0.1", "Invalid IP"),
    ("fe80::1%eth0", "Invalid IP"),
    ("10.0.0.1-nope", "Invalid IP"),
    ("10.0.0.0/33", "invalid CIDR address: 10.0.0.0/33"),
    ("10.0.0.0/", "invalid CIDR address: 10.0.0.0/"),
    ("10.0.0.0/8-9", "invalid CIDR address: 10.0.0.0/8-9"),
    ("10.0.0.1-10.0.0.9/8", "Invalid IP"),
    ("::ffff:10.0.0.0/129", "invalid CIDR address: ::ffff:10.0.0.0/129"),
]


@pytest.mark.parametrize(
    ("rule_", "expected"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES]
)
def test_security_group_rule(rule_: models.SecurityGroupRule, expected: str) -> None:
    assert ", ".join(validate_security_group_rule(rule_)) == expected


@pytest.mark.parametrize(("destination", "expected"), DESTINATION_CASES)
def test_security_group_destination(destination: str, expected: str) -> None:
    items = validate_security_group_rule(rule("all", destinations=(destination,)))

    assert ", ".join(items) == (F + f"destinations [ {expected} ]" if expected else "")


def test_destination_items_of_several_entries_are_joined_in_order() -> None:
    items = validate_security_group_rule(rule("all", destinations=("x", "1.2.3.4/40")))

    assert items == [F + "destinations [ Invalid IP, invalid CIDR address: 1.2.3.4/40 ]"]


# --------------------------------------------------------------------------------------------
# Go's url.Parse + scheme (the rootfs rule)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("preloaded:cflinuxfs4", True),
        ("preloaded+layer:cflinuxfs4?layer=https://x/y.tgz", True),
        ("docker:///cloudfoundry/grace#latest", True),
        ("docker://docker.io/library/ubuntu:22.04", True),
        ("docker://user:pass@registry:5000/img", True),
        ("docker://[::1]:5000/img", True),
        ("a1+-.b:x", True),
        ("scheme:", True),
        ("", False),
        ("cflinuxfs4", False),
        ("/abs/path", False),
        (":nope", False),
        ("1abc:x", False),
        ("sch eme:x", False),
        ("docker://host:port/x", False),
        ("docker://ho st/x", False),
        ("docker:///bad%zzescape", False),
        ("docker:opaque%zz", True),
        ("docker:///x#frag%zz", False),
        ("docker:///x\n", False),
        ("docker://%41host/x", False),
        ("docker://[::1/x", False),
        ("docker://us er@host/x", False),
    ],
)
def test_go_url_has_scheme(raw: str, ok: bool) -> None:
    assert go_url_has_scheme(raw) is ok


# --------------------------------------------------------------------------------------------
# DesiredLRPUpdate / UpdateDesiredLRPRequest (§5.3)


def _update(**fields: Any) -> models.DesiredLRPUpdate:
    return M.DesiredLRPUpdate(**fields)


UPDATE_CASES: list[tuple[str, models.DesiredLRPUpdate, str]] = [
    ("empty update", _update(), ""),
    ("instances 0", _update(instances=0), ""),
    ("negative instances", _update(instances=-1), F + "instances"),
    ("annotation over 10 KiB", _update(annotation="a" * 10241), F + "annotation"),
    (
        "routes over 128 KiB",
        _update(routes=M.ProtoRoutes(routes={"a": b"x" * 131073})),
        F + "routes",
    ),
    (
        "bad metric tag",
        _update(metric_tags={"x": M.MetricTagValue()}),
        F + "metric_tags, " + F + "static, " + F + "dynamic",
    ),
    ("tags without source_id are fine", _update(metric_tags={"x": STATIC}), ""),
    ("username alone", _update(image_username=""), F + "image_password"),
    ("password alone", _update(image_password="p"), F + "image_username"),
    ("both credentials", _update(image_username="", image_password=""), ""),
    (
        "everything wrong, in order",
        _update(
            instances=-1,
            annotation="a" * 10241,
            routes=M.ProtoRoutes(routes={"a": b"x" * 131073}),
            metric_tags={"x": M.MetricTagValue(static="s", dynamic=M.MetricTagValue.INDEX)},
            image_password="p",
        ),
        F
        + "instances, "
        + F
        + "annotation, "
        + F
        + "routes, "
        + F
        + "metric_tags, "
        + F
        + "static, "
        + F
        + "dynamic, "
        + F
        + "image_username",
    ),
]


@pytest.mark.parametrize(
    ("update", "expected"), [c[1:] for c in UPDATE_CASES], ids=[c[0] for c in UPDATE_CASES]
)
def test_desired_lrp_update_rule(update: models.DesiredLRPUpdate, expected: str) -> None:
    request = M.UpdateDesiredLRPRequest(process_guid="pg", update=update)

    assert text(request) == expected


def test_update_request_needs_a_process_guid_but_not_an_update() -> None:
    assert text(M.UpdateDesiredLRPRequest()) == F + "process_guid"


def test_update_request_items_come_after_the_process_guid() -> None:
    request = M.UpdateDesiredLRPRequest(update=_update(instances=-1))

    assert text(request) == F + "process_guid, " + F + "instances"


# --------------------------------------------------------------------------------------------
# Tasks (§6.2)


def _td(**fields: object) -> Callable[[models.TaskDefinition], None]:
    def apply(definition: models.TaskDefinition) -> None:
        for name, value in fields.items():
            if isinstance(value, Message):
                getattr(definition, name).CopyFrom(value)
            elif isinstance(value, list):
                getattr(definition, name).extend(value)
            else:
                setattr(definition, name, value)

    return apply


def _td_clear(name: str) -> Callable[[models.TaskDefinition], None]:
    def apply(definition: models.TaskDefinition) -> None:
        definition.ClearField(name)

    return apply


TASK_DEFINITION_CASES: list[tuple[str, Callable[[models.TaskDefinition], None], str]] = [
    ("valid", _td(), ""),
    ("no rootfs: reported once", _td(root_fs=""), F + "rootfs"),
    ("rootfs without scheme", _td(root_fs="cflinuxfs4"), F + "rootfs"),
    ("no action", _td_clear("action"), "invalid action type"),
    ("action invalid", _td(action=run(path="")), F + "action, " + F + "path"),
    ("action empty", _td(action=M.Action()), F + "action, " + F + "inner-action"),
    ("negative memory", _td(memory_mb=-1), F + "memory_mb"),
    ("negative disk", _td(disk_mb=-1), F + "disk_mb"),
    (
        "log rate limit below -1",
        _td(log_rate_limit=M.LogRateLimit(bytes_per_second=-2)),
        F + "log_rate_limit",
    ),
    ("negative max pids", _td(max_pids=-1), F + "max_pids"),
    ("annotation over 10 KiB", _td(annotation="a" * 10241), F + "annotation"),
    (
        "egress rules: one item each, no inner text",
        _td(egress_rules=[M.SecurityGroupRule(), M.SecurityGroupRule(protocol="x")]),
        F + "egress_rules, " + F + "egress_rules",
    ),
    ("password without username", _td(image_password="p"), F + "image_username"),
    ("username without password", _td(image_username="u"), F + "image_password"),
    (
        "cached dependency invalid",
        _td(cached_dependencies=[cached_dependency(checksum_algorithm="md5")]),
        F + "cached_dependency, " + F + "checksum value",
    ),
    (
        "image layer with a digest but no algorithm",
        _td(
            image_layers=[
                M.ImageLayer(
                    url="u",
                    destination_path="/d",
                    layer_type=M.ImageLayer.SHARED,
                    media_type=M.ImageLayer.TAR,
                    digest_value="abc",
                )
            ]
        ),
        F + "image_layer, " + F + "digest_algorithm, " + F + "digest_algorithm",
    ),
    (
        "exclusive layer without digest or user",
        _td(
            image_layers=[
                M.ImageLayer(
                    url="u",
                    destination_path="/d",
                    layer_type=M.ImageLayer.EXCLUSIVE,
                    media_type=M.ImageLayer.ZIP,
                )
            ]
        ),
        F
        + "image_layer, "
        + F
        + "digest_algorithm, "
        + F
        + "digest_value, "
        + F
        + "legacy_download_user",
    ),
    (
        "layer with an algorithm but no digest",
        _td(
            image_layers=[
                M.ImageLayer(
                    url="u",
                    destination_path="/d",
                    layer_type=M.ImageLayer.SHARED,
                    media_type=M.ImageLayer.TGZ,
                    digest_algorithm=M.ImageLayer.SHA512,
                )
            ]
        ),
        F + "image_layer, " + F + "digest_value",
    ),
    (
        "layer with an unknown algorithm number",
        _td(
            image_layers=[
                M.ImageLayer(
                    url="u",
                    destination_path="/d",
                    layer_type=M.ImageLayer.SHARED,
                    media_type=M.ImageLayer.TGZ,
                    digest_algorithm=cast(Any, 9),
                    digest_value="abc",
                )
            ]
        ),
        F + "image_layer, " + F + "digest_algorithm",
    ),
    ("volume mounts are not validated", _td(volume_mounts=[M.VolumeMount()]), ""),
    ("env vars are not validated", _td(environment_variables=[M.EnvironmentVariable()]), ""),
    (
        "order",
        _td(
            root_fs="",
            action=M.Action(),
            memory_mb=-1,
            disk_mb=-1,
            max_pids=-1,
            log_rate_limit=M.LogRateLimit(bytes_per_second=-2),
            annotation="a" * 10241,
            egress_rules=[M.SecurityGroupRule()],
            image_password="p",
            cached_dependencies=[M.CachedDependency()],
            image_layers=[M.ImageLayer(url="u")],
        ),
        F
        + "rootfs, "
        + F
        + "action, "
        + F
        + "inner-action, "
        + F
        + "memory_mb, "
        + F
        + "disk_mb, "
        + F
        + "log_rate_limit, "
        + F
        + "max_pids, "
        + F
        + "annotation, "
        + F
        + "egress_rules, "
        + F
        + "image_username, "
        + F
        + "cached_dependency, "
        + F
        + "from, "
        + F
        + "to, "
        + F
        + "image_layer, "
        + F
        + "destination_path, "
        + F
        + "layer_type, "
        + F
        + "media_type",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [c[1:] for c in TASK_DEFINITION_CASES],
    ids=[c[0] for c in TASK_DEFINITION_CASES],
)
def test_task_definition_rule(
    mutate: Callable[[models.TaskDefinition], None], expected: str
) -> None:
    definition = valid_task_definition()
    mutate(definition)
    request = M.DesireTaskRequest(task_guid="t-1", domain="d", task_definition=definition)

    assert text(request) == expected
    assert ", ".join(validate_task_definition(definition)) == expected


# --------------------------------------------------------------------------------------------
# The other request messages (§2.1–2.6)

KEY = M.ActualLRPKey(process_guid="pg", index=0, domain="d")
IKEY = M.ActualLRPInstanceKey(instance_guid="ig", cell_id="c")
NET = M.ActualLRPNetInfo(address="10.0.0.1")
KEY_ITEMS = F + "process_guid, " + F + "domain"
IKEY_ITEMS = F + "cell_id, " + F + "instance_guid"
BAD_KEY = M.ActualLRPKey(index=-1)
BAD_KEY_ITEMS = F + "process_guid, " + F + "index, " + F + "domain"

REQUEST_CASES: list[tuple[Message, str]] = [
    # domains
    (M.UpsertDomainRequest(), F + "domain"),
    (M.UpsertDomainRequest(domain="d"), ""),
    # actual LRP queries
    (M.ActualLRPsByProcessGuidsRequest(), "process_guids must not be empty"),
    (M.ActualLRPsByProcessGuidsRequest(process_guids=[""]), ""),
    (M.ActualLRPGroupsByProcessGuidRequest(), F + "process_guid"),
    (M.ActualLRPGroupByProcessGuidAndIndexRequest(index=-1), F + "process_guid, " + F + "index"),
    (M.ActualLRPGroupByProcessGuidAndIndexRequest(process_guid="p", index=0), ""),
    # lifecycle
    (M.ClaimActualLRPRequest(), F + "process_guid, " + F + "actual_lrp_instance_key"),
    (
        M.ClaimActualLRPRequest(index=-7, actual_lrp_instance_key=M.ActualLRPInstanceKey()),
        F + "process_guid, " + IKEY_ITEMS,
    ),
    (M.ClaimActualLRPRequest(process_guid="p", index=-1, actual_lrp_instance_key=IKEY), ""),
    (
        M.StartActualLRPRequest(),
        F + "actual_lrp_key, " + F + "actual_lrp_instance_key, " + F + "actual_lrp_net_info",
    ),
    (
        M.StartActualLRPRequest(
            actual_lrp_key=BAD_KEY,
            actual_lrp_instance_key=M.ActualLRPInstanceKey(),
            actual_lrp_net_info=M.ActualLRPNetInfo(),
        ),
        BAD_KEY_ITEMS + ", " + IKEY_ITEMS + ", " + F + "address",
    ),
    (
        M.StartActualLRPRequest(
            actual_lrp_key=KEY, actual_lrp_instance_key=IKEY, actual_lrp_net_info=NET
        ),
        "",
    ),
    (M.CrashActualLRPRequest(), F + "actual_lrp_key, " + F + "actual_lrp_instance_key"),
    (M.CrashActualLRPRequest(actual_lrp_key=KEY, actual_lrp_instance_key=IKEY), ""),
    (M.FailActualLRPRequest(), F + "actual_lrp_key, " + F + "error_message"),
    (
        M.FailActualLRPRequest(actual_lrp_key=M.ActualLRPKey(), error_message="e"),
        KEY_ITEMS,
    ),
    (M.RemoveActualLRPRequest(index=-1), F + "process_guid, " + F + "index"),
    (M.RemoveActualLRPRequest(process_guid="p"), ""),
    (M.RetireActualLRPRequest(), F + "actual_lrp_key"),
    (M.RetireActualLRPRequest(actual_lrp_key=BAD_KEY), BAD_KEY_ITEMS),
    # evacuation
    (
        M.RemoveEvacuatingActualLRPRequest(),
        F + "actual_lrp_key, " + F + "actual_lrp_instance_key",
    ),
    (
        M.EvacuateClaimedActualLRPRequest(actual_lrp_key=KEY),
        F + "actual_lrp_instance_key",
    ),
    (
        M.EvacuateStoppedActualLRPRequest(actual_lrp_instance_key=M.ActualLRPInstanceKey()),
        F + "actual_lrp_key, " + IKEY_ITEMS,
    ),
    (
        M.EvacuateCrashedActualLRPRequest(actual_lrp_key=KEY, actual_lrp_instance_key=IKEY),
        F + "error_message",
    ),
    (
        M.EvacuateRunningActualLRPRequest(actual_lrp_key=KEY, actual_lrp_instance_key=IKEY),
        F + "actual_lrp_net_info",
    ),
    (
        M.EvacuateRunningActualLRPRequest(
            actual_lrp_key=KEY, actual_lrp_instance_key=IKEY, actual_lrp_net_info=NET
        ),
        "",
    ),
    # desired LRPs
    (M.DesiredLRPByProcessGuidRequest(), F + "process_guid"),
    (M.DesiredLRPByProcessGuidRequest(process_guid="not a pattern check"), ""),
    (M.RemoveDesiredLRPRequest(), F + "process_guid"),
    # tasks
    (
        M.DesireTaskRequest(),
        F + "task_guid, " + F + "domain, " + F + "task_definition",
    ),
    (
        M.DesireTaskRequest(task_guid="t", domain="d", task_definition=M.TaskDefinition()),
        F + "rootfs, invalid action type",
    ),
    (M.StartTaskRequest(task_guid="a b", cell_id="c"), F + "task_guid"),
    (M.CompleteTaskRequest(), F + "task_guid, " + F + "cell_id"),
    (M.CompleteTaskRequest(task_guid="t", cell_id="c", failed=True), ""),
    (M.FailTaskRequest(), F + "task_guid, " + F + "failure_reason"),
    (M.RejectTaskRequest(task_guid="t"), F + "failure_reason"),
    (M.RejectTaskRequest(task_guid="t", rejection_reason="r"), ""),
    (M.TaskGuidRequest(), F + "task_guid"),
    (M.TaskGuidRequest(task_guid="no pattern check"), ""),
    (M.TaskByGuidRequest(), F + "task_guid"),
    (M.TaskByGuidRequest(task_guid="no pattern check"), ""),
]


@pytest.mark.parametrize(
    ("request_", "expected"),
    REQUEST_CASES,
    ids=[f"{r.DESCRIPTOR.name}-{i}" for i, (r, _) in enumerate(REQUEST_CASES)],
)
def test_request_rule(request_: Message, expected: str) -> None:
    assert text(request_) == expected


def test_task_model_validate() -> None:
    task = M.Task(task_guid="a b")

    assert text(task) == F + "domain, " + F + "task_guid, " + F + "task_definition"
