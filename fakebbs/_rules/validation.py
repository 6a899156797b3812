"""Request validation: upstream's ``Validate()`` methods, with their exact texts and order.

Upstream collects failures in a ``ValidationError`` (``models/validator.go``): a flat list of
items, where appending another ``ValidationError`` splices its items in, and ``Error()`` joins
them with ", ". A nested model therefore reads "Invalid field: setup, <the setup's items>".
Every helper here returns such an item list (empty = valid); ``validate`` joins it and raises
``InvalidRequest``, which is what ``handlers.go: parseRequest`` answers with.

Where the Go server would panic instead of answering (an empty ``Action`` nested inside a
wrapper: ``UnwrapAction`` yields nil and ``.Validate()`` is called on it), the item for an
empty action, "Invalid field: inner-action", is reported in its place.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from google.protobuf.message import Message

from fakebbs import models
from fakebbs.errors import InvalidRequest

__all__ = [
    "ACTION_FIELDS",
    "first_action_field",
    "go_url_has_scheme",
    "validate",
    "validate_action",
    "validate_actual_lrp_instance_key",
    "validate_actual_lrp_key",
    "validate_actual_lrp_net_info",
    "validate_cached_dependencies",
    "validate_cached_dependency",
    "validate_cell_presence",
    "validate_check",
    "validate_check_definition",
    "validate_desired_lrp",
    "validate_desired_lrp_key",
    "validate_desired_lrp_update",
    "validate_environment_variable",
    "validate_image_layer",
    "validate_image_layers",
    "validate_metric_tag_value",
    "validate_metric_tags",
    "validate_security_group_rule",
    "validate_sidecar",
    "validate_sidecars",
    "validate_task",
    "validate_task_definition",
    "validate_volume_mount",
    "validation_items",
]

MAXIMUM_ANNOTATION_LENGTH = 10 * 1024
"""``models/models.go: maximumAnnotationLength`` (bytes)."""
MAXIMUM_ROUTE_LENGTH = 128 * 1024
"""``models/models.go: maximumRouteLength`` (total bytes of all route values)."""
VOLUME_MOUNTED_FILES_MAX_SIZE = 1 * 1024 * 1024
"""``models/desired_lrp.go: volumeMountedFilesMaxAllowedSize`` (total bytes of file contents)."""

ACTION_FIELDS: tuple[str, ...] = (
    "download_action",
    "upload_action",
    "run_action",
    "timeout_action",
    "emit_progress_action",
    "try_action",
    "parallel_action",
    "serial_action",
    "codependent_action",
)
"""The fields of ``Action`` in the order ``Action.GetValue()`` tries them (field-number order)."""

ERR_INVALID_ACTION_TYPE = "invalid action type"
"""``models/actions.go: ErrInvalidActionType``."""

_GUID_PATTERN = re.compile(r"[a-zA-Z0-9_-]+")
"""``processGuidPattern`` / ``taskGuidPattern``: ``^[a-zA-Z0-9_-]+$`` (Go's ``$``: end of text)."""

_CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha256")

_EXCLUSIVE = models.ImageLayer.EXCLUSIVE
_DIGEST_INVALID = models.ImageLayer.DigestAlgorithmInvalid
_VALID_LAYER_TYPES = (models.ImageLayer.SHARED, models.ImageLayer.EXCLUSIVE)
_VALID_MEDIA_TYPES = (models.ImageLayer.TGZ, models.ImageLayer.TAR, models.ImageLayer.ZIP)
_VALID_DIGEST_ALGORITHMS = (models.ImageLayer.SHA256, models.ImageLayer.SHA512)
_VALID_DYNAMIC_VALUES = (models.MetricTagValue.INDEX, models.MetricTagValue.INSTANCE_GUID)


def _field(name: str) -> str:
    """``ErrInvalidField{name}.Error()``."""
    return f"Invalid field: {name}"


def _utf8_len(text: str) -> int:
    """``len()`` of a Go string: its byte length."""
    return len(text.encode("utf-8", "surrogatepass"))


def _guid_ok(guid: str) -> bool:
    return _GUID_PATTERN.fullmatch(guid) is not None


# --------------------------------------------------------------------------------------------
# Entry points


def validate(request: Message, *, require_metric_tags: bool = True) -> None:
    """Raise ``InvalidRequest(<joined items>)`` when ``request.Validate()`` would fail upstream.

    Dispatches on the message's descriptor name; messages whose upstream ``Validate`` always
    passes (or that have none) pass. ``require_metric_tags=False`` relaxes only the
    "metric_tags must be present" rule, for the 2016-era desire routes.
    """
    items = validation_items(request, require_metric_tags=require_metric_tags)
    if items:
        raise InvalidRequest(", ".join(items))


def validation_items(request: Message, *, require_metric_tags: bool = True) -> list[str]:
    """The items ``validate`` would join: ``[]`` when ``request`` is valid."""
    name = request.DESCRIPTOR.name
    if name == "DesireLRPRequest":
        return _desire_lrp_request(request, require_metric_tags)
    if name == "DesiredLRP":
        lrp = cast(models.DesiredLRP, request)
        return validate_desired_lrp(lrp, require_metric_tags=require_metric_tags)
    validator = _VALIDATORS.get(name)
    return validator(request) if validator is not None else []


# --------------------------------------------------------------------------------------------
# Actions (models/actions.go)


def first_action_field(action: models.Action) -> str | None:
    """``Action.GetValue()``: the first set field in field-number order, or None if none is."""
    for name in ACTION_FIELDS:
        if action.HasField(name):
            return name
    return None


def validate_action(action: models.Action) -> list[str]:
    """``Action.Validate()``: the items of the first set inner action.

    An action with no field set gives "Invalid field: inner-action" (upstream's text at the
    top level; nested inside a wrapper upstream panics, and this text stands in for that).
    """
    kind = first_action_field(action)
    if kind is None:
        return [_field("inner-action")]
    return _INNER_ACTION_VALIDATORS[kind](getattr(action, kind))


def _checksum_items(algorithm: str, value: str) -> list[str]:
    """The checksum pairing rules shared by ``DownloadAction`` and ``CachedDependency``."""
    items: list[str] = []
    if value != "" and algorithm == "":
        items.append(_field("checksum algorithm"))
    if value == "" and algorithm != "":
        items.append(_field("checksum value"))
    if value != "" and algorithm != "" and algorithm.lower() not in _CHECKSUM_ALGORITHMS:
        items.append(_field("invalid algorithm"))
    return items


def _download_action(a: models.DownloadAction) -> list[str]:
    """``DownloadAction.Validate()``: from, to, user, then the checksum pairing."""
    items: list[str] = []
    if getattr(a, "from") == "":
        items.append(_field("from"))
    if a.to == "":
        items.append(_field("to"))
    if a.user == "":
        items.append(_field("user"))
    return items + _checksum_items(a.checksum_algorithm, a.checksum_value)


def _upload_action(a: models.UploadAction) -> list[str]:
    """``UploadAction.Validate()``: to, from, user (note: ``to`` first)."""
    items: list[str] = []
    if a.to == "":
        items.append(_field("to"))
    if getattr(a, "from") == "":
        items.append(_field("from"))
    if a.user == "":
        items.append(_field("user"))
    return items


def _run_action(a: models.RunAction) -> list[str]:
    """``RunAction.Validate()``: path and user."""
    items: list[str] = []
    if a.path == "":
        items.append(_field("path"))
    if a.user == "":
        items.append(_field("user"))
    return items


def _wrapped_inner(a: Any) -> list[str]:
    """The inner-action part of ``Timeout/Try/EmitProgressAction.Validate()``."""
    if not a.HasField("action"):
        return [_field("action")]
    return validate_action(a.action)


def _timeout_action(a: models.TimeoutAction) -> list[str]:
    """``TimeoutAction.Validate()``: inner action, then ``timeout_ms > 0``."""
    items = _wrapped_inner(a)
    if a.timeout_ms <= 0:
        items.append(_field("timeout_ms"))
    return items


def _multi_action(a: Any) -> list[str]:
    """``Parallel/Serial/CodependentAction.Validate()``: non-empty ``actions``, each valid.

    (Upstream's "action at index N" for a nil element cannot arise from the wire.)
    """
    if len(a.actions) == 0:
        return [_field("actions")]
    items: list[str] = []
    for sub in a.actions:
        items += validate_action(sub)
    return items


_INNER_ACTION_VALIDATORS: dict[str, Callable[[Any], list[str]]] = {
    "download_action": _download_action,
    "upload_action": _upload_action,
    "run_action": _run_action,
    "timeout_action": _timeout_action,
    "emit_progress_action": _wrapped_inner,
    "try_action": _wrapped_inner,
    "parallel_action": _multi_action,
    "serial_action": _multi_action,
    "codependent_action": _multi_action,
}


# --------------------------------------------------------------------------------------------
# Building blocks of DesiredLRP / TaskDefinition


def validate_cached_dependency(dep: models.CachedDependency) -> list[str]:
    """``CachedDependency.Validate()``: from, to, then the checksum pairing."""
    items: list[str] = []
    if getattr(dep, "from") == "":
        items.append(_field("from"))
    if dep.to == "":
        items.append(_field("to"))
    return items + _checksum_items(dep.checksum_algorithm, dep.checksum_value)


def validate_cached_dependencies(deps: Iterable[models.CachedDependency]) -> list[str]:
    """``validateCachedDependencies``: "Invalid field: cached_dependency, <items>" per bad one."""
    items: list[str] = []
    for dep in deps:
        inner = validate_cached_dependency(dep)
        if inner:
            items += [_field("cached_dependency"), *inner]
    return items


def validate_image_layer(layer: models.ImageLayer) -> list[str]:
    """``ImageLayer.Validate()``, including its doubled "digest_algorithm" for a digest with
    no algorithm."""
    items: list[str] = []
    if layer.url == "":
        items.append(_field("url"))
    if layer.destination_path == "":
        items.append(_field("destination_path"))
    if layer.layer_type not in _VALID_LAYER_TYPES:
        items.append(_field("layer_type"))
    if layer.media_type not in _VALID_MEDIA_TYPES:
        items.append(_field("media_type"))
    exclusive = layer.layer_type == _EXCLUSIVE
    if (layer.digest_value != "" or exclusive) and layer.digest_algorithm == _DIGEST_INVALID:
        items.append(_field("digest_algorithm"))
    if (layer.digest_algorithm != _DIGEST_INVALID or exclusive) and layer.digest_value == "":
        items.append(_field("digest_value"))
    if layer.digest_value != "" and layer.digest_algorithm not in _VALID_DIGEST_ALGORITHMS:
        items.append(_field("digest_algorithm"))
    return items


def validate_image_layers(
    layers: Iterable[models.ImageLayer], legacy_download_user: str
) -> list[str]:
    """``validateImageLayers``: per bad layer "Invalid field: image_layer, <items>"; then any
    EXCLUSIVE layer requires ``legacy_download_user``."""
    items: list[str] = []
    requires_user = False
    for layer in layers:
        inner = validate_image_layer(layer)
        if inner:
            items += [_field("image_layer"), *inner]
        if layer.layer_type == _EXCLUSIVE:
            requires_user = True
    if requires_user and legacy_download_user == "":
        items.append(_field("legacy_download_user"))
    return items


def validate_environment_variable(env: models.EnvironmentVariable) -> list[str]:
    """``EnvironmentVariable.Validate()`` (its text is lower-case "invalid field")."""
    return ["invalid field: name cannot be blank"] if env.name == "" else []


def validate_volume_mount(mount: models.VolumeMount) -> list[str]:
    """``VolumeMount.Validate()``: driver, mode "r"/"rw", and the id of a present device."""
    items: list[str] = []
    if mount.driver == "":
        items.append("invalid volume_mount driver")
    if mount.mode not in ("r", "rw"):
        items.append("invalid volume_mount mode")
    if mount.HasField("shared") and mount.shared.volume_id == "":
        items.append("invalid volume_mount volume id")
    if mount.HasField("dedicated") and mount.dedicated.mounter_id == "":
        items.append("invalid volume_mount mounter id")
    return items


def validate_check(check: models.Check) -> list[str]:
    """``Check.Validate()``: both checks set → "check"; else the port (an absent TCP check
    reads as port 0) must be 1..65535."""
    has_tcp, has_http = check.HasField("tcp_check"), check.HasField("http_check")
    if has_tcp and has_http:
        return [_field("check")]
    port = check.http_check.port if has_http else check.tcp_check.port
    if not 0 < port <= 65535:
        return [_field("port")]
    return []


def validate_check_definition(definition: models.CheckDefinition) -> list[str]:
    """``CheckDefinition.Validate()``: every check, then every readiness check."""
    items: list[str] = []
    for check in definition.checks:
        items += validate_check(check)
    for check in definition.readiness_checks:
        items += validate_check(check)
    return items


def validate_sidecar(sidecar: models.Sidecar) -> list[str]:
    """``Sidecar.Validate()``: action, memory_mb, disk_mb."""
    items: list[str] = []
    if not sidecar.HasField("action"):
        items.append(ERR_INVALID_ACTION_TYPE)
    else:
        inner = validate_action(sidecar.action)
        if inner:
            items += [_field("action"), *inner]
    if sidecar.memory_mb < 0:
        items.append(_field("memory_mb"))
    if sidecar.disk_mb < 0:
        items.append(_field("disk_mb"))
    return items


def validate_sidecars(sidecars: Iterable[models.Sidecar]) -> list[str]:
    """``validateSidecars``: the items of all sidecars, in order (no per-sidecar prefix)."""
    items: list[str] = []
    for sidecar in sidecars:
        items += validate_sidecar(sidecar)
    return items


def validate_metric_tag_value(value: models.MetricTagValue) -> list[str]:
    """``MetricTagValue.Validate()``: exactly one of a non-empty static or a valid dynamic."""
    dynamic_ok = value.dynamic in _VALID_DYNAMIC_VALUES
    if (value.static != "") == dynamic_ok:
        return [_field("static"), _field("dynamic")]
    return []


def validate_metric_tags(tags: Mapping[str, models.MetricTagValue], metrics_guid: str) -> list[str]:
    """``validateMetricTags``: each value, then (if any tags and a metrics_guid) the
    ``source_id`` tag must exist with ``static == metrics_guid``.

    Upstream walks a Go map (random order); every invalid value yields the same two items, so
    the order does not show.
    """
    items: list[str] = []
    for key in tags:
        items += validate_metric_tag_value(tags[key])
    if (
        len(tags) > 0
        and metrics_guid != ""
        and ("source_id" not in tags or tags["source_id"].static != metrics_guid)
    ):
        items.append(_field("source_id should match metrics_guid"))
    return items


def _routes_too_long(routes: models.ProtoRoutes) -> bool:
    """The total-length check of ``DesiredLRP.Validate`` / ``DesiredLRPUpdate.Validate``."""
    return sum(len(value) for value in routes.routes.values()) > MAXIMUM_ROUTE_LENGTH


def _files_too_large(files: Iterable[models.File]) -> bool:
    """``validateVolumeMountedFiles``: total content over 1 MiB."""
    return sum(_utf8_len(f.content) for f in files) > VOLUME_MOUNTED_FILES_MAX_SIZE


# --------------------------------------------------------------------------------------------
# Security group rules (models/security_groups.go)


def _go_parse_ip(text: str) -> bytes | None:
    """``net.ParseIP``: the 16-byte form of an IPv4 or IPv6 address, None if invalid.

    Zones ("fe80::1%eth0") are rejected like Go does; Python's parser, like Go's, refuses
    IPv4 octets with leading zeros.
    """
    if "%" in text:
        return None
    try:
        return ipaddress.IPv6Address(f"::ffff:{ipaddress.IPv4Address(text)}").packed
    except ValueError:
        pass
    try:
        return ipaddress.IPv6Address(text).packed
    except ValueError:
        return None


def _go_cidr_ok(text: str) -> bool:
    """``net.ParseCIDR`` succeeds: address (IPv4 → /0..32, else /0..128) and a decimal prefix."""
    address, _, prefix = text.partition("/")
    if "%" in address:
        return False
    bits: int
    try:
        ipaddress.IPv4Address(address)
        bits = 32
    except ValueError:
        try:
            ipaddress.IPv6Address(address)
            bits = 128
        except ValueError:
            return False
    if prefix == "" or not all("0" <= c <= "9" for c in prefix) or len(prefix) > 8:
        return False
    return int(prefix) <= bits


def _destination_items(destinations: Sequence[str]) -> list[str]:
    """``validateDestinations``: each comma-separated entry is an IP, a CIDR or an IP range.

    A range whose first address is greater contributes one "Invalid IP" per byte where it is
    greater, until a byte where it is smaller (upstream's loop ``continue``s after appending).
    """
    if len(destinations) == 0:
        return ["Must have at least 1 destination"]
    items: list[str] = []
    for entry in destinations:
        for d in entry.split(","):
            cut = min((i for i in (d.find("-"), d.find("/")) if i >= 0), default=-1)
            if cut == -1:
                if _go_parse_ip(d) is None:
                    items.append("Invalid IP")
            elif d[cut] == "/":
                if not _go_cidr_ok(d):
                    items.append(f"invalid CIDR address: {d}")
            else:
                first, second = _go_parse_ip(d[:cut]), _go_parse_ip(d[cut + 1 :])
                if first is None or second is None:
                    items.append("Invalid IP")
                    continue
                for a, b in zip(first, second, strict=False):
                    if a < b:
                        break
                    if a > b:
                        items.append("Invalid IP")
    return items


def _port_items(rule: models.SecurityGroupRule) -> list[str]:
    """``SecurityGroupRule.validatePorts`` (tcp/udp): exactly one of ports / port_range, sane."""
    has_range, has_ports = rule.HasField("port_range"), len(rule.ports) > 0
    if not has_range and not has_ports:
        return ["Missing required field: ports or port_range"]
    if has_range and has_ports:
        return ["Invalid: ports and port_range provided"]
    items: list[str] = []
    if has_range:
        start, end = rule.port_range.start, rule.port_range.end
        if start < 1:
            items.append(_field("port_range"))
        if end < 1:
            items.append(_field("port_range"))
        if start > end:
            items.append(_field("port_range"))
    for port in rule.ports:
        if port < 1:
            items.append(_field("ports"))
    return items


def validate_security_group_rule(rule: models.SecurityGroupRule) -> list[str]:
    """``SecurityGroupRule.Validate()``: protocol-specific port/ICMP rules, then destinations."""
    items: list[str] = []
    has_range, has_ports = rule.HasField("port_range"), len(rule.ports) > 0
    has_icmp = rule.HasField("icmp_info")
    protocol = rule.protocol
    if protocol in ("tcp", "udp"):
        items = _port_items(rule)
        if has_icmp:
            items.append(_field("icmp_info"))
    elif protocol in ("icmp", "icmpv6"):
        if has_range:
            items.append(_field("port_range"))
        if has_ports:
            items.append(_field("ports"))
        if not has_icmp:
            items.append(_field("icmp_info" if protocol == "icmp" else "icmpv6_info"))
    elif protocol == "all":
        if has_range:
            items.append(_field("port_range"))
        if has_ports:
            items.append(_field("ports"))
        if has_icmp:
            items.append(_field("icmp_info"))
    else:
        items.append(_field("protocol"))
    destination_items = _destination_items(rule.destinations)
    if destination_items:
        items.append(_field("destinations [ " + ", ".join(destination_items) + " ]"))
    return items


# --------------------------------------------------------------------------------------------
# Go's net/url.Parse, as far as "does it succeed and yield a scheme" goes


_HOST_OK = frozenset("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO_OK = frozenset("-._:~!$&'()*+,;=%@")
_HEX = frozenset("0123456789abcdefABCDEF")


def _is_alnum(c: str) -> bool:
    return "a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9"


def _host_char_needs_escape(c: str) -> bool:
    """``shouldEscape(c, encodeHost)`` for an ASCII character."""
    return not (_is_alnum(c) or c in _HOST_OK)


def _unescape_ok(text: str, mode: str) -> bool:
    """``url.unescape(text, mode)`` succeeds (mode: "path", "fragment", "user", "host", "zone")."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%":
            if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                return False
            if mode == "host" and int(text[i + 1], 16) < 8 and text[i : i + 3] != "%25":
                return False
            if mode == "zone":
                value = chr(int(text[i + 1 : i + 3], 16))
                if text[i : i + 3] != "%25" and value != " " and _host_char_needs_escape(value):
                    return False
            i += 3
            continue
        if mode in ("host", "zone") and ord(c) < 0x80 and _host_char_needs_escape(c):
            return False
        i += 1
    return True


def _valid_optional_port(port: str) -> bool:
    """``validOptionalPort``: empty, or ":" followed by digits."""
    return port == "" or (port[0] == ":" and all("0" <= c <= "9" for c in port[1:]))


def _host_ok(host: str) -> bool:
    """``parseHost`` succeeds."""
    if host.startswith("["):
        close = host.rfind("]")
        if close < 0 or not _valid_optional_port(host[close + 1 :]):
            return False
        zone = host[:close].find("%25")
        if zone >= 0:
            return (
                _unescape_ok(host[:zone], "host")
                and _unescape_ok(host[zone:close], "zone")
                and _unescape_ok(host[close:], "host")
            )
    else:
        colon = host.rfind(":")
        if colon != -1 and not _valid_optional_port(host[colon:]):
            return False
    return _unescape_ok(host, "host")


def _authority_ok(authority: str) -> bool:
    """``parseAuthority`` succeeds: host, then (if there is an "@") the userinfo."""
    at = authority.rfind("@")
    if not _host_ok(authority[at + 1 :] if at >= 0 else authority):
        return False
    if at < 0:
        return True
    userinfo = authority[:at]
    if not all(_is_alnum(c) or c in _USERINFO_OK for c in userinfo):
        return False
    return all(_unescape_ok(part, "user") for part in userinfo.split(":", 1))


def go_url_has_scheme(raw: str) -> bool:
    """``url.Parse(raw)`` succeeds and yields a non-empty scheme (the rootfs rule).

    Mirrors Go's ``net/url`` parse steps: control characters, ``getScheme``, the opaque
    (``scheme:rest``) short cut, authority and path/fragment percent-escapes.
    """
    rest_of_url, hash_sign, fragment = raw.partition("#")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in rest_of_url):
        return False
    colon = -1
    for i, c in enumerate(rest_of_url):
        if "a" <= c <= "z" or "A" <= c <= "Z":
            continue
        if ("0" <= c <= "9" or c in "+-.") and i > 0:
            continue
        if c == ":" and i > 0:
            colon = i
        break
    if colon <= 0:
        return False
    rest = rest_of_url[colon + 1 :]
    if rest.endswith("?") and rest.count("?") == 1:
        rest = rest[:-1]
    else:
        rest = rest.partition("?")[0]
    if rest.startswith("/"):
        if rest.startswith("//"):
            authority, slash, path = rest[2:].partition("/")
            if not _authority_ok(authority):
                return False
            rest = slash + path
        if not _unescape_ok(rest, "path"):
            return False
    return not hash_sign or fragment == "" or _unescape_ok(fragment, "fragment")


# --------------------------------------------------------------------------------------------
# DesiredLRP (models/desired_lrp.go)


def validate_desired_lrp_key(process_guid: str, domain: str) -> list[str]:
    """``DesiredLRPKey.Validate()``: domain, then the process_guid pattern."""
    items: list[str] = []
    if domain == "":
        items.append(_field("domain"))
    if not _guid_ok(process_guid):
        items.append(_field("process_guid"))
    return items


def _run_info_items(lrp: models.DesiredLRP) -> list[str]:
    """``DesiredLRPRunInfo.Validate()`` on the run info built from ``lrp``."""
    items = validate_desired_lrp_key(lrp.process_guid, lrp.domain)
    if _files_too_large(lrp.volume_mounted_files):
        items.append(_field("volumeMountedFiles"))
    if lrp.HasField("setup"):
        inner = validate_action(lrp.setup)
        if inner:
            items += [_field("setup"), *inner]
    if not lrp.HasField("action"):
        items.append(ERR_INVALID_ACTION_TYPE)
    else:
        inner = validate_action(lrp.action)
        if inner:
            items += [_field("action"), *inner]
    if lrp.HasField("monitor"):
        inner = validate_action(lrp.monitor)
        if inner:
            items += [_field("monitor"), *inner]
    for env in lrp.environment_variables:
        items += validate_environment_variable(env)
    for rule in lrp.egress_rules:
        inner = validate_security_group_rule(rule)
        if inner:
            items += [_field("egress_rules"), *inner]
    items += validate_cached_dependencies(lrp.cached_dependencies)
    items += validate_image_layers(lrp.image_layers, lrp.legacy_download_user)
    sidecar_items = validate_sidecars(lrp.sidecars)
    if sidecar_items:
        items += [_field("sidecars"), *sidecar_items]
    for mount in lrp.volume_mounts:
        items += validate_volume_mount(mount)
    if lrp.image_username == "" and lrp.image_password != "":
        items.append(_field("image_username"))
    if lrp.image_username != "" and lrp.image_password == "":
        items.append(_field("image_password"))
    if lrp.HasField("check_definition"):
        inner = validate_check_definition(lrp.check_definition)
        if inner:
            items += [_field("check_definition"), *inner]
    if lrp.HasField("log_rate_limit") and lrp.log_rate_limit.bytes_per_second < -1:
        items.append(_field("log_rate_limit"))
    return items


def validate_desired_lrp(lrp: models.DesiredLRP, *, require_metric_tags: bool = True) -> list[str]:
    """``DesiredLRP.Validate()`` (HEAD), in upstream's order; the run-info checks come last,
    which is why domain, rootfs and volumeMountedFiles can each be reported twice.

    ``require_metric_tags=False`` (2016-era desire routes) skips only the "no metric tags"
    item; tags that are sent are still checked.
    """
    items: list[str] = []
    if _files_too_large(lrp.volume_mounted_files):
        items.append(_field("volumeMountedFiles"))
    if lrp.domain == "":
        items.append(_field("domain"))
    if lrp.root_fs == "":
        items.append(_field("rootfs"))
    if not go_url_has_scheme(lrp.root_fs):
        items.append(_field("rootfs"))
    if lrp.instances < 0:
        items.append(_field("instances"))
    if lrp.memory_mb < 0:
        items.append(_field("memory_mb"))
    if lrp.disk_mb < 0:
        items.append(_field("disk_mb"))
    if lrp.HasField("log_rate_limit") and lrp.log_rate_limit.bytes_per_second < -1:
        items.append(_field("log_rate_limit_bytes_per_second"))
    if _utf8_len(lrp.annotation) > MAXIMUM_ANNOTATION_LENGTH:
        items.append(_field("annotation"))
    if lrp.max_pids < 0:
        items.append(_field("max_pids"))
    if lrp.HasField("routes") and _routes_too_long(lrp.routes):
        items.append(_field("routes"))
    if len(lrp.metric_tags) == 0:
        # An empty proto3 map decodes to a nil Go map: "no tags" and "empty tags" are one case.
        if require_metric_tags:
            items.append(_field("metric_tags"))
    else:
        inner = validate_metric_tags(lrp.metric_tags, lrp.metrics_guid)
        if inner:
            items += [_field("metric_tags"), *inner]
    return items + _run_info_items(lrp)


def validate_desired_lrp_update(update: models.DesiredLRPUpdate) -> list[str]:
    """``DesiredLRPUpdate.Validate()``: instances, annotation, routes, metric tags (without the
    source_id rule), and the image credentials, which must be sent together."""
    items: list[str] = []
    if update.instances < 0:
        items.append(_field("instances"))
    if _utf8_len(update.annotation) > MAXIMUM_ANNOTATION_LENGTH:
        items.append(_field("annotation"))
    if update.HasField("routes") and _routes_too_long(update.routes):
        items.append(_field("routes"))
    inner = validate_metric_tags(update.metric_tags, "")
    if inner:
        items += [_field("metric_tags"), *inner]
    has_username = update.HasField("image_username")
    has_password = update.HasField("image_password")
    if has_username and not has_password:
        items.append(_field("image_password"))
    if not has_username and has_password:
        items.append(_field("image_username"))
    return items


# --------------------------------------------------------------------------------------------
# Tasks (models/task.go, models/task_requests.go)


def validate_task_definition(definition: models.TaskDefinition) -> list[str]:
    """``TaskDefinition.Validate()``. Unlike LRPs: rootfs reported once, egress rules without
    inner text, and neither volume mounts nor env vars are checked."""
    items: list[str] = []
    if definition.root_fs == "" or not go_url_has_scheme(definition.root_fs):
        items.append(_field("rootfs"))
    if not definition.HasField("action"):
        items.append(ERR_INVALID_ACTION_TYPE)
    else:
        inner = validate_action(definition.action)
        if inner:
            items += [_field("action"), *inner]
    if definition.memory_mb < 0:
        items.append(_field("memory_mb"))
    if definition.disk_mb < 0:
        items.append(_field("disk_mb"))
    if definition.HasField("log_rate_limit") and definition.log_rate_limit.bytes_per_second < -1:
        items.append(_field("log_rate_limit"))
    if definition.max_pids < 0:
        items.append(_field("max_pids"))
    if _utf8_len(definition.annotation) > MAXIMUM_ANNOTATION_LENGTH:
        items.append(_field("annotation"))
    for rule in definition.egress_rules:
        if validate_security_group_rule(rule):
            items.append(_field("egress_rules"))
    if definition.image_username == "" and definition.image_password != "":
        items.append(_field("image_username"))
    if definition.image_username != "" and definition.image_password == "":
        items.append(_field("image_password"))
    items += validate_cached_dependencies(definition.cached_dependencies)
    items += validate_image_layers(definition.image_layers, definition.legacy_download_user)
    return items


def validate_task(task: models.Task) -> list[str]:
    """``Task.Validate()``: domain, task_guid pattern, task_definition."""
    items: list[str] = []
    if task.domain == "":
        items.append(_field("domain"))
    if not _guid_ok(task.task_guid):
        items.append(_field("task_guid"))
    if not task.HasField("task_definition"):
        items.append(_field("task_definition"))
    else:
        items += validate_task_definition(task.task_definition)
    return items


# --------------------------------------------------------------------------------------------
# Actual LRP keys (models/actual_lrp.go)


def validate_actual_lrp_key(key: models.ActualLRPKey) -> list[str]:
    """``ActualLRPKey.Validate()``: process_guid, index ≥ 0, domain."""
    items: list[str] = []
    if key.process_guid == "":
        items.append(_field("process_guid"))
    if key.index < 0:
        items.append(_field("index"))
    if key.domain == "":
        items.append(_field("domain"))
    return items


def validate_actual_lrp_instance_key(key: models.ActualLRPInstanceKey) -> list[str]:
    """``ActualLRPInstanceKey.Validate()``: cell_id, then instance_guid."""
    items: list[str] = []
    if key.cell_id == "":
        items.append(_field("cell_id"))
    if key.instance_guid == "":
        items.append(_field("instance_guid"))
    return items


def validate_actual_lrp_net_info(info: models.ActualLRPNetInfo) -> list[str]:
    """``ActualLRPNetInfo.Validate()``: address."""
    return [_field("address")] if info.address == "" else []


# --------------------------------------------------------------------------------------------
# Cells (models/cell_presence.go)


def validate_cell_presence(presence: models.CellPresence) -> list[str]:
    """``CellPresence.Validate()``: cell_id, rep_address, then the capacity (memory and
    containers above zero, disk not negative). Only a rep's presence is checked this way;
    no route takes one."""
    items = _nonempty(presence, "cell_id", "rep_address")
    capacity = presence.capacity
    if capacity.memory_mb <= 0:
        items.append(_field("memory_mb"))
    if capacity.disk_mb < 0:
        items.append(_field("disk_mb"))
    if capacity.containers <= 0:
        items.append(_field("containers"))
    return items


# --------------------------------------------------------------------------------------------
# Request messages


def _required(request: Any, name: str, check: Callable[[Any], list[str]]) -> list[str]:
    """Upstream's "Invalid field: <name>" if the submessage is absent, else its own items."""
    if not request.HasField(name):
        return [_field(name)]
    return check(getattr(request, name))


def _nonempty(request: Any, *names: str) -> list[str]:
    return [_field(name) for name in names if getattr(request, name) == ""]


def _lrp_key(request: Any) -> list[str]:
    return _required(request, "actual_lrp_key", validate_actual_lrp_key)


def _instance_key(request: Any) -> list[str]:
    return _required(request, "actual_lrp_instance_key", validate_actual_lrp_instance_key)


def _net_info(request: Any) -> list[str]:
    return _required(request, "actual_lrp_net_info", validate_actual_lrp_net_info)


def _process_guid_and_index(request: Any) -> list[str]:
    items = _nonempty(request, "process_guid")
    if request.index < 0:
        items.append(_field("index"))
    return items


def _desire_lrp_request(request: Any, require_metric_tags: bool) -> list[str]:
    """``DesireLRPRequest.Validate()``."""
    if not request.HasField("desired_lrp"):
        return [_field("desired_lrp")]
    return validate_desired_lrp(request.desired_lrp, require_metric_tags=require_metric_tags)


def _update_desired_lrp_request(request: Any) -> list[str]:
    """``UpdateDesiredLRPRequest.Validate()``: an absent ``update`` is not an error here."""
    items = _nonempty(request, "process_guid")
    if request.HasField("update"):
        items += validate_desired_lrp_update(request.update)
    return items


def _desire_task_request(request: Any) -> list[str]:
    """``DesireTaskRequest.Validate()``: task_guid pattern, domain, task_definition."""
    items = [] if _guid_ok(request.task_guid) else [_field("task_guid")]
    items += _nonempty(request, "domain")
    return items + _required(request, "task_definition", validate_task_definition)


def _task_guid_and(field: str, reported_as: str | None = None) -> Callable[[Any], list[str]]:
    """Start/Complete/Fail/RejectTaskRequest: task_guid pattern, then one non-empty field."""

    def check(request: Any) -> list[str]:
        items = [] if _guid_ok(request.task_guid) else [_field("task_guid")]
        if getattr(request, field) == "":
            items.append(_field(reported_as or field))
        return items

    return check


def _process_guids_nonempty(request: Any) -> list[str]:
    """``ActualLRPsByProcessGuidsRequest.Validate()`` (a bare ``models.Error`` text)."""
    return ["process_guids must not be empty"] if len(request.process_guids) == 0 else []


_VALIDATORS: dict[str, Callable[[Any], list[str]]] = {
    # desired LRPs
    "DesiredLRPByProcessGuidRequest": lambda r: _nonempty(r, "process_guid"),
    "UpdateDesiredLRPRequest": _update_desired_lrp_request,
    "RemoveDesiredLRPRequest": lambda r: _nonempty(r, "process_guid"),
    "DesiredLRPUpdate": validate_desired_lrp_update,
    # actual LRP queries
    "ActualLRPsByProcessGuidsRequest": _process_guids_nonempty,
    "ActualLRPGroupsByProcessGuidRequest": lambda r: _nonempty(r, "process_guid"),
    "ActualLRPGroupByProcessGuidAndIndexRequest": _process_guid_and_index,
    # actual LRP lifecycle
    "ClaimActualLRPRequest": lambda r: _nonempty(r, "process_guid") + _instance_key(r),
    "StartActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r) + _net_info(r),
    "CrashActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r),
    "FailActualLRPRequest": lambda r: _lrp_key(r) + _nonempty(r, "error_message"),
    "RemoveActualLRPRequest": _process_guid_and_index,
    "RetireActualLRPRequest": _lrp_key,
    # evacuation
    "RemoveEvacuatingActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r),
    "EvacuateClaimedActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r),
    "EvacuateCrashedActualLRPRequest": (
        lambda r: _lrp_key(r) + _instance_key(r) + _nonempty(r, "error_message")
    ),
    "EvacuateStoppedActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r),
    "EvacuateRunningActualLRPRequest": lambda r: _lrp_key(r) + _instance_key(r) + _net_info(r),
    # tasks
    "DesireTaskRequest": _desire_task_request,
    "StartTaskRequest": _task_guid_and("cell_id"),
    "CompleteTaskRequest": _task_guid_and("cell_id"),
    "FailTaskRequest": _task_guid_and("failure_reason"),
    "RejectTaskRequest": _task_guid_and("rejection_reason", reported_as="failure_reason"),
    "TaskGuidRequest": lambda r: _nonempty(r, "task_guid"),
    "TaskByGuidRequest": lambda r: _nonempty(r, "task_guid"),
    "Task": validate_task,
    "TaskDefinition": validate_task_definition,
    # domains
    "UpsertDomainRequest": lambda r: _nonempty(r, "domain"),
    # models that have a Validate of their own
    "Action": validate_action,
    "ActualLRPKey": validate_actual_lrp_key,
    "ActualLRPInstanceKey": validate_actual_lrp_instance_key,
    "ActualLRPNetInfo": validate_actual_lrp_net_info,
    "CellPresence": validate_cell_presence,
    "CachedDependency": validate_cached_dependency,
    "ImageLayer": validate_image_layer,
    "SecurityGroupRule": validate_security_group_rule,
    "VolumeMount": validate_volume_mount,
    "Check": validate_check,
    "CheckDefinition": validate_check_definition,
    "Sidecar": validate_sidecar,
    "EnvironmentVariable": validate_environment_variable,
    "MetricTagValue": validate_metric_tag_value,
}
"""Requests (and models) with a failing-capable upstream ``Validate``, by descriptor name.
DesiredLRPsRequest, ActualLRPsRequest, ActualLRPGroupsRequest, TasksRequest and
EventsByCellId always pass upstream and are deliberately absent."""
