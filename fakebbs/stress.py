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
import ipaddress
import json
import random
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fakebbs._stress.ledger import SHOWN_PROBLEMS, Failed, Ledger, Tally, counted, find_lost_writes
from fakebbs._stress.server import ServerProcess, sampling
from fakebbs._stress.workers import STREAMS, Run, Subscriber, Writer, lifecycle_worker
from fakebbs.client import BBSClient

__all__ = ["Ledger", "StressReport", "find_lost_writes", "main", "run"]

_DRAIN_TIMEOUT = 10.0  # seconds subscribers get to catch up with the last acknowledged writes


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
    server = ServerProcess() if url is None else None
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
    streams = [Subscriber(STREAMS[i % len(STREAMS)], domain) for i in range(subscribers)]
    run_ = Run(url, ssl_context, domain, 0.0, finished)
    for subscriber in streams:
        try:
            subscriber.open(run_)
        except Failed:
            pass
    readers = [
        threading.Thread(target=s.read, args=(finished,), name=f"fakebbs-stress-{s.route_name}")
        for s in streams
        if s.source is not None
    ]
    for reader in readers:
        reader.start()

    started = time.monotonic()
    run_ = Run(url, ssl_context, domain, started + duration, threading.Event())
    tallies = [Tally() for _ in range(writers + lifecycle)]
    ledgers = [Ledger() for _ in range(writers + lifecycle)]
    workers = [
        threading.Thread(target=Writer(run_, i, seed + i, tallies[i], ledgers[i]))
        for i in range(writers)
    ] + [
        threading.Thread(
            target=lifecycle_worker, args=(run_, i, tallies[writers + i], ledgers[writers + i])
        )
        for i in range(lifecycle)
    ]
    peak: list[int] = []
    with sampling(count_threads, peak):
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

    tally = Tally()
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
                counted(tally, "check", lambda: bbs.desired_lrps(domain=domain)),
                counted(tally, "check", lambda: bbs.actual_lrps(domain=domain)),
                counted(tally, "check", lambda: bbs.tasks_with_filter(domain=domain)),
            )
        except Failed:
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
        problems=(tally.problems + lost)[:SHOWN_PROBLEMS],
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
