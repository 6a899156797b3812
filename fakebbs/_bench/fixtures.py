"""What the fixture API costs (serve, stop, reset, seed, snapshot, restore, the call journal)
and the memory a desired LRP takes."""

from __future__ import annotations

import gc
import multiprocessing
import time
from collections.abc import Callable
from contextlib import ExitStack

from fakebbs import models
from fakebbs._bench.calls import time_calls
from fakebbs._bench.figures import Figure, Sizes, ms, p50
from fakebbs._bench.servers import Canned, RawConnection, bare_server
from fakebbs._bench.workload import CALL_LABELS, desired_lrp, make_request
from fakebbs._fake import FakeBBS


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _ping_once(url: str) -> None:
    conn = RawConnection(url)
    try:
        conn.send(make_request("ping", "Ping"))
    finally:
        conn.close()


def _seed(fake: FakeBBS, count: int) -> Callable[[], object] | None:
    """The fixture API's seeding call, if this fake has it."""
    seed = getattr(fake, "seed", None)
    desired_lrps = getattr(seed, "desired_lrps", None)
    if desired_lrps is None:
        return None
    return lambda: desired_lrps(count, instances=3, running=3)


def _desire_one_by_one(fake: FakeBBS, count: int, prefix: str = "app") -> None:
    """``count`` desired LRPs of 3 instances, each desired by its own in-process call."""
    with fake.client() as client:
        for i in range(count):
            client.desire_lrp(desired_lrp(f"{prefix}-{i:05d}", instances=3))


def fixtures(sizes: Sizes) -> list[Figure]:
    figures: list[Figure] = []
    section = "fixture costs"
    count = sizes.fixture_items

    starts, stops, bare_starts, bare_stops = [], [], [], []
    for _ in range(sizes.repeats):
        fake = FakeBBS()
        started = time.perf_counter()
        server = fake.serve()
        _ping_once(server.url)
        starts.append(time.perf_counter() - started)
        stops.append(_timed(server.stop))
        started = time.perf_counter()
        with ExitStack() as stack:
            url = stack.enter_context(bare_server(Canned()))
            _ping_once(url)
            bare_starts.append(time.perf_counter() - started)
            started = time.perf_counter()
        bare_stops.append(time.perf_counter() - started)
    figures.append(
        Figure(section, "serve() start to first answer p50", "ms", ms(p50(starts)),
               ms(p50(bare_starts)), "bare app on the same server", target="20 ms")
    )  # fmt: skip
    figures.append(
        Figure(section, "stop() p50", "ms", ms(p50(stops)), ms(p50(bare_stops)),
               "bare app on the same server", target="20 ms")
    )  # fmt: skip

    resets = []
    for _ in range(sizes.repeats):
        fake = FakeBBS()
        _desire_one_by_one(fake, 10)
        resets.append(_timed(fake.reset))
    figures.append(
        Figure(section, "reset(), 10 desired LRPs", "ms", ms(p50(resets)), target="1 ms")
    )

    fake = FakeBBS()
    seeding = _seed(fake, count)
    figures.append(
        Figure(
            section,
            f"seed.desired_lrps({count:,}, instances=3, running=3)",
            "ms",
            None if seeding is None else ms(_timed(seeding)),
            target="1 s" if count >= 10_000 else "",
        )
    )
    if seeding is None:
        _desire_one_by_one(fake, count)
    one_by_one = FakeBBS()
    figures.append(
        Figure(
            section,
            f"desire {count:,} LRPs x3 one by one (in-process client)",
            "ms",
            ms(_timed(lambda: _desire_one_by_one(one_by_one, count))),
        )
    )
    snapshot = getattr(fake, "snapshot", None)
    restore = getattr(fake, "restore", None)
    snap: list[object] = []
    figures.append(
        Figure(
            section,
            f"snapshot() of {count:,} desired LRPs",
            "ms",
            None if snapshot is None else ms(_timed(lambda: snap.append(snapshot()))),
        )
    )
    figures.append(
        Figure(
            section,
            f"restore() of {count:,} desired LRPs",
            "ms",
            None if restore is None or not snap else ms(_timed(lambda: restore(snap[0]))),
        )
    )
    figures.append(
        Figure(section, f"reset(), {count:,} desired LRPs", "ms", ms(_timed(fake.reset)))
    )
    figures.append(_journal_cost(sizes))
    return figures


def _journal_cost(sizes: Sizes) -> Figure:
    """What recording each call in ``FakeBBS.calls`` adds to a call over a socket."""
    fake = FakeBBS()
    app = fake.wsgi_app
    journal = getattr(fake, "calls", None)
    name = "call journal: desire, get, update, ... p50, journal on"
    if journal is None or getattr(app, "journal", None) is None:
        return Figure("fixture costs", name, "ms", None, target="1.05x")
    on: list[float] = []
    off: list[float] = []
    with fake.serve() as server:
        conn = RawConnection(server.url)
        try:
            done = 0
            while done < sizes.calls:
                block = min(50, sizes.calls - done)
                for recording, samples in ((journal, on), (None, off)):
                    app.journal = recording
                    timings = time_calls(conn.timed, f"journal-{recording is None}", block, done)
                    samples.extend(s for label in CALL_LABELS for s in timings[label])
                done += block
        finally:
            app.journal = journal
            conn.close()
    return Figure(
        "fixture costs", name, "ms", ms(p50(on)), ms(p50(off)), "journal off", target="1.05x"
    )


def memory(sizes: Sizes) -> list[Figure]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        grown, how = pool.apply(_memory_in_child, (sizes.memory_items,))
    return [
        Figure(
            "memory (resident set growth of a fresh process)",
            f"per desired LRP with {how}, {sizes.memory_items:,} of them",
            "KB",
            grown / sizes.memory_items / 1024,
            target="20 KB",
        )
    ]


def _memory_in_child(count: int) -> tuple[int, str]:
    """Child process: how many bytes the resident set grows by to hold ``count`` desired LRPs
    with 3 running instances each (protobuf's C allocations included, unlike tracemalloc)."""
    gc.collect()
    before = _resident_bytes()
    fake = FakeBBS()
    seeding = _seed(fake, count)
    if seeding is not None:
        seeding()
        how = "3 running actual LRPs (seed API)"
    else:
        _run_three(fake, count)
        how = "3 running actual LRPs (claimed and started one by one)"
    gc.collect()
    grown = _resident_bytes() - before
    with fake.client() as client:  # counted after measuring: the answer is not what is held
        stored = len(client.desired_lrp_scheduling_infos())
    if stored != count:
        raise RuntimeError(f"seeded {stored} desired LRPs, not {count}")
    return grown, how


def _resident_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource  # peak, not current: close enough while memory only grows

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_three(fake: FakeBBS, count: int) -> None:
    net = models.ActualLRPNetInfo(address="10.0.0.1", instance_address="10.2.0.1")
    with fake.client() as client:
        for i in range(count):
            guid = f"app-{i:05d}"
            client.desire_lrp(desired_lrp(guid, instances=3))
            for index in range(3):
                key = models.ActualLRPKey(process_guid=guid, index=index, domain="cf-apps")
                instance = models.ActualLRPInstanceKey(
                    instance_guid=f"{guid}-{index}", cell_id="c1"
                )
                client.claim_actual_lrp(key, instance)
                client.start_actual_lrp(key, instance, net)
