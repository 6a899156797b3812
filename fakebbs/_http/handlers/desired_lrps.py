"""Desired LRP routes (upstream ``handlers/desired_lrp_handlers.go`` and, for the 2016-era
revisions, ``handlers/desired_lrp_handlers_deprecated.go`` of the tree before de14aa89).

Each revision returns the model version of §5.6: ``.r3`` V3 (as stored), ``.r2`` V2, ``.r1``
V1 and the plain route V0; list and get results get ``PopulateMetricsGuid`` on the way out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakebbs import models
from fakebbs._http.encoded import (
    DESIRED_LRP_FORMS,
    ROUTING_INFO,
    SCHEDULING_INFO,
    Encoded,
)
from fakebbs._http.handlers._base import Context, Handler
from fakebbs._http.versions import (
    present_desired_lrp,
    upgrade_desired_lrp_r0,
    upgrade_volume_mounts_r1,
)
from fakebbs._rules.state import State
from fakebbs._rules.views import scheduling_info
from fakebbs.errors import InvalidRequest


def _list(
    version: int, *, legacy: bool = False
) -> Callable[[State, models.DesiredLRPsRequest, Context], Encoded[models.DesiredLRPsResponse]]:
    """A list revision, joined from each LRP's kept bytes (``fakebbs._http.encoded``). The removed
    (``legacy``) ``list.r1`` and ``list`` filtered by domain only and returned the 2016 V1/V0
    conversions."""
    form = DESIRED_LRP_FORMS[version, legacy]

    def desired_lrps(
        state: State, request: models.DesiredLRPsRequest, call: Context
    ) -> Encoded[models.DesiredLRPsResponse]:
        process_guids = () if legacy else request.process_guids
        app_guids = () if legacy else request.app_guids
        rows = state.desired_lrp_rows(request.domain, process_guids, app_guids)
        every = not (request.domain or process_guids or app_guids)
        return call.lists.join(form, rows, every=every)

    return desired_lrps


def _get(
    version: int, *, legacy: bool = False
) -> Callable[[State, models.DesiredLRPByProcessGuidRequest, Context], models.DesiredLRPResponse]:
    def desired_lrp_by_process_guid(
        state: State, request: models.DesiredLRPByProcessGuidRequest, call: Context
    ) -> models.DesiredLRPResponse:
        lrp = state.desired_lrp_by_process_guid(request.process_guid)
        response = models.DesiredLRPResponse()
        response.desired_lrp.SetInParent()
        present_desired_lrp(lrp, version, legacy=legacy, into=response.desired_lrp)
        return response

    return desired_lrp_by_process_guid


def desired_lrp_scheduling_infos(
    state: State, request: models.DesiredLRPsRequest, call: Context
) -> Encoded[models.DesiredLRPSchedulingInfosResponse]:
    """Filters by domain and process guids; app guids are ignored, as upstream."""
    rows = state.desired_lrp_rows(domain=request.domain, process_guids=request.process_guids)
    every = not (request.domain or request.process_guids)
    return call.lists.join(SCHEDULING_INFO, rows, every=every)


def desired_lrp_scheduling_info_by_process_guid(
    state: State, request: models.DesiredLRPByProcessGuidRequest, call: Context
) -> models.DesiredLRPSchedulingInfoByProcessGuidResponse:
    lrp = state.desired_lrp_by_process_guid(request.process_guid)
    return models.DesiredLRPSchedulingInfoByProcessGuidResponse(
        desired_lrp_scheduling_info=scheduling_info(lrp)
    )


def desired_lrp_routing_infos(
    state: State, request: models.DesiredLRPsRequest, call: Context
) -> Encoded[models.DesiredLRPsResponse]:
    """Filters by process guids only: upstream drops the domain and app guid filters here."""
    rows = state.desired_lrp_rows(process_guids=request.process_guids)
    return call.lists.join(ROUTING_INFO, rows, every=not request.process_guids)


def desire_desired_lrp(
    state: State, request: models.DesireLRPRequest, call: Context
) -> models.DesiredLRPLifecycleResponse:
    state.desire_lrp(request.desired_lrp, call.trace_id)
    return models.DesiredLRPLifecycleResponse()


def update_desired_lrp(
    state: State, request: models.UpdateDesiredLRPRequest, call: Context
) -> models.DesiredLRPLifecycleResponse:
    if not request.HasField("update"):
        # Upstream dereferences the missing update and the Go server drops the connection
        # (for an LRP that exists); a clear InvalidRequest is kinder to a test.
        state.desired_lrp_by_process_guid(request.process_guid)
        raise InvalidRequest("Invalid field: update")
    state.update_desired_lrp(request.process_guid, request.update, call.trace_id)
    return models.DesiredLRPLifecycleResponse()


def remove_desired_lrp(
    state: State, request: models.RemoveDesiredLRPRequest, call: Context
) -> models.DesiredLRPLifecycleResponse:
    state.remove_desired_lrp(request.process_guid, call.trace_id)
    return models.DesiredLRPLifecycleResponse()


def _upgrade_r0(request: Any, body: bytes) -> None:
    """``parseRequestForDesireDesiredLRP_r0``: derive millisecond timeouts from the old fields."""
    if request.HasField("desired_lrp"):
        upgrade_desired_lrp_r0(request.desired_lrp)


def _upgrade_r1(request: Any, body: bytes) -> None:
    """``parseRequestForDesireDesiredLRP_r1``: rewrite every volume mount from the 2016 format."""
    if request.HasField("desired_lrp"):
        upgrade_volume_mounts_r1(request.desired_lrp, body)


HANDLERS = {
    "DesiredLRPs": Handler(_list(3)),
    "DesiredLRPs_r2": Handler(_list(2)),
    "DesiredLRPs_r1": Handler(_list(1, legacy=True)),
    "DesiredLRPs_r0": Handler(_list(0, legacy=True)),
    "DesiredLRPByProcessGuid": Handler(_get(3)),
    "DesiredLRPByProcessGuid_r2": Handler(_get(2)),
    "DesiredLRPByProcessGuid_r1": Handler(_get(1, legacy=True)),
    "DesiredLRPByProcessGuid_r0": Handler(_get(0, legacy=True)),
    "DesiredLRPSchedulingInfos": Handler(desired_lrp_scheduling_infos),
    "DesiredLRPSchedulingInfoByProcessGuid": Handler(desired_lrp_scheduling_info_by_process_guid),
    "DesiredLRPRoutingInfos": Handler(desired_lrp_routing_infos),
    "DesireDesiredLRP": Handler(desire_desired_lrp),
    "DesireDesiredLRP_r1": Handler(desire_desired_lrp, _upgrade_r1, require_metric_tags=False),
    "DesireDesiredLRP_r0": Handler(desire_desired_lrp, _upgrade_r0, require_metric_tags=False),
    "UpdateDesireLRP": Handler(update_desired_lrp),
    "RemoveDesiredLRP": Handler(remove_desired_lrp),
}
