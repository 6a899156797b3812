"""A downstream project's code under test: a sync loop, like a Cloud Controller bridge's.

``sync(bbs, wanted)`` makes the BBS run exactly the wanted LRPs: it lists what is desired,
desires what is missing, scales what has the wrong instance count and removes what is no longer
wanted. BBS errors that say "try again" are retried a few times; an LRP desired by someone else
meanwhile (ResourceExists) counts as done. Its tests, ``test_lrp_sync.py``, use fakebbs's
pytest fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from fakebbs import errors, models
from fakebbs.client import BBSClient

T = TypeVar("T")

RETRIED = (errors.Deadlock, errors.Unrecoverable)
"""BBS errors after which the same call is worth making again."""


@dataclass
class SyncResult:
    desired: list[str] = field(default_factory=list)
    scaled: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def sync(bbs: BBSClient, wanted: Iterable[models.DesiredLRP], *, attempts: int = 3) -> SyncResult:
    """One pass of the loop; returns what it changed."""
    result = SyncResult()
    wanted_by_guid = {lrp.process_guid: lrp for lrp in wanted}
    existing = {lrp.process_guid: lrp for lrp in _retry(bbs.desired_lrps, attempts)}
    for guid, lrp in wanted_by_guid.items():
        current = existing.get(guid)
        if current is None:
            try:
                _retry(partial(bbs.desire_lrp, lrp), attempts)
            except errors.ResourceExists:
                continue  # desired by someone else since we listed: fine
            result.desired.append(guid)
        elif current.instances != lrp.instances:
            update = models.DesiredLRPUpdate(instances=lrp.instances)
            _retry(partial(bbs.update_desired_lrp, guid, update), attempts)
            result.scaled.append(guid)
    for guid in sorted(set(existing) - set(wanted_by_guid)):
        _retry(partial(bbs.remove_desired_lrp, guid), attempts)
        result.removed.append(guid)
    return result


def _retry(call: Callable[[], T], attempts: int) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except RETRIED:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
