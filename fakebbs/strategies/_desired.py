"""Valid desired LRPs and everything inside them, and the updates a client sends."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs.strategies._actions import actions, checksums, environment_variables, files
from fakebbs.strategies._common import (
    guids,
    message,
    names,
    nonnegative,
    root_fs_urls,
    route_json,
    texts,
)

__all__ = [
    "cached_dependencies",
    "certificate_properties",
    "check_definitions",
    "checks",
    "desired_lrp_keys",
    "desired_lrp_updates",
    "desired_lrps",
    "domains",
    "egress_rules",
    "image_layers",
    "log_rate_limits",
    "metric_tags",
    "modification_tags",
    "networks",
    "process_guids",
    "proto_routes",
    "sidecars",
    "volume_mounts",
]


def domains() -> SearchStrategy[str]:
    """Domain names: "cf-apps", "cf-tasks" or another short name."""
    return st.one_of(st.sampled_from(["cf-apps", "cf-tasks"]), names())


def process_guids(prefix: str = "") -> SearchStrategy[str]:
    """Process guids matching upstream's pattern, starting with ``prefix``."""
    return guids(prefix)


def modification_tags() -> SearchStrategy[models.ModificationTag]:
    return message(
        models.ModificationTag, {"epoch": st.uuids().map(str), "index": nonnegative(2**32 - 1)}
    )


def metric_tags(metrics_guid: str = "") -> SearchStrategy[dict[str, models.MetricTagValue]]:
    """At least one valid tag (a non-empty ``static`` or a known ``dynamic``); with a
    ``metrics_guid``, a ``source_id`` tag equal to it, as the DesiredLRP rule requires."""
    value = st.one_of(
        texts(min_size=1).map(lambda s: models.MetricTagValue(static=s)),
        st.sampled_from([models.MetricTagValue.INDEX, models.MetricTagValue.INSTANCE_GUID]).map(
            lambda d: models.MetricTagValue(dynamic=d)
        ),
    )
    tags = st.dictionaries(names().filter(lambda n: n != "source_id"), value, max_size=3)
    if metrics_guid:
        return tags.map(lambda t: {**t, "source_id": models.MetricTagValue(static=metrics_guid)})
    return tags.filter(bool)


def proto_routes(*, max_routes: int = 3) -> SearchStrategy[models.ProtoRoutes]:
    """Routes keyed by router name, values in the compact JSON the BBS stores."""
    keys = st.one_of(st.sampled_from(["cf-router", "tcp-router", "internal-router"]), names())
    return st.dictionaries(keys, route_json(), max_size=max_routes).map(
        lambda routes: models.ProtoRoutes(routes=routes)
    )


def _ipv4() -> SearchStrategy[str]:
    return st.ip_addresses(v=4).map(str)


def _destinations() -> SearchStrategy[str]:
    """One destination as the egress rule accepts it: an IP, a CIDR or an ascending range."""
    cidr = st.tuples(_ipv4(), st.integers(0, 32)).map(lambda p: f"{p[0]}/{p[1]}")
    ascending = st.lists(st.ip_addresses(v=4), min_size=2, max_size=2).map(sorted)
    return st.one_of(_ipv4(), cidr, ascending.map(lambda p: f"{p[0]}-{p[1]}"))


def egress_rules() -> SearchStrategy[models.SecurityGroupRule]:
    """Valid security group rules for each protocol (tcp/udp with ports or a port range,
    icmp/icmpv6 with ICMP info, all with neither)."""
    port = st.integers(1, 65535)
    common: dict[str, SearchStrategy[Any]] = {
        "destinations": st.lists(_destinations(), min_size=1, max_size=3)
    }
    optional: dict[str, SearchStrategy[Any]] = {
        "log": st.booleans(),
        "annotations": st.lists(texts(), max_size=2),
    }
    port_range = st.lists(port, min_size=2, max_size=2).map(
        lambda p: models.PortRange(start=min(p), end=max(p))
    )
    transport = st.sampled_from(["tcp", "udp"])
    icmp = message(models.ICMPInfo, {"type": st.integers(0, 255), "code": st.integers(0, 255)})
    return st.one_of(
        message(
            models.SecurityGroupRule,
            {**common, "protocol": transport, "ports": st.lists(port, min_size=1, max_size=3)},
            optional,
        ),
        message(
            models.SecurityGroupRule,
            {**common, "protocol": transport, "port_range": port_range},
            optional,
        ),
        message(
            models.SecurityGroupRule,
            {**common, "protocol": st.sampled_from(["icmp", "icmpv6"]), "icmp_info": icmp},
            optional,
        ),
        message(models.SecurityGroupRule, {**common, "protocol": st.just("all")}, optional),
    )


