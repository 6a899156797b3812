"""What the state machine's world draws from and builds on: cheap strategies of the machine's
own objects (read from the running machine), its rule groups as preconditions, counting guids,
the frozen clock's start and the instances its reps claim."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from fakebbs import models
from fakebbs._client.transport import TRANSPORT_ERRORS
from fakebbs.errors import BBSError
from fakebbs.strategies._desired import desired_lrps
from fakebbs.strategies._faults import FaultSchedule, fault_schedules, transport_faults

if TYPE_CHECKING:
    from fakebbs._fake import FakeBBS
    from fakebbs._http.events import EventHub

__all__ = [
    "CALL_FAILURES",
    "CLOCK_START",
    "Instance",
    "counting_guids",
    "event_hub",
    "machine_cells",
    "machine_indices",
    "machine_instance_counts",
    "machine_lrps",
    "machine_tasks",
    "minimal_lrps",
    "quick_fault_schedules",
    "rule_group",
]

CALL_FAILURES = (*TRANSPORT_ERRORS, BBSError)
"""What a client raises when a fault breaks a call (BBSError: the client's own
InvalidResponse, InvalidProtobufMessage and RouterError)."""


CLOCK_START = 1_700_000_000 * 10**9
"""Where the fake's frozen clock starts by default (2023-11-14T22:13:20Z, Unix nanoseconds)."""


def counting_guids(prefix: str = "00000000-0000-4000-8000-") -> Callable[[], str]:
    """A ``new_guid`` for ``FakeBBS`` that counts (``...-000000000000``, ``...-000000000001``):
    the same run gives the same guids, and a report reads them in order."""
    counter = itertools.count()
    return lambda: f"{prefix}{next(counter):012d}"


@dataclasses.dataclass(frozen=True)
class Instance:
    """An instance a rep of the world has claimed: which index of which LRP, on which cell."""

    process_guid: str
    index: int
    cell_id: str

    @property
    def actual_lrp_key(self) -> models.ActualLRPKey:
        return models.ActualLRPKey(process_guid=self.process_guid, index=self.index)

    @property
    def instance_key(self) -> models.ActualLRPInstanceKey:
        """One instance guid per (process guid, index, cell), so rules find it again."""
        return models.ActualLRPInstanceKey(
            cell_id=self.cell_id,
            instance_guid=f"{self.process_guid}-{self.index}-{self.cell_id}",
        )


def rule_group(name: str) -> Callable[[Any], bool]:
    """A precondition: the rule group ``name`` is on for this machine."""

    def enabled(machine: Any) -> bool:
        return name in machine.enabled_rules

    enabled.__name__ = f"rules_include_{name}"
    return enabled


@functools.cache
def minimal_lrps(
    domain: str, process_guids: tuple[str, ...], max_instances: int
) -> st.SearchStrategy[models.DesiredLRP]:
    return desired_lrps(
        minimal=True,
        domain=domain,
        process_guids=st.sampled_from(process_guids),
        instances=st.integers(0, max_instances),
    )


@functools.cache
def quick_fault_schedules(routes: tuple[str, ...] | None) -> st.SearchStrategy[FaultSchedule]:
    # delays of at most a millisecond: a slow answer is a slow answer, and examples stay fast
    transport = transport_faults(max_delay=0.001)
    if routes is None:
        return fault_schedules(transport=transport)
    return fault_schedules(routes, transport=transport)


def machine_lrps() -> st.SearchStrategy[models.DesiredLRP]:
    return st.runner().flatmap(lambda machine: machine.lrps)


def machine_tasks() -> st.SearchStrategy[models.DesireTaskRequest]:
    return st.runner().flatmap(lambda machine: machine.task_requests)


def machine_cells() -> st.SearchStrategy[str]:
    return st.runner().flatmap(lambda machine: machine.cell_ids)


def machine_indices() -> st.SearchStrategy[int]:
    return st.runner().flatmap(lambda machine: machine.indices)


def machine_instance_counts() -> st.SearchStrategy[int]:
    return st.runner().flatmap(lambda machine: machine.instance_counts)


def event_hub(fake: FakeBBS) -> EventHub:
    """The fake's event hub: the machine and the event sequences subscribe to it directly, to
    read every event synchronously after each step (a stream's reader thread could lag). The
    one place the strategies reach it."""
    return fake._events
