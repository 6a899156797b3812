"""Evacuation rules (upstream controllers/evacuation_controller.go)."""

from __future__ import annotations

from fakebbs._store import Store


class Evacuation(Store):
    """Rules mixed into ``fakebbs._state.State``; they work on the ``Store`` dictionaries."""
