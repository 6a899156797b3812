"""How to combine Hypothesis's @given with the plugin's fixtures: one served fake for the
session, reset at the start of every example."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from fakebbs import FakeBBS, models, strategies


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lrp=strategies.desired_lrps(minimal=True))
def test_every_desired_instance_is_created(fakebbs_server: FakeBBS, lrp: models.DesiredLRP) -> None:
    fakebbs_server.reset()  # one fake for the session, a clean state per example
    with fakebbs_server.client() as client:
        client.desire_lrp(lrp)
        instances = client.actual_lrps(process_guid=lrp.process_guid)
    assert sorted(a.actual_lrp_key.index for a in instances) == list(range(lrp.instances))
