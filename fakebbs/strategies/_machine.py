"""A Hypothesis state machine over a BBS, for users to extend with their client and their
invariants: its rules act as the cloud controller (desire, update, scale, remove), the reps
(claim, start, crash, evacuate, remove instances; start, complete, fail, reject tasks), the
cells, the clock and a fault injector would, in rule groups that a subclass switches on and off.

The world draws cheap objects (minimal desired LRPs, fixed task definitions) so that
examples run fast and a failing example shrinks to the client's own steps."""

from __future__ import annotations

import ssl
from collections.abc import Collection, Iterable
from typing import Any, ClassVar

from google.protobuf.message import Message
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from fakebbs import models
from fakebbs._control.controls import FaultRule
from fakebbs._fake import FakeBBS
from fakebbs._http.events import Event, HubName, StreamSpec, Subscription
from fakebbs.client import BBSClient
from fakebbs.strategies._desired import desired_lrp_updates
from fakebbs.strategies._faults import FaultSchedule
from fakebbs.strategies._tasks import TASK_STATES
from fakebbs.strategies._world import (
    CALL_FAILURES,
    CLOCK_START,
    Instance,
    counting_guids,
    event_hub,
    machine_cells,
    machine_indices,
    machine_instance_counts,
    machine_lrps,
    machine_tasks,
    minimal_lrps,
    quick_fault_schedules,
    rule_group,
)

__all__ = [
    "FAKE_ONLY_RULES",
    "RULE_GROUPS",
    "BBSStateMachine",
    "CallOutcome",
]

CallOutcome = Message | BaseException
"""What a call through the API gave: the response message (its ``error`` field set for a BBS
error), or the exception a transport fault raised in the client."""


RULE_GROUPS: frozenset[str] = frozenset(
    {"cloud_controller", "reps", "cells", "clock", "faults", "tasks"}
)
"""Every group of the world's rules (see ``BBSStateMachine.rules``)."""


FAKE_ONLY_RULES: frozenset[str] = frozenset({"cells", "clock", "faults"})
"""Groups that act on the fake itself (its cells, its clock, its faults), not through the BBS
API: off when the machine runs against a BBS URL."""


_EVENT_HUBS: tuple[HubName, ...] = ("desired", "instance", "task")


