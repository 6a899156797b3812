"""``/v1/ping`` (upstream ``handlers/ping_handler.go``)."""

from __future__ import annotations

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._http.handlers._base import Context, Handler
from fakebbs._rules.state import State


def ping(state: State, request: Message, call: Context) -> models.PingResponse:
    """A fake that answers at all is ready: always available."""
    return models.PingResponse(available=True)


HANDLERS = {"Ping": Handler(ping)}
