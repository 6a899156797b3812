"""What every handler module shares: the call context and the handler record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from fakebbs._state import State
from fakebbs.routes import Route


@dataclass(frozen=True)
class Call:
    """One decoded request: its route, the caller's ``X-Vcap-Request-Id`` and the raw body."""

    route: Route
    trace_id: str
    body: bytes


@dataclass(frozen=True)
class Handler:
    """A route's behaviour.

    ``run(state, request, call)`` returns the response message or raises a ``BBSError``.
    ``prepare(request, body)`` rewrites a decoded request before validation (the 2016 routes
    upgrade old formats there). ``require_metric_tags`` is False for the 2016-era desire
    routes, which accepted LRPs without metric tags. ``on_bad_request(response)`` completes the
    error response of a request that cannot be decoded or validated (upstream's evacuation
    handlers answer ``keep_container=true`` there, not only the error).
    """

    run: Callable[[State, Any, Call], Message]
    prepare: Callable[[Message, bytes], None] | None = None
    require_metric_tags: bool = True
    on_bad_request: Callable[[Any], None] | None = None
