"""The storage under the state rules: plain dictionaries, one lock, and a record of changes.

``Store`` is what upstream keeps in its SQL tables and Locket: desired LRPs keyed by process
guid, actual LRPs keyed by (process guid, index, presence), tasks keyed by task guid, domains by
name and cell presences by cell id. The rule mixins (``_state``, ``_lifecycle``, ``_tasks``, ...)
write only through ``Operation``, which records every change as a ``Change`` (before, after)
and hands the whole list to the listeners when the operation ends, still under the lock, so
listeners (the event hubs) see changes in the order they happened. That is upstream's
``events/calculator`` input, computed here once for the HTTP API, the fixture API and
convergence alike.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from google.protobuf.message import Message

from fakebbs import models
from fakebbs.clock import system_clock

__all__ = [
    "ActualKey",
    "Change",
    "Operation",
    "Store",
    "copy",
    "truncate_text",
    "PRESENCE_ORDER",
    "UNCLAIMED",
    "CLAIMED",
    "RUNNING",
    "CRASHED",
    "ORDINARY",
    "EVACUATING",
    "SUSPECT",
]

UNCLAIMED = "UNCLAIMED"
CLAIMED = "CLAIMED"
RUNNING = "RUNNING"
CRASHED = "CRASHED"

ORDINARY = models.ActualLRP.ORDINARY
EVACUATING = models.ActualLRP.EVACUATING
SUSPECT = models.ActualLRP.SUSPECT

PRESENCE_ORDER = (ORDINARY, EVACUATING, SUSPECT)
"""The rows of one index in primary-key order."""

MAX_TEXT_BYTES = 1024
TRUNCATED = "(truncated)"

M = TypeVar("M", bound=Message)


def truncate_text(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """``truncateString`` (``db/sqldb``): a text of ``limit`` UTF-8 bytes or more is stored as
    its first ``limit - 11`` bytes and "(truncated)" (crash reasons, placement errors, task
    failure and rejection reasons). Upstream cuts bytes blindly; a character the cut would split
    is dropped here, so the result stays valid UTF-8 (at most ``limit`` bytes)."""
    raw = text.encode("utf-8")
    if len(raw) < limit:
        return text
    head = raw[: limit - len(TRUNCATED)].decode("utf-8", errors="ignore")
    return head + TRUNCATED


def copy(message: M) -> M:
    """A deep copy, so stored messages and the ones handed out never share state."""
    clone = type(message)()
    clone.CopyFrom(message)
    return clone


@dataclass(frozen=True, order=True, slots=True)
class ActualKey:
    """The primary key of upstream's ``actual_lrps`` table."""

    process_guid: str
    index: int
    presence: int

    @classmethod
    def of(cls, lrp: models.ActualLRP) -> ActualKey:
        return cls(lrp.actual_lrp_key.process_guid, lrp.actual_lrp_key.index, lrp.presence)


Kind = Literal["desired_lrp", "actual_lrp", "task"]
Emit = Literal["calculated", "direct", "instance"]


@dataclass(frozen=True)
class Change:
    """One row's change within an operation: ``before`` None is a creation, ``after`` None a
    removal. ``crashed`` marks the crash of an instance (upstream emits
    ``ActualLRPCrashedEvent`` for it whatever state the row lands in); ``trace_id`` is the
    request id the events carry.

    ``emit`` says how an actual LRP change becomes events: ``calculated`` through upstream's
    event calculator (what the API routes do); ``direct``, a group and an instance event for
    this row alone, and ``instance``, instance events only (what convergence hand-picks).
    ``replaced`` is a row the change overwrote though it reports no ``before`` (an evacuating
    row rewritten is reported as created); the event calculator needs it to know the rows the
    operation started from.

    ``index_rows`` are the rows of the change's index as the operation found them before its
    first write there, in the store's order: what upstream's controller reads and its event
    calculator starts from (the same tuple on every change of that index and operation).
    Changes built without it leave the calculator to work the rows out from ``replaced``."""

    kind: Kind
    before: Message | None
    after: Message | None
    trace_id: str = ""
    crashed: bool = False
    emit: Emit = "calculated"
    replaced: Message | None = None
    index_rows: tuple[models.ActualLRP, ...] | None = field(default=None, compare=False)


