"""Actual LRP lifecycle rules: claim, start, crash, fail, remove, and unclaim.

These are the calls a cell's rep and the auctioneer make about one instance, mirroring upstream
``controllers/actual_lrp_lifecycle_controller.go`` over the ``db/sqldb/actual_lrp_db.go``
functions. and retire (``RetireActualLRP``).

Rows are found the way the controller finds them: all rows of (process guid, index), then the
first one whose instance key equals the request's (``lookupLRPInSlice``). Upstream's query has
no ORDER BY; Postgres answers it with an index scan of the primary key (process guid, index,
presence), so the rows come ORDINARY, EVACUATING, SUSPECT, and so does ``rows_at`` (this
decides which row a caller means when an evacuating and an ordinary row share an instance
key: the ordinary one).

Whether a state change is allowed is ``allows_transition`` (upstream
``ActualLRP.AllowsTransitionTo``). A repeated identical claim or start changes nothing and so
writes nothing (a repeated claim is still reported to the event calculator, unchanged, as
upstream does). Every change increments the modification tag's index; rows inserted here get a
new epoch. The crash policy (``models/restart_calculator.go``) is the pure functions
``backoff``, ``should_restart`` and ``should_restart_immediately``, which convergence uses too.

Upstream's events for claim, start, crash, fail and remove carry an empty trace id (those handlers
do not put the request id into the context), so these rules record their changes with ``""``.

The module-level functions taking an ``Operation`` are the row operations the evacuation rules
share (``fakebbs._rules.evacuation``); they work inside the caller's operation.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from fakebbs import models
from fakebbs._rules.requests import lrp_auction_request, lrp_start, stop_request
from fakebbs._rules.store import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    ORDINARY,
    RUNNING,
    SUSPECT,
    UNCLAIMED,
    ActualKey,
    Operation,
    Store,
    copy,
    truncate_text,
)
from fakebbs._rules.wire import NANOSECONDS_PER_SECOND
from fakebbs.errors import (
    ActualLRPCannotBeClaimed,
    ActualLRPCannotBeCrashed,
    ActualLRPCannotBeFailed,
    ActualLRPCannotBeStarted,
    ActualLRPCannotBeUnclaimed,
    BBSError,
    ResourceNotFound,
)

__all__ = [
    "CRASH_RESET_TIMEOUT_NS",
    "IMMEDIATE_RESTARTS",
    "MAX_RESTARTS",
    "ActualLRPLifecycle",
    "allows_transition",
    "backoff",
    "crash_ordinary",
    "find_by_instance_key",
    "new_crash_count",
    "rows_at",
    "set_instance_fields",
    "should_restart",
    "should_restart_immediately",
    "unclaim_ordinary",
]


#: ``models.CrashResetTimeout``: a RUNNING instance that crashes after running this long starts
#: counting its crashes again from 1.
CRASH_RESET_TIMEOUT_NS = 5 * 60 * NANOSECONDS_PER_SECOND
#: ``DefaultImmediateRestarts``: crashes 1 and 2 go straight back to UNCLAIMED.
IMMEDIATE_RESTARTS = 3
#: ``DefaultMaxRestarts``: from this many crashes on, an instance is never restarted.
MAX_RESTARTS = 200
#: ``CrashBackoffMinDuration`` and ``DefaultMaxBackoffDuration``, in seconds.
MIN_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 16 * 60
#: ``calculateMaxBackoffCount(16 min)``: log2(ceil(16 min / 30 s)) = 5.
MAX_BACKOFF_EXPONENT = 5


# -- the crash policy (models/restart_calculator.go) -------------------------------------------


def backoff(crash_count: int) -> int:
    """Seconds a CRASHED instance with ``crash_count`` crashes waits before convergence
    restarts it (``exponentialBackoff`` as ``RestartCalculator.ShouldRestart`` uses it).

    30 s × 2^min(count − 3, 5), capped at 16 minutes: 3 → 30 s, 4 → 1 min, 5 → 2 min,
    6 → 4 min, 7 → 8 min, 8 and more → 16 min. Counts below 3 restart at once (0 s).
    """
    if crash_count < IMMEDIATE_RESTARTS:
        return 0
    exponent = min(crash_count - IMMEDIATE_RESTARTS, MAX_BACKOFF_EXPONENT)
    return min(MIN_BACKOFF_SECONDS << exponent, MAX_BACKOFF_SECONDS)


def should_restart(now: int, crashed_at: int, crash_count: int) -> bool:
    """``RestartCalculator.ShouldRestart`` with upstream's defaults; times in Unix ns.

    Fewer than 3 crashes: always. Fewer than 200: once ``crashed_at + backoff(count)`` is
    reached. 200 or more: never.
    """
    if crash_count < IMMEDIATE_RESTARTS:
        return True
    if crash_count < MAX_RESTARTS:
        return crashed_at + backoff(crash_count) * NANOSECONDS_PER_SECOND <= now
    return False


def should_restart_immediately(crash_count: int) -> bool:
    """``ActualLRP.ShouldRestartImmediately``: whether a crash lands in UNCLAIMED, not
    CRASHED (``ShouldRestart(0, 0, count)``)."""
    return should_restart(0, 0, crash_count)


def new_crash_count(lrp: models.ActualLRP, now: int) -> int:
    """``SQLDB.CrashActualLRP``: a RUNNING instance whose last change is more than 5 minutes
    old starts again at 1; otherwise the count goes up by one (a CLAIMED one always adds)."""
    if lrp.state == RUNNING and now - lrp.since > CRASH_RESET_TIMEOUT_NS:
        return 1
    return int(lrp.crash_count) + 1


# -- the transition table (models/actual_lrp.go) -----------------------------------------------


def allows_transition(
    lrp: models.ActualLRP,
    key: models.ActualLRPKey,
    instance_key: models.ActualLRPInstanceKey,
    target: str,
) -> bool:
    """``ActualLRP.AllowsTransitionTo``: may ``lrp`` go to state ``target`` for a caller holding
    ``key`` (compared whole, domain included) and ``instance_key``?"""
    if lrp.actual_lrp_key != key:
        return False
    same = lrp.actual_lrp_instance_key == instance_key
    empty = instance_key.instance_guid == "" and instance_key.cell_id == ""
    if lrp.state == UNCLAIMED:
        return target in (UNCLAIMED, CLAIMED, RUNNING)
    if lrp.state == CLAIMED:
        return (
            (target == UNCLAIMED and empty)
            or (target == CLAIMED and same)
            or target == RUNNING
            or (target == CRASHED and same)
        )
    if lrp.state == RUNNING:
        return (target == UNCLAIMED and empty) or (target in (CLAIMED, RUNNING, CRASHED) and same)
    if lrp.state == CRASHED:
        return (target == UNCLAIMED and empty) or (target in (CLAIMED, RUNNING) and same)
    return False


# -- shared row operations (callers hold the lock, inside an operation) ------------------------


def rows_at(store: Store, process_guid: str, index: int) -> tuple[models.ActualLRP, ...]:
    """The stored rows of one index, ORDINARY, EVACUATING, SUSPECT, as Postgres returns them
    (``Store.rows_of_index``). Read them, never change them."""
    return store.rows_of_index(process_guid, index)


def find_by_instance_key(
    rows: Iterable[models.ActualLRP], instance_key: models.ActualLRPInstanceKey
) -> models.ActualLRP | None:
    """``lookupLRPInSlice``: the first row whose instance key equals ``instance_key``."""
    for row in rows:
        if row.actual_lrp_instance_key == instance_key:
            return row
    return None


def crash_ordinary(
    op: Operation,
    key: models.ActualLRPKey,
    instance_key: models.ActualLRPInstanceKey,
    crash_reason: str,
    *,
    crashed: bool,
) -> tuple[models.ActualLRP, models.ActualLRP]:
    """``SQLDB.CrashActualLRP`` on the ordinary row of ``key``'s index; returns (before, after).

    The row becomes CRASHED (or UNCLAIMED when ``should_restart_immediately``) with no
    instance key and no net info, the new crash count and reason, ``since`` now. The stored
    reason is truncated (``truncate_text``); the recorded change carries the full text, as
    upstream's event does. ``crashed`` marks the change as a crash for the event streams
    (``/crash`` emits ActualLRPCrashedEvent whatever the row lands in; evacuate_crashed
    does not).
    """
    store = op.store
    row = store.actual_lrps.get(ActualKey.at(key.process_guid, key.index, ORDINARY))
    if row is None:
        raise ResourceNotFound()
    now = store.clock()
    if not allows_transition(row, row.actual_lrp_key, instance_key, CRASHED):
        raise ActualLRPCannotBeCrashed()
    before = copy(row)
    after = copy(row)
    after.modification_tag.index += 1
    after.crash_count = new_crash_count(row, now)
    after.state = UNCLAIMED if should_restart_immediately(after.crash_count) else CRASHED
    _clear(after, "actual_lrp_instance_key")
    _clear(after, "actual_lrp_net_info")
    after.since = now
    reported = copy(after)
    reported.crash_reason = crash_reason
    after.crash_reason = truncate_text(crash_reason)
    stored = op.put_actual(after, crashed=crashed, reported=reported)
    return before, stored


def unclaim_ordinary(
    op: Operation, process_guid: str, index: int, *, stale: bool = False
) -> tuple[models.ActualLRP, models.ActualLRP]:
    """``SQLDB.UnclaimActualLRP``: the ordinary row goes back to UNCLAIMED; (before, after).

    The instance key and net info are cleared, ``since`` is now, the crash count is kept.
    An UNCLAIMED row, or with ``stale`` a CLAIMED one (a claim convergence found stale), is
    ActualLRPCannotBeUnclaimed; no ordinary row is ResourceNotFound.
    """
    store = op.store
    row = store.actual_lrps.get(ActualKey.at(process_guid, index, ORDINARY))
    if row is None:
        raise ResourceNotFound()
    if row.state == UNCLAIMED or (stale and row.state == CLAIMED):
        raise ActualLRPCannotBeUnclaimed()
    before = copy(row)
    after = copy(row)
    after.modification_tag.index += 1
    after.state = UNCLAIMED
    _clear(after, "actual_lrp_instance_key")
    _clear(after, "actual_lrp_net_info")
    after.since = store.clock()
    return before, op.put_actual(after)


def request_start(op: Operation, process_guid: str, index: int) -> bool:
    """Ask the auctioneer to place one index of a desired LRP (a restart, an evacuated
    instance's replacement); False, and no request, when the desired LRP is gone."""
    desired = op.store.desired_lrps.get(process_guid)
    if desired is None:
        return False
    op.call(lrp_auction_request([lrp_start(desired, [index])], op.trace_id))
    return True


def set_instance_fields(
    lrp: models.ActualLRP,
    instance_key: models.ActualLRPInstanceKey,
    net_info: models.ActualLRPNetInfo,
    internal_routes: Iterable[models.ActualLRPInternalRoute],
    metric_tags: Mapping[str, str] | None,
    availability_zone: str,
) -> None:
    """Write what a rep reports about a running instance into ``lrp`` (start, evacuate)."""
    lrp.actual_lrp_instance_key.CopyFrom(instance_key)
    lrp.actual_lrp_net_info.CopyFrom(net_info)
    routes = [copy(route) for route in internal_routes]
    stored_routes = lrp.actual_lrp_internal_routes
    if routes or stored_routes:
        del stored_routes[:]
        stored_routes.extend(routes)
    tags = lrp.metric_tags
    tags.clear()
    if metric_tags:
        for name in metric_tags:  # by key: a protobuf map's items() is iterated in Python
            tags[name] = metric_tags[name]
    lrp.availability_zone = availability_zone


def _clear(lrp: models.ActualLRP, field: str) -> None:
    """Empty an embedded message; it stays present, as the Go encoder always writes it."""
    lrp.ClearField(field)
    getattr(lrp, field).SetInParent()


# -- the rules --------------------------------------------------------------------------------


class ActualLRPLifecycle:
    """Claim, start, crash, fail, remove, unclaim and retire over ``store``, a rule family of
    ``fakebbs._rules.state.State``.

    Claim and start answer nothing, as upstream's controller; the others return the resulting
    ordinary row (a copy), or None where upstream ignores the call.
    """

    store: Store

    def __init__(self, store: Store) -> None:
        self.store = store

    def claim_actual_lrp(
        self, process_guid: str, index: int, instance_key: models.ActualLRPInstanceKey
    ) -> None:
        """``ActualLRPLifecycleController.ClaimActualLRP`` + ``SQLDB.ClaimActualLRP``.

        Like upstream's controller it answers nothing but its error (so it copies no row for a
        caller that only wants the write). A claim from a SUSPECT row's instance is ignored.
        Otherwise the ordinary row must exist (ResourceNotFound) and allow CLAIMED
        (ActualLRPCannotBeClaimed). Claiming again what is already claimed by the same instance
        changes nothing. A claim clears the net info and placement error and sets ``since``.
        """
        with self.store.operation() as op:
            rows = op.index_rows(process_guid, index)
            target = find_by_instance_key(rows, instance_key)
            if target is not None and target.presence == SUSPECT:
                return
            row = rows[0] if rows and rows[0].presence == ORDINARY else None
            if row is None:
                raise ResourceNotFound()
            if not allows_transition(row, row.actual_lrp_key, instance_key, CLAIMED):
                raise ActualLRPCannotBeClaimed()
            if row.state == CLAIMED and row.actual_lrp_instance_key == instance_key:
                # Nothing is written, but upstream still tells its event calculator the row
                # went from itself to itself, which replaces every row of the index sharing
                # that instance key (an evacuating one included) and so can emit events.
                op.report_actual_unchanged(row)
                return
            after = copy(row)
            after.modification_tag.index += 1
            after.state = CLAIMED
            after.actual_lrp_instance_key.CopyFrom(instance_key)
            after.placement_error = ""
            _clear(after, "actual_lrp_net_info")
            after.since = self.store.clock()
            op.put_actual(after, owned=True)

    def start_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        net_info: models.ActualLRPNetInfo,
        *,
        internal_routes: Iterable[models.ActualLRPInternalRoute] = (),
        metric_tags: Mapping[str, str] | None = None,
        routable: bool = True,
        availability_zone: str = "",
    ) -> None:
        """``ActualLRPLifecycleController.StartActualLRP`` + ``SQLDB.StartActualLRP``.

        Like upstream's controller it answers nothing but its error. A start from a SUSPECT
        row's instance is ignored. Without an ordinary row a RUNNING one is inserted. A row
        already exactly as requested (key, instance key, net info, internal routes, metric
        tags, routable, availability zone, RUNNING) is left alone; otherwise the row must allow
        RUNNING for the caller's key, domain included (ActualLRPCannotBeStarted) and takes the
        request's fields, ``since`` now, no placement error (crash count and reason are kept).
        Then the index's EVACUATING and SUSPECT rows, if any, are deleted: the replacement is
        up.
        """
        with self.store.operation() as op:
            rows = op.index_rows(key.process_guid, key.index)
            target = find_by_instance_key(rows, instance_key)
            if target is not None and target.presence == SUSPECT:
                return
            row = rows[0] if rows and rows[0].presence == ORDINARY else None
            if row is None:
                started = self.store.new_actual_lrp(key.process_guid, key.index, key.domain)
                started.state = RUNNING
                started.routable = routable
                set_instance_fields(
                    started, instance_key, net_info, internal_routes, metric_tags, availability_zone
                )
                op.put_actual(started, owned=True)
            else:
                wanted = copy(row)
                wanted.state = RUNNING
                wanted.routable = routable
                set_instance_fields(
                    wanted, instance_key, net_info, internal_routes, metric_tags, availability_zone
                )
                # A row already exactly as requested is left alone.
                if not (row.state == RUNNING and row.actual_lrp_key == key and wanted == row):
                    if not allows_transition(row, key, instance_key, RUNNING):
                        raise ActualLRPCannotBeStarted()
                    wanted.since = self.store.clock()
                    wanted.modification_tag.index += 1
                    wanted.placement_error = ""
                    op.put_actual(wanted, owned=True)
            presences = [row.presence for row in rows]
            for presence in (EVACUATING, SUSPECT):  # upstream's order, whatever the rows'
                if presence in presences:
                    op.delete_actual(ActualKey.at(key.process_guid, key.index, presence))

    def crash_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        error_message: str,
    ) -> models.ActualLRP | None:
        """``ActualLRPLifecycleController.CrashActualLRP``.

        A crash of a SUSPECT row's instance deletes that row (None). Otherwise the ordinary
        row crashes (``crash_ordinary``: ResourceNotFound, ActualLRPCannotBeCrashed); crashes
        1 and 2 land in UNCLAIMED (upstream then asks the auctioneer to place the instance),
        later ones in CRASHED for convergence to restart after ``backoff``.

        To place the instance upstream first reads the desired LRP's scheduling info: without
        a desired LRP the crash stays committed (and reported) but the answer is
        ResourceNotFound.
        """
        with self.store.operation() as op:
            target = find_by_instance_key(
                rows_at(self.store, key.process_guid, key.index), instance_key
            )
            if target is not None and target.presence == SUSPECT:
                op.delete_actual(ActualKey.of(target))
                return None
            _, after = crash_ordinary(op, key, instance_key, error_message, crashed=True)
            if after.state == UNCLAIMED:
                if not request_start(op, key.process_guid, key.index):
                    raise ResourceNotFound()
            return after

    def fail_actual_lrp(
        self, key: models.ActualLRPKey, error_message: str
    ) -> models.ActualLRP | None:
        """``ActualLRPLifecycleController.FailActualLRP`` + ``SQLDB.FailActualLRP``: the
        auctioneer could not place an UNCLAIMED instance.

        Without an ordinary row this succeeds and changes nothing (None), as upstream does. A
        row that is not UNCLAIMED is ActualLRPCannotBeFailed. The placement error is stored
        truncated (``truncate_text``); the recorded change carries the full text.
        """
        with self.store.operation() as op:
            row = self.store.actual_lrps.get(ActualKey.at(key.process_guid, key.index, ORDINARY))
            if row is None:
                return None
            if row.state != UNCLAIMED:
                raise ActualLRPCannotBeFailed()
            after = copy(row)
            after.modification_tag.index += 1
            after.since = self.store.clock()
            reported = copy(after)
            reported.placement_error = error_message
            after.placement_error = truncate_text(error_message)
            stored = op.put_actual(after, reported=reported)
            return stored

    def remove_actual_lrp(
        self,
        process_guid: str,
        index: int,
        instance_key: models.ActualLRPInstanceKey | None = None,
    ) -> models.ActualLRP:
        """``ActualLRPLifecycleController.RemoveActualLRP`` + ``SQLDB.RemoveActualLRP``: delete
        the ordinary row, in any state; returns it.

        With ``instance_key`` the row must have exactly that instance key (an empty one
        matches an UNCLAIMED or CRASHED row); otherwise, or without an ordinary row,
        ResourceNotFound.
        """
        with self.store.operation() as op:
            row_key = ActualKey.at(process_guid, index, ORDINARY)
            row = self.store.actual_lrps.get(row_key)
            if row is None:
                raise ResourceNotFound()
            if instance_key is not None and row.actual_lrp_instance_key != instance_key:
                raise ResourceNotFound()
            return op.delete_actual(row_key)

    def unclaim_actual_lrp(
        self, process_guid: str, index: int, *, stale: bool = False, trace_id: str = ""
    ) -> tuple[models.ActualLRP, models.ActualLRP]:
        """``SQLDB.UnclaimActualLRP`` (internal: convergence and evacuation use it); returns
        (before, after). See ``unclaim_ordinary``."""
        with self.store.operation(trace_id) as op:
            return unclaim_ordinary(op, process_guid, index, stale=stale)

    def retire_actual_lrp(
        self, key: models.ActualLRPKey, trace_id: str = ""
    ) -> list[models.ActualLRP]:
        """``ActualLRPLifecycleController.RetireActualLRP``; returns the rows retired.

        The ordinary row is found by process guid and index (the domain is not compared).
        UNCLAIMED and CRASHED rows are deleted; a CLAIMED or RUNNING row is deleted when its
        cell is not registered, and left for the cell's rep to stop when it is (the real BBS
        asks the rep; the removal is reported either way).
        """
        with self.store.operation(trace_id) as op:
            row_key = ActualKey(key.process_guid, key.index, ORDINARY)
            lrp = self.store.actual_lrps.get(row_key)
            if lrp is None:
                raise ResourceNotFound()
            cell = self.store.cells.get(lrp.actual_lrp_instance_key.cell_id)
            if lrp.state in (CLAIMED, RUNNING) and cell is not None:
                op.report_actual_removed(lrp)
                again = functools.partial(self._retire_if_cell_gone, copy(lrp), trace_id)
                op.call(stop_request(lrp, cell, trace_id, retire=True, retry_check=again))
                return [copy(lrp)]
            return [op.delete_actual(row_key)]

    def _retire_if_cell_gone(self, lrp: models.ActualLRP, trace_id: str) -> BBSError | bool:
        """Before each further stop attempt of a retire upstream looks the cell up again: a
        cell gone by then means the row is removed instead (True; its removal was reported
        already, so no stream hears of it again), or ResourceNotFound when the row is gone or
        another instance's. False while the cell is registered: try the rep again."""
        with self.store.operation(trace_id) as op:
            if lrp.actual_lrp_instance_key.cell_id in self.store.cells:
                return False
            key = ActualKey.of(lrp)
            row = self.store.actual_lrps.get(key)
            if row is None or row.actual_lrp_instance_key != lrp.actual_lrp_instance_key:
                return ResourceNotFound()
            op.delete_actual(key, emit="none")
            return True