def cached_dependencies() -> SearchStrategy[models.CachedDependency]:
    def cached_dependency(
        fields: dict[str, Any], checksum: tuple[str, str]
    ) -> models.CachedDependency:
        dependency = models.CachedDependency(**fields)
        dependency.checksum_algorithm, dependency.checksum_value = checksum
        return dependency

    fields = st.fixed_dictionaries(
        {
            "from": names().map(lambda n: "http://blobs.example.com/" + n),
            "to": names().map(lambda n: "/deps/" + n),
        },
        optional={"name": texts(), "cache_key": names(), "log_source": texts()},
    )
    return st.builds(cached_dependency, fields, checksums())


def image_layers(
    layer_types: Iterable[int] = (models.ImageLayer.SHARED, models.ImageLayer.EXCLUSIVE),
) -> SearchStrategy[models.ImageLayer]:
    """Valid image layers: an EXCLUSIVE layer always has a digest; a SHARED one has a
    digest or none. (A DesiredLRP or task with EXCLUSIVE layers also needs
    ``legacy_download_user``; ``desired_lrps`` takes care of that.)"""
    digest = st.tuples(
        st.sampled_from([models.ImageLayer.SHA256, models.ImageLayer.SHA512]),
        st.text("0123456789abcdef", min_size=8, max_size=64),
    )

    def image_layer(
        fields: dict[str, Any], layer_type: int, digest: tuple[int, str] | None
    ) -> models.ImageLayer:
        values: dict[str, Any] = {**fields, "layer_type": layer_type}
        if digest is not None:
            values["digest_algorithm"], values["digest_value"] = digest
        return models.ImageLayer(**values)

    fields = st.fixed_dictionaries(
        {
            "url": names().map(lambda n: "https://layers.example.com/" + n),
            "destination_path": names().map(lambda n: "/layers/" + n),
            "media_type": st.sampled_from(
                [models.ImageLayer.TGZ, models.ImageLayer.TAR, models.ImageLayer.ZIP]
            ),
        },
        optional={"name": texts()},
    )
    return st.sampled_from(list(layer_types)).flatmap(
        lambda t: st.builds(
            image_layer,
            fields,
            st.just(t),
            digest if t == models.ImageLayer.EXCLUSIVE else st.none() | digest,
        )
    )


def volume_mounts() -> SearchStrategy[models.VolumeMount]:
    """Valid volume mounts: a driver, mode "r" or "rw", and a shared or dedicated device with
    its id (or no device)."""
    shared = message(models.SharedDevice, {"volume_id": names()}, {"mount_config": texts()})
    dedicated = message(
        models.DedicatedDevice,
        {"mounter_id": names()},
        {"mount_config": texts(), "device_config": texts()},
    )
    base = {"driver": names(), "mode": st.sampled_from(["r", "rw"])}
    optional = {"container_dir": names().map(lambda n: "/var/vcap/data/" + n)}
    return st.one_of(
        message(models.VolumeMount, base, optional),
        message(models.VolumeMount, {**base, "shared": shared}, optional),
        message(models.VolumeMount, {**base, "dedicated": dedicated}, optional),
    )


def checks() -> SearchStrategy[models.Check]:
    """A TCP or an HTTP check (exactly one), on a port 1..65535."""
    port = st.integers(1, 65535)
    millis = nonnegative(2**40)
    tcp = message(
        models.TCPCheck, {"port": port}, {"connect_timeout_ms": millis, "interval_ms": millis}
    )
    http = message(
        models.HTTPCheck,
        {"port": port},
        {
            "request_timeout_ms": millis,
            "path": names().map(lambda n: "/" + n),
            "interval_ms": millis,
        },
    )
    return st.one_of(
        tcp.map(lambda c: models.Check(tcp_check=c)), http.map(lambda c: models.Check(http_check=c))
    )


def check_definitions() -> SearchStrategy[models.CheckDefinition]:
    return message(
        models.CheckDefinition,
        optional={
            "checks": st.lists(checks(), max_size=2),
            "readiness_checks": st.lists(checks(), max_size=2),
            "log_source": texts(),
        },
    )


def sidecars(kinds: Iterable[str] | None = None) -> SearchStrategy[models.Sidecar]:
    return message(
        models.Sidecar,
        {"action": actions(kinds, max_leaves=2)},
        {"memory_mb": nonnegative(2**16), "disk_mb": nonnegative(2**16)},
    )


def log_rate_limits() -> SearchStrategy[models.LogRateLimit]:
    """``bytes_per_second`` ≥ -1 (-1: unlimited)."""
    return st.integers(-1, 2**40).map(lambda b: models.LogRateLimit(bytes_per_second=b))


def networks() -> SearchStrategy[models.Network]:
    return st.dictionaries(names(), texts(), max_size=2).map(lambda p: models.Network(properties=p))


def certificate_properties() -> SearchStrategy[models.CertificateProperties]:
    return st.lists(texts(min_size=1), max_size=2).map(
        lambda units: models.CertificateProperties(organizational_unit=units)
    )


def desired_lrp_keys(
    domain: str | None = None, process_guid_prefix: str = ""
) -> SearchStrategy[models.DesiredLRPKey]:
    return message(
        models.DesiredLRPKey,
        {
            "process_guid": process_guids(process_guid_prefix),
            "domain": st.just(domain) if domain else domains(),
        },
        {"log_guid": names()},
    )


