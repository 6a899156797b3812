"""Evacuation routes (upstream ``handlers/evacuation_handler.go``).

Each answers ``keep_container`` next to any error. A request that cannot be decoded or is invalid
is answered ``keep_container=true`` by evacuate_claimed and evacuate_running (upstream sets it
before parsing), false by evacuate_crashed and evacuate_stopped. The ``evacuate_running`` of
before 2022 (``EvacuateRunningActualLRP_r0``) ignores the internal routes and metric tags.
"""

from __future__ import annotations

from collections.abc import Callable

from fakebbs import models
from fakebbs._http.handlers._base import Context, Handler, routable
from fakebbs._rules.state import State
from fakebbs.errors import BBSError

__all__ = ["HANDLERS"]


def evacuate_claimed_actual_lrp(
    state: State, request: models.EvacuateClaimedActualLRPRequest, call: Context
) -> models.EvacuationResponse:
    return _answer(
        lambda: state.evacuate_claimed_actual_lrp(
            request.actual_lrp_key, request.actual_lrp_instance_key
        )
    )


def evacuate_running_actual_lrp(
    state: State, request: models.EvacuateRunningActualLRPRequest, call: Context
) -> models.EvacuationResponse:
    """``evacuate_running.r1``; ``Routable`` absent means routable."""
    return _answer(
        lambda: state.evacuate_running_actual_lrp(
            request.actual_lrp_key,
            request.actual_lrp_instance_key,
            request.actual_lrp_net_info,
            internal_routes=request.actual_lrp_internal_routes,
            metric_tags=request.metric_tags,
            routable=routable(request),
            availability_zone=request.availability_zone,
        )
    )


def evacuate_running_actual_lrp_r0(
    state: State, request: models.EvacuateRunningActualLRPRequest, call: Context
) -> models.EvacuationResponse:
    """``evacuate_running``: fields 5 (internal routes) and 6 (metric tags) are ignored."""
    return _answer(
        lambda: state.evacuate_running_actual_lrp(
            request.actual_lrp_key,
            request.actual_lrp_instance_key,
            request.actual_lrp_net_info,
            routable=routable(request),
            availability_zone=request.availability_zone,
        )
    )


def evacuate_stopped_actual_lrp(
    state: State, request: models.EvacuateStoppedActualLRPRequest, call: Context
) -> models.EvacuationResponse:
    return _answer(
        lambda: state.evacuate_stopped_actual_lrp(
            request.actual_lrp_key, request.actual_lrp_instance_key
        )
    )


def evacuate_crashed_actual_lrp(
    state: State, request: models.EvacuateCrashedActualLRPRequest, call: Context
) -> models.EvacuationResponse:
    return _answer(
        lambda: state.evacuate_crashed_actual_lrp(
            request.actual_lrp_key, request.actual_lrp_instance_key, request.error_message
        )
    )


def remove_evacuating_actual_lrp(
    state: State, request: models.RemoveEvacuatingActualLRPRequest, call: Context
) -> models.RemoveEvacuatingActualLRPResponse:
    state.remove_evacuating_actual_lrp(request.actual_lrp_key, request.actual_lrp_instance_key)
    return models.RemoveEvacuatingActualLRPResponse()


def _answer(rule: Callable[[], bool]) -> models.EvacuationResponse:
    """The rule's keep_container, or its error with the keep_container it carries."""
    try:
        return models.EvacuationResponse(keep_container=rule())
    except BBSError as error:
        return models.EvacuationResponse(error=error.to_wire(), keep_container=error.keep_container)


def _keep_container(response: models.EvacuationResponse) -> None:
    """``on_bad_request`` of evacuate_claimed and evacuate_running."""
    response.keep_container = True


HANDLERS: dict[str, Handler] = {
    "EvacuateClaimedActualLRP": Handler(
        evacuate_claimed_actual_lrp, on_bad_request=_keep_container
    ),
    "EvacuateRunningActualLRP": Handler(
        evacuate_running_actual_lrp, on_bad_request=_keep_container
    ),
    "EvacuateRunningActualLRP_r0": Handler(
        evacuate_running_actual_lrp_r0, on_bad_request=_keep_container
    ),
    "EvacuateStoppedActualLRP": Handler(evacuate_stopped_actual_lrp),
    "EvacuateCrashedActualLRP": Handler(evacuate_crashed_actual_lrp),
    "RemoveEvacuatingActualLRP": Handler(remove_evacuating_actual_lrp),
}
