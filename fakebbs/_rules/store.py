"""The storage under the state rules: plain dictionaries, one lock, and a record of changes.

``Store`` is what upstream keeps in its SQL tables and Locket: desired LRPs keyed by process
guid, actual LRPs keyed by (process guid, index, presence) (their keys also kept per process
guid, as the primary key's index lets Postgres find one process's rows), tasks keyed by task
guid, domains by name and cell presences by cell id. Everything that writes (the rule families,
seeding, reset, restore) writes only through ``Operation``, which records every change as a
``Change`` (before, after) and hands the whole list to the listeners when the operation ends,
still under the lock, so listeners (the event hubs, the completion callback worker) see changes
in the order they happened. That is upstream's ``events/calculator`` input, computed here once for
the HTTP API, the fixture API and convergence alike.

Stored messages are never changed in place: a rule copies a row, changes the copy and stores
it. That is what lets a ``Snapshot`` be a shallow copy of the tables, and lets a ``Change``
share the stored message it reports.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._rules.requests import OutboundRequest
from fakebbs._rules.snapshot import ActualKey, Snapshot
from fakebbs.clock import system_clock
from fakebbs.errors import BBSError

__all__ = [
    "ActualKey",
    "Change",
    "Domain",
    "Operation",
    "Snapshot",
    "Store",
    "row_changes",
    "copy",
    "random_guid",
    "random_guids",
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

_TupleGet = Callable[[tuple[str, int, int]], "models.ActualLRP | None"]
"""``actual_lrps.get`` called with a plain tuple, which finds the row of the equal
``ActualKey``."""


def random_guid() -> str:
    """A random (version 4) UUID as text: upstream's epochs and instance guids."""
    return str(uuid.uuid4())


def random_guids(count: int) -> list[str]:
    """``count`` random version 4 UUIDs, made from one read of the random source: the same
    text as ``random_guid``'s, at a fraction of the cost per guid (bulk seeding)."""
    raw = os.urandom(16 * count).hex()
    guids = []
    for at in range(0, 32 * count, 32):
        h = raw[at : at + 32]
        variant = "89ab"[int(h[16], 16) & 3]
        guids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}")
    return guids


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


@dataclass(frozen=True, slots=True)
class Domain:
    """One row of upstream's ``domains`` table as a change reports it: a name and when it
    expires (Unix nanoseconds; None never)."""

    name: str
    expires_at: int | None


Kind = Literal["desired_lrp", "actual_lrp", "task", "domain", "cell", "restore"]
Emit = Literal["calculated", "direct", "instance", "none"]
Row = Message | Domain
"""What a row change reports: a stored message, or a ``Domain``."""


@dataclass(frozen=True, init=False)
class Change:
    """One row's change within an operation: ``before`` None is a creation, ``after`` None a
    removal. ``crashed`` marks the crash of an instance (upstream emits
    ``ActualLRPCrashedEvent`` for it whatever state the row lands in); ``trace_id`` is the
    request id the events carry.

    ``emit`` says how an actual LRP change becomes events: ``calculated`` through upstream's
    event calculator (what the API routes do); ``direct``, a group and an instance event for
    this row alone, and ``instance``, instance events only (what convergence hand-picks).
    ``none`` is a change no stream hears of: domains and cells (upstream has no events for
    them), a reset, a task's callback made due again. ``replaced`` is a row the change
    overwrote though it reports no ``before`` (an evacuating row rewritten is reported as
    created); the event calculator needs it to know the rows the operation started from.

    ``index_rows`` are the rows of the change's index as the operation found them before its
    first write there, in the store's order: what upstream's controller reads and its event
    calculator starts from (the same tuple on every change of that index and operation).
    Changes built without it leave the calculator to work the rows out from ``replaced``.

    ``callback`` says a completed task's completion callback is due (the task rules complete
    it, or convergence kicks it): the callback worker listens for it.

    A ``restore`` change replaces every table at once: ``before`` and ``after`` are then
    ``Snapshot``s; ``row_changes`` turns it into the row changes it amounts to.
    """

    kind: Kind
    before: Row | Snapshot | None
    after: Row | Snapshot | None
    trace_id: str = ""
    crashed: bool = False
    emit: Emit = "calculated"
    replaced: Message | None = None
    callback: bool = False
    index_rows: tuple[models.ActualLRP, ...] | None = field(default=None, compare=False)

    def __init__(
        self,
        kind: Kind,
        before: Row | Snapshot | None,
        after: Row | Snapshot | None,
        trace_id: str = "",
        crashed: bool = False,
        emit: Emit = "calculated",
        replaced: Message | None = None,
        callback: bool = False,
        index_rows: tuple[models.ActualLRP, ...] | None = None,
    ) -> None:
        # The fields in one write of the instance's dictionary: a frozen dataclass's own
        # __init__ sets them one by one through object.__setattr__, and every write of
        # every rule makes a change.
        object.__setattr__(
            self,
            "__dict__",
            {
                "kind": kind,
                "before": before,
                "after": after,
                "trace_id": trace_id,
                "crashed": crashed,
                "emit": emit,
                "replaced": replaced,
                "callback": callback,
                "index_rows": index_rows,
            },
        )


