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
    named,
    names,
    nonnegative,
    root_fs_urls,
    shown_as_call,
    texts,
)
from fakebbs.strategies._routes import proto_routes

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
    "stored_desired_lrps",
    "volume_mounts",
]


@shown_as_call
def domains() -> SearchStrategy[str]:
    """Domain names: "cf-apps", "cf-tasks" or another short name."""
    return st.one_of(st.sampled_from(["cf-apps", "cf-tasks"]), names())


@shown_as_call
def process_guids(prefix: str = "") -> SearchStrategy[str]:
    """Process guids matching upstream's pattern, starting with ``prefix``."""
    return guids(prefix)


_process_guids = process_guids  # desired_lrps has a parameter of that name


@shown_as_call
def modification_tags() -> SearchStrategy[models.ModificationTag]:
    return message(
        models.ModificationTag, {"epoch": st.uuids().map(str), "index": nonnegative(2**32 - 1)}
    )


def _metric_tags(min_size: int) -> SearchStrategy[dict[str, models.MetricTagValue]]:
    value = st.one_of(
        texts(min_size=1).map(lambda s: models.MetricTagValue(static=s)),
        st.sampled_from([models.MetricTagValue.INDEX, models.MetricTagValue.INSTANCE_GUID]).map(
            lambda d: models.MetricTagValue(dynamic=d)
        ),
    )
    # names() never draws "source_id" (no underscore), so the tags never clash with it
    return st.dictionaries(names(), value, min_size=min_size, max_size=3)


@shown_as_call
def metric_tags(metrics_guid: str = "") -> SearchStrategy[dict[str, models.MetricTagValue]]:
    """At least one valid tag (a non-empty ``static`` or a known ``dynamic``); with a
    ``metrics_guid``, a ``source_id`` tag equal to it, as the DesiredLRP rule requires."""
    if metrics_guid:
        source_id = models.MetricTagValue(static=metrics_guid)
        return _metric_tags(min_size=0).map(lambda t: {**t, "source_id": source_id})
    return _metric_tags(min_size=1)


def _ipv4() -> SearchStrategy[str]:
    return st.ip_addresses(v=4).map(str)


def _destinations() -> SearchStrategy[str]:
    """One destination as the egress rule accepts it: an IP, a CIDR or an ascending range."""
    cidr = st.tuples(_ipv4(), st.integers(0, 32)).map(lambda p: f"{p[0]}/{p[1]}")
    ascending = st.lists(st.ip_addresses(v=4), min_size=2, max_size=2).map(sorted)
    return st.one_of(_ipv4(), cidr, ascending.map(lambda p: f"{p[0]}-{p[1]}"))


@shown_as_call
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


@shown_as_call
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


@shown_as_call
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


@shown_as_call
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


@shown_as_call
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


@shown_as_call
def check_definitions() -> SearchStrategy[models.CheckDefinition]:
    return message(
        models.CheckDefinition,
        optional={
            "checks": st.lists(checks(), max_size=2),
            "readiness_checks": st.lists(checks(), max_size=2),
            "log_source": texts(),
        },
    )


@shown_as_call
def sidecars(kinds: Iterable[str] | None = None) -> SearchStrategy[models.Sidecar]:
    return message(
        models.Sidecar,
        {"action": actions(kinds, max_leaves=2)},
        {"memory_mb": nonnegative(2**16), "disk_mb": nonnegative(2**16)},
    )


@shown_as_call
def log_rate_limits() -> SearchStrategy[models.LogRateLimit]:
    """``bytes_per_second`` ≥ -1 (-1: unlimited)."""
    return st.integers(-1, 2**40).map(lambda b: models.LogRateLimit(bytes_per_second=b))


@shown_as_call
def networks() -> SearchStrategy[models.Network]:
    return st.dictionaries(names(), texts(), max_size=2).map(lambda p: models.Network(properties=p))


@shown_as_call
def certificate_properties() -> SearchStrategy[models.CertificateProperties]:
    return st.lists(texts(min_size=1), max_size=2).map(
        lambda units: models.CertificateProperties(organizational_unit=units)
    )


@shown_as_call
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


MINIMAL_ROOT_FS = "preloaded:cflinuxfs4"
MINIMAL_ACTION = models.Action(run_action=models.RunAction(path="/bin/true", user="vcap"))
"""The fixed values of ``desired_lrps(minimal=True)``."""


class _DesiredLRPStrategy(SearchStrategy[models.DesiredLRP]):
    """The required fields, a few optional ones, then the fields that depend on each other
    (metrics guid and its ``source_id`` tag, image credentials, the download user that
    EXCLUSIVE image layers need), so every draw is valid without a filter."""

    def __init__(self, fields: SearchStrategy[models.DesiredLRP]) -> None:
        super().__init__()
        self.fields = fields
        self.metrics = st.one_of(
            st.tuples(st.just(""), metric_tags()),
            st.tuples(names(), _metric_tags(min_size=0)),
        )
        self.credentials = _image_credentials()
        self.download_user = st.one_of(st.just(""), st.sampled_from(["vcap", "root"]), names())

    def do_draw(self, data: Any) -> models.DesiredLRP:
        lrp: models.DesiredLRP = data.draw(self.fields)
        # Tags and metrics guid: either a source_id tag equal to metrics_guid, or neither (both
        # are fixed points of PopulateMetricsGuid, so what is read back is what was sent).
        lrp.metrics_guid, tags = data.draw(self.metrics)
        for name, value in tags.items():
            lrp.metric_tags[name].CopyFrom(value)
        if lrp.metrics_guid:
            lrp.metric_tags["source_id"].static = lrp.metrics_guid
        lrp.image_username, lrp.image_password = data.draw(self.credentials)
        lrp.legacy_download_user = data.draw(self.download_user)
        exclusive = models.ImageLayer.EXCLUSIVE
        if not lrp.legacy_download_user and any(
            layer.layer_type == exclusive for layer in lrp.image_layers
        ):
            lrp.legacy_download_user = "vcap"
        return lrp


