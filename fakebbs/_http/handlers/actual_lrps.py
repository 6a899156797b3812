"""Actual LRP query routes and retire (upstream ``handlers/actual_lrp_handlers.go`` and
``RetireActualLRP`` of ``handlers/actual_lrp_lifecycle_handler.go``)."""

from __future__ import annotations

from fakebbs import models
from fakebbs._http.encoded import ACTUAL_LRP, ACTUAL_LRPS_BY_PROCESS_GUIDS, Encoded
from fakebbs._http.handlers._base import Context, Handler
from fakebbs._rules.state import State
from fakebbs._rules.views import resolve_actual_lrp_groups
from fakebbs.errors import ResourceNotFound


def actual_lrps(
    state: State, request: models.ActualLRPsRequest, call: Context
) -> Encoded[models.ActualLRPsResponse]:
    """Every row, any presence; ``index`` filters only when present on the wire (0 included)."""
    index = request.index if request.HasField("index") else None
    rows = state.actual_lrp_rows(request.domain, request.cell_id, request.process_guid, index)
    every = not (request.domain or request.cell_id or request.process_guid or index is not None)
    return call.lists.join(ACTUAL_LRP, rows, every=every)


def actual_lrps_by_process_guids(
    state: State, request: models.ActualLRPsByProcessGuidsRequest, call: Context
) -> Encoded[models.ActualLRPsByProcessGuidsResponse]:
    rows = state.actual_lrp_rows_of(request.process_guids)
    return call.lists.join(ACTUAL_LRPS_BY_PROCESS_GUIDS, rows)


def actual_lrp_groups(
    state: State, request: models.ActualLRPGroupsRequest, call: Context
) -> Encoded[models.ActualLRPGroupsResponse]:
    rows = state.actual_lrp_rows(domain=request.domain, cell_id=request.cell_id)
    every = not (request.domain or request.cell_id)
    return call.lists.join_groups(rows, every=every)


def actual_lrp_groups_by_process_guid(
    state: State, request: models.ActualLRPGroupsByProcessGuidRequest, call: Context
) -> Encoded[models.ActualLRPGroupsResponse]:
    rows = state.actual_lrp_rows(process_guid=request.process_guid)
    return call.lists.join_groups(rows)


def actual_lrp_group_by_process_guid_and_index(
    state: State, request: models.ActualLRPGroupByProcessGuidAndIndexRequest, call: Context
) -> models.ActualLRPGroupResponse:
    lrps = state.actual_lrps_matching(process_guid=request.process_guid, index=request.index)
    if not lrps:
        raise ResourceNotFound()
    return models.ActualLRPGroupResponse(actual_lrp_group=resolve_actual_lrp_groups(lrps)[0])


def retire_actual_lrp(
    state: State, request: models.RetireActualLRPRequest, call: Context
) -> models.ActualLRPLifecycleResponse:
    state.retire_actual_lrp(request.actual_lrp_key, call.trace_id)
    return models.ActualLRPLifecycleResponse()


HANDLERS = {
    "ActualLRPs": Handler(actual_lrps),
    "ActualLRPsByProcessGuids": Handler(actual_lrps_by_process_guids),
    "ActualLRPGroups": Handler(actual_lrp_groups),
    "ActualLRPGroupsByProcessGuid": Handler(actual_lrp_groups_by_process_guid),
    "ActualLRPGroupsByProcessGuidAndIndex": Handler(actual_lrp_group_by_process_guid_and_index),
    "RetireActualLRP": Handler(retire_actual_lrp),
}