class BBSStateMachine(RuleBasedStateMachine):
    """The BBS world as a state machine: subclass it, add ``@rule`` methods that drive your
    client (``self.client()`` talks to the BBS under test) and ``@invariant`` methods that
    check what it did, then run it with ``TestMyClient = MyMachine.TestCase``.

    **Rule groups.** ``rules`` (a class attribute; read it as ``type(self).rules`` inside the
    machine, where Hypothesis keeps its own ``self.rules``) names the groups of the world's
    rules that run: "cloud_controller" (desire, update, scale, remove desired LRPs), "reps"
    (claim, start, crash, fail, evacuate and remove instances), "cells" (register and
    unregister cells), "clock" (advance it, converge), "faults" (inject fault schedules, clear
    them) and "tasks" (desire, start, complete, fail, cancel, reject, resolve and delete tasks,
    with the task invariants). ``rules = set()`` leaves only your own rules.

    **Cheap by default.** The world desires minimal LRPs (``desired_lrps(minimal=True)``) with
    guids from ``PROCESS_GUIDS``, drawn before the model so a report shows the real ones;
    override ``lrp_strategy`` (and ``task_strategy``) for richer ones. The fake counts its
    guids (``counting_guids``) and its clock is frozen at ``CLOCK_START``. Nothing is desired
    at the start unless ``initial_desire = True``.

    **What exists.** The Bundles ``desired_lrps`` (process guids the world desired),
    ``instances`` (``Instance``: what the world's reps claimed) and ``tasks`` (task guids the
    world desired) feed rules of your own: ``@rule(process_guid=BBSStateMachine.desired_lrps)``.
    ``event_log`` is every event the BBS emitted (desired LRP, instance and task events), in
    order; ``outcomes`` every call the world made.

    **Faults.** Fault schedules injected by the "faults" rules hit every client of the fake,
    the world's too: the world records what broken calls gave in ``outcomes`` and carries on.
    ``FAULT_ROUTES`` chooses which routes faults may hit.

    **Against a real BBS.** ``MyMachine.against(url, ssl_context=...)`` is the same machine
    talking to a BBS at ``url`` (mutual TLS with the context's client certificate), with the
    groups that need the fake itself (``FAKE_ONLY_RULES``) off; see its docstring.

    Override ``make_fake`` to configure the fake and ``call`` to watch every call the world
    makes.
    """

    rules: Collection[str] = RULE_GROUPS  # type: ignore[assignment]
    """The rule groups of the world that run (see the class docstring)."""
    initial_desire: ClassVar[bool] = False
    """Desire one LRP before the first step (a subclass setting it gets the initialize step)."""
    bbs_url: ClassVar[str | None] = None
    """A BBS to run against instead of a fake (set by ``against``)."""
    bbs_ssl_context: ClassVar[ssl.SSLContext | None] = None
    """The client side of mutual TLS with ``bbs_url``."""

    DOMAIN = "cf-apps"
    PROCESS_GUIDS: tuple[str, ...] = ("lrp-a", "lrp-b", "lrp-c")
    TASK_GUIDS: tuple[str, ...] = ("task-a", "task-b", "task-c")
    CELLS: tuple[str, ...] = ("cell-1", "cell-2")
    MAX_INSTANCES = 3
    CLOCK_START = CLOCK_START
    FAULT_ROUTES: tuple[str, ...] | None = None
    """Route selectors the injected faults choose from (None: every current request route)."""

    desired_lrps = Bundle("desired_lrps")
    instances = Bundle("instances")
    tasks = Bundle("tasks")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = set(cls.rules) - RULE_GROUPS
        if unknown:
            raise ValueError(
                f"{cls.__name__}.rules: unknown rule groups {sorted(unknown)}; "
                f"choose from {sorted(RULE_GROUPS)}"
            )
        if cls.initial_desire and "desire_initial_lrp" not in vars(cls):
            # Only machines that ask for it get the initialize step (and print it).
            step = initialize(target=BBSStateMachine.desired_lrps, lrp=machine_lrps())
            cls.desire_initial_lrp = step(BBSStateMachine._desire)

    def __init__(self) -> None:
        super().__init__()
        url = type(self).bbs_url
        self._fake: FakeBBS | None = None if url is not None else self.make_fake()
        if self._fake is not None and not self._fake.clock.frozen:
            self._fake.clock.freeze(self.CLOCK_START)
        self.enabled_rules = frozenset(type(self).rules) - (
            FAKE_ONLY_RULES if self._fake is None else frozenset()
        )
        """The rule groups on for this run (``rules`` without the fake-only ones when the
        machine talks to a BBS URL)."""
        self.world = self.client()
        self.outcomes: list[tuple[str, CallOutcome]] = []
        """Every call the world made, with its outcome, oldest first."""
        self.fault_rules: list[FaultRule] = []
        # what the rules draw, built once per example rather than on every draw
        self.cell_ids = st.sampled_from(self.CELLS)
        self.indices = st.integers(0, self.MAX_INSTANCES - 1)
        self.instance_counts = st.integers(0, self.MAX_INSTANCES)
        self.lrps = self.lrp_strategy(st.sampled_from(self.PROCESS_GUIDS))
        self.task_requests = self.task_strategy(st.sampled_from(self.TASK_GUIDS))
        self._event_log: list[Message] = []
        self._subscription: Subscription | None = None
        if self._fake is not None:
            self._subscription = event_hub(self._fake).subscribe(_EVENT_HUBS)
        self._presented = StreamSpec(frozenset(_EVENT_HUBS))  # as the current streams send
        self.call("UpsertDomain", models.UpsertDomainRequest(domain=self.DOMAIN, ttl=0))

    @property
    def bbs(self) -> FakeBBS:
        """The fake under test; there is none when the machine runs against a BBS URL."""
        if self._fake is None:
            raise RuntimeError(f"{type(self).__name__} runs against {self.bbs_url}: no fake")
        return self._fake

    @property
    def has_fake(self) -> bool:
        """Whether the BBS under test is a fake (False against a BBS URL)."""
        return self._fake is not None

    # -- hooks ---------------------------------------------------------------------------------

    def make_fake(self) -> FakeBBS:
        """The fake under test (a fresh one per example): counting guids; the clock is frozen
        at ``CLOCK_START`` after this returns, unless frozen already."""
        return FakeBBS(new_guid=counting_guids())

    def lrp_strategy(
        self, process_guids: st.SearchStrategy[str]
    ) -> st.SearchStrategy[models.DesiredLRP]:
        """The desired LRPs the world desires, with a guid from ``process_guids`` and the
        machine's ``DOMAIN`` (default: ``desired_lrps(minimal=True, ...)``). For richer
        ones: ``return strategies.desired_lrps(domain=self.DOMAIN,
        process_guids=process_guids)``."""
        return minimal_lrps(self.DOMAIN, self.PROCESS_GUIDS, self.MAX_INSTANCES)

    def task_strategy(
        self, task_guids: st.SearchStrategy[str]
    ) -> st.SearchStrategy[models.DesireTaskRequest]:
        """The tasks the world desires (default: a fixed run action in ``DOMAIN``)."""
        definition = models.TaskDefinition(
            root_fs="preloaded:cflinuxfs4",
            action=models.Action(run_action=models.RunAction(path="/bin/true", user="vcap")),
        )
        return st.builds(
            models.DesireTaskRequest,
            task_guid=task_guids,
            domain=st.just(self.DOMAIN),
            task_definition=st.just(definition),
        )

    def client(self, **options: Any) -> BBSClient:
        """A client for the BBS under test (in-process unless the fake is served; the URL and
        TLS context of ``against`` otherwise)."""
        if self._fake is None:
            assert self.bbs_url is not None
            return BBSClient(self.bbs_url, ssl_context=self.bbs_ssl_context, **options)
        return self._fake.client(**options)

    @property
    def event_log(self) -> list[Message]:
        """Every event the fake emitted since the machine started (desired LRP, instance and
        task events, as their streams send them), oldest first. Empty against a BBS URL."""
        subscription = self._subscription
        if subscription is not None:
            while True:
                event = subscription.get(timeout=0)
                if not isinstance(event, Event):
                    break
                message = self._presented.present(event)
                if message is not None:
                    self._event_log.append(message)
        return self._event_log

    def teardown(self) -> None:
        if self._fake is None:
            self._clean_real_bbs()
        else:
            if self._subscription is not None:
                event_hub(self._fake).unsubscribe(self._subscription)
            self._fake.reset()
        self.world.close()

    def _clean_real_bbs(self) -> None:
        """Leave a real BBS as the example found it: no LRPs or tasks of the machine's guids."""
        for guid in self.PROCESS_GUIDS:
            self._quiet("RemoveDesiredLRP", models.RemoveDesiredLRPRequest(process_guid=guid))
            for index in range(self.MAX_INSTANCES + 1):
                # an ordinary row whatever its instance (no instance key), then evacuating ones
                ordinary = models.RemoveActualLRPRequest(process_guid=guid, index=index)
                self._quiet("RemoveActualLRP", ordinary)
                for cell_id in self.CELLS:
                    instance = Instance(guid, index, cell_id)
                    evacuating = models.RemoveEvacuatingActualLRPRequest(
                        actual_lrp_key=self._key(guid, index),
                        actual_lrp_instance_key=instance.instance_key,
                    )
                    self._quiet("RemoveEvacuatingActualLRP", evacuating)
        for task_guid in self.TASK_GUIDS:
            for route in ("CancelTask", "ResolvingTask", "DeleteTask"):
                self._quiet(route, models.TaskGuidRequest(task_guid=task_guid))

    def _quiet(self, route: str, request: Message) -> None:
        try:
            self.world.call(route, request)
        except CALL_FAILURES:
            pass

    @classmethod
    def against(
        cls, url: str, *, ssl_context: ssl.SSLContext | None = None
    ) -> type[BBSStateMachine]:
        """This machine, talking to the BBS at ``url`` instead of a fake: the same rules and
        invariants check a real BBS (``https`` with ``ssl_context`` carrying the client
        certificate, for mutual TLS). The fake-only groups (cells, clock, faults) are off,
        and each example ends by removing the LRPs and tasks of the machine's guids.
        ``TestRealBBS = MyMachine.against(url, ssl_context=context).TestCase``."""
        attributes = {
            "bbs_url": url,
            "bbs_ssl_context": ssl_context,
            "rules": frozenset(cls.rules) - FAKE_ONLY_RULES,
        }
        return type(f"{cls.__name__}AgainstBBS", (cls,), attributes)

    # -- calls ---------------------------------------------------------------------------------

    def call(self, route: str, request: Message | None) -> CallOutcome:
        """Make one call through the API; a transport fault's exception is returned, not
        raised."""
        outcome: CallOutcome
        try:
            outcome = self.world.call(route, request)
        except CALL_FAILURES as err:
            outcome = err
        self.outcomes.append((route, outcome))
        return outcome

    def succeeded(self, outcome: CallOutcome) -> bool:
        """Whether a call's outcome is an answer without an error."""
        return isinstance(outcome, Message) and not (
            "error" in outcome.DESCRIPTOR.fields_by_name and outcome.HasField("error")
        )

    def _key(self, process_guid: str, index: int) -> models.ActualLRPKey:
        return models.ActualLRPKey(process_guid=process_guid, index=index, domain=self.DOMAIN)

    @staticmethod
    def instance_key(process_guid: str, index: int, cell_id: str) -> models.ActualLRPInstanceKey:
        """The instance key the world's rep uses for an index on a cell (one per pair, so
        rules about one instance find it again)."""
        return Instance(process_guid, index, cell_id).instance_key

    # -- the cloud controller ------------------------------------------------------------------

    def _desire(self, lrp: models.DesiredLRP) -> Any:
        outcome = self.call("DesireDesiredLRP", models.DesireLRPRequest(desired_lrp=lrp))
        return lrp.process_guid if self.succeeded(outcome) else multiple()

    @precondition(rule_group("cloud_controller"))
    @rule(target=desired_lrps, lrp=machine_lrps())
    def desire(self, lrp: models.DesiredLRP) -> Any:
        return self._desire(lrp)

    @precondition(rule_group("cloud_controller"))
    @rule(process_guid=desired_lrps, update=desired_lrp_updates(instances=st.integers(0, 3)))
    def update(self, process_guid: str, update: models.DesiredLRPUpdate) -> None:
        request = models.UpdateDesiredLRPRequest(process_guid=process_guid, update=update)
        self.call("UpdateDesireLRP", request)

    @precondition(rule_group("cloud_controller"))
    @rule(process_guid=desired_lrps, instances=machine_instance_counts())
    def scale(self, process_guid: str, instances: int) -> None:
        update = models.DesiredLRPUpdate(instances=instances)
        self.call(
            "UpdateDesireLRP",
            models.UpdateDesiredLRPRequest(process_guid=process_guid, update=update),
        )

    @precondition(rule_group("cloud_controller"))
    @rule(process_guid=consumes(desired_lrps))
    def remove(self, process_guid: str) -> None:
        self.call("RemoveDesiredLRP", models.RemoveDesiredLRPRequest(process_guid=process_guid))

    # -- the reps and the auctioneer -------------------------------------------------------------

    @precondition(rule_group("reps"))
    @rule(
        target=instances,
        process_guid=desired_lrps,
        index=machine_indices(),
        cell_id=machine_cells(),
    )
    def claim(self, process_guid: str, index: int, cell_id: str) -> Any:
        instance = Instance(process_guid, index, cell_id)
        request = models.ClaimActualLRPRequest(
            process_guid=process_guid, index=index, actual_lrp_instance_key=instance.instance_key
        )
        return instance if self.succeeded(self.call("ClaimActualLRP", request)) else multiple()

    @precondition(rule_group("reps"))
    @rule(instance=instances)
    def start(self, instance: Instance) -> None:
        net_info = models.ActualLRPNetInfo(
            address="10.0.0.1",
            instance_address=f"10.255.0.{instance.index + 1}",
            ports=[models.PortMapping(container_port=8080, host_port=61000 + instance.index)],
        )
        request = models.StartActualLRPRequest(
            actual_lrp_key=self._key(instance.process_guid, instance.index),
            actual_lrp_instance_key=instance.instance_key,
            actual_lrp_net_info=net_info,
            Routable=True,
        )
        self.call("StartActualLRP", request)

    @precondition(rule_group("reps"))
    @rule(instance=instances)
    def crash(self, instance: Instance) -> None:
        request = models.CrashActualLRPRequest(
            actual_lrp_key=self._key(instance.process_guid, instance.index),
            actual_lrp_instance_key=instance.instance_key,
            error_message="exit status 1",
        )
        self.call("CrashActualLRP", request)

    @precondition(rule_group("reps"))
    @rule(process_guid=desired_lrps, index=machine_indices())
    def fail_placement(self, process_guid: str, index: int) -> None:
        request = models.FailActualLRPRequest(
            actual_lrp_key=self._key(process_guid, index), error_message="insufficient resources"
        )
        self.call("FailActualLRP", request)

    @precondition(rule_group("reps"))
    @rule(
        instance=instances,
        how=st.sampled_from(["running", "claimed", "stopped", "crashed", "remove_evacuating"]),
    )
    def evacuate(self, instance: Instance, how: str) -> None:
        key = self._key(instance.process_guid, instance.index)
        instance_key = instance.instance_key
        request: Message
        if how == "running":
            net_info = models.ActualLRPNetInfo(address="10.0.0.1")
            request = models.EvacuateRunningActualLRPRequest(
                actual_lrp_key=key,
                actual_lrp_instance_key=instance_key,
                actual_lrp_net_info=net_info,
            )
            self.call("EvacuateRunningActualLRP", request)
        elif how == "claimed":
            request = models.EvacuateClaimedActualLRPRequest(
                actual_lrp_key=key, actual_lrp_instance_key=instance_key
            )
            self.call("EvacuateClaimedActualLRP", request)
        elif how == "stopped":
            request = models.EvacuateStoppedActualLRPRequest(
                actual_lrp_key=key, actual_lrp_instance_key=instance_key
            )
            self.call("EvacuateStoppedActualLRP", request)
        elif how == "crashed":
            request = models.EvacuateCrashedActualLRPRequest(
                actual_lrp_key=key, actual_lrp_instance_key=instance_key, error_message="evacuated"
            )
            self.call("EvacuateCrashedActualLRP", request)
        else:
            request = models.RemoveEvacuatingActualLRPRequest(
                actual_lrp_key=key, actual_lrp_instance_key=instance_key
            )
            self.call("RemoveEvacuatingActualLRP", request)

    @precondition(rule_group("reps"))
    @rule(instance=instances)
    def remove_instance(self, instance: Instance) -> None:
        request = models.RemoveActualLRPRequest(
            process_guid=instance.process_guid,
            index=instance.index,
            actual_lrp_instance_key=instance.instance_key,
        )
        self.call("RemoveActualLRP", request)

    # -- tasks -----------------------------------------------------------------------------------

    @precondition(rule_group("tasks"))
    @rule(target=tasks, request=machine_tasks())
    def desire_task(self, request: models.DesireTaskRequest) -> Any:
        outcome = self.call("DesireTask", request)
        return request.task_guid if self.succeeded(outcome) else multiple()

    @precondition(rule_group("tasks"))
    @rule(task_guid=tasks, cell_id=machine_cells())
    def start_task(self, task_guid: str, cell_id: str) -> None:
        self.call("StartTask", models.StartTaskRequest(task_guid=task_guid, cell_id=cell_id))

    @precondition(rule_group("tasks"))
    @rule(task_guid=tasks, cell_id=machine_cells(), failed=st.booleans())
    def complete_task(self, task_guid: str, cell_id: str, failed: bool) -> None:
        request = models.CompleteTaskRequest(
            task_guid=task_guid,
            cell_id=cell_id,
            failed=failed,
            failure_reason="exit status 1" if failed else "",
            result="" if failed else "done",
        )
        self.call("CompleteTask", request)

    @precondition(rule_group("tasks"))
    @rule(task_guid=tasks)
    def fail_task(self, task_guid: str) -> None:
        request = models.FailTaskRequest(task_guid=task_guid, failure_reason="no cell")
        self.call("FailTask", request)

    @precondition(rule_group("tasks"))
    @rule(task_guid=tasks)
    def cancel_task(self, task_guid: str) -> None:
        self.call("CancelTask", models.TaskGuidRequest(task_guid=task_guid))

    @precondition(rule_group("tasks"))
    @rule(task_guid=tasks)
    def reject_task(self, task_guid: str) -> None:
        request = models.RejectTaskRequest(task_guid=task_guid, rejection_reason="no capacity")
        self.call("RejectTask", request)

    @precondition(rule_group("tasks"))
    @rule(task_guid=tasks)
    def resolve_task(self, task_guid: str) -> None:
        self.call("ResolvingTask", models.TaskGuidRequest(task_guid=task_guid))

    @precondition(rule_group("tasks"))
    @rule(task_guid=tasks)
    def delete_task(self, task_guid: str) -> None:
        self.call("DeleteTask", models.TaskGuidRequest(task_guid=task_guid))

    @precondition(rule_group("tasks"))
    @invariant()
    def tasks_are_consistent(self) -> None:
        """Each task is in one of the four states, with what that state implies: a cell while
        running (and none while pending, unless rejected), a first completion time once
        completed, a failure reason (and no result) when failed, never updated before it was
        created."""
        for task in self._tasks():
            assert task.state in TASK_STATES, task
            if task.state == models.Task.Running:
                assert task.cell_id != "", task
            if task.state == models.Task.Pending and task.rejection_count == 0:
                assert task.cell_id == "", task  # a rejected task keeps its cell, as upstream
            completed = task.state in (models.Task.Completed, models.Task.Resolving)
            assert (task.first_completed_at != 0) == completed, task
            assert task.updated_at >= task.created_at, task
            if task.failed:
                assert task.failure_reason != "" and task.result == "", task
            if not completed:
                assert not task.failed and task.result == "", task

    def _tasks(self) -> Iterable[models.Task]:
        if self._fake is not None:
            return self._fake.snapshot().tasks.values()
        response = self.world.call("Tasks", models.TasksRequest(domain=self.DOMAIN))
        return list(getattr(response, "tasks", []))

    # -- cells, faults, time -----------------------------------------------------------------------

    @precondition(rule_group("cells"))
    @rule(cell_id=machine_cells())
    def register_cell(self, cell_id: str) -> None:
        self.bbs.seed.cell(models.CellPresence(cell_id=cell_id))

    @precondition(rule_group("cells"))
    @rule(cell_id=machine_cells())
    def unregister_cell(self, cell_id: str) -> None:
        self.bbs.unregister_cell(cell_id)

    @precondition(rule_group("faults"))
    @rule(data=st.data())
    def inject_faults(self, data: st.DataObject) -> None:
        schedule: FaultSchedule = data.draw(
            quick_fault_schedules(self.FAULT_ROUTES), label="faults"
        )
        self.fault_rules.extend(schedule.apply(self.bbs))

    @precondition(lambda self: "faults" in self.enabled_rules and bool(self.fault_rules))
    @rule()
    def clear_faults(self) -> None:
        self.bbs.clear_faults()
        self.fault_rules.clear()

    @precondition(rule_group("clock"))
    @rule(seconds=st.sampled_from([1, 30, 60, 300, 1000]))
    def advance_clock(self, seconds: int) -> None:
        self.bbs.clock.advance(seconds)

    @precondition(rule_group("clock"))
    @rule()
    def converge(self) -> None:
        self.bbs.converge()