def _image_credentials() -> SearchStrategy[tuple[str, str]]:
    return st.one_of(st.just(("", "")), st.tuples(names(), texts(min_size=1)))


@st.composite
def _desired_lrp(
    draw: st.DrawFn,
    domain: str | None,
    process_guid_prefix: str,
    instances: SearchStrategy[int],
    action_kinds: tuple[str, ...] | None,
) -> models.DesiredLRP:
    guid = draw(process_guids(process_guid_prefix))
    action = actions(action_kinds)
    lrp = draw(
        message(
            models.DesiredLRP,
            {
                "process_guid": st.just(guid),
                "domain": st.just(domain) if domain else domains(),
                "root_fs": root_fs_urls(),
                "instances": instances,
                "action": action,
                "routes": proto_routes(),
            },
            {
                "environment_variables": st.lists(environment_variables(), max_size=2),
                "setup": action,
                "monitor": action,
                "disk_mb": nonnegative(2**20),
                "memory_mb": nonnegative(2**20),
                "cpu_weight": nonnegative(100),
                "privileged": st.booleans(),
                "ports": st.lists(st.integers(1, 65535), max_size=3, unique=True),
                "log_source": texts(),
                "log_guid": names(),
                "annotation": texts(max_size=40),
                "egress_rules": st.lists(egress_rules(), max_size=2),
                "cached_dependencies": st.lists(cached_dependencies(), max_size=2),
                "trusted_system_certificates_path": names().map(lambda n: "/etc/" + n),
                "volume_mounts": st.lists(volume_mounts(), max_size=2),
                "network": networks(),
                "start_timeout_ms": nonnegative(2**40),
                "PlacementTags": st.lists(names(), max_size=2),
                "max_pids": nonnegative(2**16),
                "certificate_properties": certificate_properties(),
                "check_definition": check_definitions(),
                "image_layers": st.lists(image_layers(), max_size=2),
                "sidecars": st.lists(sidecars(action_kinds), max_size=1),
                "log_rate_limit": log_rate_limits(),
                "volume_mounted_files": st.lists(files(), max_size=2),
                "update_strategy": st.sampled_from(list(models.DesiredLRP.UpdateStrategy.values())),
            },
        )
    )
    # Tags and metrics guid: either a source_id tag equal to metrics_guid, or neither (both
    # are fixed points of PopulateMetricsGuid, so what is read back is what was sent).
    metrics_guid = draw(st.one_of(st.just(""), names()))
    lrp.metrics_guid = metrics_guid
    for name, value in draw(metric_tags(metrics_guid)).items():
        lrp.metric_tags[name].CopyFrom(value)
    lrp.image_username, lrp.image_password = draw(_image_credentials())
    if any(layer.layer_type == models.ImageLayer.EXCLUSIVE for layer in lrp.image_layers):
        lrp.legacy_download_user = draw(st.sampled_from(["vcap", "root"]))
    elif draw(st.booleans()):
        lrp.legacy_download_user = draw(names())
    return lrp


def desired_lrps(
    *,
    domain: str | None = None,
    process_guid_prefix: str = "",
    instances: SearchStrategy[int] | None = None,
    action_kinds: Iterable[str] | None = None,
) -> SearchStrategy[models.DesiredLRP]:
    """Valid DesiredLRPs, as a client sends them to ``desire.r2``, in the form the BBS stores
    (so a read returns them unchanged but for the server's ``modification_tag``).

    Narrow with ``domain``, ``process_guid_prefix``, ``instances`` (default 0..3) and
    ``action_kinds`` (see ``actions``).
    """
    kinds = None if action_kinds is None else tuple(action_kinds)
    if kinds is not None:
        actions(kinds)  # fail early on a bad choice
    return _desired_lrp(
        domain,
        process_guid_prefix,
        instances if instances is not None else st.integers(0, 3),
        kinds,
    )


def desired_lrp_updates(
    *, instances: SearchStrategy[int] | None = None
) -> SearchStrategy[models.DesiredLRPUpdate]:
    """Valid updates: any subset of instances, routes, annotation, metric tags and the image
    credentials (which go together)."""
    credentials = st.tuples(names(), texts(min_size=1)).map(
        lambda c: {"image_username": c[0], "image_password": c[1]}
    )

    def desired_lrp_update(
        fields: dict[str, Any], creds: dict[str, str] | None
    ) -> models.DesiredLRPUpdate:
        values: dict[str, Any] = {**fields, **(creds or {})}
        return models.DesiredLRPUpdate(**values)

    fields = st.fixed_dictionaries(
        {},
        optional={
            "instances": instances if instances is not None else st.integers(0, 3),
            "routes": proto_routes(),
            "annotation": texts(max_size=40),
            "metric_tags": metric_tags(),
        },
    )
    return st.builds(desired_lrp_update, fields, st.none() | credentials)
