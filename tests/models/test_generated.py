"""The generated protobuf modules: fresh, wire-compatible, safe beside upstream's bindings."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any, cast

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from fakebbs import models

REPO = Path(__file__).resolve().parents[2]
INSTALL_GENERATOR = "pip install -e '.[generate]'"


def _pinned_generator_version() -> str:
    """proto/generate.py's pin of grpcio-tools, read from its source (it is not importable)."""
    found = re.search(
        r'^GRPCIO_TOOLS_VERSION = "([^"]+)"$',
        (REPO / "proto" / "generate.py").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    assert found is not None
    return found.group(1)


PINNED_GENERATOR = _pinned_generator_version()


def _installed_generator() -> str | None:
    try:
        return importlib.metadata.version("grpcio-tools")
    except importlib.metadata.PackageNotFoundError:
        return None


# The compiler is an optional extra (no wheels past Python 3.12, and it holds protobuf below 5),
# so the tests that run it skip where it is absent and say how to get it; CI installs it.
needs_pinned_generator = pytest.mark.skipif(
    _installed_generator() != PINNED_GENERATOR,
    reason=f"needs the pinned protobuf compiler grpcio-tools=={PINNED_GENERATOR}: "
    f"{INSTALL_GENERATOR}",
)
needs_protoc = pytest.mark.skipif(
    importlib.util.find_spec("grpc_tools") is None,
    reason=f"needs a protobuf compiler (grpc_tools): {INSTALL_GENERATOR}",
)


def _run(args: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run a child interpreter that imports ``fakebbs`` from this checkout, wherever ``cwd`` is."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


# --- freshness ----------------------------------------------------------------------------------


def test_the_generate_extra_pins_the_generators_compiler_and_test_does_not() -> None:
    """The `generate` extra installs exactly what proto/generate.py demands; `test` stays
    installable on every supported Python."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert extras["generate"] == [f"grpcio-tools=={PINNED_GENERATOR}"]
    assert not [spec for spec in extras["test"] if spec.startswith("grpcio")]


@needs_pinned_generator
def test_committed_modules_are_not_stale() -> None:
    result = _run([sys.executable, "proto/generate.py", "--check"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_init_reexports_every_top_level_type() -> None:
    exported = set(models.__all__)
    assert len(exported) == len(models.__all__), "duplicate names in __all__"
    for module in (REPO / "fakebbs" / "models").glob("*_pb2.py"):
        descriptor = getattr(models, module.stem).DESCRIPTOR
        top = set(descriptor.message_types_by_name) | set(descriptor.enum_types_by_name)
        assert top <= exported, f"{module.name}: {sorted(top - exported)} not re-exported"
    for name in exported:
        assert getattr(models, name).DESCRIPTOR.full_name == f"fakebbs.models.{name}"


def test_every_route_message_exists() -> None:
    from fakebbs.routes import ROUTES

    named = {n for r in ROUTES for n in (r.request, r.response) if n is not None}
    assert sorted(n for n in named if n not in models.__all__) == []


# --- coexistence with a downstream project's bindings of the upstream files ---------------------

# A stand-in for a project that compiled upstream's models/*.proto itself: upstream's proto
# package ("models") and file names, a few of the same message names and numbers.
_STANDIN = {
    "modification_tag.proto": """
        syntax = "proto3";
        package models;
        message ModificationTag {
          string epoch = 1;
          uint32 index = 2;
        }
    """,
    "actual_lrp.proto": """
        syntax = "proto3";
        package models;
        import "modification_tag.proto";
        message ActualLRPKey {
          string process_guid = 1;
          int32 index = 2;
          string domain = 3;
        }
        message ActualLRPInstanceKey {
          string instance_guid = 1;
          string cell_id = 2;
        }
        message ActualLRP {
          enum Presence {
            ORDINARY = 0;
            EVACUATING = 1;
            SUSPECT = 2;
          }
          ActualLRPKey actual_lrp_key = 1;
          ActualLRPInstanceKey actual_lrp_instance_key = 2;
          int32 crash_count = 4;
          string state = 6;
          int64 since = 8;
          ModificationTag modification_tag = 9;
          Presence presence = 10;
          map<string, string> metric_tags = 12;
          oneof optional_routable {
            bool routable = 13;
          }
        }
    """,
    "desired_lrp.proto": """
        syntax = "proto3";
        package models;
        import "modification_tag.proto";
        message ProtoRoutes {
          map<string, bytes> routes = 1;
        }
        message DesiredLRP {
          string process_guid = 1;
          string domain = 2;
          int32 instances = 4;
          repeated uint32 ports = 14 [packed = false];
          ProtoRoutes routes = 15;
          ModificationTag modification_tag = 21;
        }
    """,
}

_COEXIST_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])

import actual_lrp_pb2 as theirs_actual
import desired_lrp_pb2 as theirs_desired
from fakebbs import models as ours
from google.protobuf import descriptor_pool

pool = descriptor_pool.Default()
for name in ("ActualLRP", "DesiredLRP", "ModificationTag"):
    assert pool.FindMessageTypeByName("models." + name).full_name == "models." + name
    full_name = "fakebbs.models." + name
    assert pool.FindMessageTypeByName(full_name).full_name == full_name
assert pool.FindFileByName("actual_lrp.proto") is not None
assert pool.FindFileByName("fakebbs/models/actual_lrp.proto") is not None


def fill_actual(msg):
    msg.actual_lrp_key.process_guid = "pg"
    msg.actual_lrp_key.index = 0
    msg.actual_lrp_key.domain = "d"
    msg.actual_lrp_instance_key.instance_guid = "ig"
    msg.actual_lrp_instance_key.cell_id = "cell"
    msg.crash_count = 2
    msg.state = "RUNNING"
    msg.since = 1700000000000000000
    msg.modification_tag.epoch = "e"
    msg.modification_tag.index = 3
    msg.presence = 1
    msg.metric_tags["k"] = "v"
    msg.routable = False
    return msg


def fill_desired(msg):
    msg.process_guid = "pg"
    msg.domain = "d"
    msg.instances = 2
    msg.ports.extend([8080, 61001])
    msg.routes.routes["cf-router"] = b'[{"hostnames":["a.example"],"port":8080}]'
    msg.modification_tag.epoch = "e"
    return msg


for theirs, mine in (
    (fill_actual(theirs_actual.ActualLRP()), fill_actual(ours.ActualLRP())),
    (fill_desired(theirs_desired.DesiredLRP()), fill_desired(ours.DesiredLRP())),
):
    a = theirs.SerializeToString(deterministic=True)
    b = mine.SerializeToString(deterministic=True)
    assert a == b, (a, b)
    assert type(mine).FromString(a) == mine
    assert type(theirs).FromString(b) == theirs
    assert type(mine).DESCRIPTOR.full_name == "fakebbs." + type(theirs).DESCRIPTOR.full_name

print("coexist-ok")
"""


@needs_protoc
def test_coexists_with_downstream_bindings_of_upstream_files(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    for name, text in _STANDIN.items():
        (src / name).write_text(textwrap.dedent(text), encoding="utf-8")
    compiled = _run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{src}",
            f"--python_out={out}",
            *sorted(_STANDIN),
        ],
        cwd=tmp_path,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    assert (out / "actual_lrp_pb2.py").exists()

    # A fresh interpreter, so both sets of files land in one brand-new default descriptor pool.
    result = _run([sys.executable, "-W", "error", "-c", _COEXIST_SCRIPT, str(out)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "coexist-ok" in result.stdout


# --- ports are never packed ---------------------------------------------------------------------


def _tags(data: bytes) -> list[tuple[int, int]]:
    """(field number, wire type) of every top-level field in ``data``."""

    def varint(pos: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = data[pos]
            value |= (byte & 0x7F) << shift
            pos += 1
            if not byte & 0x80:
                return value, pos
            shift += 7

    tags, pos = [], 0
    while pos < len(data):
        key, pos = varint(pos)
        number, wire = key >> 3, key & 7
        tags.append((number, wire))
        if wire == 0:
            _, pos = varint(pos)
        elif wire == 2:
            length, pos = varint(pos)
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:  # pragma: no cover - groups never appear here
            raise AssertionError(f"unexpected wire type {wire}")
    return tags


@pytest.mark.parametrize(
    ("message", "number"),
    [(models.DesiredLRP, 14), (models.DesiredLRPRunInfo, 9), (models.SecurityGroupRule, 3)],
    ids=["DesiredLRP.ports", "DesiredLRPRunInfo.ports", "SecurityGroupRule.ports"],
)
def test_ports_are_encoded_unpacked(
    message: type[models.DesiredLRP | models.DesiredLRPRunInfo | models.SecurityGroupRule],
    number: int,
) -> None:
    ports = [0, 8080, 61001, 2**32 - 1]
    data = message(ports=ports).SerializeToString()
    assert _tags(data) == [(number, 0)] * len(ports)
    expected = b"".join(bytes([number << 3]) + _varint_bytes(p) for p in ports)
    assert data == expected

    # Decoders (ours and HEAD's) still accept the packed form.
    body = b"".join(_varint_bytes(p) for p in ports)
    packed = bytes([(number << 3) | 2]) + _varint_bytes(len(body)) + body
    assert list(message.FromString(packed).ports) == ports


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


# --- field numbers and types, as transcribed from protocol.md §9 --------------------------------

# message -> {field name: "number type"}. Types: scalar names, message/enum names relative to the
# package, "repeated T", "map<K,V>", and "oneof:<name>" for a single-field presence oneof.
SECTION_9 = {
    "ModificationTag": {"epoch": "1 string", "index": "2 uint32"},
    "Error": {"type": "1 Error.Type", "message": "2 string"},
    "ActualLRPKey": {"process_guid": "1 string", "index": "2 int32", "domain": "3 string"},
    "ActualLRPInstanceKey": {"instance_guid": "1 string", "cell_id": "2 string"},
    "PortMapping": {
        "container_port": "1 uint32",
        "host_port": "2 uint32",
        "container_tls_proxy_port": "3 uint32",
        "host_tls_proxy_port": "4 uint32",
    },
    "ActualLRPNetInfo": {
        "address": "1 string",
        "ports": "2 repeated PortMapping",
        "instance_address": "3 string",
        "preferred_address": "4 ActualLRPNetInfo.PreferredAddress",
        "instance_ipv6_address": "5 string",
    },
    "ActualLRPInternalRoute": {"hostname": "1 string"},
    "ActualLRP": {
        "actual_lrp_key": "1 ActualLRPKey",
        "actual_lrp_instance_key": "2 ActualLRPInstanceKey",
        "actual_lrp_net_info": "3 ActualLRPNetInfo",
        "crash_count": "4 int32",
        "crash_reason": "5 string",
        "state": "6 string",
        "placement_error": "7 string",
        "since": "8 int64",
        "modification_tag": "9 ModificationTag",
        "presence": "10 ActualLRP.Presence",
        "actual_lrp_internal_routes": "11 repeated ActualLRPInternalRoute",
        "metric_tags": "12 map<string,string>",
        "routable": "13 bool oneof:optional_routable",
        "availability_zone": "14 string",
    },
    "ActualLRPGroup": {"instance": "1 ActualLRP", "evacuating": "2 ActualLRP"},
    "ActualLRPInfo": {
        "actual_lrp_net_info": "3 ActualLRPNetInfo",
        "crash_count": "4 int32",
        "crash_reason": "5 string",
        "state": "6 string",
        "placement_error": "7 string",
        "since": "8 int64",
        "modification_tag": "9 ModificationTag",
        "presence": "10 ActualLRP.Presence",
        "Routable": "11 bool oneof:optional_routable",
        "availability_zone": "12 string",
    },
    "DesiredLRP": {
        "process_guid": "1 string",
        "domain": "2 string",
        "root_fs": "3 string",
        "instances": "4 int32",
        "environment_variables": "5 repeated EnvironmentVariable",
        "setup": "6 Action",
        "action": "7 Action",
        "deprecated_start_timeout_s": "8 uint32",
        "monitor": "9 Action",
        "disk_mb": "10 int32",
        "memory_mb": "11 int32",
        "cpu_weight": "12 uint32",
        "privileged": "13 bool",
        "ports": "14 repeated uint32",
        "routes": "15 ProtoRoutes",
        "log_source": "16 string",
        "log_guid": "17 string",
        "metrics_guid": "18 string",
        "annotation": "19 string",
        "egress_rules": "20 repeated SecurityGroupRule",
        "modification_tag": "21 ModificationTag",
        "cached_dependencies": "22 repeated CachedDependency",
        "legacy_download_user": "23 string",
        "trusted_system_certificates_path": "24 string",
        "volume_mounts": "25 repeated VolumeMount",
        "network": "26 Network",
        "start_timeout_ms": "27 int64",
        "PlacementTags": "28 repeated string",
        "max_pids": "29 int32",
        "certificate_properties": "30 CertificateProperties",
        "image_username": "31 string",
        "image_password": "32 string",
        "check_definition": "33 CheckDefinition",
        "image_layers": "34 repeated ImageLayer",
        "metric_tags": "35 map<string,MetricTagValue>",
        "sidecars": "36 repeated Sidecar",
        "log_rate_limit": "37 LogRateLimit",
        "volume_mounted_files": "38 repeated File",
        "update_strategy": "39 DesiredLRP.UpdateStrategy",
    },
    "DesiredLRPUpdate": {
        "instances": "1 int32 oneof:optional_instances",
        "routes": "2 ProtoRoutes",
        "annotation": "3 string oneof:optional_annotation",
        "metric_tags": "4 map<string,MetricTagValue>",
        "image_username": "5 string oneof:optional_image_username",
        "image_password": "6 string oneof:optional_image_password",
    },
    "ProtoRoutes": {"routes": "1 map<string,bytes>"},
    "TaskDefinition": {
        "root_fs": "1 string",
        "environment_variables": "2 repeated EnvironmentVariable",
        "action": "3 Action",
        "disk_mb": "4 int32",
        "memory_mb": "5 int32",
        "cpu_weight": "6 uint32",
        "privileged": "7 bool",
        "log_source": "8 string",
        "log_guid": "9 string",
        "metrics_guid": "10 string",
        "result_file": "11 string",
        "completion_callback_url": "12 string",
        "annotation": "13 string",
        "egress_rules": "14 repeated SecurityGroupRule",
        "cached_dependencies": "15 repeated CachedDependency",
        "legacy_download_user": "16 string",
        "trusted_system_certificates_path": "17 string",
        "volume_mounts": "18 repeated VolumeMount",
        "network": "19 Network",
        "placement_tags": "20 repeated string",
        "max_pids": "21 int32",
        "certificate_properties": "22 CertificateProperties",
        "image_username": "23 string",
        "image_password": "24 string",
        "image_layers": "25 repeated ImageLayer",
        "log_rate_limit": "26 LogRateLimit",
        "metric_tags": "27 map<string,MetricTagValue>",
        "volume_mounted_files": "28 repeated File",
    },
    "Task": {
        "task_definition": "1 TaskDefinition",
        "task_guid": "2 string",
        "domain": "3 string",
        "created_at": "4 int64",
        "updated_at": "5 int64",
        "first_completed_at": "6 int64",
        "state": "7 Task.State",
        "cell_id": "8 string",
        "result": "9 string",
        "failed": "10 bool",
        "failure_reason": "11 string",
        "rejection_count": "12 int32",
        "rejection_reason": "13 string",
    },
    # §9.3 events
    "DesiredLRPCreatedEvent": {"desired_lrp": "1 DesiredLRP", "trace_id": "2 string"},
    "DesiredLRPChangedEvent": {
        "before": "1 DesiredLRP",
        "after": "2 DesiredLRP",
        "trace_id": "3 string",
    },
    "DesiredLRPRemovedEvent": {"desired_lrp": "1 DesiredLRP", "trace_id": "2 string"},
    "ActualLRPCreatedEvent": {"actual_lrp_group": "1 ActualLRPGroup"},
    "ActualLRPChangedEvent": {"before": "1 ActualLRPGroup", "after": "2 ActualLRPGroup"},
    "ActualLRPRemovedEvent": {"actual_lrp_group": "1 ActualLRPGroup"},
    "ActualLRPCrashedEvent": {
        "actual_lrp_key": "1 ActualLRPKey",
        "actual_lrp_instance_key": "2 ActualLRPInstanceKey",
        "crash_count": "3 int32",
        "crash_reason": "4 string",
        "since": "5 int64",
    },
    "ActualLRPInstanceCreatedEvent": {"actual_lrp": "1 ActualLRP", "trace_id": "2 string"},
    "ActualLRPInstanceChangedEvent": {
        "actual_lrp_key": "1 ActualLRPKey",
        "actual_lrp_instance_key": "2 ActualLRPInstanceKey",
        "before": "3 ActualLRPInfo",
        "after": "4 ActualLRPInfo",
        "trace_id": "5 string",
    },
    "ActualLRPInstanceRemovedEvent": {"actual_lrp": "1 ActualLRP", "trace_id": "2 string"},
    "TaskCreatedEvent": {"task": "1 Task"},
    "TaskChangedEvent": {"before": "1 Task", "after": "2 Task"},
    "TaskRemovedEvent": {"task": "1 Task"},
    "EventsByCellId": {"cell_id": "1 string"},
    # A few requests whose presence semantics matter.
    "ActualLRPsRequest": {
        "domain": "1 string",
        "cell_id": "2 string",
        "process_guid": "3 string",
        "index": "4 int32 oneof:optional_index",
    },
    "StartActualLRPRequest": {
        "actual_lrp_key": "1 ActualLRPKey",
        "actual_lrp_instance_key": "2 ActualLRPInstanceKey",
        "actual_lrp_net_info": "3 ActualLRPNetInfo",
        "actual_lrp_internal_routes": "4 repeated ActualLRPInternalRoute",
        "metric_tags": "5 map<string,string>",
        "Routable": "6 bool oneof:optional_routable",
        "availability_zone": "7 string",
    },
    "ResourceLimits": {
        "nofile": "1 uint64 oneof:optional_nofile",
        "nproc": "2 uint64 oneof:optional_nproc",
    },
}

SECTION_9_ENUMS = {
    "ActualLRP.Presence": {"ORDINARY": 0, "EVACUATING": 1, "SUSPECT": 2},
    "ActualLRPNetInfo.PreferredAddress": {"UNKNOWN": 0, "INSTANCE": 1, "HOST": 2},
    "DesiredLRP.UpdateStrategy": {"ROLLING": 0, "RECREATE": 1},
    "Task.State": {"Invalid": 0, "Pending": 1, "Running": 2, "Completed": 3, "Resolving": 4},
    "MetricTagValue.DynamicValue": {"DynamicValueInvalid": 0, "INDEX": 1, "INSTANCE_GUID": 2},
    "Error.Type": {
        "UnknownError": 0,
        "InvalidRecord": 3,
        "InvalidRequest": 4,
        "InvalidResponse": 5,
        "InvalidProtobufMessage": 6,
        "InvalidJSON": 7,
        "FailedToOpenEnvelope": 8,
        "InvalidStateTransition": 9,
        "ResourceConflict": 11,
        "ResourceExists": 12,
        "ResourceNotFound": 13,
        "RouterError": 14,
        "ActualLRPCannotBeClaimed": 15,
        "ActualLRPCannotBeStarted": 16,
        "ActualLRPCannotBeCrashed": 17,
        "ActualLRPCannotBeFailed": 18,
        "ActualLRPCannotBeRemoved": 19,
        "ActualLRPCannotBeUnclaimed": 21,
        "RunningOnDifferentCell": 24,
        "GUIDGeneration": 26,
        "Deserialize": 27,
        "Deadlock": 28,
        "Unrecoverable": 29,
        "LockCollision": 30,
        "Timeout": 31,
    },
}

_SCALARS = {
    getattr(FieldDescriptor, f"TYPE_{name.upper()}"): name
    for name in ("string", "bytes", "bool", "int32", "int64", "uint32", "uint64")
}


def _type_name(field: FieldDescriptor) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        assert field.message_type is not None
        return field.message_type.full_name.removeprefix("fakebbs.models.")
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        return field.enum_type.full_name.removeprefix("fakebbs.models.")
    return _SCALARS[field.type]


def _is_repeated(field: FieldDescriptor) -> bool:
    # protobuf 7 dropped FieldDescriptor.label; its successor is_repeated is absent from 4.25.
    is_repeated = getattr(field, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    return bool(cast(Any, field).label == FieldDescriptor.LABEL_REPEATED)


def _describe(field: FieldDescriptor) -> str:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        key, value = message.fields_by_name["key"], message.fields_by_name["value"]
        kind = f"map<{_type_name(key)},{_type_name(value)}>"
    elif _is_repeated(field):
        kind = f"repeated {_type_name(field)}"
    else:
        kind = _type_name(field)
    if field.containing_oneof is not None:
        kind += f" oneof:{field.containing_oneof.name}"
    return f"{field.number} {kind}"


def _message(name: str) -> Descriptor:
    descriptor: Descriptor = getattr(models, name).DESCRIPTOR
    return descriptor


@pytest.mark.parametrize("name", sorted(SECTION_9))
def test_fields_match_protocol_section_9(name: str) -> None:
    actual = {f.name: _describe(f) for f in _message(name).fields}
    assert actual == SECTION_9[name]


@pytest.mark.parametrize("name", sorted(SECTION_9_ENUMS))
def test_enum_values_match_protocol_section_9(name: str) -> None:
    outer, inner = name.split(".")
    enum = _message(outer).enum_types_by_name[inner]
    assert {v.name: v.number for v in enum.values} == SECTION_9_ENUMS[name]


def test_presence_oneofs_track_explicit_zero_values() -> None:
    lrp = models.ActualLRP(routable=False)
    assert lrp.HasField("routable")
    assert lrp.SerializeToString() == bytes([13 << 3, 0])
    assert not models.ActualLRP().HasField("routable")
    assert models.ActualLRPsRequest(index=0).SerializeToString() == bytes([4 << 3, 0])
    update = models.DesiredLRPUpdate.FromString(bytes([1 << 3, 0]))
    assert update.WhichOneof("optional_instances") == "instances"


def test_legacy_shapes_read_2016_volume_mounts() -> None:
    mount = models.LegacyVolumeMount(
        driver="d",
        deprecated_volume_id="vol",
        container_dir="/data",
        deprecated_mode=cast(Any, models.LegacyBindMountMode.Value("LEGACY_BIND_MOUNT_MODE_RW")),
        deprecated_config=b'{"k":"v"}',
    )
    numbers = {f.name: f.number for f in models.LegacyVolumeMount.DESCRIPTOR.fields}
    assert numbers == {
        "driver": 1,
        "deprecated_volume_id": 2,
        "container_dir": 3,
        "deprecated_mode": 4,
        "deprecated_config": 5,
    }
    request = models.LegacyDesireLRPRequest()
    request.desired_lrp.volume_mounts.append(mount)
    data = request.SerializeToString()
    # The current schema ignores the retired numbers of the same bytes.
    current = models.DesireLRPRequest.FromString(data)
    assert current.desired_lrp.volume_mounts[0].driver == "d"
    assert current.desired_lrp.volume_mounts[0].container_dir == "/data"
    assert models.LegacyDesireLRPRequest.FromString(data) == request
    legacy_task = models.LegacyDesireTaskRequest()
    legacy_task.task_definition.volume_mounts.append(mount)
    task = models.DesireTaskRequest.FromString(legacy_task.SerializeToString())
    assert task.task_definition.volume_mounts[0].container_dir == "/data"
