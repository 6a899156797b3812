"""How to test a client that watches the BBS's event streams."""

from __future__ import annotations

from fakebbs import BBSClient, FakeBBS, models


def test_a_desire_is_seen_on_the_instance_stream(
    fakebbs: FakeBBS, fakebbs_client: BBSClient
) -> None:
    with fakebbs_client.subscribe_to_instance_events() as events:  # returns once subscribed
        fakebbs.seed.desired_lrp("web", instances=2)  # seeding sends a real write's events

        created = events.next(timeout=5)
        assert isinstance(created, models.DesiredLRPCreatedEvent)
        assert created.desired_lrp.process_guid == "web"
        for index in range(2):
            instance = events.next(timeout=5)
            assert isinstance(instance, models.ActualLRPInstanceCreatedEvent)
            assert instance.actual_lrp.actual_lrp_key.index == index


def test_a_task_stream_sees_a_task_complete(fakebbs: FakeBBS, fakebbs_client: BBSClient) -> None:
    fakebbs.seed.task("t-1", state="RUNNING", cell_id="cell-1")
    with fakebbs_client.subscribe_to_task_events() as events:
        fakebbs_client.complete_task("t-1", "cell-1", failed=False, result="done")
        changed = events.next(timeout=5)
    assert isinstance(changed, models.TaskChangedEvent)
    assert changed.after.state == models.Task.Completed
