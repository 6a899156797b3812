"""Task routes (upstream handlers/task_handlers.go)."""

from __future__ import annotations

from fakebbs._handlers._base import Handler

HANDLERS: dict[str, Handler] = {}
