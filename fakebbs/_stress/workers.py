"""The threads of the load: writers of desired LRPs, lifecycle workers that drive LRPs and
tasks through their states, and subscribers to the event streams; each keeps its ledger."""

from __future__ import annotations

import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from fakebbs import models
from fakebbs._client.transport import TRANSPORT_ERRORS
from fakebbs._stress.ledger import Failed, Ledger, Tally, counted
from fakebbs.client import BBSClient, EventSource

__all__ = ["STREAMS", "Run", "Subscriber", "Writer", "lifecycle_worker"]

_MAX_OWNED = 40  # desired LRPs a writer keeps at once, so the state stays small


@dataclass(frozen=True)
class Run:
    """What every thread of one run shares."""

    url: str
    ssl_context: ssl.SSLContext | None
    domain: str
    deadline: float
    stop: threading.Event

    def client(self) -> BBSClient:
        return BBSClient(self.url, ssl_context=self.ssl_context, timeout=30.0)

    def going(self) -> bool:
        return time.monotonic() < self.deadline and not self.stop.is_set()


def _desired_lrp(process_guid: str, domain: str, instances: int) -> models.DesiredLRP:
    lrp = models.DesiredLRP(
        process_guid=process_guid,
        domain=domain,
        root_fs="preloaded:cflinuxfs4",
        instances=instances,
        memory_mb=256,
        disk_mb=1024,
        log_guid=process_guid,
        action=models.Action(run_action=models.RunAction(path="/bin/app", user="vcap")),
    )
    lrp.metric_tags["source_id"].static = process_guid
    return lrp


class Writer:
    """Desires, updates, removes and reads desired LRPs of its own, at random."""

    def __init__(self, run: Run, number: int, seed: int, tally: Tally, ledger: Ledger) -> None:
        self.run = run
        self.number = number
        self.rng = random.Random(seed)
        self.tally = tally
        self.ledger = ledger
        self.owned: list[str] = []
        self.created = 0

    def __call__(self) -> None:
        with self.run.client() as bbs:
            while self.run.going():
                roll = self.rng.random()
                try:
                    if not self.owned or (roll < 0.3 and len(self.owned) < _MAX_OWNED):
                        self.desire(bbs)
                    elif roll < 0.6:
                        self.update(bbs, self.rng.choice(self.owned))
                    elif roll < 0.8:
                        self.remove(bbs, self.owned.pop(self.rng.randrange(len(self.owned))))
                    else:
                        self.get(bbs, self.rng.choice(self.owned))
                except Failed:
                    continue

    def desire(self, bbs: BBSClient) -> None:
        guid = f"{self.run.domain}-w{self.number}-{self.created}"
        self.created += 1
        instances = self.rng.randint(1, 3)
        lrp = _desired_lrp(guid, self.run.domain, instances)
        self.write(guid, "desire", lambda: bbs.desire_lrp(lrp))
        self.ledger.desired[guid] = (instances, "")
        self.ledger.desires += 1
        self.owned.append(guid)

    def update(self, bbs: BBSClient, guid: str) -> None:
        instances = self.rng.randint(1, 3)
        annotation = f"update-{self.rng.randrange(1 << 30)}"
        update = models.DesiredLRPUpdate(instances=instances, annotation=annotation)
        self.write(guid, "update", lambda: bbs.update_desired_lrp(guid, update))
        self.ledger.desired[guid] = (instances, annotation)

    def remove(self, bbs: BBSClient, guid: str) -> None:
        self.write(guid, "remove", lambda: bbs.remove_desired_lrp(guid))
        del self.ledger.desired[guid]
        self.ledger.removed.add(guid)

    def get(self, bbs: BBSClient, guid: str) -> None:
        lrp = counted(self.tally, "get", lambda: bbs.desired_lrp_by_process_guid(guid))
        expected = self.ledger.desired[guid]
        if guid not in self.ledger.uncertain and (lrp.instances, lrp.annotation) != expected:
            self.tally.bad_answers += 1
            self.tally.problem(
                f"get {guid}: answered instances={lrp.instances} "
                f"annotation={lrp.annotation!r}, acknowledged {expected}"
            )

    def write(self, guid: str, kind: str, call: Callable[[], object]) -> None:
        """Make a write; if it fails, what became of ``guid`` is unknown from then on."""
        try:
            counted(self.tally, kind, call)
        except Failed:
            self.ledger.uncertain.add(guid)
            raise
        self.ledger.acknowledged += 1


