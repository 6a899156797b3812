"""Views of stored rows: what the rules store a desired LRP as, and how the API presents the
stored rows (scheduling and routing info, the deprecated actual LRP groups).

They read messages and know no rule, so the rules, the event hubs and the list cache all use
them from here (below the rules). Each names the upstream function it mirrors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fakebbs import models
from fakebbs._rules.store import CLAIMED, EVACUATING, ORDINARY, RUNNING, SUSPECT, copy
from fakebbs._rules.wire import GO_JSON_ESCAPES
from fakebbs.errors import InvalidRequest

__all__ = [
    "GroupFacts",
    "actual_lrp_group_facts",
    "as_stored",
    "compact_routes",
    "pick_actual_lrp_groups",
    "resolve_actual_lrp_groups",
    "routing_info",
    "scheduling_info",
]

R = TypeVar("R")


def as_stored(lrp: models.DesiredLRP) -> models.DesiredLRP:
    """A copy of ``lrp`` as ``SQLDB.DesireLRP`` stores it, but for the modification tag (the
    caller sets it): no ``deprecated_start_timeout_s``, route JSON compacted (a value that is
    not JSON is InvalidRequest), each container port once."""
    stored = copy(lrp)
    routes = compact_routes(stored.routes) if stored.HasField("routes") else None
    stored.ClearField("deprecated_start_timeout_s")
    stored.ClearField("routes")
    stored.routes.SetInParent()
    if routes:
        stored.routes.routes.update(routes)
    _dedup_ports(stored)
    return stored


def scheduling_info(lrp: models.DesiredLRP) -> models.DesiredLRPSchedulingInfo:
    """``DesiredLRP.DesiredLRPSchedulingInfo``: the part of a desired LRP the auctioneer reads."""
    info = models.DesiredLRPSchedulingInfo(
        desired_lrp_key=models.DesiredLRPKey(
            process_guid=lrp.process_guid, domain=lrp.domain, log_guid=lrp.log_guid
        ),
        annotation=lrp.annotation,
        instances=lrp.instances,
        desired_lrp_resource=models.DesiredLRPResource(
            memory_mb=lrp.memory_mb, disk_mb=lrp.disk_mb, root_fs=lrp.root_fs, max_pids=lrp.max_pids
        ),
        modification_tag=lrp.modification_tag,
        volume_placement=models.VolumePlacement(
            driver_names=[mount.driver for mount in lrp.volume_mounts]
        ),
        PlacementTags=lrp.PlacementTags,
    )
    info.routes.CopyFrom(lrp.routes)
    info.routes.SetInParent()
    return info


def routing_info(lrp: models.DesiredLRP) -> models.DesiredLRP:
    """``DesiredLRP.DesiredLRPRoutingInfo``: only what routers need."""
    info = models.DesiredLRP(
        process_guid=lrp.process_guid,
        domain=lrp.domain,
        log_guid=lrp.log_guid,
        instances=lrp.instances,
        modification_tag=lrp.modification_tag,
    )
    info.routes.CopyFrom(lrp.routes)
    info.routes.SetInParent()
    for name, value in lrp.metric_tags.items():
        info.metric_tags[name].CopyFrom(value)
    return info


def resolve_actual_lrp_groups(lrps: Iterable[models.ActualLRP]) -> list[models.ActualLRPGroup]:
    """``models.ResolveActualLRPGroups``: fold rows into the deprecated instance/evacuating view.

    Groups are keyed by the whole ActualLRPKey and come out in first-seen order.
    """
    groups = []
    for instance, evacuating in pick_actual_lrp_groups(lrps, actual_lrp_group_facts):
        group = models.ActualLRPGroup()
        if instance is not None:
            group.instance.CopyFrom(instance)
        if evacuating is not None:
            group.evacuating.CopyFrom(evacuating)
        groups.append(group)
    return groups


GroupFacts = tuple[tuple[str, int, str], int, str]
"""What grouping reads of a row: its whole ActualLRPKey, its presence and its state."""


def actual_lrp_group_facts(lrp: models.ActualLRP) -> GroupFacts:
    key = lrp.actual_lrp_key
    return (key.process_guid, key.index, key.domain), lrp.presence, lrp.state


def pick_actual_lrp_groups(
    rows: Iterable[R], facts: Callable[[R], GroupFacts]
) -> list[tuple[R | None, R | None]]:
    """The choice ``resolve_actual_lrp_groups`` makes: per ActualLRPKey in first-seen order,
    the row a group shows as its instance and its evacuating row (the last one seen, as
    upstream overwrites). ``rows`` may be anything ``facts`` reads a row's ``GroupFacts`` from
    (kept bytes use this)."""
    # Each group is [instance, the instance's state, evacuating]: a list, not an object, as
    # this runs once per row of a list answer.
    groups: dict[tuple[str, int, str], list[Any]] = {}
    for row in rows:
        key, presence, state = facts(row)
        group = groups.get(key)
        if group is None:
            group = groups[key] = [None, "", None]
        if presence == EVACUATING:
            group[2] = row
        elif group[0] is None or _has_higher_priority(presence, state, group[1]):
            group[0] = row
            group[1] = state
    return [(instance, evacuating) for instance, _, evacuating in groups.values()]


def _has_higher_priority(presence: int, state: str, occupant_state: str) -> bool:
    """``models.hasHigherPriority``: whether an ordinary or suspect row in ``state`` shows
    instead of the group's instance so far, which is in ``occupant_state``."""
    if presence == ORDINARY:
        if state == RUNNING:
            return True
        if state == CLAIMED:
            return occupant_state not in (RUNNING, CLAIMED)
    elif presence == SUSPECT and state in (RUNNING, CLAIMED):
        return occupant_state != RUNNING
    return False


def _dedup_ports(lrp: models.DesiredLRP) -> None:
    """``dedupSlice`` on read of the run info: each container port once."""
    ports = list(dict.fromkeys(lrp.ports))
    if len(ports) != len(lrp.ports):
        del lrp.ports[:]
        lrp.ports.extend(ports)


def compact_routes(routes: models.ProtoRoutes) -> dict[str, bytes]:
    """Route values as the BBS stores them: JSON, compacted and HTML-escaped like Go's
    ``json.Marshal`` of a ``json.RawMessage``. A value that is not valid JSON makes the
    request invalid (``encodeRouteData`` returns ``ErrBadRequest``)."""
    return {name: _compact_json(value) for name, value in routes.routes.items()}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_ROUTE_JSON = json.JSONDecoder(parse_constant=_reject_constant)
"""Made once: ``json.loads`` with options builds a decoder on every call."""

_CHANGED_BY_COMPACTING = re.compile("[ \t\r\n" + "".join(GO_JSON_ESCAPES) + "]")
"""A character ``_compact_json`` would drop or escape; text without one comes out as it is."""


def _compact_json(raw: bytes) -> bytes:
    try:
        text = raw.decode("utf-8")
        _ROUTE_JSON.decode(text)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest() from None
    if _CHANGED_BY_COMPACTING.search(text) is None:
        return raw  # no whitespace and nothing Go escapes: compact already (the usual case)
    out = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            out.append(GO_JSON_ESCAPES.get(char, char))
        elif char == '"':
            in_string = True
            out.append(char)
        elif char not in " \t\r\n":
            out.append(char)
    return "".join(out).encode("utf-8")
