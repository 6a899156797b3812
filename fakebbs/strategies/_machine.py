"""A Hypothesis state machine over a fake BBS, for users to extend with their client and their
invariants: its rules desire, update, scale and remove desired LRPs, claim, start, crash and
evacuate their instances as a rep would, register and unregister cells, inject fault
schedules, advance the clock and converge."""

from __future__ import annotations

import http.client
from typing import Any

from google.protobuf.message import Message
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from fakebbs import models
from fakebbs._controls import FaultRule
from fakebbs._fake import FakeBBS
from fakebbs.client import BBSClient
from fakebbs.errors import BBSError
from fakebbs.strategies._actual import actual_lrp_net_infos
from fakebbs.strategies._desired import desired_lrp_updates, desired_lrps
from fakebbs.strategies._faults import FaultSchedule, fault_schedules

__all__ = ["BBSStateMachine", "CallOutcome"]

CallOutcome = Message | BaseException
"""What a call through the API gave: the response message (its ``error`` field set for a BBS
error), or the exception a transport fault raised in the client."""

TRANSPORT_ERRORS = (OSError, http.client.HTTPException, BBSError)
"""What a client raises when a fault breaks a call (BBSError: the client's own
InvalidResponse, InvalidProtobufMessage and RouterError)."""


def _process_guids() -> st.SearchStrategy[str]:
    return st.runner().flatmap(lambda machine: st.sampled_from(machine.PROCESS_GUIDS))


def _cells() -> st.SearchStrategy[str]:
    return st.runner().flatmap(lambda machine: st.sampled_from(machine.CELLS))


def _indices() -> st.SearchStrategy[int]:
    return st.runner().flatmap(lambda machine: st.integers(0, machine.MAX_INSTANCES - 1))


def _instances() -> st.SearchStrategy[int]:
    return st.runner().flatmap(lambda machine: st.integers(0, machine.MAX_INSTANCES))


