"""Time the fake's common calls over a real socket and print the figures.

Run: python examples/benchmark.py [--lrps N] [--pings N]

Desires N desired LRPs (one instance each) straight into the state, then times, through
``BBSClient`` over keep-alive HTTP on 127.0.0.1: one list of every desired LRP (``list.r3`` and
``list.r2``), one list of every actual LRP, and a run of pings. Then, on another fake, the
fixture API at that size with three running instances each: seeding in bulk, a snapshot, a
reset and a restore. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import time

from fakebbs import BBSClient, FakeBBS, models


def desired(process_guid: str) -> models.DesiredLRP:
    lrp = models.DesiredLRP(
        process_guid=process_guid,
        domain="cf-apps",
        root_fs="preloaded:cflinuxfs4",
        instances=1,
        memory_mb=256,
        disk_mb=1024,
        log_guid=process_guid,
        action=models.Action(run_action=models.RunAction(path="/bin/app", user="vcap")),
    )
    lrp.metric_tags["source_id"].static = process_guid
    lrp.routes.routes["cf-router"] = b'[{"hostnames":["%s.example.com"],"port":8080}]' % (
        process_guid.encode()
    )
    return lrp


def timed(label: str, call: object, repeat: int = 1) -> None:
    start = time.perf_counter()
    for _ in range(repeat):
        call()  # type: ignore[operator]
    elapsed = (time.perf_counter() - start) / repeat
    unit, scale = ("us", 1e6) if elapsed < 0.01 else ("ms", 1e3)
    print(f"{label:<40} {elapsed * scale:8.1f} {unit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrps", type=int, default=1000)
    parser.add_argument("--pings", type=int, default=200)
    args = parser.parse_args()
    fake = FakeBBS()
    start = time.perf_counter()
    for i in range(args.lrps):
        fake.state.desire_lrp(desired(f"app-{i:05d}"))
    print(
        f"{'desire ' + str(args.lrps) + ' LRPs in-process (each)':<40} "
        f"{(time.perf_counter() - start) / max(args.lrps, 1) * 1e6:8.1f} us"
    )
    with fake.serve() as server, BBSClient(server.url) as bbs:
        timed(
            f"list {args.lrps} desired LRPs (list.r3)",
            lambda: bbs.call("DesiredLRPs", models.DesiredLRPsRequest()),
        )
        timed(
            f"list {args.lrps} desired LRPs (list.r2)",
            lambda: bbs.call("DesiredLRPs_r2", models.DesiredLRPsRequest()),
        )
        timed(
            f"list {args.lrps} actual LRPs",
            lambda: bbs.call("ActualLRPs", models.ActualLRPsRequest()),
        )
        timed("ping (keep-alive)", bbs.ping, repeat=args.pings)
    fixture_api(args.lrps)


def fixture_api(lrps: int) -> None:
    fake = FakeBBS()
    timed(
        f"seed {lrps} LRPs x 3 running (bulk)",
        lambda: fake.seed.desired_lrps(lrps, instances=3, running=3),
    )
    snapshots = []
    timed(f"snapshot of {lrps} + {3 * lrps} rows", lambda: snapshots.append(fake.snapshot()))
    timed("reset", fake.reset)
    timed("restore after reset", lambda: fake.restore(snapshots[0]))
    timed("restore over the same state", lambda: fake.restore(snapshots[0]), repeat=10)


if __name__ == "__main__":
    main()
