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

from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._client.actual_lrps import ActualLRPCalls
from fakebbs._client.base import desired_lrp_filter, plain_route
from fakebbs._client.events import EventSource
from fakebbs._client.transport import TRANSPORT_ERRORS, Transport
from fakebbs._rules.wire import PROTOBUF, TRACE_HEADER
from fakebbs.errors import BBSError
from fakebbs.routes import EVENT_TYPES, route

if TYPE_CHECKING:
    import ssl

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

#: Upstream's ``DefaultRetryCount`` counts attempts, so the Go client's behaviour is
#: ``retries=GO_DEFAULT_RETRIES`` here (3 attempts); it sleeps ``GO_RETRY_INTERVAL`` seconds after
#: every failed attempt (also after the last one, which this client skips).
GO_DEFAULT_RETRIES = 2
GO_RETRY_INTERVAL = 0.5


class BBSClient(ActualLRPCalls):
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
        self._transport = Transport(
            url,
            ssl_context=ssl_context,
            timeout=timeout,
            retries=retries,
            retry_interval=retry_interval,
        )

    @classmethod
    def in_process(
        cls, app: WSGIApplication, *, retries: int = 0, retry_interval: float = GO_RETRY_INTERVAL
    ) -> BBSClient:
        """A client that calls a WSGI app (such as ``FakeBBS().wsgi_app``) directly: the same
        requests and the same answers, without a socket."""
        client = cls("http://in-process", retries=retries, retry_interval=retry_interval)
        client._transport.in_process(app)
        return client

    @property
    def url(self) -> str:
        """The BBS URL this client calls."""
        return self._transport.url

    @property
    def retries(self) -> int:
        """Extra attempts after a request failure (read on every call)."""
        return self._transport.retries

    @retries.setter
    def retries(self, value: int) -> None:
        self._transport.retries = value

    @property
    def retry_interval(self) -> float:
        """Seconds slept before each extra attempt."""
        return self._transport.retry_interval

    @retry_interval.setter
    def retry_interval(self, value: float) -> None:
        self._transport.retry_interval = value

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the idle connections; busy ones are closed when their call ends."""
        self._transport.close()

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
        return self._transport.exchange(plain_route(route_name), request, trace_id)

    # -- ping, domains, cells ------------------------------------------------------------------

    def ping(self, *, trace_id: str = "") -> bool:
        """Whether the BBS answers; ``False`` on any failure, like the Go client."""
        try:
            response = self._call("Ping", None, models.PingResponse, trace_id)
        except (BBSError, *TRANSPORT_ERRORS):
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
        request = desired_lrp_filter(domain, process_guids, app_guids)
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
        request = desired_lrp_filter(domain, process_guids, app_guids)
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
        request = desired_lrp_filter(domain, process_guids, app_guids)
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
        return self._transport.open_stream(target, body)
