"""The BBS state: the rules for desired LRPs and actual LRP queries, and ``State``, which
composes every rule family over the store.

Rules mirror upstream's handlers, controllers and ``db/sqldb``; each names the function it
follows. They know nothing of HTTP. Every rule runs as one ``Store.operation`` under the lock
and validates or computes everything before it writes, so a call either applies whole or changes
nothing, concurrent callers never lose a write, and every change is recorded for the event
streams. Messages handed out are copies: nothing a caller does to one changes the state.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator

from fakebbs import models
from fakebbs._outbound.callbacks import CallbackWorker
from fakebbs._rules.convergence import Convergence
from fakebbs._rules.domains import DomainRules
from fakebbs._rules.evacuation import Evacuation
from fakebbs._rules.lifecycle import ActualLRPLifecycle
from fakebbs._rules.requests import (
    INTERNAL_ROUTER,
    internal_routes_of,
    lrp_auction_request,
    lrp_start,
    metric_tags_for,
    stop_request,
    update_request,
)
from fakebbs._rules.store import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    ORDINARY,
    RUNNING,
    UNCLAIMED,
    ActualKey,
    Operation,
    Store,
    copy,
    random_guid,
)
from fakebbs._rules.tasks import TaskRules
from fakebbs._rules.views import as_stored, compact_routes
from fakebbs.clock import system_clock
from fakebbs.errors import BBSError, ResourceExists, ResourceNotFound

__all__ = ["DesiredLRPRules", "State"]


class DesiredLRPRules(Store):
    """Desired LRP rules and actual LRP queries and retirement, a rule family of ``State``."""

    # -- desired LRPs ------------------------------------------------------------------------

    def desire_lrp(self, lrp: models.DesiredLRP, trace_id: str = "") -> list[models.ActualLRP]:
        """Store a new desired LRP and create its UNCLAIMED instances.

        Mirrors ``DesiredLRPHandler.DesireDesiredLRP`` + ``SQLDB.DesireLRP``: the server assigns
        the modification tag (a client's is ignored), does not keep
        ``deprecated_start_timeout_s``, stores route JSON compacted, and then creates an actual
        LRP for each index ``0..instances-1``. Returns the created actual LRPs.
        """
        stored = as_stored(lrp)
        with self.operation(trace_id) as op:
            if stored.process_guid in self.desired_lrps:
                raise ResourceExists()
            stored.modification_tag.CopyFrom(models.ModificationTag(epoch=self.new_guid(), index=0))
            op.put_desired(stored)
            created = self._create_unclaimed_range(op, stored, 0, stored.instances)
            if stored.instances > 0:
                self._request_auction(op, stored, created)
            return created

    def desired_lrp_by_process_guid(self, process_guid: str) -> models.DesiredLRP:
        with self.lock:
            lrp = self.desired_lrps.get(process_guid)
            if lrp is None:
                raise ResourceNotFound()
            return copy(lrp)

    def desired_lrps_matching(
        self,
        domain: str = "",
        process_guids: Iterable[str] = (),
        app_guids: Iterable[str] = (),
    ) -> list[models.DesiredLRP]:
        """``SQLDB.DesiredLRPs``: domain equality AND process guid membership AND any app guid
        as a SQL ``LIKE '<app_guid>%'`` on the process guid (so ``_`` and ``%`` are wildcards)."""
        with self.lock:
            return [copy(lrp) for _, lrp in self._select_desired(domain, process_guids, app_guids)]

    def update_desired_lrp(
        self, process_guid: str, update: models.DesiredLRPUpdate, trace_id: str = ""
    ) -> tuple[
        models.DesiredLRP, models.DesiredLRP, list[models.ActualLRP], list[models.ActualLRP]
    ]:
        """Apply an update; returns (before, after, created actual LRPs, removed actual LRPs).

        ``SQLDB.UpdateDesiredLRP`` + ``DesiredLRPHandler.UpdateDesiredLRP``: only fields present
        on the wire change; the modification index always goes up by one; an ``instances``
        change scales the actual LRPs (§5.4).
        """
        with self.operation(trace_id) as op:
            current = self.desired_lrps.get(process_guid)
            if current is None:
                raise ResourceNotFound()
            # Upstream locks the row before it encodes the routes: an unknown guid is
            # ResourceNotFound even when the route JSON does not parse.
            routes = compact_routes(update.routes) if update.HasField("routes") else None
            before = copy(current)
            after = copy(current)
            after.modification_tag.index += 1
            if update.HasField("annotation"):
                after.annotation = update.annotation
            if update.HasField("instances"):
                after.instances = update.instances
            if routes is not None:
                after.ClearField("routes")
                after.routes.SetInParent()
                after.routes.routes.update(routes)
            if len(update.metric_tags) > 0:
                after.ClearField("metric_tags")
                for name, value in update.metric_tags.items():
                    after.metric_tags[name].CopyFrom(value)
            if update.HasField("image_username"):
                after.image_username = update.image_username
            if update.HasField("image_password"):
                after.image_password = update.image_password
            op.put_desired(after)
            created: list[models.ActualLRP] = []
            removed: list[models.ActualLRP] = []
            if update.HasField("instances"):
                if after.instances > before.instances:
                    created = self._create_unclaimed_range(
                        op, after, before.instances, after.instances
                    )
                    self._request_auction(op, after, created)
                elif after.instances < before.instances:
                    removed = self._stop_instances_from(op, process_guid, after.instances)
            self._update_instances(op, before, after, update)
            return before, copy(after), created, removed

    def remove_desired_lrp(
        self, process_guid: str, trace_id: str = ""
    ) -> tuple[models.DesiredLRP, list[models.ActualLRP]]:
        """Delete a desired LRP, then stop all its non-evacuating instances (§5.5).

        Returns the LRP as it was and the actual LRPs that were deleted.
        """
        with self.operation(trace_id) as op:
            if process_guid not in self.desired_lrps:
                raise ResourceNotFound()
            lrp = op.delete_desired(process_guid)
            return lrp, self._stop_instances_from(op, process_guid, 0)

    # -- actual LRPs -------------------------------------------------------------------------

    def actual_lrps_matching(
        self,
        domain: str = "",
        cell_id: str = "",
        process_guid: str = "",
        index: int | None = None,
    ) -> list[models.ActualLRP]:
        """``SQLDB.ActualLRPs``: every row (any presence) matching all the given filters."""
        with self.lock:
            return [
                copy(lrp) for _, lrp in self._select_actual(domain, cell_id, process_guid, index)
            ]

    def actual_lrps_by_process_guids(self, process_guids: Iterable[str]) -> list[models.ActualLRP]:
        with self.lock:
            return [copy(lrp) for _, lrp in self._select_actual_of(process_guids)]

    def retire_actual_lrp(
        self, key: models.ActualLRPKey, trace_id: str = ""
    ) -> list[models.ActualLRP]:
        """``ActualLRPLifecycleController.RetireActualLRP``; returns the rows retired.

        The ordinary row is found by process guid and index (the domain is not compared).
        UNCLAIMED and CRASHED rows are deleted; a CLAIMED or RUNNING row is deleted when its
        cell is not registered, and left for the cell's rep to stop when it is (the real BBS
        asks the rep; the removal is reported either way).
        """
        with self.operation(trace_id) as op:
            row_key = ActualKey(key.process_guid, key.index, ORDINARY)
            lrp = self.actual_lrps.get(row_key)
            if lrp is None:
                raise ResourceNotFound()
            cell = self.cells.get(lrp.actual_lrp_instance_key.cell_id)
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
        with self.operation(trace_id) as op:
            if lrp.actual_lrp_instance_key.cell_id in self.cells:
                return False
            key = ActualKey.of(lrp)
            row = self.actual_lrps.get(key)
            if row is None or row.actual_lrp_instance_key != lrp.actual_lrp_instance_key:
                return ResourceNotFound()
            op.delete_actual(key, emit="none")
            return True

    # -- internals (callers hold the lock) ---------------------------------------------------
    # The selections yield the stored messages with their keys, not copies: for the queries
    # above, and for list answers joined from stored bytes (``_encoded``).

    def _select_desired(
        self, domain: str = "", process_guids: Iterable[str] = (), app_guids: Iterable[str] = ()
    ) -> Iterator[tuple[str, models.DesiredLRP]]:
        """``SQLDB.DesiredLRPs``' filters (see ``desired_lrps_matching``)."""
        guids = set(process_guids)
        prefixes = [_like_prefix(g) for g in app_guids]
        for process_guid, lrp in self.desired_lrps.items():
            if domain and lrp.domain != domain:
                continue
            if guids and process_guid not in guids:
                continue
            if prefixes and not any(p.match(process_guid) for p in prefixes):
                continue
            yield process_guid, lrp

    def _select_actual_of(
        self, process_guids: Iterable[str]
    ) -> Iterator[tuple[ActualKey, models.ActualLRP]]:
        """The rows of any of ``process_guids``, any presence."""
        guids = set(process_guids)
        for key, lrp in self.actual_lrps.items():
            if key.process_guid in guids:
                yield key, lrp

    def _select_actual(
        self, domain: str = "", cell_id: str = "", process_guid: str = "", index: int | None = None
    ) -> Iterator[tuple[ActualKey, models.ActualLRP]]:
        """``SQLDB.ActualLRPs``. By process guid (and index) Postgres scans the primary key
        index, so the rows come in (index, presence) order, ORDINARY before EVACUATING before
        SUSPECT; otherwise in the store's order (a table scan: last written last)."""
        rows: Iterable[tuple[ActualKey, models.ActualLRP]] = self.actual_lrps.items()
        if process_guid:
            rows = sorted(
                ((k, lrp) for k, lrp in rows if k.process_guid == process_guid),
                key=lambda row: row[0],
            )
        for key, lrp in rows:
            if process_guid and key.process_guid != process_guid:
                continue
            if index is not None and key.index != index:
                continue
            if domain and lrp.actual_lrp_key.domain != domain:
                continue
            if cell_id and lrp.actual_lrp_instance_key.cell_id != cell_id:
                continue
            yield key, lrp

    def _create_unclaimed_range(
        self, op: Operation, lrp: models.DesiredLRP, lower: int, upper: int
    ) -> list[models.ActualLRP]:
        """``startInstanceRange``: an UNCLAIMED row per index; indices that have one are skipped."""
        guid, rows = lrp.process_guid, self.actual_lrps
        missing = [i for i in range(lower, upper) if ActualKey.at(guid, i, ORDINARY) not in rows]
        epochs = self.new_guids(len(missing))  # in bulk: one read of the random source
        return [
            op.put_actual(self.new_actual_lrp(guid, index, lrp.domain, epoch=epoch))
            for index, epoch in zip(missing, epochs, strict=True)
        ]

    def _stop_instances_from(
        self, op: Operation, process_guid: str, index: int
    ) -> list[models.ActualLRP]:
        """``DesiredLRPHandler.stopInstancesFrom``: delete UNCLAIMED and CRASHED non-evacuating
        rows at or above ``index``. CLAIMED and RUNNING ones stay: their cell's rep is asked to
        stop them (an unknown cell's are left to convergence)."""
        removed = []
        for key in sorted(k for k in self.actual_lrps if k.process_guid == process_guid):
            lrp = self.actual_lrps[key]
            if key.presence == EVACUATING or key.index < index:
                continue
            if lrp.state in (UNCLAIMED, CRASHED):
                removed.append(op.delete_actual(key))
                continue
            cell = self.cells.get(lrp.actual_lrp_instance_key.cell_id)
            if cell is not None:
                op.call(stop_request(lrp, cell, op.trace_id))
        return removed

    def _request_auction(
        self, op: Operation, lrp: models.DesiredLRP, created: list[models.ActualLRP]
    ) -> None:
        """``startInstanceRange``'s auction request: one start request for the indices just
        created (the list may be empty: upstream asks all the same)."""
        indices = [row.actual_lrp_key.index for row in created]
        op.call(lrp_auction_request([lrp_start(lrp, indices, read_back=False)], op.trace_id))

    def _update_instances(
        self,
        op: Operation,
        before: models.DesiredLRP,
        after: models.DesiredLRP,
        update: models.DesiredLRPUpdate,
    ) -> None:
        """``DesiredLRPHandler.updateInstances``: when an update changes the internal routes or
        the metric tags, each CLAIMED or RUNNING non-evacuating instance on a registered cell
        is sent its new internal routes and/or metric tags (None for what did not change). An
        instance whose internal routes do not decode gets nothing."""
        routes_changed = _internal_routes_changed(update, before)
        tags_changed = _metric_tags_changed(update, before)
        if not (routes_changed or tags_changed):
            return
        internal: list[dict[str, str]] | None = None
        if routes_changed:
            try:
                internal = internal_routes_of(update.routes)
            except ValueError:
                return
        for key, lrp in self.actual_lrps.items():
            if key.process_guid != after.process_guid or key.presence == EVACUATING:
                continue
            if lrp.state in (UNCLAIMED, CRASHED):
                continue
            cell = self.cells.get(lrp.actual_lrp_instance_key.cell_id)
            if cell is None:
                continue
            tags = None
            if tags_changed:
                tags = metric_tags_for(
                    update.metric_tags, key.index, lrp.actual_lrp_instance_key.instance_guid
                )
            op.call(update_request(lrp, cell, internal, tags, op.trace_id))


