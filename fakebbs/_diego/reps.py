"""What the simulated auctioneer and reps do, each step one call to the BBS.

* The auctioneer takes the start requests the BBS sends, batches them, places the batch
  (``_auction``) and has the winning cells' reps perform the work; what fits nowhere is failed
  (``FailActualLRP`` / ``FailTask``) with the placement error, and an LRP instance so failed is
  auctioned again when capacity appears (a cell is added, a container goes), as the
  auctioneer's retries and convergence's stale-unclaimed auctions do.
* A rep claims an instance as soon as it is placed, and after the ``start`` timing starts it
  (``StartActualLRP``: the cell's address, a container address, a host port per port of the
  desired LRP, its internal routes and metric tags, the cell's zone). It answers the BBS's
  stop (after the ``stop`` timing: ``RemoveActualLRP``, or ``EvacuateStoppedActualLRP`` for an
  evacuated container), update (nothing to do) and cancel calls. A task is started
  (``StartTask``) and after the ``task`` timing completed with the outcome set for it.
* Evacuation as the rep's evacuation processors: a claimed instance is given up
  (``EvacuateClaimedActualLRP``), a running one evacuated (``EvacuateRunningActualLRP``) and
  kept while the BBS says so; it is asked again whenever its replacement starts and at each
  convergence tick (the rep's polling), and its container is destroyed once the BBS answers
  ``keep_container`` false. An evacuating cell with nothing left leaves (its presence goes).

A call failed by a fault rule is what a rep sees of a failed request: a claim that fails
gives the container up; a start that fails is tried again after the rep's polling interval
(30 s), unless the BBS says the instance is not the container's any more
(ActualLRPCannotBeStarted, ResourceNotFound).
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._diego.auction import Auctioneer, Placement, Work
from fakebbs._diego.cells import Cell, Constraint, Container
from fakebbs._diego.port import BBSPort, Outcome
from fakebbs._outbound.calls import OutboundCall, internal_routes_of, metric_tags_for
from fakebbs.errors import ActualLRPCannotBeStarted, ResourceNotFound

__all__ = ["Reps", "TaskOutcome", "Timings"]

Schedule = Callable[[float, Callable[[], None]], None]


@dataclass(frozen=True)
class Timings:
    """Seconds on the fake's clock: placement to RUNNING (``start``), a stop call to the
    instance's removal (``stop``), a task's start to its completion (``task``)."""

    start: float = 0.0
    stop: float = 0.0
    task: float = 0.0


@dataclass(frozen=True)
class TaskOutcome:
    """How matching tasks end (``bbs.diego.task_outcome``)."""

    pattern: str | Callable[[str], bool]
    failed: bool = False
    result: str = ""
    failure_reason: str = ""

    def matches(self, task_guid: str) -> bool:
        if callable(self.pattern):
            return bool(self.pattern(task_guid))
        return fnmatch.fnmatchcase(task_guid, self.pattern)


@dataclass(frozen=True)
class _Desired:
    """What a rep reads of the desired LRP to start an instance of it."""

    ports: tuple[int, ...]
    metric_tags: Any
    dynamic_tags: bool
    """Whether a metric tag depends on the instance (otherwise they are in ``start``)."""
    start: models.StartActualLRPRequest
    """What every start of an instance says alike (internal routes, the metric tags unless
    they are dynamic, routable), for the request to be copied from: copying one message
    costs a fraction of building it from nested keyword arguments."""

    def start_request(self, cell: Cell, container: Container) -> models.StartActualLRPRequest:
        request = models.StartActualLRPRequest()
        request.CopyFrom(self.start)
        _set_key(request.actual_lrp_key, container)
        _set_instance_key(request.actual_lrp_instance_key, cell, container)
        _set_net_info(request.actual_lrp_net_info, cell, container)
        if self.dynamic_tags:
            tags = metric_tags_for(self.metric_tags, container.index, container.instance_guid)
            request.metric_tags.update(tags)
        request.availability_zone = cell.zone
        return request


class Reps:
    """The auctioneer and every cell's rep of one simulation."""

    def __init__(
        self,
        port: BBSPort,
        auctioneer: Auctioneer,
        cells: dict[str, Cell],
        schedule: Schedule,
        desired: Callable[[str], models.DesiredLRP | None],
        unregister: Callable[[str], None],
        kick: Callable[[], None],
    ) -> None:
        self.port = port
        self.auctioneer = auctioneer
        self.cells = cells
        self.schedule = schedule
        self._desired = desired
        self._unregister = unregister
        self._kick = kick
        self.timings = Timings()
        self.polling_interval: float | None = 30.0
        self.outcomes: list[TaskOutcome] = []
        self._pending_lrps: dict[tuple[str, int], Work] = {}
        self._pending_tasks: dict[str, Work] = {}
        self._auction_due = False
        self.unplaced: dict[tuple[str, int], tuple[Work, str]] = {}
        self._desired_cache: dict[str, _Desired | None] = {}
        self._in_flight: list[tuple[threading.Thread, str, Message]] = []
        self.evacuating: list[Cell] = []

    def clear_cache(self) -> None:
        self._desired_cache.clear()

    # -- calls to the BBS ----------------------------------------------------------------------

    def _call(self, name: str, request: Message, then: Callable[[Outcome], None]) -> None:
        """Make one call and go on with its outcome; a held call waits on a thread of its
        own, and the simulation goes on with its outcome once it is released."""
        if not self.port.held(name, request):
            then(self.port.call(name, request))
            return

        def held() -> None:
            outcome = self.port.call(name, request)
            self.schedule(0.0, lambda: then(outcome))
            self._kick()

        thread = threading.Thread(target=held, name=f"fakebbs-diego-{name}", daemon=True)
        self._in_flight.append((thread, name, request))
        thread.start()

    def settle(self) -> None:
        """Wait for the held calls whose hold has been released to be answered."""
        waiting = []
        for thread, name, request in self._in_flight:
            if thread.is_alive() and not self.port.held(name, request):
                thread.join()
            if thread.is_alive():
                waiting.append((thread, name, request))
        self._in_flight = waiting

    # -- what the BBS sends --------------------------------------------------------------------

    def receive(self, call: OutboundCall) -> None:
        """A call the BBS made to the auctioneer or to a simulated cell's rep."""
        if call.route == "RequestLRPAuctions":
            for start in call.request:
                constraint = _constraint(start)
                for index in start["indices"]:
                    key = (start["process_guid"], index)
                    self._pending_lrps[key] = Work(
                        key[0], index, start["domain"], constraint,
                        start["MemoryMB"], start["DiskMB"],
                    )  # fmt: skip
            self._auction_soon()
        elif call.route == "RequestTaskAuctions":
            for start in call.request:
                self._pending_tasks[start["TaskGuid"]] = Work(
                    start["TaskGuid"], -1, start["Domain"], _constraint(start),
                    start["MemoryMB"], start["DiskMB"],
                )  # fmt: skip
            self._auction_soon()
        elif call.route == "StopLRPInstance":
            cell = self.cells.get(call.cell_id)
            container = None if cell is None else cell.lrps.get(call.request["instance_guid"])
            if cell is not None and container is not None and container.state != "stopping":
                self._stop(cell, container)
        elif call.route == "CancelTaskOnRep":
            cell = self.cells.get(call.cell_id)
            task = None if cell is None else cell.tasks.get(call.request["task_guid"])
            if cell is not None and task is not None:
                self._release(cell, task)
        # UpdateLRPInstance: the rep has nothing to change that the BBS would see.

    def _stop(self, cell: Cell, container: Container) -> None:
        container.state = "stopping"
        self.schedule(self.timings.stop, lambda: self._stopped(cell, container))

    def _auction_soon(self) -> None:
        if not self._auction_due:
            self._auction_due = True
            self.schedule(0.0, self.run_auction)

    def capacity_freed(self) -> None:
        """Capacity appeared: place what did not fit before, as the auctioneer retries."""
        if self.unplaced and not self._auction_due:
            self._auction_due = True
            self.schedule(0.0, self.run_auction)

    # -- the auctioneer ------------------------------------------------------------------------

    def run_auction(self) -> None:
        self._auction_due = False
        lrps = dict(self.unplaced_works())
        lrps.update(self._pending_lrps)
        tasks = list(self._pending_tasks.values())
        self._pending_lrps = {}
        self._pending_tasks = {}
        if not lrps and not tasks:
            return
        for placement in self.auctioneer.auction(lrps.values(), tasks):
            if placement.cell is None:
                self._failed(placement)
            elif placement.work.index < 0:
                self._start_task(placement)
            else:
                self.unplaced.pop((placement.work.guid, placement.work.index), None)
                self._claim(placement)

    def unplaced_works(self) -> list[tuple[tuple[str, int], Work]]:
        return [(key, work) for key, (work, _) in self.unplaced.items()]

    def _failed(self, placement: Placement) -> None:
        work = placement.work
        if work.index < 0:
            request: Message = models.FailTaskRequest(
                task_guid=work.guid, failure_reason=placement.error
            )
            self._call("FailTask", request, lambda outcome: None)
            return
        key = (work.guid, work.index)
        known = self.unplaced.get(key)
        if known is not None and known[1] == placement.error:
            return  # failed again for the same reason: nothing new to tell the BBS
        self.unplaced[key] = (work, placement.error)
        request = models.FailActualLRPRequest(
            actual_lrp_key=models.ActualLRPKey(
                process_guid=work.guid, index=work.index, domain=work.domain
            ),
            error_message=placement.error,
        )

        def failed(outcome: Outcome) -> None:
            if outcome.error is not None:  # the instance is not UNCLAIMED any more
                self.unplaced.pop(key, None)

        self._call("FailActualLRP", request, failed)

    # -- LRP instances -------------------------------------------------------------------------

    def _claim(self, placement: Placement) -> None:
        cell, container = placement.cell, placement.container
        assert cell is not None and container is not None
        request = models.ClaimActualLRPRequest(
            process_guid=container.process_guid, index=container.index
        )
        _set_instance_key(request.actual_lrp_instance_key, cell, container)

        def claimed(outcome: Outcome) -> None:
            if container.state != "reserved":
                return
            if not outcome.ok:
                self._release(cell, container)
                return
            container.state = "claimed"
            self.schedule(self.timings.start, lambda: self._start(cell, container))

        self._call("ClaimActualLRP", request, claimed)

    def _start(self, cell: Cell, container: Container) -> None:
        if container.state != "claimed" or cell.lrps.get(container.instance_guid) is not container:
            return
        desired = self._desired_of(container.process_guid)
        if desired is None:  # no desired LRP any more: the rep's container is not wanted
            self._stopped(cell, container)
            return
        if not container.instance_address:
            container.instance_address = cell.new_instance_address()
            container.ports = tuple((p, cell.new_host_port()) for p in desired.ports)
        request = desired.start_request(cell, container)

        def started(outcome: Outcome) -> None:
            if container.state != "claimed":
                return
            if outcome.ok:
                self.auctioneer.started(cell, container)
                self._replacement_up(container)
            elif isinstance(outcome.error, (ActualLRPCannotBeStarted, ResourceNotFound)):
                self._release(cell, container)  # the instance is not this container's now
            elif self.polling_interval is not None:
                self.schedule(self.polling_interval, lambda: self._start(cell, container))

        self._call("StartActualLRP", request, started)

    def _desired_of(self, process_guid: str) -> _Desired | None:
        if process_guid in self._desired_cache:
            return self._desired_cache[process_guid]
        lrp = self._desired(process_guid)
        found = None
        if lrp is not None:
            try:
                internal = internal_routes_of(lrp.routes) or []
            except ValueError:
                internal = []
            tags = dict(lrp.metric_tags)
            dynamic = any(tag.dynamic for tag in tags.values())
            start = models.StartActualLRPRequest(
                actual_lrp_internal_routes=[
                    models.ActualLRPInternalRoute(hostname=r["hostname"]) for r in internal
                ],
                metric_tags=None if dynamic else {name: tag.static for name, tag in tags.items()},
                Routable=True,
            )
            found = _Desired(tuple(lrp.ports), tags, dynamic, start)
        self._desired_cache[process_guid] = found
        return found

    def _stopped(self, cell: Cell, container: Container) -> None:
        """The rep stopped the container: its instance goes (``RemoveActualLRP``, or for an
        evacuated one ``EvacuateStoppedActualLRP``)."""
        if cell.lrps.get(container.instance_guid) is not container:
            return
        self._release(cell, container)
        if container.evacuating:
            request: Message = models.EvacuateStoppedActualLRPRequest(
                actual_lrp_key=_key(container),
                actual_lrp_instance_key=_instance_key(cell, container),
            )
            self._call("EvacuateStoppedActualLRP", request, lambda outcome: None)
            return
        request = models.RemoveActualLRPRequest(
            process_guid=container.process_guid,
            index=container.index,
            actual_lrp_instance_key=_instance_key(cell, container),
        )
        self._call("RemoveActualLRP", request, lambda outcome: None)

    def crash(self, process_guid: str, index: int, reason: str) -> bool:
        """The instance's process exits: its rep reports the crash and destroys the container.
        False when no simulated cell runs that instance."""
        for cell in self.auctioneer.holders(process_guid):
            for container in list(cell.lrps.values()):
                if (
                    container.index == index
                    and not container.evacuating
                    and container.process_guid == process_guid
                    and container.state in ("claimed", "running")
                ):
                    request = models.CrashActualLRPRequest(
                        actual_lrp_key=_key(container),
                        actual_lrp_instance_key=_instance_key(cell, container),
                        error_message=reason,
                    )
                    self._release(cell, container)
                    self._call("CrashActualLRP", request, lambda outcome: None)
                    return True
        return False

    def _release(self, cell: Cell, container: Container) -> None:
        container.state = "gone"
        if self.auctioneer.release(cell, container):
            self.capacity_freed()
        if cell.evacuating and not cell.lrps and not cell.tasks and not cell.gone:
            self.leave(cell)

    def leave(self, cell: Cell) -> None:
        """The cell's rep exits: its presence goes; what it held is forgotten."""
        cell.gone = True
        self.auctioneer.withdraw(cell)
        for container in [*cell.lrps.values(), *cell.tasks.values()]:
            container.state = "gone"
            self.auctioneer.release(cell, container)
        self.cells.pop(cell.cell_id, None)
        self._unregister(cell.cell_id)
        self.capacity_freed()

    # -- evacuation ----------------------------------------------------------------------------

    def evacuate(self, cell: Cell) -> None:
        cell.evacuating = True
        self.evacuating = [c for c in self.evacuating if not c.gone] + [cell]
        self.auctioneer.withdraw(cell)
        for container in list(cell.lrps.values()):
            self._evacuate(cell, container)
        if not cell.lrps and not cell.tasks and not cell.gone:
            self.leave(cell)

    def poll_evacuations(self) -> None:
        """The evacuating reps' polling: ask again about every container still kept."""
        for cell in list(self.evacuating):
            if not cell.gone:
                for container in list(cell.lrps.values()):
                    self._evacuate(cell, container)

    def _replacement_up(self, started: Container) -> None:
        if not self.evacuating or not any(cell.evacuating for cell in self.evacuating):
            return
        for cell in self.auctioneer.holders(started.process_guid):
            if cell.evacuating:
                for container in list(cell.lrps.values()):
                    if container.evacuating and container.index == started.index:
                        self._evacuate(cell, container)

    def _evacuate(self, cell: Cell, container: Container) -> None:
        if container.state == "reserved":
            self._release(cell, container)
        elif container.state == "claimed":
            request: Message = models.EvacuateClaimedActualLRPRequest(
                actual_lrp_key=_key(container),
                actual_lrp_instance_key=_instance_key(cell, container),
            )
            self._release(cell, container)
            self._call("EvacuateClaimedActualLRP", request, lambda outcome: None)
        elif container.state == "running":
            request = models.EvacuateRunningActualLRPRequest(
                actual_lrp_key=_key(container),
                actual_lrp_instance_key=_instance_key(cell, container),
                actual_lrp_net_info=_net_info(cell, container),
                Routable=True,
                availability_zone=cell.zone,
            )

            def answered(outcome: Outcome) -> None:
                if container.state != "running":
                    return
                keep = outcome.response is not None and outcome.response.keep_container
                if keep:
                    container.evacuating = True
                else:
                    container.state = "stopping"
                    self.schedule(self.timings.stop, lambda: self._release(cell, container))

            self._call("EvacuateRunningActualLRP", request, answered)

    # -- tasks ---------------------------------------------------------------------------------

    def _start_task(self, placement: Placement) -> None:
        cell, task = placement.cell, placement.container
        assert cell is not None and task is not None
        request = models.StartTaskRequest(task_guid=task.process_guid, cell_id=cell.cell_id)

        def started(outcome: Outcome) -> None:
            if task.state != "reserved":
                return
            if not outcome.ok or not outcome.response.should_start:
                self._release(cell, task)
                return
            self.auctioneer.started(cell, task)
            self.schedule(self.timings.task, lambda: self._complete_task(cell, task))

        self._call("StartTask", request, started)

    def _complete_task(self, cell: Cell, task: Container) -> None:
        if cell.tasks.get(task.process_guid) is not task or task.state != "running":
            return
        outcome = next((o for o in self.outcomes if o.matches(task.process_guid)), None)
        if outcome is None:
            outcome = TaskOutcome("*")
        reason = outcome.failure_reason or ("exit status 1" if outcome.failed else "")
        request = models.CompleteTaskRequest(
            task_guid=task.process_guid,
            cell_id=cell.cell_id,
            failed=outcome.failed,
            failure_reason=reason,
            result=outcome.result,
        )
        self._release(cell, task)
        self._call("CompleteTask", request, lambda answered: None)