def row_changes(changes: Iterable[Change]) -> Iterator[Change]:
    """``changes`` with each ``restore`` change expanded into one change per row that differs
    (compared by identity: an unchanged row is the same message), in table order: desired
    LRPs, actual LRPs, tasks, domains, cells. Row changes pass through."""
    for change in changes:
        if change.kind != "restore":
            yield change
            continue
        before, after = change.before, change.after
        assert isinstance(before, Snapshot) and isinstance(after, Snapshot)
        trace = change.trace_id
        tables: tuple[tuple[Kind, Emit, Mapping[Any, Message], Mapping[Any, Message]], ...] = (
            ("desired_lrp", change.emit, before.desired_lrps, after.desired_lrps),
            ("actual_lrp", change.emit, before.actual_lrps, after.actual_lrps),
            ("task", change.emit, before.tasks, after.tasks),
            ("cell", "none", before.cells, after.cells),
        )
        for kind, emit, old, new in tables:
            for key, row in old.items():
                now = new.get(key)
                if now is not row:
                    yield Change(kind, row, now, trace, emit=emit)
            for key, row in new.items():
                if key not in old:
                    yield Change(kind, None, row, trace, emit=emit)
        for name, expiry in before.domains.items():
            if name not in after.domains or after.domains[name] != expiry:
                now_row = Domain(name, after.domains[name]) if name in after.domains else None
                yield Change("domain", Domain(name, expiry), now_row, trace, emit="none")
        for name, expiry in after.domains.items():
            if name not in before.domains:
                yield Change("domain", None, Domain(name, expiry), trace, emit="none")