class State(DesiredLRPRules, ActualLRPLifecycle, Evacuation, TaskRules, Convergence, DomainRules):
    """All BBS state of one fake and the rules over it. Two states share nothing.

    The data is the ``Store``: plain dictionaries, one lock, every write a recorded change.
    The rules over it come in families, one class each, composed here: ``DesiredLRPRules``
    (desired LRPs, actual LRP queries, retirement), ``_lifecycle`` (claim, start, crash,
    fail, remove), ``_evacuation``, ``_tasks``, ``_convergence`` and ``_domains`` (domains
    and cells). A family that calls another's rules declares them (see ``Convergence``);
    mypy checks that the family providing each one matches the declaration. ``callbacks``
    is the task completion callback worker, a listener of the recorded changes.

    To set up state in a test, ``FakeBBS.seed`` is the public way: it validates what it
    stores. These rule methods are the fake's inside; they skip validation.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], int] = system_clock,
        new_guid: Callable[[], str] = random_guid,
    ) -> None:
        super().__init__(clock=clock, new_guid=new_guid)
        self.callbacks = CallbackWorker(self)
        self.listeners.append(self.callbacks.on_changes)

    def wait_for_callbacks(self, timeout: float | None = None) -> bool:
        """Block until every due completion callback has finished (delivered, given up or out
        of attempts); False if ``timeout`` seconds ran out first. Do not hold the state's lock
        while waiting: the callbacks need it."""
        return self.callbacks.wait(timeout)


def _internal_routes_changed(update: models.DesiredLRPUpdate, before: models.DesiredLRP) -> bool:
    """``DesiredLRPUpdate.IsRoutesGroupUpdated`` for internal routes: any update carrying routes
    counts, unless both it and the stored LRP have internal routes with the same bytes (the
    update's as sent, the stored ones compacted)."""
    if not update.HasField("routes"):
        return False
    new = update.routes.routes.get(INTERNAL_ROUTER)
    old = before.routes.routes.get(INTERNAL_ROUTER)
    if new is None or old is None:
        return True
    return new != old


def _metric_tags_changed(update: models.DesiredLRPUpdate, before: models.DesiredLRP) -> bool:
    """``DesiredLRPUpdate.IsMetricTagsUpdated``: an update with tags that differ in number,
    names or values from the stored ones."""
    if len(update.metric_tags) == 0:
        return False
    if len(update.metric_tags) != len(before.metric_tags):
        return True
    for name, value in before.metric_tags.items():
        new = update.metric_tags.get(name)
        if new is None or new.static != value.static or new.dynamic != value.dynamic:
            return True
    return False


def _like_prefix(app_guid: str) -> re.Pattern[str]:
    """A SQL ``LIKE '<app_guid>%'`` pattern as a regex: ``%`` any run, ``_`` any one character."""
    parts = []
    for char in app_guid:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(parts), re.DOTALL)