@dataclass
class Operation:
    """The changes of one rule call; see ``Store.operation``."""

    store: Store
    trace_id: str = ""
    changes: list[Change] = field(default_factory=list)
    rows_read: dict[tuple[str, int], tuple[models.ActualLRP, ...]] = field(default_factory=dict)

    def _index_rows(self, lrp: models.ActualLRP) -> tuple[models.ActualLRP, ...]:
        """The rows of ``lrp``'s index as this operation first found them (see ``Change``);
        call it before writing to the index."""
        index = (lrp.actual_lrp_key.process_guid, lrp.actual_lrp_key.index)
        rows = self.rows_read.get(index)
        if rows is None:
            rows = tuple(copy(row) for row in self.store.rows_of_index(*index))
            self.rows_read[index] = rows
        return rows

    def put_actual(
        self,
        lrp: models.ActualLRP,
        *,
        crashed: bool = False,
        reported: models.ActualLRP | None = None,
        emit: Emit = "calculated",
    ) -> models.ActualLRP:
        """Insert or replace the row ``lrp`` belongs to; returns a copy of what is stored.

        ``reported`` is what the change (and so the event) shows instead, where upstream
        stores a truncated text but reports the full one (crash reasons, placement errors).
        """
        key = ActualKey.of(lrp)
        rows = self._index_rows(lrp)
        # Re-inserted, not updated in place: the dictionary's order is then "last written,
        # oldest first", the order Postgres returns rows in without ORDER BY (an UPDATE
        # writes a new row version after the others), which upstream's lookups depend on.
        before = self.store.actual_lrps.pop(key, None)
        stored = copy(lrp)
        self.store.actual_lrps[key] = stored
        after = copy(stored if reported is None else reported)
        self.changes.append(
            Change("actual_lrp", before, after, self.trace_id, crashed, emit, index_rows=rows)
        )
        return copy(stored)

    def delete_actual(self, key: ActualKey, *, emit: Emit = "calculated") -> models.ActualLRP:
        rows = self._index_rows(self.store.actual_lrps[key])
        before = self.store.actual_lrps.pop(key)
        self.changes.append(
            Change("actual_lrp", before, None, self.trace_id, emit=emit, index_rows=rows)
        )
        return copy(before)

    def report_actual_removed(self, lrp: models.ActualLRP) -> None:
        """Report a removal that upstream reports before the row is really gone (retire of an
        instance on a registered cell: the rep removes the row later)."""
        rows = self._index_rows(lrp)
        self.changes.append(Change("actual_lrp", copy(lrp), None, self.trace_id, index_rows=rows))

    def report_actual_unchanged(self, lrp: models.ActualLRP) -> None:
        """Report a row as changed into itself, where upstream hands its event calculator a
        change that wrote nothing: that replaces every row of the index with the same
        instance key, so it can still emit events."""
        rows = self._index_rows(lrp)
        self.changes.append(
            Change("actual_lrp", copy(lrp), copy(lrp), self.trace_id, index_rows=rows)
        )

    def record_as(
        self,
        mark: int,
        *pairs: tuple[models.ActualLRP | None, models.ActualLRP | None],
        emit: Emit = "calculated",
    ) -> None:
        """Replace the changes recorded since position ``mark`` (``len(op.changes)`` before
        the writes) by the (before, after) pairs upstream reports for them: e.g. a row moved
        to another presence is one change, not a removal and a creation."""
        overwritten = {
            ActualKey.of(change.before): change.before
            for change in self.changes[mark:]
            if isinstance(change.before, models.ActualLRP)
        }
        for before, _ in pairs:
            if before is not None:
                overwritten.pop(ActualKey.of(before), None)  # reported as a before already
        del self.changes[mark:]
        for before, after in pairs:
            replaced = None
            if before is None and after is not None:
                replaced = overwritten.get(ActualKey.of(after))
            lrp = after if after is not None else before
            assert lrp is not None
            self.changes.append(
                Change(
                    "actual_lrp",
                    None if before is None else copy(before),
                    None if after is None else copy(after),
                    self.trace_id,
                    emit=emit,
                    replaced=replaced,
                    index_rows=self._index_rows(lrp),
                )
            )

    def put_desired(self, lrp: models.DesiredLRP) -> None:
        before = self.store.desired_lrps.get(lrp.process_guid)
        stored = copy(lrp)
        self.store.desired_lrps[lrp.process_guid] = stored
        self.changes.append(Change("desired_lrp", before, copy(stored), self.trace_id))

    def delete_desired(self, process_guid: str) -> models.DesiredLRP:
        before = self.store.desired_lrps.pop(process_guid)
        self.changes.append(Change("desired_lrp", before, None, self.trace_id))
        return copy(before)

    def put_task(self, task: models.Task) -> models.Task:
        before = self.store.tasks.get(task.task_guid)
        stored = copy(task)
        self.store.tasks[task.task_guid] = stored
        self.changes.append(Change("task", before, copy(stored), self.trace_id))
        return copy(stored)

    def delete_task(self, task_guid: str) -> models.Task:
        before = self.store.tasks.pop(task_guid)
        self.changes.append(Change("task", before, None, self.trace_id))
        return copy(before)