class Operation:
    """The changes of one rule call; see ``Store.operation``. (A plain class with slots:
    every rule call makes one.)"""

    __slots__ = ("store", "trace_id", "changes", "calls", "rows_read")

    def __init__(self, store: Store, trace_id: str = "") -> None:
        self.store = store
        self.trace_id = trace_id
        self.changes: list[Change] = []
        self.calls: list[OutboundRequest] = []
        self.rows_read: dict[tuple[str, int], tuple[models.ActualLRP, ...]] = {}

    def _index_rows(self, lrp: models.ActualLRP) -> tuple[models.ActualLRP, ...]:
        """The rows of ``lrp``'s index as this operation first found them (see ``Change``);
        call it before writing to the index."""
        key = lrp.actual_lrp_key
        return self.index_rows(key.process_guid, key.index)

    def index_rows(self, process_guid: str, index: int) -> tuple[models.ActualLRP, ...]:
        """The stored rows of one index as this operation first found them, ORDINARY,
        EVACUATING, SUSPECT (``Store.rows_of_index``): what a rule reads before it writes
        there, and what the changes it then records start from. They are the stored messages
        (which nothing changes in place): read them, never change them."""
        rows = self.rows_read.get((process_guid, index))
        if rows is None:
            rows = self.rows_read[(process_guid, index)] = self.store.rows_of_index(
                process_guid, index
            )
        return rows

    def call(self, request: OutboundRequest) -> None:
        """Decide a call to a rep or the auctioneer: made when the outermost operation ends,
        after its changes are published (see ``fakebbs._outbound.calls``)."""
        self.calls.append(request)

    def put_actual(
        self,
        lrp: models.ActualLRP,
        *,
        crashed: bool = False,
        reported: models.ActualLRP | None = None,
        emit: Emit = "calculated",
        owned: bool = False,
    ) -> models.ActualLRP:
        """Insert or replace the row ``lrp`` belongs to; returns a copy of what is stored, or
        with ``owned`` the stored message itself (never to be changed).

        ``reported`` is what the change (and so the event) shows instead, where upstream
        stores a truncated text but reports the full one (crash reasons, placement errors).
        ``owned`` says the caller hands ``lrp`` over (it made it and will not change it):
        it is stored as it is, not copied. The change shares the stored message.
        """
        lrp_key = lrp.actual_lrp_key
        process_guid, index = lrp_key.process_guid, lrp_key.index
        key = ActualKey.at(process_guid, index, lrp.presence)
        rows = self.index_rows(process_guid, index)
        # Re-inserted, not updated in place: the dictionary's order is then "last written,
        # oldest first", the order a table scan returns rows in (an UPDATE writes a new row
        # version after the others): unfiltered lists and lists by domain or cell.
        store = self.store
        before = store.actual_lrps.pop(key, None)
        stored = lrp if owned else copy(lrp)
        store.actual_lrps[key] = stored
        store._keyed(key)
        after = stored if reported is None else copy(reported)
        self.changes.append(
            Change("actual_lrp", before, after, self.trace_id, crashed, emit, index_rows=rows)
        )
        return stored if owned else copy(stored)

    def delete_actual(self, key: ActualKey, *, emit: Emit = "calculated") -> models.ActualLRP:
        rows = self._index_rows(self.store.actual_lrps[key])
        before = self.store.actual_lrps.pop(key)
        self.store._unkeyed(key)
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

    def put_task(self, task: models.Task, *, callback: bool = False) -> models.Task:
        """Insert or replace a task; ``callback`` marks it completed with its callback due."""
        before = self.store.tasks.get(task.task_guid)
        stored = copy(task)
        self.store.tasks[task.task_guid] = stored
        self.changes.append(Change("task", before, copy(stored), self.trace_id, callback=callback))
        return copy(stored)

    def delete_task(self, task_guid: str) -> models.Task:
        before = self.store.tasks.pop(task_guid)
        self.changes.append(Change("task", before, None, self.trace_id))
        return copy(before)

    def adopt(
        self, row: models.DesiredLRP | models.ActualLRP | models.Task, *, emit: Emit = "calculated"
    ) -> None:
        """Store a message the caller built and hands over (it keeps no reference it will
        change), without copying it: what bulk seeding writes. Replaces the row of the same
        key, if any (an actual LRP is re-inserted, last written last, as ``put_actual``)."""
        before: Message | None
        if isinstance(row, models.ActualLRP):
            key = ActualKey.of(row)
            before = self.store.actual_lrps.pop(key, None)
            self.store.actual_lrps[key] = row
            self.store._keyed(key)
            self.changes.append(Change("actual_lrp", before, row, self.trace_id, emit=emit))
        elif isinstance(row, models.DesiredLRP):
            before = self.store.desired_lrps.get(row.process_guid)
            self.store.desired_lrps[row.process_guid] = row
            self.changes.append(Change("desired_lrp", before, row, self.trace_id, emit=emit))
        else:
            before = self.store.tasks.get(row.task_guid)
            self.store.tasks[row.task_guid] = row
            self.changes.append(Change("task", before, row, self.trace_id, emit=emit))

    def callback_due(self, task: models.Task) -> None:
        """Record that a stored, unchanged task's completion callback is due again
        (convergence's kick); no stream hears of it."""
        self.changes.append(Change("task", task, task, self.trace_id, emit="none", callback=True))

    def put_domain(self, name: str, expires_at: int | None) -> None:
        """Create or refresh a domain (``expires_at`` in Unix ns, None: never)."""
        domains = self.store.domains
        old = Domain(name, domains[name]) if name in domains else None
        domains[name] = expires_at
        self.changes.append(
            Change("domain", old, Domain(name, expires_at), self.trace_id, emit="none")
        )

    def delete_domain(self, name: str) -> None:
        expires_at = self.store.domains.pop(name)
        self.changes.append(
            Change("domain", Domain(name, expires_at), None, self.trace_id, emit="none")
        )

    def put_cell(self, presence: models.CellPresence) -> None:
        before = self.store.cells.get(presence.cell_id)
        stored = copy(presence)
        self.store.cells[presence.cell_id] = stored
        self.changes.append(Change("cell", before, stored, self.trace_id, emit="none"))

    def delete_cell(self, cell_id: str) -> None:
        before = self.store.cells.pop(cell_id)
        self.changes.append(Change("cell", before, None, self.trace_id, emit="none"))

    def replace_all(self, snapshot: Snapshot, *, emit: Emit = "calculated") -> None:
        """Make the tables those of ``snapshot``: one ``restore`` change. The store takes
        new dictionaries (copies of the snapshot's) and the old ones become the change's
        ``before`` as they are, so this costs one copy of each table and nothing per row."""
        store = self.store
        before = Snapshot.wrapping(
            store.desired_lrps, store.actual_lrps, store.tasks, store.domains, store.cells
        )
        (
            store.desired_lrps,
            store.actual_lrps,
            store.tasks,
            store.domains,
            store.cells,
        ) = snapshot.tables()
        store._by_process = None  # made again from the new table when next read
        self.changes.append(Change("restore", before, snapshot, self.trace_id, emit=emit))


