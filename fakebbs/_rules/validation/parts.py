"""Building blocks of a DesiredLRP and a TaskDefinition: cached dependencies, image
layers, environment, volume mounts, checks, sidecars, metric tags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fakebbs import models
from fakebbs._rules.validation.actions import checksum_items, validate_action
from fakebbs._rules.validation.basics import (
    ERR_INVALID_ACTION_TYPE,
    MAXIMUM_ROUTE_LENGTH,
    VOLUME_MOUNTED_FILES_MAX_SIZE,
    invalid_field,
    utf8_len,
)

_EXCLUSIVE = models.ImageLayer.EXCLUSIVE
_DIGEST_INVALID = models.ImageLayer.DigestAlgorithmInvalid
_VALID_LAYER_TYPES = (models.ImageLayer.SHARED, models.ImageLayer.EXCLUSIVE)
_VALID_MEDIA_TYPES = (models.ImageLayer.TGZ, models.ImageLayer.TAR, models.ImageLayer.ZIP)
_VALID_DIGEST_ALGORITHMS = (models.ImageLayer.SHA256, models.ImageLayer.SHA512)
_VALID_DYNAMIC_VALUES = (models.MetricTagValue.INDEX, models.MetricTagValue.INSTANCE_GUID)


def validate_cached_dependency(dep: models.CachedDependency) -> list[str]:
    """``CachedDependency.Validate()``: from, to, then the checksum pairing."""
    items: list[str] = []
    if getattr(dep, "from") == "":
        items.append(invalid_field("from"))
    if dep.to == "":
        items.append(invalid_field("to"))
    return items + checksum_items(dep.checksum_algorithm, dep.checksum_value)


def validate_cached_dependencies(deps: Iterable[models.CachedDependency]) -> list[str]:
    """``validateCachedDependencies``: "Invalid field: cached_dependency, <items>" per bad one."""
    items: list[str] = []
    for dep in deps:
        inner = validate_cached_dependency(dep)
        if inner:
            items += [invalid_field("cached_dependency"), *inner]
    return items


def validate_image_layer(layer: models.ImageLayer) -> list[str]:
    """``ImageLayer.Validate()``, including its doubled "digest_algorithm" for a digest with
    no algorithm."""
    items: list[str] = []
    if layer.url == "":
        items.append(invalid_field("url"))
    if layer.destination_path == "":
        items.append(invalid_field("destination_path"))
    if layer.layer_type not in _VALID_LAYER_TYPES:
        items.append(invalid_field("layer_type"))
    if layer.media_type not in _VALID_MEDIA_TYPES:
        items.append(invalid_field("media_type"))
    exclusive = layer.layer_type == _EXCLUSIVE
    if (layer.digest_value != "" or exclusive) and layer.digest_algorithm == _DIGEST_INVALID:
        items.append(invalid_field("digest_algorithm"))
    if (layer.digest_algorithm != _DIGEST_INVALID or exclusive) and layer.digest_value == "":
        items.append(invalid_field("digest_value"))
    if layer.digest_value != "" and layer.digest_algorithm not in _VALID_DIGEST_ALGORITHMS:
        items.append(invalid_field("digest_algorithm"))
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
            items += [invalid_field("image_layer"), *inner]
        if layer.layer_type == _EXCLUSIVE:
            requires_user = True
    if requires_user and legacy_download_user == "":
        items.append(invalid_field("legacy_download_user"))
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
        return [invalid_field("check")]
    port = check.http_check.port if has_http else check.tcp_check.port
    if not 0 < port <= 65535:
        return [invalid_field("port")]
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
            items += [invalid_field("action"), *inner]
    if sidecar.memory_mb < 0:
        items.append(invalid_field("memory_mb"))
    if sidecar.disk_mb < 0:
        items.append(invalid_field("disk_mb"))
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
        return [invalid_field("static"), invalid_field("dynamic")]
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
        items.append(invalid_field("source_id should match metrics_guid"))
    return items


def routes_too_long(routes: models.ProtoRoutes) -> bool:
    """The total-length check of ``DesiredLRP.Validate`` / ``DesiredLRPUpdate.Validate``."""
    return sum(len(value) for value in routes.routes.values()) > MAXIMUM_ROUTE_LENGTH


def files_too_large(files: Iterable[models.File]) -> bool:
    """``validateVolumeMountedFiles``: total content over 1 MiB."""
    return sum(utf8_len(f.content) for f in files) > VOLUME_MOUNTED_FILES_MAX_SIZE
