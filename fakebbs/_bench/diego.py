"""The simulated Diego at scale, for ``python -m fakebbs.bench --diego``: cells and instances
placed and RUNNING, and the same instances walked through claim and start by hand (the BBS's
own share of the work) as the baseline."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

from fakebbs import models
from fakebbs._fake import FakeBBS

__all__ = ["Measured", "by_hand", "simulated"]

PER_LRP = 100
"""Instances per desired LRP."""


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu_seconds: float
    running: int


def _lrp(guid: str, instances: int) -> models.DesiredLRP:
    lrp = models.DesiredLRP(
        process_guid=guid,
        domain="bench",
        root_fs="preloaded:cflinuxfs4",
        instances=instances,
        memory_mb=128,
        disk_mb=128,
        ports=[8080],
        action=models.Action(run_action=models.RunAction(path="/bin/app", user="vcap")),
    )
    lrp.metric_tags["source_id"].static = guid
    return lrp


def _counts(instances: int) -> list[int]:
    full, rest = divmod(instances, PER_LRP)
    return [PER_LRP] * full + ([rest] if rest else [])


def _running(fake: FakeBBS) -> int:
    return sum(1 for row in fake.snapshot().actual_lrps.values() if row.state == "RUNNING")


def simulated(cells: int, instances: int) -> Measured:
    """``cells`` cells over 3 zones (32 GiB, 64 GiB disk, 250 containers each), then
    desired LRPs of 100 instances of 128 MiB through the client, with ``auto`` on: every
    instance is placed, claimed and started before its desire is answered."""
    fake = FakeBBS(journal_size=1000)
    fake.clock.freeze()
    fake.diego.converge_every = None
    for n in range(cells):
        fake.diego.add_cell(
            f"cell-{n}", zone=f"z{n % 3 + 1}", memory_mb=32768, disk_mb=65536, containers=250
        )
    fake.diego.auto = True
    client = fake.client()
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    for n, count in enumerate(_counts(instances)):
        client.desire_lrp(_lrp(f"app-{n}", count))
    measured = Measured(time.perf_counter() - started, time.process_time() - cpu, _running(fake))
    fake.check()
    return measured


def by_hand(cells: int, instances: int) -> Measured:
    """The same desires, then each instance claimed and started through an in-process
    client, by round robin over the cells: what a test would otherwise do by hand."""
    fake = FakeBBS(journal_size=1000)
    fake.clock.freeze()
    client = fake.client()
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    n_cell = 0
    for n, count in enumerate(_counts(instances)):
        guid = f"app-{n}"
        client.desire_lrp(_lrp(guid, count))
        for index in range(count):
            cell = f"cell-{n_cell % max(cells, 1)}"
            n_cell += 1
            instance = models.ActualLRPInstanceKey(instance_guid=f"{guid}-{index}", cell_id=cell)
            key = models.ActualLRPKey(process_guid=guid, index=index, domain="bench")
            client.claim_actual_lrp(key, instance)
            net = models.ActualLRPNetInfo(
                address="10.0.0.1",
                instance_address="10.128.0.2",
                ports=[models.PortMapping(container_port=8080, host_port=61001)],
            )
            client.start_actual_lrp(key, instance, net)
    measured = Measured(time.perf_counter() - started, time.process_time() - cpu, _running(fake))
    fake.check()
    return measured