Listener = Callable[[list[Change]], None]
Dispatcher = Callable[[list[tuple[OutboundRequest, bool]]], BBSError | None]
"""Makes the calls of an operation: (request, whether the outermost operation decided it, so
that its failure may be that operation's answer); returns the error to answer, if any."""


class _Scope:
    """``Store.operation``'s context manager (a class: a generator-based one costs more, and
    every rule call opens one)."""

    __slots__ = ("_store", "_trace_id", "_op")

    def __init__(self, store: Store, trace_id: str) -> None:
        self._store = store
        self._trace_id = trace_id

    def __enter__(self) -> Operation:
        store = self._store
        store.lock.acquire()
        try:
            op = self._op = Operation(store, self._trace_id)
            store._depth += 1
        except BaseException:
            store.lock.release()
            raise
        return op

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        store = self._store
        calls: list[tuple[OutboundRequest, bool]] = []
        failure: BBSError | None = None
        try:
            try:
                op = self._op
                store._depth -= 1
                store._pending.extend(op.changes)
                outermost = store._depth == 0
                if op.calls:
                    store._pending_calls.extend((c, outermost) for c in op.calls)
                if outermost:
                    if store._pending_calls:
                        calls, store._pending_calls = store._pending_calls, []
                    if store._pending:
                        changes, store._pending = store._pending, []
                        for listener in list(store.listeners):
                            listener(changes)
            finally:
                store.lock.release()
        finally:
            if calls and store.dispatcher is not None:
                failure = store.dispatcher(calls)
        if failure is not None and kind is None:
            raise failure


def _unclaimed_row() -> models.ActualLRP:
    """What every row ``Store.new_actual_lrp`` makes starts from: UNCLAIMED, not routable,
    ORDINARY, modification index 0. The Go encoder always writes the key, the instance key,
    the net info and the modification tag, even when empty, so they are present."""
    row = models.ActualLRP(state=UNCLAIMED, presence=ORDINARY, routable=False)
    for name in ("actual_lrp_key", "actual_lrp_instance_key", "actual_lrp_net_info"):
        getattr(row, name).SetInParent()
    row.modification_tag.SetInParent()
    return row


_UNCLAIMED_ROW = _unclaimed_row()


