"""Evacuation routes (upstream handlers/evacuation_handler.go)."""

from __future__ import annotations

from fakebbs._handlers._base import Handler

HANDLERS: dict[str, Handler] = {}
