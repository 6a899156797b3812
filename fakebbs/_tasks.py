"""Task rules (upstream controllers/task_controller.go, db/sqldb/task_db.go)."""

from __future__ import annotations

from fakebbs._store import Store


class TaskRules(Store):
    """Rules mixed into ``fakebbs._state.State``; they work on the ``Store`` dictionaries."""