class Store:
    """All BBS state of one fake. Two stores share nothing.

    ``clock`` returns the current time in Unix nanoseconds (every timestamp and expiry reads
    it); ``new_guid`` makes modification-tag epochs (upstream uses random UUIDs);
    ``dispatcher`` makes the calls to reps and the auctioneer the operations decide.
    ``listeners`` hear every operation's changes; whoever builds the store registers them
    (``FakeBBS`` does: the event hubs, the list cache, the completion callback worker).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], int] = system_clock,
        new_guid: Callable[[], str] = random_guid,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.new_guid = new_guid
        self.desired_lrps: dict[str, models.DesiredLRP] = {}
        self.actual_lrps: dict[ActualKey, models.ActualLRP] = {}
        self.tasks: dict[str, models.Task] = {}
        self.domains: dict[str, int | None] = {}
        self.cells: dict[str, models.CellPresence] = {}
        self._by_process: dict[str, dict[ActualKey, None]] | None = {}
        """The keys of ``actual_lrps`` per process guid, in the table's order (None: to be
        made again from the table): what the rules that read one process's rows look up
        instead of scanning every row."""
        self.listeners: list[Listener] = []
        self.dispatcher = dispatcher
        """Makes the calls to reps and the auctioneer (None: they are dropped)."""
        self._depth = 0
        self._pending: list[Change] = []
        self._pending_calls: list[tuple[OutboundRequest, bool]] = []

    def reset(self) -> None:
        """Forget everything, as a freshly migrated, empty BBS: one ``restore`` change that
        no stream hears of (a fresh BBS has no history to report)."""
        with self.operation() as op:
            op.replace_all(Snapshot(), emit="none")

    def snapshot(self) -> Snapshot:
        """All tables as they are now (see ``Snapshot``)."""
        with self.lock:
            return Snapshot(
                self.desired_lrps, self.actual_lrps, self.tasks, self.domains, self.cells
            )

    def restore(self, snapshot: Snapshot, trace_id: str = "") -> None:
        """Make the state what ``snapshot`` holds, as one operation whose one ``restore``
        change the event streams see as the row changes it amounts to."""
        with self.operation(trace_id) as op:
            op.replace_all(snapshot)

    def operation(self, trace_id: str = "") -> AbstractContextManager[Operation]:
        """Hold the lock for one rule; publish its changes when the outermost one ends.

        A rule validates and computes before it writes, so an exception leaves nothing
        half-written; whatever an operation did record before failing is still published.
        The calls to reps and the auctioneer the operations decided are then made, outside
        the lock; a failed call that answers (a retire's stop) is raised as the outermost
        operation's error. A call decided by an inner operation never answers the outer one.
        """
        return _Scope(self, trace_id)

    def keys_of_process(self, process_guid: str) -> list[ActualKey]:
        """The keys of one process guid's actual LRP rows, any index and presence, in the
        table's order (last written last), as a scan of ``actual_lrps`` would find them."""
        by_process = self._by_process
        if by_process is None:
            by_process = {}
            for key in self.actual_lrps:
                by_process.setdefault(key.process_guid, {})[key] = None
            self._by_process = by_process
        return list(by_process.get(process_guid, ()))

    def _keyed(self, key: ActualKey) -> None:
        """``key`` was just (re)written, last in the table's order."""
        by_process = self._by_process
        if by_process is None:
            return
        keys = by_process.get(key.process_guid)
        if keys is None:
            by_process[key.process_guid] = {key: None}
        else:
            keys.pop(key, None)
            keys[key] = None

    def _unkeyed(self, key: ActualKey) -> None:
        by_process = self._by_process
        if by_process is None:
            return
        keys = by_process[key.process_guid]
        del keys[key]
        if not keys:
            del by_process[key.process_guid]

    def rows_of_index(self, process_guid: str, index: int) -> tuple[models.ActualLRP, ...]:
        """The stored rows of one index (upstream's ``ActualLRPs`` filtered by process guid
        and index) in primary-key order, ORDINARY, EVACUATING, SUSPECT: the query has no
        ORDER BY, and Postgres answers it with an index scan of the primary key (process
        guid, index, presence) on any table that is not tiny. They are the stored messages:
        read them, never change them."""
        # PRESENCE_ORDER, spelled out: this runs several times per rule. The keys are plain
        # tuples: an ActualKey hashes and compares as one, without a constructor call.
        get: _TupleGet = self.actual_lrps.get  # type: ignore[assignment]
        ordinary = get((process_guid, index, ORDINARY))
        evacuating = get((process_guid, index, EVACUATING))
        suspect = get((process_guid, index, SUSPECT))
        if evacuating is None and suspect is None:
            return () if ordinary is None else (ordinary,)
        return tuple(row for row in (ordinary, evacuating, suspect) if row is not None)

    def new_guids(self, count: int) -> list[str]:
        """``count`` results of ``new_guid``; in bulk when it is the default ``random_guid``."""
        if self.new_guid is random_guid:
            return random_guids(count)
        return [self.new_guid() for _ in range(count)]

    def new_actual_lrp(
        self, process_guid: str, index: int, domain: str, *, epoch: str | None = None
    ) -> models.ActualLRP:
        """``SQLDB.CreateUnclaimedActualLRP``: a fresh UNCLAIMED, not routable, ordinary row
        (its modification tag's ``epoch`` made now unless given)."""
        actual = models.ActualLRP()
        actual.CopyFrom(_UNCLAIMED_ROW)  # a fraction of building it from nested arguments
        key = actual.actual_lrp_key
        key.process_guid = process_guid
        key.index = index
        key.domain = domain
        actual.since = self.clock()
        actual.modification_tag.epoch = self.new_guid() if epoch is None else epoch
        return actual
