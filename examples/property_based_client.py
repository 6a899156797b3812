"""A property-based test of a small BBS client under injected transport faults.

``ensure_desired`` desires an LRP and retries when the connection breaks. A retry can find the
LRP already there, because a broken answer does not mean the request was not run (a truncated
body arrives after the BBS stored the LRP): the client must take ResourceExists on a retry as
success. ``ensure_desired_broken`` forgets that; Hypothesis finds it and shrinks the failure to
the smallest LRP and a one-fault schedule. Run this file to see the shrunk failure.
"""

from __future__ import annotations

import http.client

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from fakebbs import FakeBBS, models, strategies
from fakebbs.client import BBSClient
from fakebbs.errors import InvalidProtobufMessage, InvalidResponse, ResourceExists
from fakebbs.strategies import FaultSchedule

TRANSIENT = (OSError, http.client.HTTPException, InvalidResponse, InvalidProtobufMessage)
"""What a broken connection or a broken answer raises in the client: worth a retry."""


def ensure_desired(bbs: BBSClient, lrp: models.DesiredLRP, attempts: int = 4) -> None:
    """Desire ``lrp``, retrying after transport failures."""
    for attempt in range(attempts):
        try:
            bbs.desire_lrp(lrp)
            return
        except ResourceExists:
            if attempt == 0:
                raise  # it was there before we started: not ours
            return  # an earlier attempt got through though its answer broke
        except TRANSIENT:
            continue
    raise TimeoutError(f"could not desire {lrp.process_guid} in {attempts} attempts")


def ensure_desired_broken(bbs: BBSClient, lrp: models.DesiredLRP, attempts: int = 4) -> None:
    """The same, without the ResourceExists case: a retry after a truncated answer fails."""
    for _ in range(attempts):
        try:
            bbs.desire_lrp(lrp)
            return
        except TRANSIENT:
            continue
    raise TimeoutError(f"could not desire {lrp.process_guid} in {attempts} attempts")


FAULTS = strategies.fault_schedules(
    ["DesireDesiredLRP"],
    errors=st.nothing(),
    transport=strategies.transport_faults(
        ["status", "close_connection", "reset_connection", "truncated_body"]
    ),
    times=st.integers(1, 3),
    min_rules=1,
    max_rules=1,
)
"""One to three broken desire calls in a row: fewer than the client's four attempts."""


def check(client: object) -> None:
    """The property, for one client function: it returns, and the LRP is stored as sent."""

    # Fixed seed; no "explain" phase, so the report is the shrunk example alone.
    @settings(
        max_examples=40,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
    )
    @given(lrp=strategies.desired_lrps(), schedule=FAULTS)
    def the_lrp_is_desired_whatever_the_faults(
        lrp: models.DesiredLRP, schedule: FaultSchedule
    ) -> None:
        fake = FakeBBS()
        schedule.apply(fake)
        with fake.client() as bbs:
            client(bbs, lrp)  # type: ignore[operator]
            stored = bbs.desired_lrp_by_process_guid(lrp.process_guid)
        stored.ClearField("modification_tag")
        assert stored == lrp

    the_lrp_is_desired_whatever_the_faults()


def main() -> None:
    check(ensure_desired)
    print("ensure_desired: the property holds")
    try:
        check(ensure_desired_broken)
    except ResourceExists as failure:
        print("ensure_desired_broken: the property fails, shrunk to")
        for note in getattr(failure, "__notes__", []):
            print("   ", note)
    else:
        raise SystemExit("the broken client was expected to fail the property")


if __name__ == "__main__":
    main()
