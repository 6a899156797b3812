"""Evacuation rules: what a draining cell's rep reports about each of its instances.

Mirrors upstream ``controllers/evacuation_controller.go`` over ``db/sqldb/evacuation_db.go``.
Each rule lists the rows of (process guid, index) and finds the *target*, the row whose instance
key is the caller's (``lookupLRPInSlice``), then answers ``keep_container``: whether the rep
should keep the container running. A rule returns it; a rule that fails raises the BBS error
with a ``keep_container`` attribute, the value upstream answers next to that error (the same
convention as ``BBSClient``'s evacuation methods).

Recorded changes follow upstream's event calculator, which is told some changes in a shape of
its own (``RecordChange``) rather than row by row:

* the evacuation dance (an ORDINARY or SUSPECT target that is CLAIMED or RUNNING) is recorded
  as the target becoming the EVACUATING copy, plus the UNCLAIMED ordinary row as a creation;
* an EVACUATING row rewritten with a rep's new net info is recorded as a creation;
* when evacuate_running drops a target that is not the EVACUATING row (a SUSPECT row, or
  the ORDINARY row of a desired LRP that is gone) and the index has no EVACUATING row,
  upstream's ``removeEvacuating`` reports the target removed without deleting it; so does
  the fake.

Upstream's evacuation events carry an empty trace id. An ordinary instance unclaimed here (for
evacuate_claimed, the evacuation dance and the RECREATE strategy) is put up for auction: the
auctioneer is asked to place its index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fakebbs import models
from fakebbs._rules.lifecycle import (
    crash_ordinary,
    find_by_instance_key,
    request_start,
    rows_at,
    set_instance_fields,
    unclaim_ordinary,
)
from fakebbs._rules.store import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    ORDINARY,
    RUNNING,
    SUSPECT,
    ActualKey,
    Operation,
    Store,
    copy,
)
from fakebbs.errors import BBSError, ResourceExists, ResourceNotFound

__all__ = ["Evacuation"]

_RECREATE: int = models.DesiredLRP.UpdateStrategy.Value("RECREATE")


class Evacuation:
    """The evacuation rules over ``store``, a rule family of ``fakebbs._rules.state.State``."""

    store: Store

    def __init__(self, store: Store) -> None:
        self.store = store

    def evacuate_claimed_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey
    ) -> bool:
        """``EvacuationController.EvacuateClaimedActualLRP``; returns keep_container.

        No target: ResourceNotFound (keep false). An EVACUATING or SUSPECT target is deleted;
        the ORDINARY target is unclaimed for another cell to take. keep_container is false.
        """
        with self.store.operation() as op:
            rows = rows_at(self.store, key.process_guid, key.index)
            if _remove_evacuating_or_suspect(op, rows, instance_key):
                return False
            try:
                unclaim_ordinary(op, key.process_guid, key.index)
            except ResourceNotFound:
                return False
            except BBSError as error:
                raise _keeping(error, True) from None
            request_start(op, key.process_guid, key.index)
            return False

    def evacuate_running_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        net_info: models.ActualLRPNetInfo,
        *,
        internal_routes: Iterable[models.ActualLRPInternalRoute] = (),
        metric_tags: Mapping[str, str] | None = None,
        routable: bool = True,
        availability_zone: str = "",
    ) -> bool:
        """``EvacuationController.EvacuateRunningActualLRP``; returns keep_container.

        * No rows for the index: false.
        * No ORDINARY row (the desired LRP is gone), an ORDINARY row of another instance that
          is RUNNING or CRASHED (the replacement is up), or no desired LRP: the target is
          removed if it is the EVACUATING row; false.
        * Desired update strategy RECREATE: no target, false; an EVACUATING or SUSPECT target
          is deleted, false; a CLAIMED or RUNNING (ordinary) target is unclaimed if at least
          ``instances`` ordinary rows are RUNNING (false), else left alone (true, one instance
          at a time); anything else false.
        * No target, or the EVACUATING target: false if another instance's EVACUATING row
          exists; else the EVACUATING row is created (RUNNING, the request's fields) or
          rewritten with the request's key, instance key, net info, routes, tags and zone
          (its routable and state stay); true, also when it already had that key, instance
          key and net info.
        * A CLAIMED or RUNNING ORDINARY or SUSPECT target: the evacuation dance. An EVACUATING
          copy of the target is made (RUNNING, even from CLAIMED, as upstream), then the
          ordinary row is unclaimed for a replacement, or the suspect row deleted; true. If an
          EVACUATING row already holds exactly the target's key, instance key and net info:
          ResourceExists with keep true.
        * Anything else: false.
        """
        with self.store.operation() as op:
            rows = rows_at(self.store, key.process_guid, key.index)
            if not rows:
                return False
            target = find_by_instance_key(rows, instance_key)
            ordinary = _with_presence(rows, ORDINARY)
            desired = self.store.desired_lrps.get(key.process_guid)
            replaced = (
                ordinary is not None and ordinary != target and ordinary.state in (RUNNING, CRASHED)
            )
            if ordinary is None or replaced or desired is None:
                _remove_evacuating(op, target)
                return False

            if desired.update_strategy == _RECREATE:
                return _evacuate_recreate(op, target, desired.instances)

            if target is None or target.presence == EVACUATING:
                evacuating = _with_presence(rows, EVACUATING)
                if evacuating is not None and evacuating != target:
                    return False
                mark = len(op.changes)
                written = _write_evacuating(
                    op,
                    key,
                    instance_key,
                    net_info,
                    internal_routes,
                    metric_tags,
                    routable,
                    availability_zone,
                )
                if written is not None:
                    op.record_as(mark, (None, written))
                return True

            if target.state in (RUNNING, CLAIMED):
                _evacuation_dance(op, target)
                return True
            return False

    def evacuate_stopped_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey
    ) -> bool:
        """``EvacuationController.EvacuateStoppedActualLRP``: the instance is gone; delete its
        row (EVACUATING, SUSPECT or ORDINARY). No target: ResourceNotFound. Always false."""
        with self.store.operation() as op:
            rows = rows_at(self.store, key.process_guid, key.index)
            if not _remove_evacuating_or_suspect(op, rows, instance_key):
                op.delete_actual(ActualKey(key.process_guid, key.index, ORDINARY))
            return False

    def evacuate_crashed_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        error_message: str,
    ) -> bool:
        """``EvacuationController.EvacuateCrashedActualLRP``: an EVACUATING or SUSPECT target
        is deleted; the ORDINARY target crashes with the crash policy of ``/crash``
        (``crash_ordinary``), but is not reported as a crash event of its own and no auction
        is asked for. No target: ResourceNotFound. Always false."""
        with self.store.operation() as op:
            rows = rows_at(self.store, key.process_guid, key.index)
            if not _remove_evacuating_or_suspect(op, rows, instance_key):
                crash_ordinary(op, key, instance_key, error_message, crashed=False)
            return False

    def remove_evacuating_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey
    ) -> models.ActualLRP:
        """``EvacuationController.RemoveEvacuatingActualLRP``: delete the EVACUATING row of
        that instance; returns it. No such row (or the instance's row is not the evacuating
        one): ResourceNotFound."""
        with self.store.operation() as op:
            target = find_by_instance_key(
                rows_at(self.store, key.process_guid, key.index), instance_key
            )
            if target is None or target.presence != EVACUATING:
                raise ResourceNotFound()
            return op.delete_actual(ActualKey.of(target))


# -- row operations (inside the caller's operation) --------------------------------------------


def _with_presence(rows: Iterable[models.ActualLRP], presence: int) -> models.ActualLRP | None:
    """``findWithPresence``."""
    return next((row for row in rows if row.presence == presence), None)


def _remove_evacuating_or_suspect(
    op: Operation, rows: Sequence[models.ActualLRP], instance_key: models.ActualLRPInstanceKey
) -> bool:
    """``removeEvacuatingOrSuspect``: delete the target if it is EVACUATING or SUSPECT and say
    so; False for an ORDINARY target; no target is ResourceNotFound (keep false)."""
    target = find_by_instance_key(rows, instance_key)
    if target is None:
        raise ResourceNotFound()
    if target.presence == ORDINARY:
        return False
    op.delete_actual(ActualKey.of(target))
    return True


def _remove_evacuating(op: Operation, target: models.ActualLRP | None) -> None:
    """``removeEvacuating``: delete the EVACUATING row of ``target``'s index if it holds the
    target's instance. If there is no EVACUATING row at all upstream still reports the target
    removed, though it stays stored; another instance's EVACUATING row stays."""
    if target is None:
        return
    k = target.actual_lrp_key
    row_key = ActualKey(k.process_guid, k.index, EVACUATING)
    evacuating = op.store.actual_lrps.get(row_key)
    if evacuating is None:
        op.report_actual_removed(target)
    elif evacuating.actual_lrp_instance_key == target.actual_lrp_instance_key:
        op.delete_actual(row_key)


def _evacuate_recreate(op: Operation, target: models.ActualLRP | None, instances: int) -> bool:
    """The RECREATE branch of ``EvacuateRunningActualLRP``: never an evacuating row; stop one
    instance at a time (``SQLDB.UnclaimActualLRPIfAllRunning``)."""
    if target is None:
        return False
    if target.presence in (EVACUATING, SUSPECT):
        op.delete_actual(ActualKey.of(target))
        return False
    if target.state not in (RUNNING, CLAIMED):
        return False
    k = target.actual_lrp_key
    actual = op.store.actual_lrps
    running = sum(
        1
        for row_key in op.store.keys_of_process(k.process_guid)
        if row_key.presence == ORDINARY and actual[row_key].state == RUNNING
    )
    if running < instances:
        return True
    unclaim_ordinary(op, k.process_guid, k.index)
    request_start(op, k.process_guid, k.index)
    return False


def _evacuation_dance(op: Operation, target: models.ActualLRP) -> None:
    """``evacuateInstance``: copy the target into the EVACUATING row, then unclaim the ordinary
    row (or delete the suspect one). Recorded as upstream tells its event calculator: the
    target changed into the evacuating copy, and the unclaimed ordinary row created."""
    mark = len(op.changes)
    evacuating = _write_evacuating(
        op,
        target.actual_lrp_key,
        target.actual_lrp_instance_key,
        target.actual_lrp_net_info,
        target.actual_lrp_internal_routes,
        target.metric_tags,
        target.routable,
        target.availability_zone,
    )
    if evacuating is None:
        raise _keeping(ResourceExists(), True)
    k = target.actual_lrp_key
    if target.presence == SUSPECT:
        op.delete_actual(ActualKey.of(target))
        op.record_as(mark, (target, evacuating))
        return
    _, unclaimed = unclaim_ordinary(op, k.process_guid, k.index)
    op.record_as(mark, (target, evacuating), (None, unclaimed))
    request_start(op, k.process_guid, k.index)


def _write_evacuating(
    op: Operation,
    key: models.ActualLRPKey,
    instance_key: models.ActualLRPInstanceKey,
    net_info: models.ActualLRPNetInfo,
    internal_routes: Iterable[models.ActualLRPInternalRoute],
    metric_tags: Mapping[str, str] | None,
    routable: bool,
    availability_zone: str,
) -> models.ActualLRP | None:
    """``SQLDB.EvacuateActualLRP``: create the index's EVACUATING row (RUNNING, new epoch), or
    rewrite it (index + 1, ``since`` now; routable, state and availability zone are not
    rewritten, as upstream's UPDATE leaves those columns, though the row it reports, and so
    the event, carries the new zone). None if it already has this key, instance key and net
    info (upstream's ResourceExists). Returns the row as reported."""
    store = op.store
    row_key = ActualKey(key.process_guid, key.index, EVACUATING)
    current = store.actual_lrps.get(row_key)
    if current is None:
        row = store.new_actual_lrp(key.process_guid, key.index, key.domain)
        row.presence = models.ActualLRP.EVACUATING
        row.state = RUNNING
        row.routable = routable
    else:
        if (
            current.actual_lrp_key == key
            and current.actual_lrp_instance_key == instance_key
            and current.actual_lrp_net_info == net_info
        ):
            return None
        row = copy(current)
        row.modification_tag.index += 1
        row.actual_lrp_key.CopyFrom(key)
        row.since = store.clock()
    set_instance_fields(
        row, instance_key, net_info, internal_routes, metric_tags, availability_zone
    )
    if current is None:
        return op.put_actual(row)
    stored = copy(row)
    stored.availability_zone = current.availability_zone
    op.put_actual(stored, reported=row)
    return copy(row)


def _keeping(error: BBSError, keep_container: bool) -> BBSError:
    """Attach the keep_container upstream answers together with ``error``."""
    error.keep_container = keep_container
    return error
