"""``python -m fakebbs.bench``: how fast the fake is, each figure beside a same-run baseline.

Figures are printed, never asserted (a 2-core machine shared with other work is noisy); each
comes with the baseline it should be read against and the ratio fakebbs/baseline:

* per call, p50 and p99 over one keep-alive loopback connection, plain and mutual TLS, and
  in-process (no socket): baseline, a bare WSGI app on cheroot answering the same bytes;
* every list route at two sizes over HTTP: baseline, the bare app answering the same bytes
  already built;
* requests per second with 1 and 8 concurrent keep-alive clients (the server in a child
  process): baseline, the bare app;
* fixture costs: start to first answer, stop, reset, snapshot and restore, seeding, and what
  the call journal adds to a call (figures for APIs a fake does not have print "n/a");
* memory per desired LRP with 3 actual LRPs;
* the simulated Diego (``--diego`` alone): 1,000 cells and 100,000 instances placed and
  RUNNING: baseline, the same instances claimed and started by hand through a client.

``--quick`` runs everything at small sizes in seconds (CI runs it once to prove the command
works); ``--json`` prints one JSON object. ``--real-url`` with ``--real-ca``, ``--real-cert``
and ``--real-key`` also times the per-call figures against a real BBS, as a third column.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
from collections.abc import Callable, Iterable, Sequence

from fakebbs._bench.calls import RealBBS, per_call, server_layer
from fakebbs._bench.figures import NOT_AVAILABLE, BenchReport, Figure, Sizes, machine
from fakebbs._bench.fixtures import fixtures, memory
from fakebbs._bench.lists import LIST_ROUTES, lists
from fakebbs._bench.load import load
from fakebbs._bench.servers import tls_or_none
from fakebbs._bench.throughput import throughput
from fakebbs._bench.workload import CALL_LABELS

__all__ = [
    "CALL_LABELS",
    "LIST_ROUTES",
    "NOT_AVAILABLE",
    "SECTIONS",
    "STRATEGIES",
    "BenchReport",
    "Figure",
    "Sizes",
    "main",
    "run",
]


SECTIONS = ("calls", "layers", "lists", "rps", "fixtures", "memory", "diego", "load")
"""The sections a plain run measures."""


STRATEGIES = "strategies"
"""The Hypothesis strategies section (``--strategies``; needs the hypothesis extra)."""


def _diego(sizes: Sizes) -> list[Figure]:
    """The simulated Diego: cells and instances placed and RUNNING (``fakebbs._diego``)."""
    from fakebbs._bench.diego import by_hand, simulated

    cells, instances = sizes.diego_cells, sizes.diego_instances
    sim = simulated(cells, instances)
    hand = by_hand(cells, instances)
    if sim.running != instances or hand.running != instances:
        raise RuntimeError(f"only {sim.running} / {hand.running} of {instances} instances ran")
    section = f"simulated Diego: {cells:,} cells, {instances:,} instances placed and RUNNING"
    baseline = "claimed and started by hand through an in-process client"
    return [
        Figure(
            section,
            "wall time",
            "s",
            sim.seconds,
            hand.seconds,
            baseline,
            target="10 s" if (cells, instances) == (1_000, 100_000) else "",
        ),
        Figure(section, "CPU time", "s", sim.cpu_seconds, hand.cpu_seconds, baseline),
        Figure(
            section,
            "instances per second",
            "inst/s",
            instances / sim.seconds,
            instances / hand.seconds,
            baseline,
            higher_is_better=True,
        ),
    ]


def _strategies(sizes: Sizes) -> list[Figure]:
    from fakebbs._bench.strategies import figures

    section = "Hypothesis strategies and state machine (@given, generate phase)"
    return [
        Figure(
            section,
            name,
            unit,
            value,
            baseline,
            baseline_name,
            target=target,
            higher_is_better=True,
        )
        for name, unit, value, baseline, baseline_name, target in figures(
            sizes.draws, sizes.machine_examples
        )
    ]


def run(
    sizes: Sizes | None = None,
    *,
    sections: Iterable[str] = SECTIONS,
    real_url: str | None = None,
    real_context: ssl.SSLContext | None = None,
    progress: Callable[[str], None] = lambda section: None,
) -> BenchReport:
    """Measure the chosen sections and return the figures."""
    sizes = sizes or Sizes()
    report = BenchReport(machine=machine())
    started = time.monotonic()
    real = None
    if real_url is not None:
        if real_context is None:
            raise ValueError("a real BBS needs its client certificate (--real-cert, --real-key)")
        real = RealBBS(real_url, real_context)
    tls = tls_or_none()
    measures: dict[str, Callable[[], list[Figure]]] = {
        "calls": lambda: per_call(sizes, tls, real),
        "layers": lambda: server_layer(sizes),
        "lists": lambda: lists(sizes),
        "rps": lambda: throughput(sizes),
        "fixtures": lambda: fixtures(sizes),
        "memory": lambda: memory(sizes),
        STRATEGIES: lambda: _strategies(sizes),
        "diego": lambda: _diego(sizes),
        "load": lambda: load(sizes),
    }
    for section in sections:
        if section not in measures:
            raise ValueError(f"no such section: {section!r}")
        progress(section)
        report.figures += measures[section]()
    report.seconds = time.monotonic() - started
    return report


def _sections(args: argparse.Namespace) -> Sequence[str]:
    """The sections asked for: ``--only``'s, then ``--strategies``'s and ``--diego``'s; a plain
    run's when none is."""
    chosen = list(args.only or [])
    chosen += [STRATEGIES] if args.strategies else []
    chosen += ["diego"] if args.diego else []
    return chosen or SECTIONS


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m fakebbs.bench",
        description="Time the fake, each figure beside a baseline measured in the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: seconds, for CI")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only",
        action="append",
        choices=(*SECTIONS, STRATEGIES),
        help="run only this section (repeatable)",
    )
    parser.add_argument(
        "--strategies",
        action="store_true",
        help="time the Hypothesis strategies and state machine instead (the hypothesis extra)",
    )
    parser.add_argument(
        "--diego",
        action="store_true",
        help="only the simulated Diego: 1,000 cells and 100,000 instances placed and RUNNING",
    )
    parser.add_argument("--real-url", help="a real BBS (https) to time the same calls against")
    parser.add_argument("--real-ca", help="CA file that signed the real BBS's certificate")
    parser.add_argument("--real-cert", help="client certificate file for the real BBS")
    parser.add_argument("--real-key", help="client key file for the real BBS")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    context = None
    if args.real_url is not None:
        if not (args.real_cert and args.real_key):
            print("fakebbs.bench: --real-url needs --real-cert and --real-key", file=sys.stderr)
            return 2
        context = ssl.create_default_context(cafile=args.real_ca)
        context.load_cert_chain(args.real_cert, args.real_key)

    def progress(section: str) -> None:
        if not args.json:
            print(f"measuring {section}...", file=sys.stderr, flush=True)

    report = run(
        Sizes.quick() if args.quick else Sizes(),
        sections=_sections(args),
        real_url=args.real_url,
        real_context=context,
        progress=progress,
    )
    print(json.dumps(report.as_dict()) if args.json else report.text(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
