"""Cell presence routes (upstream ``handlers/cell_handlers.go``)."""

from __future__ import annotations

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._http.handlers._base import Context, Handler
from fakebbs._rules.state import State


def cells(state: State, request: Message, call: Context) -> models.CellsResponse:
    """The registered cell presences, unfiltered; none until some are registered."""
    return models.CellsResponse(cells=state.cell_presences())


HANDLERS = {
    "Cells": Handler(cells),
    "Cells_r1": Handler(cells),
}
