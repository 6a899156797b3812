"""``python -m fakebbs.stress``: a bounded, timed load on a fake BBS, then a check of its state.

Without ``--url`` it starts ``fakebbs serve --port 0`` as a child process (so the load really
crosses a process boundary) and stops it with SIGTERM at the end; with ``--url`` it targets a
fake already running on this machine. Traffic goes to loopback only: a URL whose host is not a
loopback address is refused before anything is sent.

For ``--duration`` seconds, from one keep-alive connection per thread:

* writers desire, update, remove and read desired LRPs of their own;
* lifecycle workers drive LRPs of their own through claim, start, crash, claim, start and remove,
  and tasks through desire, start, complete, resolving and delete;
* subscribers read the LRP, LRP instance and task event streams.

Each thread keeps a ledger of what the server acknowledged. At the end the whole state of this
run (its own domain) is read back and compared with the ledgers: an acknowledged write that is
not there (or a removal whose item is still there) is a lost write. Event subscribers must have
seen one created event per acknowledged desire. The report gives requests served, 5xx answers,
bad answers (an unexpected BBS error or a read that disagrees with the ledger), dropped
connections, lost writes, events and missed events, and the server's thread count before, at
its peak during, and after the load (only for a server started here). The exit status is 0 when
every problem count is zero, 1 otherwise, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import random
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fakebbs import models
from fakebbs.client import BBSClient, EventSource
from fakebbs.errors import BBSError, InvalidResponse

__all__ = ["Ledger", "StressReport", "find_lost_writes", "main", "run"]

T = TypeVar("T")

_STARTUP_TIMEOUT = 30.0  # seconds for a started server to print its "listening" line
_DRAIN_TIMEOUT = 10.0  # seconds subscribers get to catch up with the last acknowledged writes
_MAX_OWNED = 40  # desired LRPs a writer keeps at once, so the state stays small
_SHOWN_PROBLEMS = 10  # problem descriptions kept in the report

_TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


# ---------------------------------------------------------------------------------------------
# What the server acknowledged, and how it is checked


@dataclass
class Ledger:
    """What one thread's acknowledged writes say the final state holds.

    ``desired`` maps a process guid to its (instances, annotation); ``removed`` holds guids
    whose removal was acknowledged; ``actuals`` maps (process guid, index) to (state, instance
    guid), or None for an instance whose removal was acknowledged; ``tasks`` maps a task guid to
    its state, or None once deleted. ``uncertain`` holds guids a write to which failed in
    transport (it may or may not have happened), or was refused against the ledger's
    expectation (already counted as a bad answer): they are not checked again.
    """

    desired: dict[str, tuple[int, str]] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    actuals: dict[tuple[str, int], tuple[str, str] | None] = field(default_factory=dict)
    tasks: dict[str, str | None] = field(default_factory=dict)
    uncertain: set[str] = field(default_factory=set)
    acknowledged: int = 0
    desires: int = 0
    task_desires: int = 0

    def merge(self, other: Ledger) -> None:
        """Add another thread's ledger (their guids never overlap)."""
        self.desired.update(other.desired)
        self.removed |= other.removed
        self.actuals.update(other.actuals)
        self.tasks.update(other.tasks)
        self.uncertain |= other.uncertain
        self.acknowledged += other.acknowledged
        self.desires += other.desires
        self.task_desires += other.task_desires


def find_lost_writes(
    ledger: Ledger,
    desired: Sequence[models.DesiredLRP],
    actuals: Sequence[models.ActualLRP],
    tasks: Sequence[models.Task],
) -> list[str]:
    """Every acknowledged write the final state does not show, one line each."""
    lost: list[str] = []
    found = {lrp.process_guid: lrp for lrp in desired}
    for guid, (instances, annotation) in sorted(ledger.desired.items()):
        if guid in ledger.uncertain:
            continue
        lrp = found.get(guid)
        if lrp is None:
            lost.append(f"desired LRP {guid}: acknowledged, missing")
        elif (lrp.instances, lrp.annotation) != (instances, annotation):
            lost.append(
                f"desired LRP {guid}: acknowledged instances={instances} "
                f"annotation={annotation!r}, found instances={lrp.instances} "
                f"annotation={lrp.annotation!r}"
            )
    for guid in sorted(ledger.removed - ledger.uncertain):
        if guid in found:
            lost.append(f"desired LRP {guid}: removal acknowledged, still there")
    rows: dict[tuple[str, int], list[models.ActualLRP]] = {}
    for actual in actuals:
        key = (actual.actual_lrp_key.process_guid, actual.actual_lrp_key.index)
        rows.setdefault(key, []).append(actual)
    for (guid, index), expected in sorted(ledger.actuals.items()):
        if guid in ledger.uncertain:
            continue
        seen = [
            (a.state, a.actual_lrp_instance_key.instance_guid) for a in rows.get((guid, index), [])
        ]
        if expected is None:
            if seen:
                lost.append(f"actual LRP {guid}/{index}: removal acknowledged, found {seen}")
        elif expected not in seen:
            lost.append(f"actual LRP {guid}/{index}: acknowledged {expected}, found {seen}")
    states = {task.task_guid: models.Task.State.Name(task.state) for task in tasks}
    for guid, state in sorted(ledger.tasks.items()):
        if guid in ledger.uncertain:
            continue
        if states.get(guid) != state:
            shown = "missing" if state is None else state
            lost.append(f"task {guid}: acknowledged {shown}, found {states.get(guid, 'missing')}")
    return lost


