"""Actual LRP lifecycle routes (upstream ``handlers/actual_lrp_lifecycle_handler.go``):
claim, start (``start.r1`` and the older ``start``), crash, fail and remove. Retire is with the
actual LRP queries (``actual_lrps``).

Upstream's handlers for these routes do not pass the request id on, so their events carry an
empty trace id; the rules record them that way.
"""

from __future__ import annotations

from fakebbs import models
from fakebbs._http.handlers._base import Context, Handler, routable
from fakebbs._rules.state import State

__all__ = ["HANDLERS"]


def claim_actual_lrp(
    state: State, request: models.ClaimActualLRPRequest, call: Context
) -> models.ActualLRPLifecycleResponse:
    state.claim_actual_lrp(request.process_guid, request.index, request.actual_lrp_instance_key)
    return models.ActualLRPLifecycleResponse()


def start_actual_lrp(
    state: State, request: models.StartActualLRPRequest, call: Context
) -> models.ActualLRPLifecycleResponse:
    """``start.r1``: everything the rep reports; ``Routable`` absent means routable."""
    state.start_actual_lrp(
        request.actual_lrp_key,
        request.actual_lrp_instance_key,
        request.actual_lrp_net_info,
        internal_routes=request.actual_lrp_internal_routes,
        metric_tags=request.metric_tags,
        routable=routable(request),
        availability_zone=request.availability_zone,
    )
    return models.ActualLRPLifecycleResponse()


def start_actual_lrp_r0(
    state: State, request: models.StartActualLRPRequest, call: Context
) -> models.ActualLRPLifecycleResponse:
    """``start`` (``StartActualLRP_r0``): internal routes and metric tags in the body are
    ignored (stored empty); routable and availability zone are still read."""
    state.start_actual_lrp(
        request.actual_lrp_key,
        request.actual_lrp_instance_key,
        request.actual_lrp_net_info,
        routable=routable(request),
        availability_zone=request.availability_zone,
    )
    return models.ActualLRPLifecycleResponse()


def crash_actual_lrp(
    state: State, request: models.CrashActualLRPRequest, call: Context
) -> models.ActualLRPLifecycleResponse:
    state.crash_actual_lrp(
        request.actual_lrp_key, request.actual_lrp_instance_key, request.error_message
    )
    return models.ActualLRPLifecycleResponse()


def fail_actual_lrp(
    state: State, request: models.FailActualLRPRequest, call: Context
) -> models.ActualLRPLifecycleResponse:
    state.fail_actual_lrp(request.actual_lrp_key, request.error_message)
    return models.ActualLRPLifecycleResponse()


def remove_actual_lrp(
    state: State, request: models.RemoveActualLRPRequest, call: Context
) -> models.ActualLRPLifecycleResponse:
    """The instance key is a condition only when it is on the wire (even empty)."""
    instance_key = (
        request.actual_lrp_instance_key if request.HasField("actual_lrp_instance_key") else None
    )
    state.remove_actual_lrp(request.process_guid, request.index, instance_key)
    return models.ActualLRPLifecycleResponse()


HANDLERS: dict[str, Handler] = {
    "ClaimActualLRP": Handler(claim_actual_lrp),
    "StartActualLRP": Handler(start_actual_lrp),
    "StartActualLRP_r0": Handler(start_actual_lrp_r0),
    "CrashActualLRP": Handler(crash_actual_lrp),
    "FailActualLRP": Handler(fail_actual_lrp),
    "RemoveActualLRP": Handler(remove_actual_lrp),
}
