"""How to test a race: hold a route, change the state behind the client's back, release."""

from __future__ import annotations

import threading

from fakebbs import BBSClient, FakeBBS, models


def test_state_changes_while_a_list_is_in_flight(
    fakebbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    fakebbs.seed.desired_lrp("api")
    seen: list[models.DesiredLRP] = []
    lister = threading.Thread(target=lambda: seen.extend(fakebbs_client.desired_lrps()))

    with fakebbs.hold("DesiredLRPs") as gate:
        lister.start()
        gate.wait_arrived(timeout=5)  # the client's request is in, unanswered
        fakebbs.seed.desired_lrp("late")  # change the state before it is answered
        gate.release()
    lister.join()

    assert sorted(lrp.process_guid for lrp in seen) == ["api", "late"]