# ---------------------------------------------------------------------------------------------
# Counting calls


@dataclass
class _Tally:
    """One thread's counts; merged into the report at the end."""

    requests: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    bad_answers: int = 0
    dropped: int = 0
    events: int = 0
    created: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < _SHOWN_PROBLEMS:
            self.problems.append(text)

    def merge(self, other: _Tally) -> None:
        self.requests.update(other.requests)
        self.server_errors += other.server_errors
        self.bad_answers += other.bad_answers
        self.dropped += other.dropped
        self.events += other.events
        self.created += other.created
        self.problems.extend(other.problems[: _SHOWN_PROBLEMS - len(self.problems)])


class _Failed(Exception):
    """A call did not succeed; it has been counted, the caller only changes course."""


def _counted(tally: _Tally, kind: str, call: Callable[[], T]) -> T:
    """Make one call, count it under ``kind``, and classify a failure."""
    tally.requests[kind] += 1
    try:
        return call()
    except InvalidResponse as err:
        if err.message.startswith("Invalid Response with status code: 5"):
            tally.server_errors += 1
        else:
            tally.bad_answers += 1
        tally.problem(f"{kind}: {err.message}")
        raise _Failed from err
    except BBSError as err:
        tally.bad_answers += 1
        tally.problem(f"{kind}: {type(err).__name__}: {err.message}")
        raise _Failed from err
    except _TRANSPORT_ERRORS as err:
        tally.dropped += 1
        tally.problem(f"{kind}: connection failed: {err!r}")
        raise _Failed from err


# ---------------------------------------------------------------------------------------------
# The load


@dataclass(frozen=True)
class _Run:
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


class _Writer:
    """Desires, updates, removes and reads desired LRPs of its own, at random."""

    def __init__(self, run: _Run, number: int, seed: int, tally: _Tally, ledger: Ledger) -> None:
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
                except _Failed:
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
        lrp = _counted(self.tally, "get", lambda: bbs.desired_lrp_by_process_guid(guid))
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
            _counted(self.tally, kind, call)
        except _Failed:
            self.ledger.uncertain.add(guid)
            raise
        self.ledger.acknowledged += 1


