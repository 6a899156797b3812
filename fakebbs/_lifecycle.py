"""Actual LRP lifecycle rules: claim, start, crash, fail, remove (upstream ActualLRPLifecycleController)."""

from __future__ import annotations

from fakebbs._store import Store


class ActualLRPLifecycle(Store):
    """Rules mixed into ``fakebbs._state.State``; they work on the ``Store`` dictionaries."""
