"""Actual LRPs in every state and presence with consistent keys, their groups, and cells."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs._rules.store import CLAIMED, CRASHED, RUNNING, UNCLAIMED
from fakebbs.strategies._common import message, names, nonnegative, shown_as_call, texts, timestamps
from fakebbs.strategies._desired import domains, modification_tags, process_guids

__all__ = [
    "ACTUAL_LRP_STATES",
    "actual_lrp_groups",
    "actual_lrp_infos",
    "actual_lrp_instance_keys",
    "actual_lrp_keys",
    "actual_lrp_net_infos",
    "actual_lrps",
    "cell_ids",
    "cell_presences",
    "instance_metric_tags",
    "internal_routes",
]

ACTUAL_LRP_STATES: tuple[str, ...] = (UNCLAIMED, CLAIMED, RUNNING, CRASHED)

_ORDINARY = models.ActualLRP.ORDINARY
_EVACUATING = models.ActualLRP.EVACUATING
_SUSPECT = models.ActualLRP.SUSPECT

_STATES_BY_PRESENCE: dict[int, tuple[str, ...]] = {
    _ORDINARY: ACTUAL_LRP_STATES,
    _EVACUATING: (RUNNING,),  # evacuation only ever writes RUNNING evacuating rows
    _SUSPECT: (CLAIMED, RUNNING),  # convergence makes suspects of claimed/running rows only
}


@shown_as_call
def cell_ids() -> SearchStrategy[str]:
    return names(max_size=6).map(lambda n: "cell-" + n)


@shown_as_call
def actual_lrp_keys(
    *,
    domain: str | None = None,
    process_guid_prefix: str = "",
    indices: SearchStrategy[int] | None = None,
) -> SearchStrategy[models.ActualLRPKey]:
    """Keys the key rule accepts: a process guid, an index ≥ 0 (default 0..3), a domain."""
    return message(
        models.ActualLRPKey,
        {
            "process_guid": process_guids(process_guid_prefix),
            "index": indices if indices is not None else st.integers(0, 3),
            "domain": st.just(domain) if domain else domains(),
        },
    )


@shown_as_call
def actual_lrp_instance_keys(
    cell_id: SearchStrategy[str] | None = None,
) -> SearchStrategy[models.ActualLRPInstanceKey]:
    return message(
        models.ActualLRPInstanceKey,
        {"cell_id": cell_id or cell_ids(), "instance_guid": st.uuids().map(str)},
    )


@shown_as_call
def actual_lrp_net_infos() -> SearchStrategy[models.ActualLRPNetInfo]:
    """Net infos with the required address, port mappings and optional instance addresses."""
    port = st.integers(1, 65535)
    mapping = message(
        models.PortMapping,
        {"container_port": port, "host_port": port},
        {"container_tls_proxy_port": port, "host_tls_proxy_port": port},
    )
    address = st.ip_addresses(v=4).map(str)
    return message(
        models.ActualLRPNetInfo,
        {"address": address},
        {
            "ports": st.lists(mapping, max_size=2),
            "instance_address": address,
            "preferred_address": st.sampled_from(
                list(models.ActualLRPNetInfo.PreferredAddress.values())
            ),
            "instance_ipv6_address": st.ip_addresses(v=6).map(str),
        },
    )


@shown_as_call
def instance_metric_tags() -> SearchStrategy[dict[str, str]]:
    """An instance's metric tags: plain strings (the rep resolves the desired LRP's dynamic
    tags before it reports them)."""
    return st.dictionaries(names(), texts(), max_size=2)


@shown_as_call
def internal_routes() -> SearchStrategy[models.ActualLRPInternalRoute]:
    return names().map(lambda n: models.ActualLRPInternalRoute(hostname=n + ".apps.internal"))


# The parts of an actual LRP, built once (building them on every draw cost more than drawing).
_SINCE = timestamps()
_TAGS = modification_tags()
_CRASH_COUNTS = st.integers(0, 10)
_FLAGS = st.booleans()
_REASONS = texts(min_size=1)
_INSTANCE_KEYS = actual_lrp_instance_keys()
_ZONES = st.one_of(st.just(""), names())
_NET_INFOS = actual_lrp_net_infos()
_INTERNAL_ROUTES = st.lists(internal_routes(), max_size=2)
_INSTANCE_TAGS = instance_metric_tags()


@st.composite
def _actual_lrp(
    draw: st.DrawFn,
    states: tuple[str, ...],
    presences: tuple[int, ...],
    key: SearchStrategy[models.ActualLRPKey],
) -> models.ActualLRP:
    presence = draw(st.sampled_from(presences))
    allowed = [s for s in states if s in _STATES_BY_PRESENCE[presence]]
    state = draw(st.sampled_from(allowed))
    fields: dict[str, Any] = {
        "actual_lrp_key": draw(key),
        "state": state,
        "presence": presence,
        "since": draw(_SINCE),
        "modification_tag": draw(_TAGS),
        "crash_count": draw(_CRASH_COUNTS),
        "routable": state == RUNNING and draw(_FLAGS),
    }
    lrp = models.ActualLRP(**fields)
    if lrp.crash_count or state == CRASHED:
        lrp.crash_count = max(lrp.crash_count, 1)
        lrp.crash_reason = draw(_REASONS)
    if state in (CLAIMED, RUNNING):
        lrp.actual_lrp_instance_key.CopyFrom(draw(_INSTANCE_KEYS))
        lrp.availability_zone = draw(_ZONES)
    if state == RUNNING:
        lrp.actual_lrp_net_info.CopyFrom(draw(_NET_INFOS))
        lrp.actual_lrp_internal_routes.extend(draw(_INTERNAL_ROUTES))
        lrp.metric_tags.update(draw(_INSTANCE_TAGS))
    if state == UNCLAIMED and draw(_FLAGS):
        lrp.placement_error = draw(_REASONS)
    return lrp


@shown_as_call
def actual_lrps(
    *,
    states: Iterable[str] = ACTUAL_LRP_STATES,
    presences: Iterable[int] = (_ORDINARY, _EVACUATING, _SUSPECT),
    domain: str | None = None,
    process_guid_prefix: str = "",
    indices: SearchStrategy[int] | None = None,
) -> SearchStrategy[models.ActualLRP]:
    """ActualLRPs as the BBS returns them, consistent with their state and presence:
    UNCLAIMED (ordinary only) and CRASHED rows have no instance key or net info, CLAIMED rows
    an instance key, RUNNING rows both; evacuating rows are RUNNING, suspect rows CLAIMED or
    RUNNING; ``routable`` is always present; ``since`` is never 0."""
    chosen_states = tuple(states)
    chosen_presences = tuple(
        p for p in presences if set(chosen_states) & set(_STATES_BY_PRESENCE[p])
    )
    if not chosen_presences:
        raise ValueError(f"no presence of {tuple(presences)} has a state in {chosen_states}")
    key = actual_lrp_keys(domain=domain, process_guid_prefix=process_guid_prefix, indices=indices)
    return _actual_lrp(chosen_states, chosen_presences, key)


@shown_as_call
def actual_lrp_infos() -> SearchStrategy[models.ActualLRPInfo]:
    """The key-less part of an ActualLRP, as instance-changed events carry it."""

    def info(lrp: models.ActualLRP) -> models.ActualLRPInfo:
        result = models.ActualLRPInfo(
            crash_count=lrp.crash_count,
            crash_reason=lrp.crash_reason,
            state=lrp.state,
            placement_error=lrp.placement_error,
            since=lrp.since,
            modification_tag=lrp.modification_tag,
            presence=lrp.presence,
            Routable=lrp.routable,
            availability_zone=lrp.availability_zone,
        )
        if lrp.HasField("actual_lrp_net_info"):
            result.actual_lrp_net_info.CopyFrom(lrp.actual_lrp_net_info)
        return result

    return actual_lrps().map(info)


@st.composite
def _group(
    draw: st.DrawFn,
    key: SearchStrategy[models.ActualLRPKey],
    instances: SearchStrategy[models.ActualLRP],
    evacuating_rows: SearchStrategy[models.ActualLRP],
) -> models.ActualLRPGroup:
    shared_key = draw(key)
    group = models.ActualLRPGroup()
    slots = draw(st.sampled_from(["instance", "evacuating", "both"]))
    if slots in ("instance", "both"):
        instance = draw(instances)
        instance.actual_lrp_key.CopyFrom(shared_key)
        group.instance.CopyFrom(instance)
    if slots in ("evacuating", "both"):
        evacuating = draw(evacuating_rows)
        evacuating.actual_lrp_key.CopyFrom(shared_key)
        group.evacuating.CopyFrom(evacuating)
    return group


@shown_as_call
def actual_lrp_groups(
    *, domain: str | None = None, process_guid_prefix: str = ""
) -> SearchStrategy[models.ActualLRPGroup]:
    """Deprecated groups: an instance (ordinary or suspect), an evacuating row, or both, all
    with one key."""
    return _group(
        actual_lrp_keys(domain=domain, process_guid_prefix=process_guid_prefix),
        actual_lrps(presences=(_ORDINARY, _SUSPECT)),
        actual_lrps(presences=(_EVACUATING,)),
    )


@shown_as_call
def cell_presences(
    cell_id: SearchStrategy[str] | None = None,
) -> SearchStrategy[models.CellPresence]:
    """Cell presences as reps register them (what ``cells/list.r1`` returns)."""
    capacity = message(
        models.CellCapacity,
        {},
        {
            "memory_mb": nonnegative(2**20),
            "disk_mb": nonnegative(2**22),
            "containers": nonnegative(1024),
        },
    )
    provider = message(
        models.Provider, {"name": names()}, {"properties": st.lists(names(), max_size=2)}
    )
    optional: dict[str, SearchStrategy[Any]] = {
        "zone": names(),
        "capacity": capacity,
        "rootfs_providers": st.lists(provider, max_size=2),
        "placement_tags": st.lists(names(), max_size=2),
        "optional_placement_tags": st.lists(names(), max_size=2),
        "annotations": st.dictionaries(names(), texts(), max_size=2),
    }
    return st.builds(
        lambda cell, fields: models.CellPresence(
            cell_id=cell,
            rep_address=f"http://{cell}.example.com:1800",
            rep_url=f"https://{cell}.example.com:1801",
            **fields,
        ),
        cell_id or cell_ids(),
        st.fixed_dictionaries({}, optional=optional),
    )