def _full_desired_lrp(
    domain: SearchStrategy[str],
    process_guid: SearchStrategy[str],
    instances: SearchStrategy[int],
    action_kinds: tuple[str, ...] | None,
    max_optional: int,
) -> SearchStrategy[models.DesiredLRP]:
    action = actions(action_kinds)
    fields = message(
        models.DesiredLRP,
        {
            "process_guid": process_guid,
            "domain": domain,
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
        max_optional=max_optional,
    )
    return _DesiredLRPStrategy(fields)


class _MinimalDesiredLRP(SearchStrategy[models.DesiredLRP]):
    """Two choices a draw: the process guid (a number after a prefix, unless a guid strategy
    is given) and the instances; every other field is fixed. The number and the default
    instances are drawn as bare integer choices (``ConjectureData.draw_integer``, what
    ``st.integers`` itself does), which halves a draw's cost."""

    def __init__(
        self,
        domain: str,
        prefix: str,
        process_guids: SearchStrategy[str] | None,
        instances: SearchStrategy[int] | None,
        name: str,
    ) -> None:
        super().__init__()
        self.prefix = prefix or "lrp-"
        self.process_guids = process_guids
        self.instances = instances
        self.name = name
        self.template = models.DesiredLRP(
            domain=domain,
            root_fs=MINIMAL_ROOT_FS,
            action=MINIMAL_ACTION,
            routes=models.ProtoRoutes(),
        )

    def do_draw(self, data: Any) -> models.DesiredLRP:
        if self.process_guids is None:
            guid = f"{self.prefix}{data.draw_integer(0, 2**16)}"
        else:
            guid = data.draw(self.process_guids)
        lrp = models.DesiredLRP()
        lrp.CopyFrom(self.template)
        lrp.process_guid = lrp.metrics_guid = guid
        lrp.metric_tags["source_id"].static = guid
        if self.instances is None:
            lrp.instances = data.draw_integer(0, 3)
        else:
            lrp.instances = data.draw(self.instances)
        return lrp

    def __repr__(self) -> str:
        return self.name


@shown_as_call
def desired_lrps(
    *,
    domain: str | None = None,
    process_guid_prefix: str = "",
    instances: SearchStrategy[int] | None = None,
    action_kinds: Iterable[str] | None = None,
    minimal: bool = False,
    process_guids: SearchStrategy[str] | None = None,
    max_optional: int = 4,
) -> SearchStrategy[models.DesiredLRP]:
    """Valid DesiredLRPs, as a client sends them to ``desire.r2``, in the form the BBS stores
    (so a read returns them unchanged but for the server's ``modification_tag``).

    Narrow with ``domain``, ``process_guid_prefix`` (or a ``process_guids`` strategy of your
    own), ``instances`` (default 0..3) and ``action_kinds`` (see ``actions``). Each draw
    sets up to ``max_optional`` of the optional fields (every one turns up across examples).
    ``minimal=True`` draws only what the BBS requires, with sensible fixed values (rootfs
    ``preloaded:cflinuxfs4``, a ``/bin/true`` run action, domain "cf-apps" unless given, no
    routes, the ``source_id`` tag and metrics guid equal to the process guid, as the cloud
    controller sends them; process guids ``lrp-<n>`` or ``<process_guid_prefix><n>``): only
    the process guid and the instances vary, and a draw costs about a tenth.
    """
    kinds = None if action_kinds is None else tuple(action_kinds)
    if kinds is not None:
        actions(kinds)  # fail early on a bad choice
    guid = process_guids if process_guids is not None else _process_guids(process_guid_prefix)
    count = instances if instances is not None else st.integers(0, 3)
    arguments = [
        f"{name}={value!r}"
        for name, value, default in (
            ("domain", domain, None),
            ("process_guid_prefix", process_guid_prefix, ""),
            ("instances", instances, None),
            ("action_kinds", kinds, None),
            ("minimal", minimal, False),
            ("process_guids", process_guids, None),
            ("max_optional", max_optional, 4),
        )
        if value != default
    ]
    name = f"desired_lrps({', '.join(arguments)})"
    if minimal:
        if kinds is not None:
            raise ValueError("desired_lrps(minimal=True) has a fixed action: drop action_kinds")
        return _MinimalDesiredLRP(
            domain or "cf-apps", process_guid_prefix, process_guids, instances, name
        )
    strategy = _full_desired_lrp(
        st.just(domain) if domain else domains(), guid, count, kinds, max_optional
    )
    return named(strategy, name)


@shown_as_call
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


@shown_as_call
def stored_desired_lrps(**narrowing: Any) -> SearchStrategy[models.DesiredLRP]:
    """DesiredLRPs as the BBS returns them: ``desired_lrps(**narrowing)`` with the
    modification tag the server assigns."""
    return st.builds(_with_tag, desired_lrps(**narrowing), modification_tags())


def _with_tag(lrp: models.DesiredLRP, tag: models.ModificationTag) -> models.DesiredLRP:
    lrp.modification_tag.CopyFrom(tag)
    return lrp
