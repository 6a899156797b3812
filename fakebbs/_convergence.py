"""Convergence: what upstream's converger does for what a BBS can see without cells."""

from __future__ import annotations

from fakebbs._store import Store


class Convergence(Store):
    """Rules mixed into ``fakebbs._state.State``; they work on the ``Store`` dictionaries."""