def _constraint(start: dict[str, Any]) -> Constraint:
    return Constraint(
        start["RootFs"],
        tuple(start.get("PlacementTags") or ()),
        tuple(start.get("VolumeDrivers") or ()),
    )


def _key(container: Container) -> models.ActualLRPKey:
    key = models.ActualLRPKey()
    _set_key(key, container)
    return key


def _instance_key(cell: Cell, container: Container) -> models.ActualLRPInstanceKey:
    instance_key = models.ActualLRPInstanceKey()
    _set_instance_key(instance_key, cell, container)
    return instance_key


def _net_info(cell: Cell, container: Container) -> models.ActualLRPNetInfo:
    net_info = models.ActualLRPNetInfo()
    _set_net_info(net_info, cell, container)
    return net_info


# Filling a request's embedded messages in place costs less than building them apart and
# passing them as keyword arguments (each would be built, then copied in).

_HOST = models.ActualLRPNetInfo.HOST


def _set_key(key: models.ActualLRPKey, container: Container) -> None:
    key.process_guid = container.process_guid
    key.index = container.index
    key.domain = container.domain


def _set_instance_key(
    instance_key: models.ActualLRPInstanceKey, cell: Cell, container: Container
) -> None:
    instance_key.instance_guid = container.instance_guid
    instance_key.cell_id = cell.cell_id


def _set_net_info(net_info: models.ActualLRPNetInfo, cell: Cell, container: Container) -> None:
    net_info.address = cell.address
    net_info.instance_address = container.instance_address
    for container_port, host_port in container.ports:
        port = net_info.ports.add()
        port.container_port = container_port
        port.host_port = host_port
    net_info.preferred_address = _HOST
