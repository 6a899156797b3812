"""A typed client for the BBS HTTP API, usable against this fake or a real BBS.

It speaks the wire protocol the way upstream's Go client (``client.go``) does: every call is one
HTTP/1.1 request whose body is the serialised request message, and every answer is mapped to a
response message or an exception in the order of ``client.do``:

1. transport error: raised as-is (``OSError``, ``http.client.HTTPException``), except that a
   timeout becomes :class:`~fakebbs.errors.Timeout` (also a ``TimeoutError``);
2. an ``X-Cf-Routererror`` header: :class:`~fakebbs.errors.RouterError` with the header's value;
3. media type ``application/x-protobuf`` (parameters allowed): the body is decoded into the route's
   response type whatever the status code (undecodable: ``InvalidProtobufMessage``);
4. any other media type: 404 ``InvalidResponse("Invalid Response with status code: 404")``
   (upstream's ``EndpointNotFoundErr``), other statuses above 299 the same with their code, 2xx a
   zero-valued response;
5. a decoded response whose ``error`` field is present raises ``errors.from_wire(error)``.

Steps 1-4 are "request failures": only those are retried (``retries`` extra attempts, sleeping
``retry_interval`` seconds between attempts), and only a 404 from step 4 makes the start and
evacuate-running calls fall back to their older revision, as in the Go client.
:func:`fakebbs.errors.is_retryable` is True for exactly those (the ``BBSError`` classes steps
2-4 raise carry ``retryable=True``), so a caller catches them in one place.

Methods are the Go client's (``InternalClient`` and ``Client`` of upstream ``client.go``), in
snake case, without the logger; where Go takes a ``traceID`` they take the keyword ``trace_id``,
sent as ``X-Vcap-Request-Id``. :meth:`BBSClient.call` reaches any non-streaming route of
:mod:`fakebbs.routes` by endpoint name, including deprecated and removed revisions, and returns
the decoded response with its ``error`` field instead of raising it (step 5 is the typed
methods' business).

Event streams (``subscribe_to_events``, ``subscribe_to_instance_events``,
``subscribe_to_task_events``) each open a connection of their own and return an
:class:`EventSource` of decoded event messages, like the Go client's ``events.EventSource``.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import itertools
import queue
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import werkzeug.datastructures
import werkzeug.test
from google.protobuf.message import DecodeError, Message

from fakebbs import models
from fakebbs._rules.wire import PROTOBUF, ROUTER_ERROR_HEADER, TRACE_HEADER
from fakebbs.errors import (
    BBSError,
    InvalidProtobufMessage,
    InvalidResponse,
    RouterError,
    Timeout,
    from_wire,
    is_retryable,
)
from fakebbs.routes import EVENT_TYPES, STREAM_CANCEL_ENVIRON_KEY, Route, route

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = [
    "EVENT_TYPES",
    "GO_DEFAULT_RETRIES",
    "GO_RETRY_INTERVAL",
    "PROTO_CONTENT_TYPE",
    "BBSClient",
    "EventSource",
]

PROTO_CONTENT_TYPE = PROTOBUF
TRACE_ID_HEADER = TRACE_HEADER
ENDPOINT_NOT_FOUND_MESSAGE = "Invalid Response with status code: 404"

#: Upstream's ``DefaultRetryCount`` counts attempts, so the Go client's behaviour is
#: ``retries=GO_DEFAULT_RETRIES`` here (3 attempts); it sleeps ``GO_RETRY_INTERVAL`` seconds after
#: every failed attempt (also after the last one, which this client skips).
GO_DEFAULT_RETRIES = 2
GO_RETRY_INTERVAL = 0.5

# What upstream's doEvacRequest returns as keep_container when the request itself fails.
_KEEP_CONTAINER = True
_DELETE_CONTAINER = False

_TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


M = TypeVar("M", bound=Message)


class BBSClient:
    """A client for one BBS URL (``http://`` or ``https://``).

    ``ssl_context`` configures TLS (the real BBS wants a client certificate); ``timeout`` bounds
    each socket operation in seconds (``None``: no limit) and a timeout raises
    :class:`~fakebbs.errors.Timeout`. ``retries`` is the number of extra attempts after a request
    failure, ``retry_interval`` the seconds slept before each (the Go client makes 3 attempts
    500 ms apart: ``retries=GO_DEFAULT_RETRIES``, the default ``retry_interval``).

    Connections are HTTP/1.1 keep-alive sockets kept in a pool behind a lock: each call takes
    an idle connection (or opens one) and gives it back when the response has been read, so
    sequential calls share one socket and concurrent calls from several threads use one socket
    each. A pooled connection the server has closed while it was idle is noticed before it is
    reused and reopened transparently (like Go's transport, a request that was already written is
    never re-sent behind the caller's back).
    """

    def __init__(
        self,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float | None = None,
        retries: int = 0,
        retry_interval: float = GO_RETRY_INTERVAL,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http or https URL, got {url!r}")
        if ssl_context is not None and parts.scheme != "https":
            raise ValueError("Expected https URL")  # upstream newSecureClient's words
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.url = url
        self._scheme = parts.scheme
        self._netloc = parts.netloc.rpartition("@")[2]
        self._prefix = parts.path.rstrip("/")  # rata joins the base URL and the route path
        self._base = f"{parts.scheme}://{self._netloc}{self._prefix}"
        self._ssl_context = ssl_context
        self._timeout = timeout
        self.retries = retries
        self.retry_interval = retry_interval
        self._lock = threading.Lock()
        self._idle: list[http.client.HTTPConnection] = []
        self._closed = False
        self._wsgi: werkzeug.test.Client | None = None

    @classmethod
    def in_process(
        cls, app: WSGIApplication, *, retries: int = 0, retry_interval: float = GO_RETRY_INTERVAL
    ) -> BBSClient:
        """A client that calls a WSGI app (such as ``FakeBBS().wsgi_app``) directly: the same
        requests and the same answers, without a socket."""
        client = cls("http://in-process", retries=retries, retry_interval=retry_interval)
        client._wsgi = werkzeug.test.Client(app)
        return client

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the idle connections; busy ones are closed when their call ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BBSClient({self.url!r})"

    # -- the generic call ----------------------------------------------------------------------

    def call(
        self, route_name: str, request: Message | bytes | None = None, *, trace_id: str = ""
    ) -> Message:
        """Call a non-streaming route by endpoint name and return its decoded response.

        ``request`` is the route's request message (``None``: an empty body; ``bytes``: sent
        verbatim). This is the wire view: a response's ``error`` field is returned, not raised;
        only request failures raise (see the module docstring, steps 1-4).
        """
        return self._exchange(_plain_route(route_name), request, trace_id)

    # -- ping, domains, cells ------------------------------------------------------------------

    def ping(self, *, trace_id: str = "") -> bool:
        """Whether the BBS answers; ``False`` on any failure, like the Go client."""
        try:
            response = self._call("Ping", None, models.PingResponse, trace_id)
        except (BBSError, *_TRANSPORT_ERRORS):
            return False
        return response.available

    def domains(self, *, trace_id: str = "") -> list[str]:
        """The fresh domains."""
        return list(self._call("Domains", None, models.DomainsResponse, trace_id).domains)

    def upsert_domain(self, domain: str, ttl_seconds: float, *, trace_id: str = "") -> None:
        """Create or refresh ``domain`` for ``ttl_seconds`` (0: forever; whole seconds are sent)."""
        request = models.UpsertDomainRequest(domain=domain, ttl=int(ttl_seconds))
        self._call("UpsertDomain", request, models.UpsertDomainResponse, trace_id)

    def cells(self, *, trace_id: str = "") -> list[models.CellPresence]:
        """The registered cells."""
        return list(self._call("Cells", None, models.CellsResponse, trace_id).cells)

    # -- actual LRP queries --------------------------------------------------------------------

    def actual_lrps(
        self,
        *,
        domain: str = "",
        cell_id: str = "",
        process_guid: str = "",
        index: int | None = None,
        trace_id: str = "",
    ) -> list[models.ActualLRP]:
        """Actual LRPs matching all the given filters (``index=0`` filters on index 0)."""
        request = models.ActualLRPsRequest(
            domain=domain, cell_id=cell_id, process_guid=process_guid
        )
        if index is not None:
            request.index = index
        response = self._call("ActualLRPs", request, models.ActualLRPsResponse, trace_id)
        return list(response.actual_lrps)

    def actual_lrps_by_process_guids(
        self, process_guids: Iterable[str], *, trace_id: str = ""
    ) -> list[models.ActualLRP]:
        """Actual LRPs of the given process guids."""
        request = models.ActualLRPsByProcessGuidsRequest(process_guids=list(process_guids))
        response = self._call(
            "ActualLRPsByProcessGuids", request, models.ActualLRPsByProcessGuidsResponse, trace_id
        )
        return list(response.actual_lrps)

    def actual_lrp_groups(
        self, *, domain: str = "", cell_id: str = "", trace_id: str = ""
    ) -> list[models.ActualLRPGroup]:
        """Deprecated upstream: actual LRPs folded into groups."""
        request = models.ActualLRPGroupsRequest(domain=domain, cell_id=cell_id)
        response = self._call("ActualLRPGroups", request, models.ActualLRPGroupsResponse, trace_id)
        return list(response.actual_lrp_groups)

    def actual_lrp_groups_by_process_guid(
        self, process_guid: str, *, trace_id: str = ""
    ) -> list[models.ActualLRPGroup]:
        """Deprecated upstream: the groups of one process guid."""
        request = models.ActualLRPGroupsByProcessGuidRequest(process_guid=process_guid)
        response = self._call(
            "ActualLRPGroupsByProcessGuid", request, models.ActualLRPGroupsResponse, trace_id
        )
        return list(response.actual_lrp_groups)

    def actual_lrp_group_by_process_guid_and_index(
        self, process_guid: str, index: int, *, trace_id: str = ""
    ) -> models.ActualLRPGroup:
        """Deprecated upstream: the group of one instance index."""
        request = models.ActualLRPGroupByProcessGuidAndIndexRequest(
            process_guid=process_guid, index=index
        )
        response = self._call(
            "ActualLRPGroupsByProcessGuidAndIndex", request, models.ActualLRPGroupResponse, trace_id
        )
        return response.actual_lrp_group

    # -- actual LRP lifecycle ------------------------------------------------------------------

    def claim_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        *,
        trace_id: str = "",
    ) -> None:
        """Claim an instance for a cell (only the key's process guid and index are sent)."""
        request = models.ClaimActualLRPRequest(
            process_guid=key.process_guid, index=key.index, actual_lrp_instance_key=instance_key
        )
        self._call("ClaimActualLRP", request, models.ActualLRPLifecycleResponse, trace_id)

    def start_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        net_info: models.ActualLRPNetInfo,
        *,
        internal_routes: Iterable[models.ActualLRPInternalRoute] = (),
        metric_tags: Mapping[str, str] | None = None,
        routable: bool = True,
        availability_zone: str = "",
        trace_id: str = "",
    ) -> None:
        """Mark an instance running; falls back to ``start`` (r0) where ``start.r1`` is a 404."""
        request = _running_request(
            models.StartActualLRPRequest(),
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        )
        # upstream StartActualLRP: an older BBS gets only the key, instance key and net info
        fallback = models.StartActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, actual_lrp_net_info=net_info
        )
        response = self._exchange_falling_back(
            "StartActualLRP", request, trace_id, ("StartActualLRP_r0", fallback)
        )
        _raise_error_field(response)

    def crash_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        error_message: str,
        *,
        trace_id: str = "",
    ) -> None:
        """Report a crashed instance."""
        request = models.CrashActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, error_message=error_message
        )
        self._call("CrashActualLRP", request, models.ActualLRPLifecycleResponse, trace_id)

    def fail_actual_lrp(
        self, key: models.ActualLRPKey, error_message: str, *, trace_id: str = ""
    ) -> None:
        """Record a placement failure on an unclaimed instance."""
        request = models.FailActualLRPRequest(actual_lrp_key=key, error_message=error_message)
        self._call("FailActualLRP", request, models.ActualLRPLifecycleResponse, trace_id)

    def remove_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey | None = None,
        *,
        trace_id: str = "",
    ) -> None:
        """Delete an instance row; with ``instance_key`` only if it still matches."""
        request = models.RemoveActualLRPRequest(process_guid=key.process_guid, index=key.index)
        if instance_key is not None:
            request.actual_lrp_instance_key.CopyFrom(instance_key)
        self._call("RemoveActualLRP", request, models.ActualLRPLifecycleResponse, trace_id)

    def retire_actual_lrp(self, key: models.ActualLRPKey, *, trace_id: str = "") -> None:
        """Stop an instance without touching the desired state."""
        request = models.RetireActualLRPRequest(actual_lrp_key=key)
        self._call("RetireActualLRP", request, models.ActualLRPLifecycleResponse, trace_id)

    # -- evacuation ----------------------------------------------------------------------------
    #
    # These return the server's keep_container. On failure they raise, and the exception carries
    # ``keep_container`` as the Go client would have returned it alongside the error: the
    # response's value for a decoded error, otherwise upstream's per-call default.

    def evacuate_claimed_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        *,
        trace_id: str = "",
    ) -> bool:
        """Evacuate a claimed instance; returns keep_container."""
        request = models.EvacuateClaimedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        )
        return self._evacuate("EvacuateClaimedActualLRP", request, _KEEP_CONTAINER, trace_id)

    def evacuate_running_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        net_info: models.ActualLRPNetInfo,
        *,
        internal_routes: Iterable[models.ActualLRPInternalRoute] = (),
        metric_tags: Mapping[str, str] | None = None,
        routable: bool = True,
        availability_zone: str = "",
        trace_id: str = "",
    ) -> bool:
        """Evacuate a running instance; falls back to the r0 route where r1 is a 404."""
        request = _running_request(
            models.EvacuateRunningActualLRPRequest(),
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        )
        fallback = models.EvacuateRunningActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, actual_lrp_net_info=net_info
        )
        return self._evacuate(
            "EvacuateRunningActualLRP",
            request,
            _KEEP_CONTAINER,
            trace_id,
            fallback=("EvacuateRunningActualLRP_r0", fallback),
        )

    def evacuate_stopped_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        *,
        trace_id: str = "",
    ) -> bool:
        """Evacuate a stopped instance; returns keep_container."""
        request = models.EvacuateStoppedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        )
        return self._evacuate("EvacuateStoppedActualLRP", request, _DELETE_CONTAINER, trace_id)

    def evacuate_crashed_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        error_message: str,
        *,
        trace_id: str = "",
    ) -> bool:
        """Evacuate a crashed instance; returns keep_container."""
        request = models.EvacuateCrashedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, error_message=error_message
        )
        return self._evacuate("EvacuateCrashedActualLRP", request, _DELETE_CONTAINER, trace_id)

    def remove_evacuating_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        *,
        trace_id: str = "",
    ) -> None:
        """Delete an evacuating row."""
        request = models.RemoveEvacuatingActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        )
        self._call(
            "RemoveEvacuatingActualLRP", request, models.RemoveEvacuatingActualLRPResponse, trace_id
        )

    # -- desired LRPs --------------------------------------------------------------------------

    def desired_lrps(
        self,
        *,
        domain: str = "",
        process_guids: Iterable[str] = (),
        app_guids: Iterable[str] = (),
        trace_id: str = "",
    ) -> list[models.DesiredLRP]:
        """Desired LRPs matching the filter (``app_guids`` are process guid prefixes)."""
        request = _desired_lrp_filter(domain, process_guids, app_guids)
        response = self._call("DesiredLRPs", request, models.DesiredLRPsResponse, trace_id)
        return list(response.desired_lrps)

    def desired_lrp_by_process_guid(
        self, process_guid: str, *, trace_id: str = ""
    ) -> models.DesiredLRP:
        """One desired LRP."""
        request = models.DesiredLRPByProcessGuidRequest(process_guid=process_guid)
        response = self._call(
            "DesiredLRPByProcessGuid", request, models.DesiredLRPResponse, trace_id
        )
        return response.desired_lrp

    def desired_lrp_scheduling_infos(
        self,
        *,
        domain: str = "",
        process_guids: Iterable[str] = (),
        app_guids: Iterable[str] = (),
        trace_id: str = "",
    ) -> list[models.DesiredLRPSchedulingInfo]:
        """Scheduling infos matching the filter."""
        request = _desired_lrp_filter(domain, process_guids, app_guids)
        response = self._call(
            "DesiredLRPSchedulingInfos", request, models.DesiredLRPSchedulingInfosResponse, trace_id
        )
        return list(response.desired_lrp_scheduling_infos)

    def desired_lrp_scheduling_info_by_process_guid(
        self, process_guid: str, *, trace_id: str = ""
    ) -> models.DesiredLRPSchedulingInfo:
        """One scheduling info."""
        request = models.DesiredLRPByProcessGuidRequest(process_guid=process_guid)
        response = self._call(
            "DesiredLRPSchedulingInfoByProcessGuid",
            request,
            models.DesiredLRPSchedulingInfoByProcessGuidResponse,
            trace_id,
        )
        return response.desired_lrp_scheduling_info

    def desired_lrp_routing_infos(
        self,
        *,
        domain: str = "",
        process_guids: Iterable[str] = (),
        app_guids: Iterable[str] = (),
        trace_id: str = "",
    ) -> list[models.DesiredLRP]:
        """Routing infos (partial desired LRPs) matching the filter."""
        request = _desired_lrp_filter(domain, process_guids, app_guids)
        response = self._call(
            "DesiredLRPRoutingInfos", request, models.DesiredLRPsResponse, trace_id
        )
        return list(response.desired_lrps)

    def desire_lrp(self, desired_lrp: models.DesiredLRP, *, trace_id: str = "") -> None:
        """Create a desired LRP and its instances."""
        request = models.DesireLRPRequest(desired_lrp=desired_lrp)
        self._call("DesireDesiredLRP", request, models.DesiredLRPLifecycleResponse, trace_id)

    def update_desired_lrp(
        self,
        process_guid: str,
        update: models.DesiredLRPUpdate | None,
        *,
        trace_id: str = "",
    ) -> None:
        """Apply ``update`` (``None`` sends no update field at all)."""
        request = models.UpdateDesiredLRPRequest(process_guid=process_guid)
        if update is not None:
            request.update.CopyFrom(update)
        self._call("UpdateDesireLRP", request, models.DesiredLRPLifecycleResponse, trace_id)

    def remove_desired_lrp(self, process_guid: str, *, trace_id: str = "") -> None:
        """Remove a desired LRP and stop its instances."""
        request = models.RemoveDesiredLRPRequest(process_guid=process_guid)
        self._call("RemoveDesiredLRP", request, models.DesiredLRPLifecycleResponse, trace_id)

    # -- tasks ---------------------------------------------------------------------------------

    def tasks(self, *, trace_id: str = "") -> list[models.Task]:
        """All tasks."""
        return self.tasks_with_filter(trace_id=trace_id)

    def tasks_with_filter(
        self, *, domain: str = "", cell_id: str = "", trace_id: str = ""
    ) -> list[models.Task]:
        """Tasks matching both filters."""
        request = models.TasksRequest(domain=domain, cell_id=cell_id)
        return list(self._call("Tasks", request, models.TasksResponse, trace_id).tasks)

    def tasks_by_domain(self, domain: str, *, trace_id: str = "") -> list[models.Task]:
        """Tasks of one domain."""
        return self.tasks_with_filter(domain=domain, trace_id=trace_id)

    def tasks_by_cell_id(self, cell_id: str, *, trace_id: str = "") -> list[models.Task]:
        """Tasks on one cell."""
        return self.tasks_with_filter(cell_id=cell_id, trace_id=trace_id)

    def task_by_guid(self, task_guid: str, *, trace_id: str = "") -> models.Task:
        """One task."""
        request = models.TaskByGuidRequest(task_guid=task_guid)
        return self._call("TaskByGuid", request, models.TaskResponse, trace_id).task

    def desire_task(
        self,
        task_guid: str,
        domain: str,
        task_definition: models.TaskDefinition,
        *,
        trace_id: str = "",
    ) -> None:
        """Create a task."""
        request = models.DesireTaskRequest(
            task_guid=task_guid, domain=domain, task_definition=task_definition
        )
        self._call("DesireTask", request, models.TaskLifecycleResponse, trace_id)

    def start_task(self, task_guid: str, cell_id: str, *, trace_id: str = "") -> bool:
        """Start a task on a cell; returns should_start."""
        request = models.StartTaskRequest(task_guid=task_guid, cell_id=cell_id)
        return self._call("StartTask", request, models.StartTaskResponse, trace_id).should_start

    def cancel_task(self, task_guid: str, *, trace_id: str = "") -> None:
        """Cancel a task."""
        self._task_lifecycle("CancelTask", models.TaskGuidRequest(task_guid=task_guid), trace_id)

    def fail_task(self, task_guid: str, failure_reason: str, *, trace_id: str = "") -> None:
        """Deprecated upstream (use cancel_task): fail a task."""
        request = models.FailTaskRequest(task_guid=task_guid, failure_reason=failure_reason)
        self._task_lifecycle("FailTask", request, trace_id)

    def reject_task(self, task_guid: str, rejection_reason: str, *, trace_id: str = "") -> None:
        """Give a task back for another placement."""
        request = models.RejectTaskRequest(task_guid=task_guid, rejection_reason=rejection_reason)
        self._task_lifecycle("RejectTask", request, trace_id)

    def complete_task(
        self,
        task_guid: str,
        cell_id: str,
        failed: bool,
        failure_reason: str = "",
        result: str = "",
        *,
        trace_id: str = "",
    ) -> None:
        """Complete a running task."""
        request = models.CompleteTaskRequest(
            task_guid=task_guid,
            cell_id=cell_id,
            failed=failed,
            failure_reason=failure_reason,
            result=result,
        )
        self._task_lifecycle("CompleteTask", request, trace_id)

    def resolving_task(self, task_guid: str, *, trace_id: str = "") -> None:
        """Mark a completed task as resolving."""
        self._task_lifecycle("ResolvingTask", models.TaskGuidRequest(task_guid=task_guid), trace_id)

    def delete_task(self, task_guid: str, *, trace_id: str = "") -> None:
        """Delete a resolving task."""
        self._task_lifecycle("DeleteTask", models.TaskGuidRequest(task_guid=task_guid), trace_id)

    # -- event streams -------------------------------------------------------------------------

    def subscribe_to_events(self, cell_id: str = "") -> EventSource:
        """Deprecated upstream (use ``subscribe_to_instance_events``): desired LRP events and
        the actual LRP *group* events, optionally only those of one cell (``/v1/events.r1``,
        Go ``SubscribeToEvents`` and ``SubscribeToEventsByCellID``)."""
        return self.subscribe("EventStream", cell_id)

    def subscribe_to_events_by_cell_id(self, cell_id: str) -> EventSource:
        """Go ``SubscribeToEventsByCellID``: ``subscribe_to_events(cell_id)``."""
        return self.subscribe_to_events(cell_id)

    def subscribe_to_instance_events(self, cell_id: str = "") -> EventSource:
        """Desired LRP events and actual LRP instance events, optionally only those of one
        cell (``/v1/events/lrp_instances.r1``, Go ``SubscribeToInstanceEvents`` and
        ``SubscribeToInstanceEventsByCellID``)."""
        return self.subscribe("LRPInstanceEventStream", cell_id)

    def subscribe_to_instance_events_by_cell_id(self, cell_id: str) -> EventSource:
        """Go ``SubscribeToInstanceEventsByCellID``: ``subscribe_to_instance_events(cell_id)``."""
        return self.subscribe_to_instance_events(cell_id)

    def subscribe_to_task_events(self) -> EventSource:
        """Task events (``/v1/events/tasks.r1``, Go ``SubscribeToTaskEvents``)."""
        return self.subscribe("TaskEventStream")

    def subscribe(self, route_name: str, cell_id: str = "") -> EventSource:
        """Subscribe to any stream route of :mod:`fakebbs.routes` by endpoint name (the
        deprecated and removed revisions too), sending ``EventsByCellId(cell_id)`` as go-sse
        does: with the route's method, no Content-Type and no request id.

        Returns once the server has answered the status line; a status other than 200 raises
        ``InvalidResponse("bad response from event source: <status>")`` (the Go client would
        retry a 5xx forever).
        """
        target = route(route_name)
        if not target.stream:
            raise ValueError(f"{route_name} is not an event stream route")
        body = models.EventsByCellId(cell_id=cell_id).SerializeToString()
        headers = {} if not body and target.method == "GET" else {"Content-Length": str(len(body))}
        if self._wsgi is not None:
            return EventSource._in_process(
                self._wsgi.application, target, self._prefix + target.path, body, headers
            )
        conn = self._connection()
        try:
            conn.request(target.method, self._prefix + target.path, body or None, headers)
            sock = conn.sock
            response = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        if response.status != 200:
            conn.close()
            raise _failed(InvalidResponse(f"bad response from event source: {response.status}"))
        if sock is not None:
            sock.settimeout(None)  # the client's timeout bounds the connect; a stream may idle
        return EventSource(_lines_of_response(response), conn.close, sock)

    # -- internals -----------------------------------------------------------------------------

    def _call(self, name: str, request: Message | None, response_type: type[M], trace_id: str) -> M:
        response = self._exchange(_plain_route(name), request, trace_id)
        if not isinstance(response, response_type):  # the route table and this file disagree
            raise TypeError(
                f"{name} answers {type(response).__name__}, not {response_type.__name__}"
            )
        _raise_error_field(response)
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
        except (BBSError, *_TRANSPORT_ERRORS) as err:
            # A transport error (OSError, HTTPException) carries it as a plain attribute.
            err.keep_container = default_keep_container  # type: ignore[union-attr]
            raise
        assert isinstance(response, models.EvacuationResponse)
        try:
            _raise_error_field(response)
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
            return self._exchange(route(name), request, trace_id)
        except InvalidResponse as err:
            if fallback is None or err.message != ENDPOINT_NOT_FOUND_MESSAGE:
                raise
            return self._exchange(route(fallback[0]), fallback[1], trace_id)

    def _exchange(self, target: Route, request: Message | bytes | None, trace_id: str) -> Message:
        """Upstream ``doRequest``: attempts until one succeeds, without looking at ``error``."""
        if isinstance(request, Message):
            body = request.SerializeToString()
        else:
            body = request or b""
        response_type: type[Message] = getattr(models, target.response or "")
        attempt = 0
        while True:
            try:
                return self._attempt(target, body, response_type, trace_id)
            except Exception as err:
                if attempt >= self.retries or not is_retryable(err):
                    raise
            attempt += 1
            time.sleep(self.retry_interval)

    def _attempt(
        self, target: Route, body: bytes, response_type: type[Message], trace_id: str
    ) -> Message:
        """One request and upstream ``do``'s mapping of its result."""
        if self._wsgi is not None:
            try:
                reply = self._wsgi.open(
                    self._prefix + target.path,
                    method=target.method,
                    data=body,
                    headers=self._headers(target, body, trace_id),
                )
                payload = reply.get_data()
            except http.client.IncompleteRead as err:  # a truncated_body fault: 200, then cut
                cut = werkzeug.datastructures.Headers({"Content-Type": PROTO_CONTENT_TYPE})
                return self._result(200, cut, b"", err, response_type)
            return self._result(reply.status_code, reply.headers, payload, None, response_type)
        conn = self._checkout()
        try:
            status, headers, payload, read_error = self._round_trip(conn, target, body, trace_id)
        except TimeoutError as err:
            conn.close()
            # worded like Go's *url.Error: Post "http://host/v1/ping": <reason>
            where = f'{target.method.title()} "{self._base}{target.path}"'
            raise _failed(Timeout(f"{where}: {err or 'timed out'}")) from err
        except BaseException:
            conn.close()
            raise
        self._checkin(conn)
        return self._result(status, headers, payload, read_error, response_type)

    def _result(
        self,
        status: int,
        headers: http.client.HTTPMessage | werkzeug.datastructures.Headers,
        payload: bytes,
        read_error: Exception | None,
        response_type: type[Message],
    ) -> Message:
        router_error = headers.get(ROUTER_ERROR_HEADER)
        if router_error is not None:
            raise _failed(RouterError(router_error))
        if _media_type(headers.get("Content-Type")) == PROTO_CONTENT_TYPE:
            if read_error is not None:
                raise _failed(InvalidResponse(f"failed to read body: {read_error}")) from read_error
            try:
                return response_type.FromString(payload)
            except DecodeError as err:
                raise _failed(InvalidProtobufMessage(f"failed to unmarshal proto: {err}")) from err
        if status == 404:
            raise _failed(InvalidResponse(ENDPOINT_NOT_FOUND_MESSAGE))
        if status > 299:
            raise _failed(InvalidResponse(f"Invalid Response with status code: {status}"))
        return response_type()

    def _round_trip(
        self, conn: http.client.HTTPConnection, target: Route, body: bytes, trace_id: str
    ) -> tuple[int, http.client.HTTPMessage, bytes, Exception | None]:
        headers = self._headers(target, body, trace_id)
        conn.request(target.method, self._prefix + target.path, body or None, headers)
        response = conn.getresponse()
        try:
            payload = response.read()
        except (http.client.IncompleteRead, OSError) as err:
            conn.close()  # the rest of the body is lost; the socket cannot be reused
            return response.status, response.headers, b"", err
        return response.status, response.headers, payload, None

    @staticmethod
    def _headers(target: Route, body: bytes, trace_id: str) -> dict[str, str]:
        headers = {"Content-Type": PROTO_CONTENT_TYPE, TRACE_ID_HEADER: trace_id}
        # Go's transport leaves out "Content-Length: 0" on a GET with no body.
        if body or target.method != "GET":
            headers["Content-Length"] = str(len(body))
        return headers

    def _checkout(self) -> http.client.HTTPConnection:
        with self._lock:
            if self._closed:
                raise RuntimeError("the client has been closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            return self._connection()
        if _dropped(conn):
            conn.close()  # http.client reopens it on the next request
        return conn

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(conn)
                return
        conn.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            context = self._ssl_context or ssl.create_default_context()
            if self._timeout is None:
                return http.client.HTTPSConnection(self._netloc, context=context)
            return http.client.HTTPSConnection(self._netloc, timeout=self._timeout, context=context)
        if self._timeout is None:
            return http.client.HTTPConnection(self._netloc)
        return http.client.HTTPConnection(self._netloc, timeout=self._timeout)


class EventSource:
    """A subscription to a BBS event stream: decoded event messages, in order.

    Like the Go client's ``events.EventSource``: ``next()`` returns the next event message
    (an instance of a class of :data:`EVENT_TYPES`; events of unknown names are skipped), raises
    ``EOFError`` once the server has ended the stream cleanly, and raises the transport error if
    the connection broke (no reconnect here). ``next(timeout=...)`` raises ``TimeoutError``
    when no event arrived within ``timeout`` seconds. Iterating yields events until the end.
    ``close()`` (also on leaving a ``with`` block) drops the connection.

    A background thread reads and decodes the stream into a queue, so events are read off the
    socket as soon as they arrive.
    """

    def __init__(
        self,
        lines: Iterator[bytes],
        disconnect: Callable[[], None],
        sock: socket.socket | None = None,
    ) -> None:
        self._lines = lines
        self._disconnect = disconnect
        self._sock = sock
        self._events: queue.SimpleQueue[Message | BaseException] = queue.SimpleQueue()
        self._closed = False
        self._finished = False
        self._reader = threading.Thread(target=self._read, name="fakebbs-event-source", daemon=True)
        self._reader.start()

    @classmethod
    def _in_process(
        cls,
        app: WSGIApplication,
        target: Route,
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> EventSource:
        cancel = threading.Event()
        environ = werkzeug.test.EnvironBuilder(
            path=path, method=target.method, data=body, headers=list(headers.items())
        ).get_environ()
        environ[STREAM_CANCEL_ENVIRON_KEY] = cancel
        statuses: list[str] = []
        written: list[bytes] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return written.append

        # Not werkzeug's run_wsgi_app: it waits for the first body chunk, i.e. the first event.
        app_iter = app(environ, start_response)
        code = int(statuses[-1].split(" ", 1)[0])
        if code != 200:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
            raise _failed(InvalidResponse(f"bad response from event source: {code}"))
        return cls(_lines_of_chunks(itertools.chain(written, app_iter), app_iter), cancel.set)

    def next(self, timeout: float | None = None) -> Message:
        """The next event message; see the class docstring."""
        if self._finished:
            raise EOFError("the event stream has ended")
        if self._closed:
            raise RuntimeError("the event source has been closed")
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event within {timeout} s") from None
        if isinstance(item, EOFError):
            self._finished = True
        if isinstance(item, BaseException):
            raise item
        return item

    def __iter__(self) -> Iterator[Message]:
        while True:
            try:
                yield self.next()
            except EOFError:
                return

    def close(self) -> None:
        """Drop the connection and wait for the reader thread. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv
            except OSError:
                pass
        self._disconnect()
        self._reader.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self) -> None:
        """go-sse's reader: ``field: value`` lines, a blank line ends an event, ``:`` starts a
        comment; ``data`` lines are joined with newlines; an event without data is skipped."""
        name, data = "", b""
        has_data = False
        try:
            for raw in self._lines:
                line = raw.rstrip(b"\n").rstrip(b"\r")
                if line == b"":
                    if has_data:
                        message = _decode_event(name, data)
                        if message is not None:
                            self._events.put(message)
                    name, data, has_data = "", b"", False
                    continue
                if line.startswith(b":"):
                    continue
                key, _, value = line.partition(b":")
                if value.startswith(b" "):
                    value = value[1:]
                if key == b"event":
                    name = value.decode("utf-8", "replace")
                elif key == b"data":
                    data = data + b"\n" + value if has_data else value
                    has_data = True
            self._events.put(EOFError("the event stream has ended"))
        except BaseException as err:  # noqa: BLE001 - handed to the caller of next()
            if self._closed:
                self._events.put(EOFError("the event source has been closed"))
            else:
                self._events.put(err)
        finally:
            close = getattr(self._lines, "close", None)
            if close is not None:
                close()


def _decode_event(name: str, data: bytes) -> Message | None:
    """Upstream ``parseRawEvent``: base64 of the protobuf message; unknown names skipped."""
    message_type = EVENT_TYPES.get(name)
    if message_type is None:
        return None
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise InvalidProtobufMessage(f"invalid protobuf payload of type {name}: {err}") from err
    if not payload:
        raise InvalidProtobufMessage(f"invalid protobuf payload of type {name}: event with no data")
    try:
        return message_type.FromString(payload)
    except DecodeError as err:
        raise InvalidProtobufMessage(f"invalid protobuf payload of type {name}: {err}") from err


def _lines_of_response(response: http.client.HTTPResponse) -> Iterator[bytes]:
    """The body's lines (chunked coding undone); ends at the terminating chunk."""
    while line := response.readline():
        yield line


def _lines_of_chunks(chunks: Iterable[bytes], body: Iterable[bytes]) -> Iterator[bytes]:
    """Lines out of a WSGI body's chunks; at the end this closes the ``body``."""
    pending = b""
    try:
        for chunk in chunks:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line + b"\n"
        if pending:
            yield pending
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


R = TypeVar("R", models.StartActualLRPRequest, models.EvacuateRunningActualLRPRequest)


def _running_request(
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


def _plain_route(name: str) -> Route:
    target = route(name)
    if target.stream or target.response is None:
        raise ValueError(f"{name} is an event stream, not a request/response route")
    return target


def _failed(error: BBSError) -> BBSError:
    """``error``, marked as a request failure (``errors.is_retryable``)."""
    error.retryable = True
    return error


def _raise_error_field(response: Message) -> None:
    """Upstream ``response.Error.ToError()``: a present ``error`` field, even empty, is an error."""
    if "error" not in response.DESCRIPTOR.fields_by_name or not response.HasField("error"):
        return
    error = response.error  # type: ignore[attr-defined]
    raise from_wire(error)


def _media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value, lower case, without parameters (Go mime)."""
    if content_type is None:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection is unusable: readable while idle means EOF (or junk)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _desired_lrp_filter(
    domain: str, process_guids: Iterable[str], app_guids: Iterable[str]
) -> models.DesiredLRPsRequest:
    return models.DesiredLRPsRequest(
        domain=domain, process_guids=list(process_guids), app_guids=list(app_guids)
    )