def _lifecycle_steps(
    run: Run, bbs: BBSClient, number: int, cycle: int, ledger: Ledger
) -> Iterator[tuple[str, Callable[[], object], Callable[[], None], str]]:
    """One cycle's calls, each with the ledger entry it makes once acknowledged, and the guid
    it concerns (marked uncertain if the call fails)."""
    guid = f"{run.domain}-l{number}-{cycle}"
    cell = f"{run.domain}-cell-{number}"
    key0 = models.ActualLRPKey(process_guid=guid, index=0, domain=run.domain)
    key1 = models.ActualLRPKey(process_guid=guid, index=1, domain=run.domain)
    first = models.ActualLRPInstanceKey(instance_guid=f"{guid}-i0a", cell_id=cell)
    second = models.ActualLRPInstanceKey(instance_guid=f"{guid}-i0b", cell_id=cell)
    other = models.ActualLRPInstanceKey(instance_guid=f"{guid}-i1", cell_id=cell)
    net = models.ActualLRPNetInfo(address="10.0.0.1", instance_address="10.255.0.1")

    def desired(index: int, state: str, instance: str = "") -> Callable[[], None]:
        def note() -> None:
            ledger.actuals[(guid, index)] = (state, instance)

        return note

    def desire() -> None:
        ledger.desired[guid] = (2, "")
        ledger.desires += 1
        desired(0, "UNCLAIMED")()
        desired(1, "UNCLAIMED")()

    def removed_actual() -> None:
        ledger.actuals[(guid, 1)] = None

    def removed_desired() -> None:
        del ledger.desired[guid]
        ledger.removed.add(guid)
        # What becomes of the instances left depends on cell presence: not checked.
        ledger.actuals.pop((guid, 0), None)
        ledger.actuals.pop((guid, 1), None)

    yield "desire", lambda: bbs.desire_lrp(_desired_lrp(guid, run.domain, 2)), desire, guid
    claimed = desired(0, "CLAIMED", first.instance_guid)
    yield "claim", lambda: bbs.claim_actual_lrp(key0, first), claimed, guid
    running = desired(0, "RUNNING", first.instance_guid)
    yield "start", lambda: bbs.start_actual_lrp(key0, first, net), running, guid
    yield (
        "crash",
        lambda: bbs.crash_actual_lrp(key0, first, "stress"),
        desired(0, "UNCLAIMED"),
        guid,
    )
    claimed = desired(0, "CLAIMED", second.instance_guid)
    yield "claim", lambda: bbs.claim_actual_lrp(key0, second), claimed, guid
    running = desired(0, "RUNNING", second.instance_guid)
    yield "start", lambda: bbs.start_actual_lrp(key0, second, net), running, guid
    claimed = desired(1, "CLAIMED", other.instance_guid)
    yield "claim", lambda: bbs.claim_actual_lrp(key1, other), claimed, guid
    running = desired(1, "RUNNING", other.instance_guid)
    yield "start", lambda: bbs.start_actual_lrp(key1, other, net), running, guid
    yield "remove actual", lambda: bbs.remove_actual_lrp(key1, other), removed_actual, guid

    task = f"{run.domain}-t{number}-{cycle}"
    definition = models.TaskDefinition(
        root_fs="preloaded:cflinuxfs4",
        action=models.Action(run_action=models.RunAction(path="/bin/task", user="vcap")),
        log_guid=task,
    )

    def task_state(state: str | None) -> Callable[[], None]:
        def note() -> None:
            ledger.tasks[task] = state
            if state == "Pending":
                ledger.task_desires += 1

        return note

    yield (
        "task desire",
        lambda: bbs.desire_task(task, run.domain, definition),
        task_state("Pending"),
        task,
    )
    yield "task start", lambda: bbs.start_task(task, cell), task_state("Running"), task
    complete = lambda: bbs.complete_task(task, cell, False, result="done")  # noqa: E731
    yield "task complete", complete, task_state("Completed"), task
    if cycle % 2:  # every other task is left completed
        yield "task resolving", lambda: bbs.resolving_task(task), task_state("Resolving"), task
        yield "task delete", lambda: bbs.delete_task(task), task_state(None), task
    if cycle % 3:  # every third LRP is left in place
        yield "remove", lambda: bbs.remove_desired_lrp(guid), removed_desired, guid


def lifecycle_worker(run: Run, number: int, tally: Tally, ledger: Ledger) -> None:
    """Drive LRPs and tasks of its own through their lifecycles, one step per call."""
    cycle = 0
    with run.client() as bbs:
        while run.going():
            for kind, call, note, guid in _lifecycle_steps(run, bbs, number, cycle, ledger):
                if not run.going():
                    return
                try:
                    counted(tally, kind, call)
                except Failed:
                    # Lost in transport, or the server disagrees with the ledger (counted as a
                    # bad answer): either way what became of it is unknown, so it is not checked.
                    ledger.uncertain.add(guid)
                    break
                note()
                ledger.acknowledged += 1
            cycle += 1


STREAMS = ("EventStream", "LRPInstanceEventStream", "TaskEventStream")


_CREATED = (models.DesiredLRPCreatedEvent, models.TaskCreatedEvent)


@dataclass
class Subscriber:
    """One event stream read from its own connection until the run is over."""

    route_name: str
    domain: str
    tally: Tally = field(default_factory=Tally)
    source: EventSource | None = None
    ended_early: bool = False

    def open(self, run: Run) -> None:
        client = run.client()
        try:
            self.source = counted(
                self.tally, "subscribe", lambda: client.subscribe(self.route_name)
            )
        finally:
            client.close()

    def read(self, finished: threading.Event) -> None:
        assert self.source is not None
        while not finished.is_set():
            try:
                event = self.source.next(timeout=0.2)
            except TimeoutError:
                continue
            except EOFError:
                self.ended_early = True
                self.tally.dropped += 1
                self.tally.problem(f"{self.route_name}: the stream ended during the run")
                return
            except TRANSPORT_ERRORS as err:
                self.ended_early = True
                self.tally.dropped += 1
                self.tally.problem(f"{self.route_name}: the stream broke: {err!r}")
                return
            self.tally.events += 1
            if isinstance(event, models.DesiredLRPCreatedEvent):
                if event.desired_lrp.domain == self.domain:
                    self.tally.created += 1
            elif isinstance(event, models.TaskCreatedEvent) and event.task.domain == self.domain:
                self.tally.created += 1

    def expected_created(self, ledger: Ledger) -> int:
        return ledger.task_desires if self.route_name == "TaskEventStream" else ledger.desires
