"""A downstream project's code under test: a controller that rolls an app out and waits until
it runs, like a Cloud Controller's deployment updater.

``Rollout(bbs)`` watches the BBS's instance event stream. ``deploy(lrp)`` desires the app (or
scales it) and returns once every instance is RUNNING; ``wait_healthy(guid)`` returns once
every instance is RUNNING and none is evacuating, for example after a cell was drained. Both
give up with ``NotHealthy`` after ``timeout`` seconds. Its tests, ``test_rollout.py``, run it
against fakebbs's simulated Diego.
"""

from __future__ import annotations

import time

from fakebbs import errors, models
from fakebbs.client import BBSClient, EventSource

ORDINARY = models.ActualLRP.Presence.Value("ORDINARY")


class NotHealthy(Exception):
    """The app did not get all its instances running in time."""


class Rollout:
    def __init__(self, bbs: BBSClient, *, timeout: float = 10.0) -> None:
        self.bbs = bbs
        self.timeout = timeout

    def deploy(self, lrp: models.DesiredLRP) -> list[models.ActualLRP]:
        """Desire ``lrp`` (scale it if it exists) and wait for it to run."""
        with self.bbs.subscribe_to_instance_events() as events:
            try:
                self.bbs.desire_lrp(lrp)
            except errors.ResourceExists:
                update = models.DesiredLRPUpdate(instances=lrp.instances)
                self.bbs.update_desired_lrp(lrp.process_guid, update)
            return self._wait(lrp.process_guid, events)

    def wait_healthy(self, process_guid: str) -> list[models.ActualLRP]:
        """Wait until every instance of the app runs and none is evacuating."""
        with self.bbs.subscribe_to_instance_events() as events:
            return self._wait(process_guid, events)

    def _wait(self, process_guid: str, events: EventSource) -> list[models.ActualLRP]:
        deadline = time.monotonic() + self.timeout
        wanted = self.bbs.desired_lrp_by_process_guid(process_guid).instances
        while True:
            rows = self.bbs.actual_lrps(process_guid=process_guid)
            running = [r for r in rows if r.state == "RUNNING" and r.presence == ORDINARY]
            if len(running) == wanted and len(rows) == wanted:
                return sorted(running, key=lambda r: r.actual_lrp_key.index)
            left = deadline - time.monotonic()
            if left <= 0:
                states = sorted((r.actual_lrp_key.index, r.state) for r in rows)
                raise NotHealthy(f"{process_guid}: {states}")
            try:
                events.next(timeout=left)  # something changed: look again
            except TimeoutError:
                continue