def _lifecycle_steps(
    run: _Run, bbs: BBSClient, number: int, cycle: int, ledger: Ledger
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


def _lifecycle(run: _Run, number: int, tally: _Tally, ledger: Ledger) -> None:
    """Drive LRPs and tasks of its own through their lifecycles, one step per call."""
    cycle = 0
    with run.client() as bbs:
        while run.going():
            for kind, call, note, guid in _lifecycle_steps(run, bbs, number, cycle, ledger):
                if not run.going():
                    return
                try:
                    _counted(tally, kind, call)
                except _Failed:
                    # Lost in transport, or the server disagrees with the ledger (counted as a
                    # bad answer): either way what became of it is unknown, so it is not checked.
                    ledger.uncertain.add(guid)
                    break
                note()
                ledger.acknowledged += 1
            cycle += 1


_STREAMS = ("EventStream", "LRPInstanceEventStream", "TaskEventStream")
_CREATED = (models.DesiredLRPCreatedEvent, models.TaskCreatedEvent)


@dataclass
class _Subscriber:
    """One event stream read from its own connection until the run is over."""

    route_name: str
    domain: str
    tally: _Tally = field(default_factory=_Tally)
    source: EventSource | None = None
    ended_early: bool = False

    def open(self, run: _Run) -> None:
        client = run.client()
        try:
            self.source = _counted(
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
            except _TRANSPORT_ERRORS as err:
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


# ---------------------------------------------------------------------------------------------
# The server under load


class _ServerProcess:
    """``fakebbs serve --port 0`` as a child process, and its thread count."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fakebbs", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # one line per request; reading it is not the point
            text=True,
        )
        assert self.process.stdout is not None
        ready = threading.Event()
        lines: list[str] = []

        def read_line() -> None:
            assert self.process.stdout is not None
            lines.append(self.process.stdout.readline())
            ready.set()

        threading.Thread(target=read_line, daemon=True).start()
        if not ready.wait(_STARTUP_TIMEOUT) or not lines[0].startswith("fakebbs listening on "):
            self.process.kill()
            self.process.wait()
            self.process.stdout.close()
            raise RuntimeError(f"fakebbs serve did not start: {lines[:1]!r}")
        self.url = lines[0].removeprefix("fakebbs listening on ").strip()

    def threads(self) -> int | None:
        """The server process's thread count (Linux /proc), None where unknown."""
        try:
            with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("Threads:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self) -> int:
        """SIGTERM, then the exit status (killed after 10 s: status -9)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            assert self.process.stdout is not None
            self.process.stdout.close()


@contextmanager
def _sampling(read: Callable[[], int | None], samples: list[int]) -> Iterator[None]:
    """Sample ``read()`` every 0.1 s while the block runs."""
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            value = read()
            if value is not None:
                samples.append(value)

    thread = threading.Thread(target=sample, name="fakebbs-stress-sampler", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


# ---------------------------------------------------------------------------------------------
# The run and its report


@dataclass
class StressReport:
    """The figures of one run; ``ok`` when every problem count is zero."""

    url: str
    started_server: bool
    duration: float
    writers: int
    lifecycle: int
    subscribers: int
    requests: int
    requests_by_kind: dict[str, int]
    server_errors: int
    bad_answers: int
    dropped: int
    acknowledged_writes: int
    lost_writes: int
    events: int
    missed_events: int
    threads_before: int | None
    threads_peak: int | None
    threads_after: int | None
    server_exit: int | None
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not (
            self.server_errors
            or self.bad_answers
            or self.dropped
            or self.lost_writes
            or self.missed_events
            or self.server_exit
        )

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "requests_per_second": self.rate, "ok": self.ok}

    @property
    def rate(self) -> float:
        return self.requests / self.duration if self.duration > 0 else 0.0

    def text(self) -> str:
        def shown(value: int | None) -> str:
            return "n/a" if value is None else str(value)

        where = "started here" if self.started_server else "already running"
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.requests_by_kind.items()))
        lines = [
            f"fakebbs stress: {self.duration:.1f} s against {self.url} ({where})",
            f"  connections     {self.writers} writers, {self.lifecycle} lifecycle, "
            f"{self.subscribers} subscribers",
            f"  requests        {self.requests} ({self.rate:.0f}/s)",
            f"  by kind         {kinds}",
            f"  5xx             {self.server_errors}",
            f"  bad answers     {self.bad_answers}",
            f"  dropped         {self.dropped}",
            f"  lost writes     {self.lost_writes} (of {self.acknowledged_writes} acknowledged)",
            f"  events          {self.events} (missed {self.missed_events})",
            f"  server threads  {shown(self.threads_before)} before, "
            f"{shown(self.threads_peak)} peak, {shown(self.threads_after)} after",
        ]
        if self.started_server:
            lines.append(f"  server exit     {shown(self.server_exit)}")
        lines.extend(f"  problem: {problem}" for problem in self.problems)
        lines.append(f"result: {'ok' if self.ok else 'FAILED'}")
        return "\n".join(lines)


def run(
    url: str | None = None,
    *,
    duration: float = 30.0,
    writers: int = 4,
    lifecycle: int = 2,
    subscribers: int = 3,
    ssl_context: ssl.SSLContext | None = None,
    seed: int | None = None,
) -> StressReport:
    """Run the load against ``url`` (None: a ``fakebbs serve`` started here) and check it."""
    if url is not None:
        refuse_unless_loopback(url)
    server = _ServerProcess() if url is None else None
    target = server.url if server is not None else url
    assert target is not None
    count_threads = server.threads if server is not None else lambda: None
    try:
        report = _load(
            target,
            count_threads,
            duration=duration,
            writers=writers,
            lifecycle=lifecycle,
            subscribers=subscribers,
            ssl_context=ssl_context,
            seed=random.randrange(1 << 30) if seed is None else seed,
        )
    finally:
        exit_status = server.stop() if server is not None else None
    report.server_exit = exit_status
    report.started_server = server is not None
    return report


def _load(
    url: str,
    count_threads: Callable[[], int | None],
    *,
    duration: float,
    writers: int,
    lifecycle: int,
    subscribers: int,
    ssl_context: ssl.SSLContext | None,
    seed: int,
) -> StressReport:
    domain = f"stress-{uuid.uuid4().hex[:8]}"
    threads_before = count_threads()
    finished = threading.Event()
    streams = [_Subscriber(_STREAMS[i % len(_STREAMS)], domain) for i in range(subscribers)]
    run_ = _Run(url, ssl_context, domain, 0.0, finished)
    for subscriber in streams:
        try:
            subscriber.open(run_)
        except _Failed:
            pass
    readers = [
        threading.Thread(target=s.read, args=(finished,), name=f"fakebbs-stress-{s.route_name}")
        for s in streams
        if s.source is not None
    ]
    for reader in readers:
        reader.start()

    started = time.monotonic()
    run_ = _Run(url, ssl_context, domain, started + duration, threading.Event())
    tallies = [_Tally() for _ in range(writers + lifecycle)]
    ledgers = [Ledger() for _ in range(writers + lifecycle)]
    workers = [
        threading.Thread(target=_Writer(run_, i, seed + i, tallies[i], ledgers[i]))
        for i in range(writers)
    ] + [
        threading.Thread(
            target=_lifecycle, args=(run_, i, tallies[writers + i], ledgers[writers + i])
        )
        for i in range(lifecycle)
    ]
    peak: list[int] = []
    with _sampling(count_threads, peak):
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    elapsed = time.monotonic() - started

    ledger = Ledger()
    for written in ledgers:
        ledger.merge(written)
    # Subscribers get a while to catch up with the last acknowledged desires.
    drain_until = time.monotonic() + _DRAIN_TIMEOUT
    while time.monotonic() < drain_until and any(
        s.tally.created < s.expected_created(ledger) and not s.ended_early for s in streams
    ):
        time.sleep(0.05)
    finished.set()
    for reader in readers:
        reader.join()
    for subscriber in streams:
        if subscriber.source is not None:
            subscriber.source.close()

    tally = _Tally()
    for part in tallies + [s.tally for s in streams]:
        tally.merge(part)
    missed = sum(
        max(s.expected_created(ledger) - s.tally.created, 0)
        for s in streams
        if s.source is not None and not s.ended_early
    )
    lost: list[str] = []
    with BBSClient(url, ssl_context=ssl_context, timeout=60.0) as bbs:
        try:
            lost = find_lost_writes(
                ledger,
                _counted(tally, "check", lambda: bbs.desired_lrps(domain=domain)),
                _counted(tally, "check", lambda: bbs.actual_lrps(domain=domain)),
                _counted(tally, "check", lambda: bbs.tasks_with_filter(domain=domain)),
            )
        except _Failed:
            lost = ["the final state could not be read"]
    time.sleep(0.5)  # let the server finish with the connections just closed
    threads_after = count_threads()
    return StressReport(
        url=url,
        started_server=False,
        duration=elapsed,
        writers=writers,
        lifecycle=lifecycle,
        subscribers=subscribers,
        requests=sum(tally.requests.values()),
        requests_by_kind=dict(tally.requests),
        server_errors=tally.server_errors,
        bad_answers=tally.bad_answers,
        dropped=tally.dropped,
        acknowledged_writes=ledger.acknowledged,
        lost_writes=len(lost),
        events=tally.events,
        missed_events=missed,
        threads_before=threads_before,
        threads_peak=max(peak, default=threads_before),
        threads_after=threads_after,
        server_exit=None,
        problems=(tally.problems + lost)[:_SHOWN_PROBLEMS],
    )


def refuse_unless_loopback(url: str) -> None:
    """Raise ValueError unless every address ``url``'s host resolves to is a loopback one."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http or https URL, got {url!r}")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as err:
        raise ValueError(f"cannot resolve {parts.hostname!r}: {err}") from err
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise ValueError(
            f"{parts.hostname} is not a loopback address ({', '.join(sorted(addresses))}): "
            "the stress command sends traffic to this machine only"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m fakebbs.stress",
        description="Run a bounded, timed load against a fake BBS and check its state after.",
    )
    parser.add_argument(
        "--url", help="a fake BBS already running on loopback (default: start one here)"
    )
    parser.add_argument("--duration", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--writers", type=int, default=4, help="desired LRP writer connections")
    parser.add_argument("--lifecycle", type=int, default=2, help="lifecycle connections")
    parser.add_argument("--subscribers", type=int, default=3, help="event stream connections")
    parser.add_argument("--seed", type=int, help="seed for the writers' choices")
    parser.add_argument("--ca-file", help="CA to verify an https --url with")
    parser.add_argument("--cert-file", help="client certificate for mutual TLS")
    parser.add_argument("--key-file", help="client certificate's key")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    if args.duration <= 0 or min(args.writers, args.lifecycle, args.subscribers) < 0:
        print("fakebbs.stress: --duration must be positive, counts not negative", file=sys.stderr)
        return 2
    context = None
    if args.ca_file or args.cert_file:
        context = ssl.create_default_context(cafile=args.ca_file)
        if args.cert_file:
            context.load_cert_chain(args.cert_file, args.key_file)
    try:
        report = run(
            args.url,
            duration=args.duration,
            writers=args.writers,
            lifecycle=args.lifecycle,
            subscribers=args.subscribers,
            ssl_context=context,
            seed=args.seed,
        )
    except ValueError as err:
        print(f"fakebbs.stress: {err}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), sort_keys=True) if args.json else report.text(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
