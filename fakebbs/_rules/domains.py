"""Domain and cell rules, a rule family of ``fakebbs._rules.state.State``.

Domains are upstream's ``domains`` table (``db/sqldb/domain_db.go``): a name and an expiry,
refreshed by their owner (Cloud Controller's syncer for "cf-apps"); convergence trusts only
fresh ones. Cells are the reps' Locket presences, which the BBS reads to decide what retire,
scale-down and convergence do with CLAIMED and RUNNING instances. Both write through
``Operation`` like every rule; no event stream hears of them (upstream has no such events).
"""

from __future__ import annotations

from fakebbs import models
from fakebbs._rules.store import Store, copy
from fakebbs._rules.wire import NANOSECONDS_PER_SECOND

__all__ = ["DomainRules"]


class DomainRules:
    """Domains and cells, over ``store``."""

    store: Store

    def __init__(self, store: Store) -> None:
        self.store = store

    def upsert_domain(self, domain: str, ttl_seconds: int) -> None:
        """Create or refresh a domain; a TTL of 0 never expires."""
        with self.store.operation() as op:
            expires_at = (
                None
                if ttl_seconds == 0
                else self.store.clock() + ttl_seconds * NANOSECONDS_PER_SECOND
            )
            op.put_domain(domain, expires_at)

    def fresh_domains(self) -> list[str]:
        """Domains whose expiry lies after now rounded to the second (``SQLDB.FreshDomains``)."""
        with self.store.lock:
            second = NANOSECONDS_PER_SECOND
            now = round(self.store.clock() / second) * second
            return [
                name
                for name, expiry in self.store.domains.items()
                if expiry is None or expiry > now
            ]

    def register_cell(self, presence: models.CellPresence) -> None:
        """Make a cell known, as its rep's Locket presence does (replacing an earlier one).

        Cells decide what retire, scale-down and convergence do with CLAIMED and RUNNING
        instances; the fake has none until they are registered."""
        if not presence.cell_id:
            raise ValueError("a cell presence needs a cell_id")
        with self.store.operation() as op:
            op.put_cell(presence)

    def unregister_cell(self, cell_id: str) -> None:
        """Forget a cell, as when its presence expires; unknown ids are ignored."""
        with self.store.operation() as op:
            if cell_id in self.store.cells:
                op.delete_cell(cell_id)

    def cell_presences(self) -> list[models.CellPresence]:
        with self.store.lock:
            return [copy(cell) for cell in self.store.cells.values()]
