"""A cell evacuating a running instance, as a rep drives the BBS, seen on the instance stream.

Run: python examples/evacuation.py
"""

from __future__ import annotations

from fakebbs import BBSClient, FakeBBS, models


def main() -> None:
    fake = FakeBBS()
    fake.seed.cell("cell-1")
    fake.seed.cell("cell-2")
    run = models.Action(run_action=models.RunAction(path="/bin/app", user="vcap"))
    lrp = models.DesiredLRP(
        process_guid="web",
        domain="cf-apps",
        instances=1,
        root_fs="preloaded:cflinuxfs4",
        action=run,
    )
    lrp.metric_tags["source_id"].static = "web"
    key = models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps")
    old = models.ActualLRPInstanceKey(instance_guid="old", cell_id="cell-1")
    new = models.ActualLRPInstanceKey(instance_guid="new", cell_id="cell-2")
    net = models.ActualLRPNetInfo(address="10.0.0.1")
    with fake.serve() as server, BBSClient(server.url) as bbs:
        bbs.desire_lrp(lrp)
        bbs.claim_actual_lrp(key, old)
        bbs.start_actual_lrp(key, old, net)
        with bbs.subscribe_to_instance_events() as events:
            keep = bbs.evacuate_running_actual_lrp(key, old, net)
            print("keep_container:", keep)
            for lrp_row in bbs.actual_lrps(process_guid="web"):
                print(" row:", models.ActualLRP.Presence.Name(lrp_row.presence), lrp_row.state)
            bbs.claim_actual_lrp(key, new)
            bbs.start_actual_lrp(key, new, models.ActualLRPNetInfo(address="10.0.0.2"))
            names = [type(events.next(timeout=5)).__name__ for _ in range(5)]
        print("events:", names)
        assert keep is True
        assert [r.state for r in bbs.actual_lrps(process_guid="web")] == ["RUNNING"]


if __name__ == "__main__":
    main()
