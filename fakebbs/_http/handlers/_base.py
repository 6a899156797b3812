"""What every handler module shares: the request context and the handler record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from google.protobuf.message import Message

from fakebbs._http.encoded import Encoded, EncodedLists
from fakebbs._http.events import EventHub, EventStream
from fakebbs._rules.state import State
from fakebbs.routes import Route


class Context(NamedTuple):
    """What a handler knows of one decoded request besides the request itself: its route, the
    caller's ``X-Vcap-Request-Id``, the raw body, and the fake's list cache (``lists``), which
    list routes join their answers from. (A named tuple: one is made per request, at a fifth
    of a frozen dataclass's cost.)"""

    route: Route
    trace_id: str
    body: bytes
    lists: EncodedLists


@dataclass(frozen=True)
class Handler:
    """A route's behaviour.

    ``run(state, request, call)`` returns the response message (or, for lists, the response
    already serialized: ``_encoded.Encoded``) or raises a ``BBSError``.
    ``prepare(request, body)`` rewrites a decoded request before validation (the 2016 routes
    upgrade old formats there). ``require_metric_tags`` is False for the 2016-era desire
    routes, which accepted LRPs without metric tags. ``on_bad_request(response)`` completes the
    error response of a request that cannot be decoded or validated (upstream's evacuation
    handlers answer ``keep_container=true`` there, not only the error).

    ``stream`` marks an event stream route (see ``streaming``); ``run`` is then unused.
    """

    run: Callable[[State, Any, Context], Message | Encoded[Any]]
    prepare: Callable[[Message, bytes], None] | None = None
    require_metric_tags: bool = True
    on_bad_request: Callable[[Any], None] | None = None
    stream: Callable[[EventHub, Any, Context], EventStream] | None = None


def routable(request: Any) -> bool:
    """A start or evacuate_running request's ``Routable``: absent on the wire (clients before
    2022) means routable, as upstream's handlers read it."""
    return bool(request.Routable) if request.HasField("Routable") else True


class RefuseStream(Exception):
    """Raised by a stream handler to answer an empty 500 instead of a stream, as upstream's
    event handlers do when the body does not parse or the hub refuses the subscription."""


def streaming(open_stream: Callable[[EventHub, Any, Context], EventStream]) -> Handler:
    """A handler for an event stream route.

    ``open_stream(hub, request, call)`` subscribes to the fake's event hub and returns the
    stream; ``request`` is the decoded ``EventsByCellId``, or None when the body does not
    decode. The app answers 200 with the SSE headers at once, then sends the stream's events
    as they come.
    """
    return Handler(run=_not_a_call, stream=open_stream)


def _not_a_call(state: State, request: Any, call: Context) -> Message:
    raise TypeError(f"{call.route.name} is an event stream; the app opens it with stream()")
