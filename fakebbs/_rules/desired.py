"""Desired LRP rules and the actual LRP queries, a rule family of ``State``.

Desire, update and remove a desired LRP (upstream ``DesiredLRPHandler`` over ``SQLDB``), and the
queries the list routes answer: the ``*_rows`` selections yield the stored messages themselves,
under the caller's lock, for answers joined from kept bytes (``fakebbs._http.encoded``); the
``*_matching`` queries hand out copies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from fakebbs import models
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
    CRASHED,
    EVACUATING,
    ORDINARY,
    UNCLAIMED,
    ActualKey,
    Operation,
    Store,
    copy,
)
from fakebbs._rules.views import as_stored, compact_routes
from fakebbs.errors import ResourceExists, ResourceNotFound

__all__ = ["DesiredLRPRules"]


class DesiredLRPRules:
    """Desired LRP rules and actual LRP queries, over ``store``."""

    store: Store

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- desired LRPs ------------------------------------------------------------------------

    def desire_lrp(self, lrp: models.DesiredLRP, trace_id: str = "") -> list[models.ActualLRP]:
        """Store a new desired LRP and create its UNCLAIMED instances.

        Mirrors ``DesiredLRPHandler.DesireDesiredLRP`` + ``SQLDB.DesireLRP``: the server assigns
        the modification tag (a client's is ignored), does not keep
        ``deprecated_start_timeout_s``, stores route JSON compacted, and then creates an actual
        LRP for each index ``0..instances-1``. Returns the created actual LRPs.
        """
        stored = as_stored(lrp)
        with self.store.operation(trace_id) as op:
            if stored.process_guid in self.store.desired_lrps:
                raise ResourceExists()
            stored.modification_tag.CopyFrom(
                models.ModificationTag(epoch=self.store.new_guid(), index=0)
            )
            op.put_desired(stored)
            created = self._create_unclaimed_range(op, stored, 0, stored.instances)
            if stored.instances > 0:
                self._request_auction(op, stored, created)
            return [copy(row) for row in created]

    def desired_lrp_by_process_guid(self, process_guid: str) -> models.DesiredLRP:
        with self.store.lock:
            lrp = self.store.desired_lrps.get(process_guid)
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
        with self.store.lock:
            return [copy(lrp) for _, lrp in self.desired_lrp_rows(domain, process_guids, app_guids)]

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
        with self.store.operation(trace_id) as op:
            current = self.store.desired_lrps.get(process_guid)
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
            return before, copy(after), [copy(row) for row in created], removed

    def remove_desired_lrp(
        self, process_guid: str, trace_id: str = ""
    ) -> tuple[models.DesiredLRP, list[models.ActualLRP]]:
        """Delete a desired LRP, then stop all its non-evacuating instances (§5.5).

        Returns the LRP as it was and the actual LRPs that were deleted.
        """
        with self.store.operation(trace_id) as op:
            if process_guid not in self.store.desired_lrps:
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
        with self.store.lock:
            return [
                copy(lrp) for _, lrp in self.actual_lrp_rows(domain, cell_id, process_guid, index)
            ]

    def actual_lrps_by_process_guids(self, process_guids: Iterable[str]) -> list[models.ActualLRP]:
        with self.store.lock:
            return [copy(lrp) for _, lrp in self.actual_lrp_rows_of(process_guids)]

    # -- selections (callers hold the store's lock) -----------------------------------------
    # They yield the stored messages with their keys, not copies: for the queries above, and
    # for list answers joined from stored bytes (``fakebbs._http.encoded``). Read them, never
    # change them.

    def desired_lrp_rows(
        self, domain: str = "", process_guids: Iterable[str] = (), app_guids: Iterable[str] = ()
    ) -> Iterator[tuple[str, models.DesiredLRP]]:
        """``SQLDB.DesiredLRPs``' filters (see ``desired_lrps_matching``)."""
        guids = set(process_guids)
        prefixes = [_like_prefix(g) for g in app_guids]
        for process_guid, lrp in self.store.desired_lrps.items():
            if domain and lrp.domain != domain:
                continue
            if guids and process_guid not in guids:
                continue
            if prefixes and not any(p.match(process_guid) for p in prefixes):
                continue
            yield process_guid, lrp

    def actual_lrp_rows_of(
        self, process_guids: Iterable[str]
    ) -> Iterator[tuple[ActualKey, models.ActualLRP]]:
        """The rows of any of ``process_guids``, any presence."""
        guids = set(process_guids)
        actual = self.store.actual_lrps
        if len(guids) == 1:  # one process's rows, looked up rather than scanned for
            for key in self.store.keys_of_process(next(iter(guids))):
                yield key, actual[key]
            return
        for key, lrp in actual.items():
            if key.process_guid in guids:
                yield key, lrp

    def actual_lrp_rows(
        self, domain: str = "", cell_id: str = "", process_guid: str = "", index: int | None = None
    ) -> Iterator[tuple[ActualKey, models.ActualLRP]]:
        """``SQLDB.ActualLRPs``. By process guid (and index) Postgres scans the primary key
        index, so the rows come in (index, presence) order, ORDINARY before EVACUATING before
        SUSPECT; otherwise in the store's order (a table scan: last written last)."""
        actual = self.store.actual_lrps
        rows: Iterable[tuple[ActualKey, models.ActualLRP]] = actual.items()
        if process_guid:
            rows = [(k, actual[k]) for k in sorted(self.store.keys_of_process(process_guid))]
        for key, lrp in rows:  # by process guid, ``rows`` holds that process's rows only
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
        """``startInstanceRange``: an UNCLAIMED row per index; indices that have one are skipped.
        Returns the stored rows (never to be changed)."""
        guid, rows = lrp.process_guid, self.store.actual_lrps
        missing = [i for i in range(lower, upper) if ActualKey.at(guid, i, ORDINARY) not in rows]
        epochs = self.store.new_guids(len(missing))  # in bulk: one read of the random source
        return [
            op.put_actual(
                self.store.new_actual_lrp(guid, index, lrp.domain, epoch=epoch), owned=True
            )
            for index, epoch in zip(missing, epochs, strict=True)
        ]

    def _stop_instances_from(
        self, op: Operation, process_guid: str, index: int
    ) -> list[models.ActualLRP]:
        """``DesiredLRPHandler.stopInstancesFrom``: delete UNCLAIMED and CRASHED non-evacuating
        rows at or above ``index``. CLAIMED and RUNNING ones stay: their cell's rep is asked to
        stop them (an unknown cell's are left to convergence)."""
        removed = []
        for key in sorted(self.store.keys_of_process(process_guid)):
            lrp = self.store.actual_lrps[key]
            if key.presence == EVACUATING or key.index < index:
                continue
            if lrp.state in (UNCLAIMED, CRASHED):
                removed.append(op.delete_actual(key))
                continue
            cell = self.store.cells.get(lrp.actual_lrp_instance_key.cell_id)
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
        for key in self.store.keys_of_process(after.process_guid):
            lrp = self.store.actual_lrps[key]
            if key.presence == EVACUATING:
                continue
            if lrp.state in (UNCLAIMED, CRASHED):
                continue
            cell = self.store.cells.get(lrp.actual_lrp_instance_key.cell_id)
            if cell is None:
                continue
            tags = None
            if tags_changed:
                tags = metric_tags_for(
                    update.metric_tags, key.index, lrp.actual_lrp_instance_key.instance_guid
                )
            op.call(update_request(lrp, cell, internal, tags, op.trace_id))


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
