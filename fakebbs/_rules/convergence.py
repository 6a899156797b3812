"""Convergence: what upstream's converger does with what a BBS can see without cells' reps.

The real BBS converges on a timer (``converge_repeat_interval``, 30 s in diego-release). A
test fake should not change state behind a test's back, so here convergence is an explicit,
deterministic operation: call ``converge_lrps()`` / ``converge_tasks()`` (or ``converge()``)
when the test wants a pass, after moving a ``ManualClock`` if time should have passed.

LRPs (``SQLDB.ConvergeLRPs`` + ``LRPConvergenceController.ConvergeLRPs``), in this order:
expired domains are pruned; EVACUATING rows on cells that are not registered are removed;
missing indices of every desired LRP are created UNCLAIMED; CRASHED instances whose backoff has
passed are unclaimed (restarted); CLAIMED and RUNNING ordinary instances on unregistered cells
become SUSPECT with a fresh UNCLAIMED replacement (or, when a suspect already runs for the
index, are unclaimed); suspects on registered cells are promoted back to ordinary; suspects
that are extra or orphaned are removed; extra indices and orphaned instances in fresh domains
are retired. The instances created, restarted or replaced, and UNCLAIMED ones that have waited
longer than ``STALE_UNCLAIMED_DURATION``, are then put up for auction in one request (an
unclaimed instance whose suspect still runs is not). A RUNNING instance on a registered cell
whose internal routes or metric tags differ from what its desired LRP now says is sent an
update by its rep (``lrpsWithInternalRouteChanges``, ``lrpsWithMetricTagChanges``).

Tasks (``SQLDB.ConvergeTasks`` + ``TaskController.ConvergeTasks``): pending tasks older than
``expire_pending_task_duration`` fail "not started within time limit"; running tasks on
unregistered cells fail "cell disappeared before completion"; resolving tasks not updated for
``kick_task_duration`` go back to completed; completed tasks whose first completion is older
than ``expire_completed_task_duration`` are deleted; completed tasks not updated for the kick
duration get their completion callback again; every task still pending is put up for auction
again (one request).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fakebbs import models
from fakebbs._rules.domains import DomainRules
from fakebbs._rules.lifecycle import ActualLRPLifecycle, should_restart, unclaim_ordinary
from fakebbs._rules.requests import (
    internal_routes_of,
    lrp_auction_request,
    lrp_start,
    metric_tags_for,
    task_auction_request,
    task_start,
    update_request,
)
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
)
from fakebbs._rules.wire import NANOSECONDS_PER_SECOND
from fakebbs.errors import BBSError

if TYPE_CHECKING:
    from fakebbs._rules.requests import OutboundRequest

__all__ = ["Convergence", "LRPConvergence", "TaskConvergence"]

SECOND = NANOSECONDS_PER_SECOND
KICK_TASK_DURATION = 30 * SECOND
EXPIRE_PENDING_TASK_DURATION = 30 * 60 * SECOND
EXPIRE_COMPLETED_TASK_DURATION = 2 * 60 * SECOND
EXPIRED_FAILURE_REASON = "not started within time limit"
CELL_DISAPPEARED_FAILURE_REASON = "cell disappeared before completion"
STALE_UNCLAIMED_DURATION = 30 * SECOND
"""Upstream ``StaleUnclaimedActualLRPDuration``: an instance UNCLAIMED this long is
auctioned again."""

Key = tuple[str, int]


@dataclass
class LRPConvergence:
    """What one LRP convergence pass did, by (process guid, index)."""

    pruned_domains: list[str] = field(default_factory=list)
    removed_evacuating: list[Key] = field(default_factory=list)
    created_missing: list[Key] = field(default_factory=list)
    restarted_crashed: list[Key] = field(default_factory=list)
    suspected: list[Key] = field(default_factory=list)
    unclaimed_missing_cell: list[Key] = field(default_factory=list)
    promoted_suspects: list[Key] = field(default_factory=list)
    removed_suspects: list[Key] = field(default_factory=list)
    retired: list[Key] = field(default_factory=list)


@dataclass
class TaskConvergence:
    """What one task convergence pass did, by task guid."""

    expired_pending: list[str] = field(default_factory=list)
    failed_missing_cell: list[str] = field(default_factory=list)
    demoted_resolving: list[str] = field(default_factory=list)
    deleted_completed: list[str] = field(default_factory=list)
    kicked_completed: list[str] = field(default_factory=list)


def _key(lrp: models.ActualLRP) -> Key:
    return lrp.actual_lrp_key.process_guid, lrp.actual_lrp_key.index


class Convergence:
    """Convergence passes over ``store``, a rule family of ``fakebbs._rules.state.State``.

    A pass reads which domains are fresh (``domains``) and retires instances the way the
    lifecycle does (``lifecycle``): the families it calls are its constructor's arguments.
    """

    store: Store
    lifecycle: ActualLRPLifecycle
    domains: DomainRules

    def __init__(self, store: Store, lifecycle: ActualLRPLifecycle, domains: DomainRules) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.domains = domains

    kick_task_duration: int = KICK_TASK_DURATION
    expire_pending_task_duration: int = EXPIRE_PENDING_TASK_DURATION
    expire_completed_task_duration: int = EXPIRE_COMPLETED_TASK_DURATION

    def converge(self, trace_id: str = "") -> tuple[LRPConvergence, TaskConvergence]:
        """One LRP pass and one task pass, as the converger runs them every interval."""
        with self.store.operation(trace_id):
            return self.converge_lrps(trace_id), self.converge_tasks(trace_id)

    def converge_lrps(self, trace_id: str = "") -> LRPConvergence:
        """One LRP convergence pass; see the module docstring."""
        result = LRPConvergence()
        with self.store.operation(trace_id) as op:
            now = self.store.clock()
            cells = set(self.store.cells)
            self._prune_domains(op, now, result)
            self._prune_evacuating(op, cells, result)
            fresh = set(self.domains.fresh_domains())
            # The converger computes every set from one snapshot, then acts on it.
            missing, extra = self._instance_counts(fresh)
            orphaned = [copy(lrp.actual_lrp_key) for _, lrp in self._orphaned(ORDINARY)]
            crashed = [
                lrp
                for key, lrp in self.store.actual_lrps.items()
                if key.presence == ORDINARY
                and lrp.state == CRASHED
                and key.process_guid in self.store.desired_lrps
                and should_restart(now, lrp.since, lrp.crash_count)
            ]
            on_missing_cells = [
                lrp
                for key, lrp in self.store.actual_lrps.items()
                if key.presence == ORDINARY
                and lrp.state in (CLAIMED, RUNNING)
                and key.process_guid in self.store.desired_lrps
                and not _on_registered_cell(lrp, cells)
            ]
            running_suspects = {
                (key.process_guid, key.index)
                for key, lrp in self.store.actual_lrps.items()
                if key.presence == SUSPECT and lrp.state in (CLAIMED, RUNNING)
            }
            suspects_on_cells = [
                key
                for key, lrp in self.store.actual_lrps.items()
                if cells
                and key.presence == SUSPECT
                and lrp.actual_lrp_instance_key.cell_id in cells
            ]
            suspects_to_remove = [key for key, _ in self._orphaned(SUSPECT)]
            suspects_to_remove += self._extra_suspects()
            stale = [
                _key(lrp)
                for key, lrp in self.store.actual_lrps.items()
                if key.presence == ORDINARY
                and lrp.state == UNCLAIMED
                and key.process_guid in self.store.desired_lrps
                and lrp.since < now - STALE_UNCLAIMED_DURATION
            ]

            updates = self._instance_updates()

            for process_guid, index, domain in missing:
                created = op.put_actual(
                    self.store.new_actual_lrp(process_guid, index, domain), emit="direct"
                )
                result.created_missing.append(_key(created))
            for lrp in crashed:
                mark = len(op.changes)
                before, after = unclaim_ordinary(op, *_key(lrp))
                op.record_as(mark, (before, after), emit="direct")
                result.restarted_crashed.append(_key(lrp))
            for lrp in on_missing_cells:
                self._handle_missing_cell(op, lrp, running_suspects, result)
            to_place = result.created_missing + result.restarted_crashed + result.suspected
            starts = [
                lrp_start(self.store.desired_lrps[guid], [index])
                for guid, index in stale + to_place
                if guid in self.store.desired_lrps
            ]
            if starts:
                op.call(lrp_auction_request(starts, trace_id))
            for key in suspects_on_cells:
                self._promote_suspect(op, key, result)
            for key in dict.fromkeys(suspects_to_remove):
                if key in self.store.actual_lrps:
                    op.delete_actual(key, emit="direct")
                    result.removed_suspects.append((key.process_guid, key.index))
            for actual_key in extra + orphaned:
                try:
                    self.lifecycle.retire_actual_lrp(actual_key, trace_id)
                except BBSError:
                    continue  # upstream logs a failed retirement and goes on
                result.retired.append((actual_key.process_guid, actual_key.index))
            for request in updates:
                op.call(request)
        return result

    def converge_tasks(self, trace_id: str = "") -> TaskConvergence:
        """One task convergence pass; see the module docstring."""
        result = TaskConvergence()
        with self.store.operation(trace_id) as op:
            now = self.store.clock()
            cells = set(self.store.cells)
            pending = models.Task.Pending
            running = models.Task.Running
            completed = models.Task.Completed
            resolving = models.Task.Resolving
            for task in list(self.store.tasks.values()):
                expired = task.created_at < now - self.expire_pending_task_duration
                if task.state == pending and expired:
                    _fail(op, task, EXPIRED_FAILURE_REASON, now)
                    result.expired_pending.append(task.task_guid)
                elif task.state == running and task.cell_id not in cells:
                    _fail(op, task, CELL_DISAPPEARED_FAILURE_REASON, now)
                    result.failed_missing_cell.append(task.task_guid)
            for task in list(self.store.tasks.values()):
                if task.state == resolving and task.updated_at < now - self.kick_task_duration:
                    demoted = copy(task)
                    demoted.state = completed
                    op.put_task(demoted)
                    result.demoted_resolving.append(task.task_guid)
            for task in list(self.store.tasks.values()):
                if (
                    task.state == completed
                    and task.first_completed_at < now - self.expire_completed_task_duration
                ):
                    op.delete_task(task.task_guid)
                    result.deleted_completed.append(task.task_guid)
            for task in list(self.store.tasks.values()):
                if task.state == completed and task.updated_at < now - self.kick_task_duration:
                    op.callback_due(task)
                    result.kicked_completed.append(task.task_guid)
            starts = [
                task_start(task.task_guid, task.domain, task.task_definition)
                for task in self.store.tasks.values()
                if task.state == pending
                and task.created_at > now - self.expire_pending_task_duration
            ]
            if starts:
                op.call(task_auction_request(starts, trace_id))
        return result

    # -- the LRP sets (callers hold the lock) -------------------------------------------------

    def _instance_updates(self) -> list[OutboundRequest]:
        """The rep updates of RUNNING ordinary instances on registered cells whose internal
        routes (compared as sets of hostnames) or metric tags (when the instance has any)
        differ from what their desired LRP says; one update for each kind, with no trace id."""
        updates: list[OutboundRequest] = []
        for key, lrp in self.store.actual_lrps.items():
            desired = self.store.desired_lrps.get(key.process_guid)
            if key.presence != ORDINARY or lrp.state != RUNNING or desired is None:
                continue
            cell = self.store.cells.get(lrp.actual_lrp_instance_key.cell_id)
            if cell is None:
                continue
            try:
                wanted = internal_routes_of(desired.routes)
            except ValueError:
                wanted = None
            else:
                have = [route.hostname for route in lrp.actual_lrp_internal_routes]
                hostnames = [route["hostname"] for route in wanted or []]
                if len(have) != len(hostnames) or not set(hostnames) <= set(have):
                    updates.append(
                        update_request(lrp, cell, wanted or None, None, background=False)
                    )
            if lrp.metric_tags:
                instance_guid = lrp.actual_lrp_instance_key.instance_guid
                tags = metric_tags_for(desired.metric_tags, key.index, instance_guid)
                if tags != dict(lrp.metric_tags):
                    updates.append(update_request(lrp, cell, None, tags, background=False))
        return updates

    def _prune_domains(self, op: Operation, now: int, result: LRPConvergence) -> None:
        """``pruneDomains``: forget domains whose expiry has passed."""
        for name, expiry in list(self.store.domains.items()):
            if expiry is not None and expiry <= now:
                op.delete_domain(name)
                result.pruned_domains.append(name)

    def _prune_evacuating(self, op: Operation, cells: set[str], result: LRPConvergence) -> None:
        """``pruneEvacuatingActualLRPs``: an evacuating instance whose cell is gone is gone
        (with no cell registered at all, every evacuating row goes)."""
        for key, lrp in list(self.store.actual_lrps.items()):
            if key.presence == EVACUATING and lrp.actual_lrp_instance_key.cell_id not in cells:
                op.delete_actual(key, emit="direct")
                result.removed_evacuating.append((key.process_guid, key.index))

    def _instance_counts(
        self, fresh: set[str]
    ) -> tuple[list[tuple[str, int, str]], list[models.ActualLRPKey]]:
        """``lrpInstanceCounts``: indices a desired LRP lacks an ordinary row for, and ordinary
        rows at or above its instance count (retired only in a fresh domain)."""
        indices: dict[str, set[int]] = {}
        for key in self.store.actual_lrps:
            if key.presence == ORDINARY:
                indices.setdefault(key.process_guid, set()).add(key.index)
        missing: list[tuple[str, int, str]] = []
        extra: list[models.ActualLRPKey] = []
        for lrp in self.store.desired_lrps.values():
            existing = indices.get(lrp.process_guid, set())
            if len(existing) == lrp.instances:
                continue
            missing.extend(
                (lrp.process_guid, index, lrp.domain)
                for index in range(lrp.instances)
                if index not in existing
            )
            if lrp.domain in fresh:
                extra.extend(
                    models.ActualLRPKey(
                        process_guid=lrp.process_guid, index=index, domain=lrp.domain
                    )
                    for index in sorted(existing)
                    if index >= lrp.instances
                )
        return missing, extra

    def _orphaned(self, presence: int) -> list[tuple[ActualKey, models.ActualLRP]]:
        """``selectOrphaned(Suspect)ActualLRPs``: rows of a domain the BBS knows (the domains
        table, already pruned) whose desired LRP is gone."""
        return [
            (key, lrp)
            for key, lrp in self.store.actual_lrps.items()
            if key.presence == presence
            and lrp.actual_lrp_key.domain in self.store.domains
            and key.process_guid not in self.store.desired_lrps
        ]

    def _extra_suspects(self) -> list[ActualKey]:
        """``selectExtraSuspectActualLRPs``: a suspect is extra once an ordinary instance of its
        index runs too."""
        return [
            key
            for key, lrp in self.store.actual_lrps.items()
            if key.presence == SUSPECT
            and lrp.state == RUNNING
            and (
                ordinary := self.store.actual_lrps.get(
                    ActualKey(key.process_guid, key.index, ORDINARY)
                )
            )
            is not None
            and ordinary.state == RUNNING
        ]

    def _handle_missing_cell(
        self,
        op: Operation,
        lrp: models.ActualLRP,
        running_suspects: set[Key],
        result: LRPConvergence,
    ) -> None:
        """``KeysWithMissingCells``: keep the instance as a SUSPECT (it may still run) and
        create a replacement; if a suspect exists already, just unclaim the ordinary row."""
        process_guid, index = _key(lrp)
        if (process_guid, index) in running_suspects:
            mark = len(op.changes)
            before, after = unclaim_ordinary(op, process_guid, index)
            op.record_as(mark, (before, after), emit="instance")
            result.unclaimed_missing_cell.append((process_guid, index))
            return
        if ActualKey(process_guid, index, SUSPECT) in self.store.actual_lrps:
            return  # upstream's presence change fails on the existing suspect row
        mark = len(op.changes)
        op.delete_actual(ActualKey(process_guid, index, ORDINARY))
        suspect = copy(lrp)
        suspect.presence = SUSPECT
        op.put_actual(suspect)
        op.record_as(mark, (lrp, suspect), emit="instance")
        key = lrp.actual_lrp_key
        op.put_actual(
            self.store.new_actual_lrp(key.process_guid, key.index, key.domain), emit="instance"
        )
        result.suspected.append((process_guid, index))

    def _promote_suspect(self, op: Operation, key: ActualKey, result: LRPConvergence) -> None:
        """``PromoteSuspectActualLRP``: its cell is back, so the suspect is the instance again
        and the replacement ordinary row (if any) goes."""
        suspect = self.store.actual_lrps.get(key)
        if suspect is None:
            return
        ordinary_key = ActualKey(key.process_guid, key.index, ORDINARY)
        if ordinary_key in self.store.actual_lrps:
            op.delete_actual(ordinary_key, emit="direct")
        mark = len(op.changes)
        op.delete_actual(key)
        promoted = copy(suspect)
        promoted.presence = ORDINARY
        op.put_actual(promoted)
        op.record_as(mark, (suspect, promoted), emit="instance")
        result.promoted_suspects.append((key.process_guid, key.index))


def _on_registered_cell(lrp: models.ActualLRP, cells: set[str]) -> bool:
    """``selectLRPsWithMissingCells``: with no cell registered every CLAIMED or RUNNING row
    counts as on a missing cell; otherwise one whose non-empty cell id is not registered."""
    cell_id = lrp.actual_lrp_instance_key.cell_id
    if not cells:
        return False
    return cell_id == "" or cell_id in cells


def _fail(op: Operation, task: models.Task, reason: str, now: int) -> None:
    """Convergence's own UPDATE (``failExpiredPendingTasks``, ``failTasksWithDisappearedCells``):
    unlike ``TaskRules._complete`` it keeps the cell id and submits no callback (a later pass
    kicks the completed task)."""
    failed = copy(task)
    failed.state = models.Task.Completed
    failed.failed = True
    failed.failure_reason = reason
    failed.result = ""
    failed.first_completed_at = now
    failed.updated_at = now
    op.put_task(failed)
