"""Handlers grouped by resource, like upstream ``handlers/``; ``HANDLERS`` maps route names
(``fakebbs.routes``) to them. A route of the table without a handler answers that it is not
implemented yet."""

from __future__ import annotations

from fakebbs._http.handlers import (
    actual_lrp_lifecycle,
    actual_lrps,
    cells,
    desired_lrps,
    domains,
    evacuation,
    events,
    ping,
    tasks,
)
from fakebbs._http.handlers._base import Context, Handler

__all__ = ["HANDLERS", "Context", "Handler"]

HANDLERS: dict[str, Handler] = {
    **ping.HANDLERS,
    **domains.HANDLERS,
    **cells.HANDLERS,
    **desired_lrps.HANDLERS,
    **actual_lrps.HANDLERS,
    **actual_lrp_lifecycle.HANDLERS,
    **evacuation.HANDLERS,
    **tasks.HANDLERS,
    **events.HANDLERS,
}