Listener = Callable[[list[Change]], None]


class Store:
    """All BBS state of one fake. Two stores share nothing.

    ``clock`` returns the current time in Unix nanoseconds (every timestamp and expiry reads
    it); ``new_guid`` makes modification-tag epochs (upstream uses random UUIDs).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], int] = system_clock,
        new_guid: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.new_guid = new_guid
        self.desired_lrps: dict[str, models.DesiredLRP] = {}
        self.actual_lrps: dict[ActualKey, models.ActualLRP] = {}
        self.tasks: dict[str, models.Task] = {}
        self.domains: dict[str, int | None] = {}
        self.cells: dict[str, models.CellPresence] = {}
        self.listeners: list[Listener] = []
        self._depth = 0
        self._pending: list[Change] = []

    def reset(self) -> None:
        """Forget everything, as a freshly migrated, empty BBS (no events)."""
        with self.lock:
            self.desired_lrps.clear()
            self.actual_lrps.clear()
            self.tasks.clear()
            self.domains.clear()
            self.cells.clear()

    @contextmanager
    def operation(self, trace_id: str = "") -> Iterator[Operation]:
        """Hold the lock for one rule; publish its changes when the outermost one ends.

        A rule validates and computes before it writes, so an exception leaves nothing
        half-written; whatever an operation did record before failing is still published.
        """
        with self.lock:
            op = Operation(self, trace_id)
            self._depth += 1
            try:
                yield op
            finally:
                self._depth -= 1
                self._pending.extend(op.changes)
                if self._depth == 0 and self._pending:
                    changes, self._pending = self._pending, []
                    for listener in list(self.listeners):
                        listener(changes)

    def rows_of_index(self, process_guid: str, index: int) -> list[models.ActualLRP]:
        """The stored rows of one index (upstream's ``ActualLRPs`` filtered by process guid
        and index) in the store's order, last written last, as Postgres returns them. They are
        the stored messages: read them, never change them."""
        found = (self.actual_lrps.get(ActualKey(process_guid, index, p)) for p in PRESENCE_ORDER)
        rows = [row for row in found if row is not None]
        if len(rows) < 2:
            return rows
        # Only an index with several rows needs the scan for their order.
        return [
            row
            for key, row in self.actual_lrps.items()
            if key.process_guid == process_guid and key.index == index
        ]

    def new_actual_lrp(self, process_guid: str, index: int, domain: str) -> models.ActualLRP:
        """``SQLDB.CreateUnclaimedActualLRP``: a fresh UNCLAIMED, not routable, ordinary row."""
        actual = models.ActualLRP(
            actual_lrp_key=models.ActualLRPKey(
                process_guid=process_guid, index=index, domain=domain
            ),
            state=UNCLAIMED,
            since=self.clock(),
            modification_tag=models.ModificationTag(epoch=self.new_guid(), index=0),
            presence=ORDINARY,
            routable=False,
        )
        # The Go encoder always writes these embedded messages, even when empty.
        actual.actual_lrp_instance_key.SetInParent()
        actual.actual_lrp_net_info.SetInParent()
        return actual
