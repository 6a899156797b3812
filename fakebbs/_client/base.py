"""What every call of ``BBSClient`` shares: the transport, and upstream ``client.go``'s handling
of a decoded response (step 5 of ``fakebbs.client``'s docstring: a present ``error`` field is
raised), of evacuation answers (``doEvacRequest``) and of a revision's fallback to the older one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._client.transport import ENDPOINT_NOT_FOUND_MESSAGE, TRANSPORT_ERRORS, Transport
from fakebbs.errors import BBSError, InvalidResponse, from_wire
from fakebbs.routes import Route, route

__all__ = [
    "ClientBase",
    "desired_lrp_filter",
    "plain_route",
    "raise_error_field",
    "running_request",
]

M = TypeVar("M", bound=Message)


class ClientBase:
    """The calls' shared machinery; ``BBSClient`` builds on it (this is no API of its own)."""

    _transport: Transport

    def _call(self, name: str, request: Message | None, response_type: type[M], trace_id: str) -> M:
        response = self._transport.exchange(plain_route(name), request, trace_id)
        if not isinstance(response, response_type):  # the route table and this file disagree
            raise TypeError(
                f"{name} answers {type(response).__name__}, not {response_type.__name__}"
            )
        raise_error_field(response)
        return response

    def _task_lifecycle(self, name: str, request: Message, trace_id: str) -> None:
        self._call(name, request, models.TaskLifecycleResponse, trace_id)

    def _evacuate(
        self,
        name: str,
        request: Message,
        default_keep_container: bool,
        trace_id: str,
        fallback: tuple[str, Message] | None = None,
    ) -> bool:
        """Upstream ``doEvacRequest`` (plus the EvacuateRunningActualLRP revision fallback)."""
        try:
            response = self._exchange_falling_back(name, request, trace_id, fallback)
        except (BBSError, *TRANSPORT_ERRORS) as err:
            # A transport error (OSError, HTTPException) carries it as a plain attribute.
            err.keep_container = default_keep_container  # type: ignore[union-attr]
            raise
        assert isinstance(response, models.EvacuationResponse)
        try:
            raise_error_field(response)
        except BBSError as err:
            err.keep_container = response.keep_container
            raise
        return response.keep_container

    def _exchange_falling_back(
        self,
        name: str,
        request: Message,
        trace_id: str,
        fallback: tuple[str, Message] | None,
    ) -> Message:
        """A revisioned route, then (like the Go client) the older ``fallback`` route with its
        request when the newer one ends in EndpointNotFound (a plain 404)."""
        try:
            return self._transport.exchange(route(name), request, trace_id)
        except InvalidResponse as err:
            if fallback is None or err.message != ENDPOINT_NOT_FOUND_MESSAGE:
                raise
            return self._transport.exchange(route(fallback[0]), fallback[1], trace_id)


R = TypeVar("R", models.StartActualLRPRequest, models.EvacuateRunningActualLRPRequest)


def running_request(
    request: R,
    key: models.ActualLRPKey,
    instance_key: models.ActualLRPInstanceKey,
    net_info: models.ActualLRPNetInfo,
    internal_routes: Iterable[models.ActualLRPInternalRoute],
    metric_tags: Mapping[str, str] | None,
    routable: bool,
    availability_zone: str,
) -> R:
    """What a rep reports about a running instance, as start and evacuate_running send it."""
    request.actual_lrp_key.CopyFrom(key)
    request.actual_lrp_instance_key.CopyFrom(instance_key)
    request.actual_lrp_net_info.CopyFrom(net_info)
    request.actual_lrp_internal_routes.extend(internal_routes)
    request.metric_tags.update(dict(metric_tags or {}))
    request.Routable = routable
    request.availability_zone = availability_zone
    return request


def plain_route(name: str) -> Route:
    target = route(name)
    if target.stream or target.response is None:
        raise ValueError(f"{name} is an event stream, not a request/response route")
    return target


def raise_error_field(response: Message) -> None:
    """Upstream ``response.Error.ToError()``: a present ``error`` field, even empty, is an error."""
    if "error" not in response.DESCRIPTOR.fields_by_name or not response.HasField("error"):
        return
    error = response.error  # type: ignore[attr-defined]
    raise from_wire(error)


def desired_lrp_filter(
    domain: str, process_guids: Iterable[str], app_guids: Iterable[str]
) -> models.DesiredLRPsRequest:
    return models.DesiredLRPsRequest(
        domain=domain, process_guids=list(process_guids), app_guids=list(app_guids)
    )
