"""What the server acknowledged (a ledger per thread) and how the final state is checked
against it; the tally of calls, answers and problems each thread keeps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from fakebbs import models
from fakebbs._client.transport import TRANSPORT_ERRORS
from fakebbs.errors import BBSError, InvalidResponse

__all__ = [
    "SHOWN_PROBLEMS",
    "Failed",
    "Ledger",
    "Tally",
    "counted",
    "find_lost_writes",
]

T = TypeVar("T")

SHOWN_PROBLEMS = 10  # problem descriptions kept in the report


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


@dataclass
class Tally:
    """One thread's counts; merged into the report at the end."""

    requests: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    bad_answers: int = 0
    dropped: int = 0
    events: int = 0
    created: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < SHOWN_PROBLEMS:
            self.problems.append(text)

    def merge(self, other: Tally) -> None:
        self.requests.update(other.requests)
        self.server_errors += other.server_errors
        self.bad_answers += other.bad_answers
        self.dropped += other.dropped
        self.events += other.events
        self.created += other.created
        self.problems.extend(other.problems[: SHOWN_PROBLEMS - len(self.problems)])


class Failed(Exception):
    """A call did not succeed; it has been counted, the caller only changes course."""


def counted(tally: Tally, kind: str, call: Callable[[], T]) -> T:
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
        raise Failed from err
    except BBSError as err:
        tally.bad_answers += 1
        tally.problem(f"{kind}: {type(err).__name__}: {err.message}")
        raise Failed from err
    except TRANSPORT_ERRORS as err:
        tally.dropped += 1
        tally.problem(f"{kind}: connection failed: {err!r}")
        raise Failed from err
