"""Seeding: put the fake in a known state in one line each (``FakeBBS.seed``).

Each call builds the rows the real lifecycle would have left behind and writes them in one
``Operation``, directly (no rule is replayed per instance, so ten thousand LRPs take a
fraction of a second):

* a desired LRP is stored as ``DesireDesiredLRP`` stores it, with one actual LRP per index:
  the first ``running`` RUNNING, the next ``claimed`` CLAIMED, the next ``crashed`` CRASHED,
  the rest UNCLAIMED;
* a CLAIMED row is what a claim makes of a new row (modification index 1, an instance key);
  a RUNNING row what a claim and a start make (index 2, routable, net info with one host
  port per container port, the cell's zone when the cell is seeded); a CRASHED row what
  ``crash_count`` claim-start-crash cycles make (index 3 per cycle, no instance key or net
  info, still routable as the start left it), so it needs at least 3 crashes: fewer land in
  UNCLAIMED;
* an evacuating row is a new row (its own epoch) copying a RUNNING row's instance, with
  presence EVACUATING, as an evacuation makes it; a suspect row a RUNNING or CLAIMED row with
  presence SUSPECT, as convergence makes it;
* a task is what desire, start, complete and resolving make of it, up to its state.

Every model field can be given as a keyword (a message, a dict in the JSON form, a list, a
mapping, an enum by name); what is stored is validated as the routes validate it, and a bad
value is an ``InvalidRequest`` naming the field. The changes reach the event streams as a
real write's would, unless ``events=False`` (then they are recorded, and no stream hears of
them). Seeding describes state, not history: a seeded COMPLETED task's completion callback is
not made (convergence kicks it later, as it would a callback that was lost).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakebbs import models
from fakebbs._control.fields import set_fields
from fakebbs._rules.lifecycle import should_restart_immediately
from fakebbs._rules.store import (
    CLAIMED,
    CRASHED,
    EVACUATING,
    RUNNING,
    SUSPECT,
    UNCLAIMED,
    Emit,
    Store,
    copy,
    truncate_text,
)
from fakebbs._rules.tasks import new_task
from fakebbs._rules.validation import (
    validate_actual_lrp_instance_key,
    validate_actual_lrp_key,
    validate_actual_lrp_net_info,
    validate_cell_presence,
    validate_desired_lrp,
    validate_desired_lrp_key,
    validate_task,
)
from fakebbs._rules.views import as_stored
from fakebbs._rules.wire import NANOSECONDS_PER_SECOND
from fakebbs.errors import InvalidRequest, ResourceExists

__all__ = [
    "DEFAULT_CELL",
    "DEFAULT_CRASH_COUNT",
    "DEFAULT_DOMAIN",
    "DEFAULT_ROOT_FS",
    "DEFAULT_TASK_DOMAIN",
    "MAX_DOMAIN_TTL",
    "Seed",
]

DEFAULT_DOMAIN = "cf-apps"
"""The domain of seeded desired LRPs (Cloud Controller's)."""
DEFAULT_TASK_DOMAIN = "cf-tasks"
"""The domain of seeded tasks (Cloud Controller's)."""
MAX_DOMAIN_TTL = 2**32 - 1
"""The longest domain TTL, in seconds: what ``UpsertDomain``'s ttl (a uint32) holds."""
DEFAULT_CELL = "cell-1"
"""The cell seeded instances and tasks run on unless told otherwise."""
DEFAULT_ROOT_FS = "preloaded:cflinuxfs4"
DEFAULT_CRASH_COUNT = 3
"""The fewest crashes that leave an instance CRASHED (fewer restart at once)."""
DEFAULT_CRASH_REASON = "APP/PROC/WEB: Exited with status 1"
DEFAULT_PORT = 8080
FIRST_HOST_PORT = 61000

_STATES = {name: name for name in (UNCLAIMED, CLAIMED, RUNNING, CRASHED)}
_TASK_STATES: dict[str, models.Task.State] = {
    "PENDING": models.Task.Pending,
    "RUNNING": models.Task.Running,
    "COMPLETED": models.Task.Completed,
    "RESOLVING": models.Task.Resolving,
}


class Seed:
    """``FakeBBS.seed``: one line per row of state; see the module docstring for the rows.

    Every method writes in one operation under the state's lock (thread-safe, whether the
    fake is served or called in-process) and returns copies of the stored models.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- domains and cells ---------------------------------------------------------------

    def domain(self, name: str, ttl: float | None = None) -> str:
        """A fresh domain that expires after ``ttl`` seconds (None: never), as
        ``UpsertDomain`` makes it; returns its name. Domains are what convergence trusts:
        it retires extra and orphaned instances only in a fresh domain."""
        if name == "":
            raise InvalidRequest("seed.domain: Invalid field: domain")
        if ttl is not None and not 0 <= ttl <= MAX_DOMAIN_TTL:  # also refuses nan
            raise ValueError(
                f"seed.domain({name!r}): ttl must be None or seconds from 0 to "
                f"{MAX_DOMAIN_TTL} (UpsertDomain's uint32), not {ttl}"
            )
        store = self._store
        with store.operation() as op:
            expires_at = (
                None if ttl is None else store.clock() + round(ttl * NANOSECONDS_PER_SECOND)
            )
            op.put_domain(name, expires_at)
        return name

    def cell(
        self, cell: str | models.CellPresence, *, zone: str = "", **fields: Any
    ) -> models.CellPresence:
        """A registered cell (its rep's presence), replacing one of the same id: by id, with
        ``zone``, a rep address and URL, room for 250 containers, and any ``CellPresence``
        field given; or a whole ``CellPresence``, registered as it is (only its ``cell_id`` is
        required: a rep's presence is what the rep wrote). Seeded RUNNING instances on it take
        its zone.

        Which cells exist decides what retire, scale-down and convergence do with CLAIMED and
        RUNNING instances, and what ``cells/list.r1`` answers. The fake starts with none."""
        if isinstance(cell, models.CellPresence):
            if zone or fields:
                raise TypeError("seed.cell: give a CellPresence alone, or a cell id and fields")
            if not cell.cell_id:
                raise InvalidRequest("seed.cell: Invalid field: cell_id")
            with self._store.operation() as op:
                op.put_cell(cell)
            return copy(cell)
        cell_id = cell
        presence = models.CellPresence(
            cell_id=cell_id,
            zone=zone,
            rep_address=f"http://{cell_id}.cell.service.cf.internal:1800",
            rep_url=f"https://{cell_id}.cell.service.cf.internal:1801",
            capacity=models.CellCapacity(memory_mb=32768, disk_mb=131072, containers=250),
            rootfs_providers=[models.Provider(name="preloaded", properties=["cflinuxfs4"])],
        )
        set_fields(presence, fields, "CellPresence")
        _check(validate_cell_presence(presence), f"seed.cell({cell_id!r})")
        with self._store.operation() as op:
            op.put_cell(presence)
        return copy(presence)

    # -- desired LRPs and their instances ------------------------------------------------

    def desired_lrp(
        self,
        process_guid: str,
        *,
        instances: int = 1,
        running: int = 0,
        claimed: int = 0,
        crashed: int = 0,
        cell_id: str = DEFAULT_CELL,
        events: bool = True,
        **fields: Any,
    ) -> models.DesiredLRP:
        """A desired LRP and its ``instances`` actual LRPs: indices ``0..running-1`` RUNNING
        on ``cell_id``, then ``claimed`` CLAIMED there, then ``crashed`` CRASHED (3 crashes),
        the rest UNCLAIMED, as a desire makes them. Any ``DesiredLRP`` field can be given
        (``domain``, ``routes``, ``ports``, ...). A process guid already desired is
        ResourceExists, as the route says. Seed the cell too (``cell``) unless the test wants
        the instances on a missing cell: convergence makes those suspect."""
        return self.desired_lrps(
            1,
            instances=instances,
            running=running,
            claimed=claimed,
            crashed=crashed,
            cell_id=cell_id,
            events=events,
            names=lambda _: process_guid,
            **fields,
        )[0]

    def desired_lrps(
        self,
        count: int,
        *,
        instances: int = 1,
        running: int = 0,
        claimed: int = 0,
        crashed: int = 0,
        cell_id: str = DEFAULT_CELL,
        prefix: str = "app",
        names: Callable[[int], str] | None = None,
        events: bool = True,
        **fields: Any,
    ) -> list[models.DesiredLRP]:
        """``count`` desired LRPs alike but for their process guids (``f"{prefix}-{n}"``,
        ``n`` zero-padded to the width of ``count - 1``, or ``names(n)``), with their
        instances as ``desired_lrp`` makes them; all in one operation, in bulk."""
        if count < 0:
            raise ValueError(f"seed.desired_lrps: count must be >= 0, not {count}")
        if min(running, claimed, crashed) < 0 or running + claimed + crashed > max(instances, 0):
            raise ValueError(
                f"seed.desired_lrp: running ({running}) + claimed ({claimed}) + crashed "
                f"({crashed}) must each be >= 0 and add up to at most instances ({instances})"
            )
        if names is None:
            width = len(str(max(count - 1, 0)))
            names = lambda n: f"{prefix}-{n:0{width}d}"  # noqa: E731
        store = self._store
        guids = [names(n) for n in range(count)]
        first = _default_desired_lrp(guids[0] if guids else "template", instances)
        if "metrics_guid" in fields and "metric_tags" not in fields:
            first.metric_tags["source_id"].static = str(fields["metrics_guid"])
        set_fields(first, fields, "DesiredLRP")
        # Only the process guid (and what follows it) differs between the LRPs: the first is
        # validated whole, the others' guids alone.
        _check(validate_desired_lrp(first), f"seed.desired_lrp({first.process_guid!r})")
        template = as_stored(first)
        follow_log = "log_guid" not in fields
        follow_tag = "metric_tags" not in fields and "metrics_guid" not in fields
        lrps: list[models.DesiredLRP] = []
        for guid in guids:
            lrp = copy(template)
            lrp.process_guid = guid
            if follow_log:
                lrp.log_guid = guid
            if follow_tag:
                lrp.metric_tags["source_id"].static = guid
            _check(validate_desired_lrp_key(guid, lrp.domain), f"seed.desired_lrp({guid!r})")
            lrps.append(lrp)
        emit = _emit(events)
        with store.operation() as op:
            taken = [lrp.process_guid for lrp in lrps if lrp.process_guid in store.desired_lrps]
            if taken or len(set(guids)) != len(guids):
                raise ResourceExists(f"seed.desired_lrp: already desired: {taken or guids}")
            epochs = iter(store.new_guids(len(lrps)))
            per_lrp = instances + running + claimed
            builder = _Instances(store, cell_id, guids=len(lrps) * per_lrp)
            for lrp in lrps:
                lrp.modification_tag.epoch = next(epochs)
                op.adopt(lrp, emit=emit)
                for index in range(lrp.instances):
                    if index < running:
                        row = builder.running(lrp, index)
                    elif index < running + claimed:
                        row = builder.claimed(lrp, index)
                    elif index < running + claimed + crashed:
                        row = builder.crashed(lrp, index)
                    else:
                        row = builder.unclaimed(lrp, index)
                    op.adopt(row, emit=emit)
            return [copy(lrp) for lrp in lrps]

    def actual_lrp(
        self,
        process_guid: str,
        index: int,
        *,
        state: str = UNCLAIMED,
        cell_id: str = DEFAULT_CELL,
        evacuating: bool = False,
        suspect: bool = False,
        crash_count: int | None = None,
        domain: str | None = None,
        events: bool = True,
        **fields: Any,
    ) -> models.ActualLRP:
        """One actual LRP row, replacing the row it takes the place of: ``state`` UNCLAIMED,
        CLAIMED, RUNNING or CRASHED (``crash_count`` crashes, default 3); with
        ``evacuating`` the EVACUATING row of a RUNNING instance, with ``suspect`` the SUSPECT
        row of a RUNNING or CLAIMED one. The domain is the desired LRP's (or ``domain``, or
        "cf-apps"); any ``ActualLRP`` field can be given."""
        what = f"seed.actual_lrp({process_guid!r}, {index})"
        name = _STATES.get(state.upper())
        if name is None:
            raise ValueError(f"{what}: state must be one of {', '.join(_STATES)}, not {state!r}")
        if evacuating and suspect:
            raise ValueError(f"{what}: a row is evacuating or suspect, not both")
        if evacuating and name != RUNNING:
            raise ValueError(f"{what}: only a RUNNING instance has an evacuating row")
        if suspect and name not in (RUNNING, CLAIMED):
            raise ValueError(f"{what}: only a RUNNING or CLAIMED instance can be suspect")
        if crash_count is not None and name != CRASHED:
            raise ValueError(f"{what}: crash_count goes with state CRASHED")
        store = self._store
        with store.operation() as op:
            desired = store.desired_lrps.get(process_guid)
            if desired is None:
                desired = _default_desired_lrp(process_guid, index + 1)
            if domain is not None:
                desired = copy(desired)
                desired.domain = domain
            guids = 1 + (name in (RUNNING, CLAIMED)) + evacuating
            builder = _Instances(store, cell_id, guids=guids)
            if name == RUNNING:
                row = builder.running(desired, index)
            elif name == CLAIMED:
                row = builder.claimed(desired, index)
            elif name == CRASHED:
                count = DEFAULT_CRASH_COUNT if crash_count is None else crash_count
                if should_restart_immediately(count):
                    raise ValueError(
                        f"{what}: an instance with {count} crashes is UNCLAIMED, not CRASHED "
                        f"(it takes at least {DEFAULT_CRASH_COUNT})"
                    )
                row = builder.crashed(desired, index, count)
            else:
                row = builder.unclaimed(desired, index)
            if evacuating:
                row = builder.evacuating(row)
            elif suspect:
                row.presence = SUSPECT
            set_fields(row, fields, "ActualLRP")
            items = validate_actual_lrp_key(row.actual_lrp_key)
            if row.state in (CLAIMED, RUNNING):
                items += validate_actual_lrp_instance_key(row.actual_lrp_instance_key)
            if row.state == RUNNING:
                items += validate_actual_lrp_net_info(row.actual_lrp_net_info)
            _check(items, what)
            op.adopt(row, emit=_emit(events))
            return copy(row)

    # -- tasks ---------------------------------------------------------------------------

    def task(
        self,
        task_guid: str,
        *,
        state: str = "PENDING",
        cell_id: str | None = None,
        domain: str = DEFAULT_TASK_DOMAIN,
        events: bool = True,
        **fields: Any,
    ) -> models.Task:
        """A task in ``state`` (PENDING, RUNNING, COMPLETED or RESOLVING) as the task rules
        leave it: RUNNING on ``cell_id`` (default "cell-1"); COMPLETED and RESOLVING with no
        cell (as completion clears it) unless ``cell_id`` is given, ``failed``,
        ``failure_reason`` and ``result`` as given. Any ``Task`` or ``TaskDefinition`` field
        can be given. A task guid that exists is ResourceExists, as the route says."""
        what = f"seed.task({task_guid!r})"
        number = _TASK_STATES.get(state.upper())
        if number is None:
            raise ValueError(
                f"{what}: state must be one of {', '.join(_TASK_STATES)}, not {state!r}"
            )
        definition = models.TaskDefinition(
            root_fs=DEFAULT_ROOT_FS,
            action=models.Action(run_action=models.RunAction(path="/bin/sh", user="vcap")),
            memory_mb=256,
            disk_mb=1024,
            log_guid=task_guid,
        )
        definition_fields = {
            k: v for k, v in fields.items() if k in models.TaskDefinition.DESCRIPTOR.fields_by_name
        }
        task_fields = {k: v for k, v in fields.items() if k not in definition_fields}
        set_fields(definition, definition_fields, "TaskDefinition")
        store = self._store
        with store.operation() as op:
            if task_guid in store.tasks:
                raise ResourceExists(f"{what}: the task exists")
            now = store.clock()
            task = new_task(task_guid, domain, definition, now, number)
            if number == models.Task.Running:
                task.cell_id = DEFAULT_CELL if cell_id is None else cell_id
            elif number in (models.Task.Completed, models.Task.Resolving):
                task.first_completed_at = now
                task.cell_id = "" if cell_id is None else cell_id
            elif cell_id is not None:
                task.cell_id = cell_id
            set_fields(task, task_fields, "Task", also=models.TaskDefinition)
            task.failure_reason = truncate_text(task.failure_reason)
            task.rejection_reason = truncate_text(task.rejection_reason)
            _check(validate_task(task), what)
            op.adopt(task, emit=_emit(events))
            return copy(task)


# -- building rows ------------------------------------------------------------------------------


class _Instances:
    """Builds actual LRP rows as the lifecycle leaves them: the clock read once, the guids
    made up front (``guids``, taken in order), each row a copy of a template of its store."""

    def __init__(self, store: Store, cell_id: str, guids: int) -> None:
        self._guids = iter(store.new_guids(guids))
        self._cell_id = cell_id
        self._now = store.clock()
        cell = store.cells.get(cell_id)
        self._zone = "" if cell is None else cell.zone
        self._addresses = 0
        self._templates: dict[tuple[str, str, tuple[int, ...]], models.ActualLRP] = {}
        self._new = store.new_actual_lrp

    def unclaimed(self, lrp: models.DesiredLRP, index: int) -> models.ActualLRP:
        """``CreateUnclaimedActualLRP``'s row."""
        return self._row(UNCLAIMED, lrp, index)

    def claimed(self, lrp: models.DesiredLRP, index: int) -> models.ActualLRP:
        """A new row claimed by an instance on the cell (modification index 1)."""
        row = self._row(CLAIMED, lrp, index)
        row.actual_lrp_instance_key.instance_guid = next(self._guids)
        return row

    def running(self, lrp: models.DesiredLRP, index: int) -> models.ActualLRP:
        """A claimed row then started (modification index 2): routable, with net info."""
        row = self._row(RUNNING, lrp, index)
        row.actual_lrp_instance_key.instance_guid = next(self._guids)
        n = self._addresses
        self._addresses += 1
        net = row.actual_lrp_net_info
        net.address = f"10.0.{n // 250 % 250}.{n % 250 + 1}"
        net.instance_address = f"10.255.{n // 250 % 250}.{n % 250 + 1}"
        return row

    def crashed(
        self, lrp: models.DesiredLRP, index: int, crash_count: int = DEFAULT_CRASH_COUNT
    ) -> models.ActualLRP:
        """A running row after ``crash_count`` claim-start-crash cycles (3 changes each):
        CRASHED, without instance key or net info, the crash reason kept."""
        row = self._row(CRASHED, lrp, index)
        row.modification_tag.index = 3 * crash_count
        row.crash_count = crash_count
        return row

    def evacuating(self, running: models.ActualLRP) -> models.ActualLRP:
        """The EVACUATING row an evacuation makes of ``running``: a new row (own epoch,
        modification index 0) with its instance, net info, routes, tags, zone, routable."""
        row = copy(running)
        row.presence = EVACUATING
        row.state = RUNNING
        row.since = self._now
        row.crash_count = 0
        row.crash_reason = ""
        row.placement_error = ""
        row.modification_tag.CopyFrom(models.ModificationTag(epoch=next(self._guids), index=0))
        return row

    def _row(self, state: str, lrp: models.DesiredLRP, index: int) -> models.ActualLRP:
        ports = tuple(lrp.ports) or (DEFAULT_PORT,)
        template = self._templates.get((state, lrp.domain, ports))
        if template is None:
            template = self._template(state, lrp.domain, ports)
            self._templates[(state, lrp.domain, ports)] = template
        row = copy(template)
        row.actual_lrp_key.process_guid = lrp.process_guid
        row.actual_lrp_key.index = index
        row.modification_tag.epoch = next(self._guids)
        return row

    def _template(self, state: str, domain: str, ports: tuple[int, ...]) -> models.ActualLRP:
        row = self._new("", 0, domain)
        row.since = self._now
        if state == UNCLAIMED:
            return row
        row.state = CLAIMED
        row.modification_tag.index = 1
        row.actual_lrp_instance_key.cell_id = self._cell_id
        if state == CLAIMED:
            return row
        row.state = RUNNING
        row.modification_tag.index = 2
        row.routable = True
        row.availability_zone = self._zone
        net = row.actual_lrp_net_info
        net.preferred_address = models.ActualLRPNetInfo.HOST
        for offset, port in enumerate(ports):
            net.ports.add(container_port=port, host_port=FIRST_HOST_PORT + offset)
        if state == RUNNING:
            return row
        row.state = CRASHED
        row.crash_reason = DEFAULT_CRASH_REASON
        row.ClearField("actual_lrp_instance_key")
        row.actual_lrp_instance_key.SetInParent()
        row.ClearField("actual_lrp_net_info")
        row.actual_lrp_net_info.SetInParent()
        return row


def _default_desired_lrp(process_guid: str, instances: int) -> models.DesiredLRP:
    """A small valid desired LRP, as Cloud Controller would desire a web process."""
    lrp = models.DesiredLRP(
        process_guid=process_guid,
        domain=DEFAULT_DOMAIN,
        root_fs=DEFAULT_ROOT_FS,
        instances=instances,
        memory_mb=256,
        disk_mb=1024,
        log_guid=process_guid,
        ports=[DEFAULT_PORT],
        action=models.Action(run_action=models.RunAction(path="/bin/sh", user="vcap")),
    )
    lrp.metric_tags["source_id"].static = process_guid
    return lrp


def _check(items: list[str], what: str) -> None:
    """Validation items as the route answers them, saying what was being seeded."""
    if items:
        raise InvalidRequest(f"{what}: {', '.join(items)}")


def _emit(events: bool) -> Emit:
    return "calculated" if events else "none"
