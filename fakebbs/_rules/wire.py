"""Wire facts shared by the server side and the client: content type, headers, Go's JSON
escaping, time units and the protocol's message classes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from fakebbs.clock import NANOSECONDS_PER_SECOND

__all__ = [
    "Encoded",
    "GO_JSON_ESCAPES",
    "NANOSECONDS_PER_SECOND",
    "PROTOBUF",
    "ROUTER_ERROR_HEADER",
    "TRACE_HEADER",
    "go_json",
    "message_classes",
]

PROTOBUF = "application/x-protobuf"
"""The content type of every BBS request and response body."""

TRACE_HEADER = "X-Vcap-Request-Id"
"""The request id a caller sends; events and logs carry it as ``trace_id``."""

ROUTER_ERROR_HEADER = "X-Cf-Routererror"
"""The Cloud Foundry router's header on an answer it made itself (the Go client's RouterError)."""


GO_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
"""What Go's ``json.Marshal`` escapes inside strings (HTML safety, JavaScript line separators)."""


_GO_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""Made once: ``json.dumps`` with options builds an encoder on every call."""


def go_json(value: Any) -> bytes:
    """``value`` as Go's ``json.Marshal`` writes it: compact, UTF-8, with Go's escapes."""
    text = _GO_JSON.encode(value)
    for char, escape in GO_JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return text.encode("utf-8")


M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Encoded(Generic[M]):
    """A response already serialized: what the app sends as is. ``message()`` decodes it, for
    whoever wants the message (the call journal, only when read)."""

    response_type: type[M]
    data: bytes

    def message(self) -> M:
        return self.response_type.FromString(self.data)


def message_classes() -> list[type[Message]]:
    """Every public message class of ``fakebbs.models`` (the ``Legacy*`` decoders are private):
    what the Hypothesis plugin registers and the strategies print."""
    from fakebbs import models

    return [
        value
        for name, value in vars(models).items()
        if isinstance(value, type) and issubclass(value, Message) and not name.startswith("Legacy")
    ]