class BBSStateMachine(RuleBasedStateMachine):
    """The BBS world as a state machine: subclass it, add ``@rule`` methods that drive your
    client (``self.client()`` talks to ``self.bbs``) and ``@invariant`` methods that check
    what it did, then run it with ``TestMyClient = MyMachine.TestCase``.

    The world's rules act through the fake's HTTP API like the cloud controller, the reps and
    the auctioneer would, on a few process guids (``PROCESS_GUIDS``), cells (``CELLS``) and one
    ``DOMAIN``, so that rules meet each other's objects. Fault schedules injected by the
    ``inject_faults`` rule hit every client of the fake, the world's too: the world records
    what broken calls gave in ``outcomes`` and carries on. The clock is frozen; ``advance_clock``
    moves it and ``converge`` runs a convergence pass.

    Override ``make_fake`` to configure the fake, ``FAULT_ROUTES`` to choose which routes
    faults may hit, and ``call`` to watch every call the world makes.
    """

    DOMAIN = "cf-apps"
    PROCESS_GUIDS: tuple[str, ...] = ("lrp-a", "lrp-b", "lrp-c")
    CELLS: tuple[str, ...] = ("cell-1", "cell-2")
    MAX_INSTANCES = 3
    FAULT_ROUTES: tuple[str, ...] | None = None
    """Route selectors the injected faults choose from (None: every current request route)."""

    def __init__(self) -> None:
        super().__init__()
        self.bbs = self.make_fake()
        if not self.bbs.clock.frozen:
            self.bbs.clock.freeze()
        self.world = BBSClient.in_process(self.bbs.wsgi_app)
        self.outcomes: list[tuple[str, CallOutcome]] = []
        """Every call the world made, with its outcome, oldest first."""
        self.fault_rules: list[FaultRule] = []
        self.call("UpsertDomain", models.UpsertDomainRequest(domain=self.DOMAIN, ttl=0))

    def make_fake(self) -> FakeBBS:
        """The fake under test (a fresh one per example)."""
        return FakeBBS()

    def client(self, **options: Any) -> BBSClient:
        """A client for ``self.bbs`` (in-process unless the fake is served)."""
        return self.bbs.client(**options)

    def teardown(self) -> None:
        self.world.close()
        self.bbs.reset()

    # -- calls ---------------------------------------------------------------------------------

    def call(self, route: str, request: Message | None) -> CallOutcome:
        """Make one call through the API; a transport fault's exception is returned, not
        raised."""
        outcome: CallOutcome
        try:
            outcome = self.world.call(route, request)
        except TRANSPORT_ERRORS as err:
            outcome = err
        self.outcomes.append((route, outcome))
        return outcome

    def _key(self, process_guid: str, index: int) -> models.ActualLRPKey:
        return models.ActualLRPKey(process_guid=process_guid, index=index, domain=self.DOMAIN)

    @staticmethod
    def instance_key(process_guid: str, index: int, cell_id: str) -> models.ActualLRPInstanceKey:
        """The instance key the world's rep uses for an index on a cell (one per pair, so
        rules about one instance find it again)."""
        return models.ActualLRPInstanceKey(
            cell_id=cell_id, instance_guid=f"{process_guid}-{index}-{cell_id}"
        )

    # -- the cloud controller ------------------------------------------------------------------

    @rule(data=st.data())
    def desire(self, data: st.DataObject) -> None:
        guid = data.draw(st.sampled_from(self.PROCESS_GUIDS), label="process_guid")
        lrp = data.draw(
            desired_lrps(domain=self.DOMAIN, instances=st.integers(0, self.MAX_INSTANCES)),
            label="desired_lrp",
        )
        lrp.process_guid = guid
        self.call("DesireDesiredLRP", models.DesireLRPRequest(desired_lrp=lrp))

    @rule(data=st.data())
    def update(self, data: st.DataObject) -> None:
        guid = data.draw(st.sampled_from(self.PROCESS_GUIDS), label="process_guid")
        update = data.draw(
            desired_lrp_updates(instances=st.integers(0, self.MAX_INSTANCES)), label="update"
        )
        request = models.UpdateDesiredLRPRequest(process_guid=guid, update=update)
        self.call("UpdateDesireLRP", request)

    @rule(process_guid=_process_guids(), instances=_instances())
    def scale(self, process_guid: str, instances: int) -> None:
        update = models.DesiredLRPUpdate(instances=instances)
        self.call(
            "UpdateDesireLRP",
            models.UpdateDesiredLRPRequest(process_guid=process_guid, update=update),
        )

    @rule(process_guid=_process_guids())
    def remove(self, process_guid: str) -> None:
        self.call("RemoveDesiredLRP", models.RemoveDesiredLRPRequest(process_guid=process_guid))

    # -- the reps and the auctioneer -------------------------------------------------------------

    @rule(
        process_guid=_process_guids(),
        index=_indices(),
        cell_id=_cells(),
    )
    def claim(self, process_guid: str, index: int, cell_id: str) -> None:
        request = models.ClaimActualLRPRequest(
            process_guid=process_guid,
            index=index,
            actual_lrp_instance_key=self.instance_key(process_guid, index, cell_id),
        )
        self.call("ClaimActualLRP", request)

    @rule(
        process_guid=_process_guids(),
        index=_indices(),
        cell_id=_cells(),
        net_info=actual_lrp_net_infos(),
    )
    def start(
        self, process_guid: str, index: int, cell_id: str, net_info: models.ActualLRPNetInfo
    ) -> None:
        request = models.StartActualLRPRequest(
            actual_lrp_key=self._key(process_guid, index),
            actual_lrp_instance_key=self.instance_key(process_guid, index, cell_id),
            actual_lrp_net_info=net_info,
            Routable=True,
        )
        self.call("StartActualLRP", request)

    @rule(
        process_guid=_process_guids(),
        index=_indices(),
        cell_id=_cells(),
    )
    def crash(self, process_guid: str, index: int, cell_id: str) -> None:
        request = models.CrashActualLRPRequest(
            actual_lrp_key=self._key(process_guid, index),
            actual_lrp_instance_key=self.instance_key(process_guid, index, cell_id),
            error_message="exit status 1",
        )
        self.call("CrashActualLRP", request)

    @rule(process_guid=_process_guids(), index=_indices())
    def fail_placement(self, process_guid: str, index: int) -> None:
        request = models.FailActualLRPRequest(
            actual_lrp_key=self._key(process_guid, index), error_message="insufficient resources"
        )
        self.call("FailActualLRP", request)

    @rule(
        process_guid=_process_guids(),
        index=_indices(),
        cell_id=_cells(),
        how=st.sampled_from(["running", "claimed", "stopped", "crashed", "remove_evacuating"]),
    )
    def evacuate(self, process_guid: str, index: int, cell_id: str, how: str) -> None:
        key = self._key(process_guid, index)
        instance = self.instance_key(process_guid, index, cell_id)
        if how == "running":
            net_info = models.ActualLRPNetInfo(address="10.0.0.1")
            running = models.EvacuateRunningActualLRPRequest(
                actual_lrp_key=key, actual_lrp_instance_key=instance, actual_lrp_net_info=net_info
            )
            self.call("EvacuateRunningActualLRP", running)
        elif how == "claimed":
            claimed = models.EvacuateClaimedActualLRPRequest(
                actual_lrp_key=key, actual_lrp_instance_key=instance
            )
            self.call("EvacuateClaimedActualLRP", claimed)
        elif how == "stopped":
            stopped = models.EvacuateStoppedActualLRPRequest(
                actual_lrp_key=key, actual_lrp_instance_key=instance
            )
            self.call("EvacuateStoppedActualLRP", stopped)
        elif how == "crashed":
            crashed = models.EvacuateCrashedActualLRPRequest(
                actual_lrp_key=key, actual_lrp_instance_key=instance, error_message="evacuated"
            )
            self.call("EvacuateCrashedActualLRP", crashed)
        else:
            remove = models.RemoveEvacuatingActualLRPRequest(
                actual_lrp_key=key, actual_lrp_instance_key=instance
            )
            self.call("RemoveEvacuatingActualLRP", remove)

    @rule(
        process_guid=_process_guids(),
        index=_indices(),
        cell_id=_cells(),
    )
    def remove_instance(self, process_guid: str, index: int, cell_id: str) -> None:
        request = models.RemoveActualLRPRequest(
            process_guid=process_guid,
            index=index,
            actual_lrp_instance_key=self.instance_key(process_guid, index, cell_id),
        )
        self.call("RemoveActualLRP", request)

    # -- cells, faults, time -----------------------------------------------------------------------

    @rule(cell_id=_cells())
    def register_cell(self, cell_id: str) -> None:
        self.bbs.register_cell(cell_id)

    @rule(cell_id=_cells())
    def unregister_cell(self, cell_id: str) -> None:
        self.bbs.unregister_cell(cell_id)

    @rule(data=st.data())
    def inject_faults(self, data: st.DataObject) -> None:
        routes = self.FAULT_ROUTES
        strategy = fault_schedules() if routes is None else fault_schedules(routes)
        schedule: FaultSchedule = data.draw(strategy, label="faults")
        self.fault_rules.extend(schedule.apply(self.bbs))

    @precondition(lambda self: bool(self.fault_rules))
    @rule()
    def clear_faults(self) -> None:
        self.bbs.clear_faults()
        self.fault_rules.clear()

    @rule(seconds=st.sampled_from([1, 30, 60, 300, 1000]))
    def advance_clock(self, seconds: int) -> None:
        self.bbs.clock.advance(seconds)

    @rule()
    def converge(self) -> None:
        self.bbs.converge()
