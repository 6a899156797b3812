"""Wire facts shared by the server side and the client: content type and headers."""

from __future__ import annotations

__all__ = ["PROTOBUF", "ROUTER_ERROR_HEADER", "TRACE_HEADER"]

PROTOBUF = "application/x-protobuf"
"""The content type of every BBS request and response body."""

TRACE_HEADER = "X-Vcap-Request-Id"
"""The request id a caller sends; events and logs carry it as ``trace_id``."""

ROUTER_ERROR_HEADER = "X-Cf-Routererror"
"""The Cloud Foundry router's header on an answer it made itself (the Go client's RouterError)."""
